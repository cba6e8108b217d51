//! The engine misbehaving mid-build: through a fault-injecting proxy in front of the real engine
//! (`support/fault_proxy/`), one fault per case at each kind of request the runner makes
//! (create, start, exec, archive up and down, commit, image load, tag, inspect, volume create,
//! container removal), as an error answer, a connection cut mid-stream or a request held back.
//!
//! Input: the local engine and `stageplan-test/busybox:1` (scripts/setup.sh), the runner binary,
//! Dockerfile text built with `runner build` (so through the planner), `--engine` pointing at
//! the proxy.
//! Output: pass/fail per case: the exit code, a one-paragraph error naming the stage, line and
//! request, no container, volume or host file of that runner left on the real engine and host,
//! no secret on the host, and every step committed before the fault reused by a second build on
//! the real engine (its `--record` says `cached`).
//! Invariant: every case builds a project of its own (a fresh nonce in its first step, so the
//! faulted build is cold), checks the real engine directly, never through the proxy, and
//! removes what its builds made: images, cache tags, stage records and its cache volume.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest;

use support::fault_proxy::{Fault, FaultProxy, Rule};
use support::faulted::{self, Finished};
use support::{forget_cache_tags, remove_images, stage_images, TempDir};

/// The size of the context file the big COPY sends (a few MB, so a cut lands mid-stream).
const BIG: usize = 4 << 20;

/// One build project: a context (Dockerfile, a big file), a secret file, and what its builds
/// made, removed when dropped.
struct Project {
    scratch: TempDir,
    context: PathBuf,
    nonce: String,
    secret: PathBuf,
    secret_text: String,
    tag: String,
    /// Every image the builds made or named (stage images, commits and loads seen by the proxy).
    images: Vec<String>,
    /// The cache keys of the steps the builds' records name.
    keys: Vec<String>,
}

impl Project {
    /// A project with the standard Dockerfile (see [`dockerfile`]), named `name`.
    fn new(name: &str) -> Project {
        Project::with_dockerfile(name, dockerfile)
    }

    /// A project whose Dockerfile is `make(nonce)`.
    fn with_dockerfile(name: &str, make: fn(&str) -> String) -> Project {
        let scratch = TempDir::new(&format!("ef-{name}"));
        let nonce = format!(
            "{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        );
        let context = scratch.0.join(format!("project-{name}"));
        std::fs::create_dir_all(&context).expect("context");
        std::fs::write(context.join("Dockerfile"), make(&nonce)).expect("Dockerfile");
        let mut big = Vec::with_capacity(BIG);
        let mut state = sha2::Sha256::digest(nonce.as_bytes()).to_vec();
        while big.len() < BIG {
            state = sha2::Sha256::digest(&state).to_vec();
            big.extend_from_slice(&state);
        }
        std::fs::write(context.join("big.bin"), big).expect("big.bin");
        let secret_text = format!("canary-{nonce}");
        let secret = scratch.0.join("token");
        std::fs::write(&secret, &secret_text).expect("secret");
        let tag = format!("{}/ef-{name}:1", support::prefix());
        Project {
            scratch,
            context,
            nonce,
            secret,
            secret_text,
            tag,
            images: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// `runner build` arguments for this project (engine, record file) .
    fn args(&self, engine: Option<&str>, record: &Path) -> Vec<String> {
        let mut args = vec![
            "build".to_string(),
            self.context.display().to_string(),
            "--progress".to_string(),
            "json".to_string(),
            "--secret".to_string(),
            format!("id=token,src={}", self.secret.display()),
            "-t".to_string(),
            self.tag.clone(),
            "--record".to_string(),
            record.display().to_string(),
        ];
        if let Some(engine) = engine {
            args.extend(["--engine".to_string(), engine.to_string()]);
        }
        args
    }

    /// Builds through `proxy`; returns the run and its record (a failed build writes one too).
    fn build_through(&mut self, proxy: &FaultProxy) -> (Finished, Option<Value>) {
        let record = self.scratch.0.join("faulted.record.json");
        let run = faulted::start(
            &self.args(Some(&proxy.url()), &record),
            &[],
            &self.scratch.0,
        )
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("{hung}\nrequests:\n{}", proxy.log_text()));
        self.images.extend(stage_images(run.stdout.as_bytes()));
        self.images.extend(proxy.images_made());
        let record: Option<Value> = std::fs::read_to_string(&record)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("the record is JSON"));
        if let Some(record) = &record {
            self.keys.extend(step_keys(record));
        }
        (run, record)
    }

    /// Builds on the real engine; asserts it built and returns its record.
    fn build_direct(&mut self) -> Value {
        let record = self.scratch.0.join("direct.record.json");
        let run = faulted::run(&self.args(None, &record), &self.scratch.0);
        self.images.extend(stage_images(run.stdout.as_bytes()));
        assert_eq!(
            run.code,
            Some(0),
            "the build on the real engine after the fault failed:\n{}",
            run.stderr
        );
        let text = std::fs::read_to_string(&record).expect("the record");
        let record: Value = serde_json::from_str(&text).expect("the record is JSON");
        self.keys.extend(step_keys(&record));
        record
    }

    /// The cache mount's volume (named as the runner names it: id, uid, gid, mode).
    fn cache_volume(&self) -> String {
        let digest = hex::encode(sha2::Sha256::digest(
            format!("{}\0{}\0{}\0{:o}", self.nonce, 1234, 0, 0o700).as_bytes(),
        ));
        format!("stageplan-cache-{}", &digest[..16])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        remove_images(None, &[self.tag.as_str()]);
        // A step's cache entry is found by its key: its image need not be on the parent chain
        // of a stage's image (a target's final image is loaded, without a parent).
        let mut entries = Vec::new();
        for key in &self.keys {
            let entry = format!("stageplan-cache:{key}");
            if let Ok(inspect) = support::engine_get(None, &format!("/images/{entry}/json")) {
                if let Some(id) = inspect["Id"].as_str() {
                    self.images.push(id.to_string());
                }
                entries.push(entry);
            }
        }
        if !entries.is_empty() {
            let mut args = vec!["rmi"];
            args.extend(entries.iter().map(String::as_str));
            let _ = support::docker_at(None, &args);
        }
        remove_made_images(&self.images);
        let _ = support::docker_at(None, &["volume", "rm", "-f", &self.cache_volume()]);
    }
}

/// Removes the cache tags and stage records of `images` and of their parents, then every image
/// among them that no tag names any more, children first (an image with a tag left, such as the
/// base image, or with children, stays): the builds' commits, also those a fault left untagged.
fn remove_made_images(images: &[String]) {
    forget_cache_tags(None, images);
    let mut chain = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for image in images {
        let mut current = image.clone();
        while !current.is_empty() && seen.insert(current.clone()) {
            let Ok(inspect) = support::engine_get(None, &format!("/images/{current}/json")) else {
                break;
            };
            if inspect["RepoTags"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
            {
                break;
            }
            chain.push(current.clone());
            current = inspect["Parent"].as_str().unwrap_or_default().to_string();
        }
    }
    // One `docker rmi` takes them all, children first (each image comes before its parent in
    // its chain); an image whose child is in a later chain goes in the next round.
    for _ in 0..3 {
        if chain.is_empty() {
            break;
        }
        let mut args = vec!["rmi"];
        args.extend(chain.iter().map(String::as_str));
        let _ = support::docker_at(None, &args);
        chain.retain(|id| support::engine_get(None, &format!("/images/{id}/json")).is_ok());
    }
}

/// The Dockerfile every case builds: two RUNs in a keeper (the first prints a few thousand
/// lines), a big COPY from the context, a RUN with a secret and a cache mount (in a fresh
/// container), and a final stage that copies from the first one.
fn dockerfile(nonce: &str) -> String {
    format!(
        "FROM stageplan-test/busybox:1 AS build
RUN echo {nonce} > /nonce && seq 1 4000 | tee /numbers
RUN wc -l < /numbers > /count
COPY big.bin /big.bin
RUN --mount=type=secret,id=token --mount=type=cache,target=/cache,id={nonce},uid=1234,mode=0700 sh -c 'test \"$(stat -c %u:%a /cache)\" = 1234:700 && wc -c < /run/secrets/token > /secret-len && date > /cache/stamp'
FROM stageplan-test/busybox:1 AS final
COPY --from=build /count /secret-len /out/
CMD [\"cat\", \"/out/count\"]
"
    )
}

/// The first stage of [`dockerfile`] alone (the same lines): two RUNs in a keeper. The cases
/// of the keeper's requests build it, at half the cost.
fn keeper_dockerfile(nonce: &str) -> String {
    dockerfile(nonce)
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// What a faulted build must end with.
struct Expect {
    /// The exit code.
    code: i32,
    /// Texts the error paragraph must hold (the stage and line, the request).
    words: &'static [&'static str],
}

/// Builds a fresh project through a proxy with `rules` (rule 0 must fire), then checks the
/// promises: the exit code, one error paragraph holding `expect.words` and the injected
/// message, no debris of that runner, no secret on the host, and a second build on the real
/// engine that takes every step the faulted build committed from the cache.
fn fault_case(name: &str, rules: Vec<Rule>, expect: Expect) -> Finished {
    fault_case_in(Project::new(name), name, rules, expect)
}

/// [`fault_case`] on the keeper's stage alone ([`keeper_dockerfile`]).
fn keeper_case(name: &str, rules: Vec<Rule>, expect: Expect) -> Finished {
    fault_case_in(
        Project::with_dockerfile(name, keeper_dockerfile),
        name,
        rules,
        expect,
    )
}

/// [`fault_case`] with a project of the caller's.
fn fault_case_in(mut project: Project, name: &str, rules: Vec<Rule>, expect: Expect) -> Finished {
    support::require_engine();
    let rules_fault = rules[0].fault.clone();
    let rules_method = rules[0].method.clone();
    let proxy = FaultProxy::start(name, rules);
    let (run, record) = project.build_through(&proxy);
    let log = proxy.log_text();
    assert!(
        proxy.fired(0) > 0,
        "{name}: the fault never fired; requests:\n{log}\nstderr:\n{}",
        run.stderr
    );
    assert_eq!(
        run.code,
        Some(expect.code),
        "{name}: exit code; stderr:\n{}\nrequests:\n{log}",
        run.stderr
    );
    // The engine's message reaches the user where the engine could send one (a HEAD answer
    // has no body, a cut connection no answer).
    let injected = match (&rules_fault, rules_method.as_deref()) {
        (Fault::Error(message) | Fault::ErrorAfter(message), method) if method != Some("HEAD") => {
            Some(message.clone())
        }
        _ => None,
    };
    if expect.code != 0 {
        let error = error_paragraph(&run.stderr);
        eprintln!("{name}: {error}");
        for word in expect.words.iter().copied().chain(injected.as_deref()) {
            assert!(
                error.contains(word),
                "{name}: the error does not name {word:?}:\n{error}"
            );
        }
    }
    assert_eq!(
        faulted::debris(&run.prefix),
        Vec::<String>::new(),
        "{name}: debris on the real engine or host; stderr:\n{}",
        run.stderr
    );
    assert_eq!(
        faulted::files_holding(&project.secret_text, &project.scratch.0),
        Vec::<String>::new(),
        "{name}: the secret is in a host file"
    );
    let record = record.unwrap_or_else(|| panic!("{name}: no record written:\n{}", run.stderr));
    let committed = committed_steps(&record);
    let direct = std::time::Instant::now();
    let again = project.build_direct();
    eprintln!(
        "{name}: the faulted build took {:.1} s, the build after it {:.1} s",
        run.took.as_secs_f64(),
        direct.elapsed().as_secs_f64()
    );
    for (stage, step, text) in committed {
        let status = step_status(&again, &stage, step);
        assert_eq!(
            status, "cached",
            "{name}: {stage} #{step} `{text}` was committed before the fault but ran again"
        );
    }
    drop(proxy);
    run
}

/// The error the runner printed: from `error:` to the end of stderr, which must be one
/// paragraph (no blank line).
fn error_paragraph(stderr: &str) -> String {
    let start = stderr
        .find("error: ")
        .unwrap_or_else(|| panic!("no error printed:\n{stderr}"));
    let error = stderr[start..].trim_end().to_string();
    assert!(
        !error.contains("\n\n") && !error.contains("panicked"),
        "the error is not one paragraph:\n{error}"
    );
    error
}

/// The steps a record shows as run and committed: (stage, step, text).
fn committed_steps(record: &Value) -> Vec<(String, u64, String)> {
    let mut committed = Vec::new();
    for stage in record["stages"].as_array().expect("stages") {
        for step in stage["steps"].as_array().expect("steps") {
            if step["status"] == "ran" && !step["size_added"].is_null() {
                committed.push((
                    stage["name"].as_str().unwrap_or_default().to_string(),
                    step["step"].as_u64().unwrap_or_default(),
                    step["text"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    committed
}

/// The cache keys of every step a record names.
fn step_keys(record: &Value) -> Vec<String> {
    record["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|stage| stage["steps"].as_array().into_iter().flatten())
        .filter_map(|step| step["key"].as_str().map(str::to_string))
        .collect()
}

fn step_status(record: &Value, stage: &str, step: u64) -> String {
    record["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == stage)
        .and_then(|s| {
            s["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .find(|t| t["step"] == step)
        })
        .and_then(|t| t["status"].as_str())
        .unwrap_or("missing")
        .to_string()
}

fn error(message: &str) -> Fault {
    Fault::Error(format!("injected: {message}"))
}

#[test]
fn the_proxy_patterns_pick_what_they_say() {
    use support::fault_proxy::{api_path, glob};
    assert_eq!(
        api_path("/v1.41/containers/abc/archive?path=%2F"),
        "/containers/abc/archive"
    );
    assert_eq!(api_path("/version"), "/version");
    assert!(glob("/containers/*/archive", "/containers/abc/archive"));
    assert!(!glob("/containers/*/archive", "/containers/a/b/archive"));
    assert!(!glob("/containers/*/start", "/containers/abc/archive"));
    assert!(glob(
        "/images/**/json",
        "/images/stageplan-test/busybox:1/json"
    ));
    assert!(!glob(
        "/images/*/json",
        "/images/stageplan-test/busybox:1/json"
    ));
    assert!(glob("**", "/commit"));
    assert!(glob("/commit", "/commit"));
}

#[test]
fn the_proxy_passes_a_whole_build_through() {
    support::require_engine();
    let mut project = Project::new("pass");
    let proxy = FaultProxy::start("pass", Vec::new());
    let (run, record) = project.build_through(&proxy);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let log = proxy.log();
    // The build used every kind of request the faults below pick, the upgraded exec streams
    // included.
    for (method, pattern) in [
        ("POST", "/containers/create"),
        ("POST", "/containers/*/start"),
        ("POST", "/exec/*/start"),
        ("PUT", "/containers/*/archive"),
        ("GET", "/containers/*/archive"),
        ("GET", "/containers/*/logs"),
        ("POST", "/commit"),
        ("POST", "/images/load"),
        ("POST", "/volumes/create"),
        ("DELETE", "/containers/*"),
    ] {
        assert!(
            log.iter().any(|s| s.method == method
                && support::fault_proxy::glob(pattern, support::fault_proxy::api_path(&s.target))
                && s.status.is_some_and(|c| c < 300)),
            "no answered {method} {pattern} in:\n{}",
            proxy.log_text()
        );
    }
    assert!(
        log.iter().any(|s| s.status == Some(101)),
        "no upgraded exec"
    );
    let record = record.expect("record");
    assert!(committed_steps(&record).len() >= 5, "{record:#}");
    assert_eq!(faulted::debris(&run.prefix), Vec::<String>::new());
}

#[test]
fn a_refused_keeper_start() {
    // A keeper that does not start is taken for an image without `/bin/sh`: the stage's RUNs
    // go to fresh containers, and the build succeeds.
    keeper_case(
        "start",
        vec![Rule::at(
            "POST",
            "/containers/*/start",
            1,
            error("start refused"),
        )],
        Expect {
            code: 0,
            words: &[],
        },
    );
}

#[test]
fn a_refused_target_tag() {
    fault_case(
        "target-tag",
        vec![Rule::at(
            "POST",
            "/images/*/tag?repo=stageplan-rt*",
            1,
            error("tag refused"),
        )],
        Expect {
            code: 2,
            words: &["tag"],
        },
    );
}

// Error answers, one per kind of request. The first RUN (line 2) is committed before most of
// them, and must come from the cache in the build that follows.

#[test]
fn a_refused_container_create() {
    keeper_case(
        "create",
        vec![Rule::at(
            "POST",
            "/containers/create",
            1,
            error("create refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 2", "create container"],
        },
    );
}

#[test]
fn a_refused_start_of_a_run_with_a_secret() {
    fault_case(
        "start-secret",
        vec![Rule::at(
            "POST",
            "/containers/*/start",
            2,
            error("start refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "start container"],
        },
    );
}

#[test]
fn a_refused_exec_create() {
    keeper_case(
        "exec-create",
        vec![Rule::at(
            "POST",
            "/containers/*/exec",
            2,
            error("exec refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 3", "create exec"],
        },
    );
}

#[test]
fn a_refused_exec_start() {
    keeper_case(
        "exec-start",
        vec![Rule::at(
            "POST",
            "/exec/*/start",
            1,
            error("exec start refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 2", "start exec"],
        },
    );
}

#[test]
fn a_refused_exec_inspect() {
    keeper_case(
        "exec-inspect",
        vec![Rule::at("GET", "/exec/*/json", 2, error("inspect refused"))],
        Expect {
            code: 2,
            words: &["stage build, line 3", "inspect exec"],
        },
    );
}

#[test]
fn a_refused_commit() {
    keeper_case(
        "commit",
        vec![Rule::at("POST", "/commit", 2, error("commit refused"))],
        Expect {
            code: 2,
            words: &["stage build, line 3", "commit"],
        },
    );
}

#[test]
fn a_refused_cache_tag() {
    keeper_case(
        "tag",
        vec![Rule::at("POST", "/images/*/tag", 2, error("tag refused"))],
        Expect {
            code: 2,
            words: &["stage build, line 3", "stageplan-cache"],
        },
    );
}

#[test]
fn a_refused_stat_in_a_container() {
    fault_case(
        "stat",
        vec![Rule::at(
            "HEAD",
            "/containers/*/archive",
            1,
            error("stat refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 4", "stat /big.bin", "500"],
        },
    );
}

#[test]
fn a_refused_upload() {
    fault_case(
        "put",
        vec![Rule::at(
            "PUT",
            "/containers/*/archive",
            1,
            error("upload refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 4", "upload an archive"],
        },
    );
}

#[test]
fn a_refused_cache_volume() {
    fault_case(
        "volume",
        vec![Rule::at(
            "POST",
            "/volumes/create",
            1,
            error("volume refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "create volume"],
        },
    );
}

#[test]
fn a_refused_wait() {
    fault_case(
        "wait",
        vec![Rule::at(
            "POST",
            "/containers/*/wait",
            1,
            error("wait refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "wait for container"],
        },
    );
}

#[test]
fn a_refused_image_inspect() {
    keeper_case(
        "inspect",
        vec![Rule::at(
            "GET",
            "/images/sha256:*/json",
            2,
            error("inspect refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 2", "inspect image"],
        },
    );
}

#[test]
fn a_refused_image_load() {
    fault_case(
        "load",
        vec![Rule::at("POST", "/images/load", 1, error("load refused"))],
        Expect {
            code: 2,
            words: &["stage final", "load"],
        },
    );
}

#[test]
fn a_create_that_worked_but_was_answered_with_an_error() {
    // The RUN container with the secret mount exists on the engine; the runner never learns
    // its id.
    fault_case(
        "create-lost",
        vec![Rule::at(
            "POST",
            "/containers/create",
            4,
            Fault::ErrorAfter("injected: answer lost".into()),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "create container"],
        },
    );
}

#[test]
fn a_refused_download() {
    fault_case(
        "get",
        vec![Rule::at(
            "GET",
            "/containers/*/archive",
            1,
            error("download refused"),
        )],
        Expect {
            code: 2,
            words: &["stage final, line 7", "download /count"],
        },
    );
}

#[test]
fn a_download_cut_mid_stream() {
    fault_case(
        "get-cut",
        vec![Rule::at(
            "GET",
            "/containers/*/archive",
            1,
            Fault::CutResponse(700),
        )],
        Expect {
            code: 2,
            words: &["stage final, line 7", "download /count", "end of file"],
        },
    );
}

#[test]
fn a_big_copy_whose_connection_drops_mid_stream() {
    // 1 MB of the 4 MB file reach the engine. The engine's side broke, not the build context.
    let run = fault_case(
        "put-cut",
        vec![Rule::at(
            "PUT",
            "/containers/*/archive",
            1,
            Fault::CutRequest(1 << 20),
        )],
        Expect {
            code: 2,
            // The transport's words vary ("connection closed", "reset by peer").
            words: &["stage build, line 4", "upload an archive"],
        },
    );
    assert!(
        !run.stderr.contains("build context"),
        "the cut is blamed on the context: {}",
        run.stderr
    );
}

/// The standard Dockerfile whose first RUN prints one line, then goes on for a second.
fn dockerfile_with_a_quiet_first_run(nonce: &str) -> String {
    keeper_dockerfile(nonce).replace(
        "seq 1 4000 | tee /numbers\n",
        "seq 1 4000 > /numbers && echo started && sleep 1\n",
    )
}

#[test]
fn an_exec_output_stream_cut_while_the_process_runs() {
    // The first bytes of the RUN's output arrive, then its connection is cut; the process goes
    // on in the keeper. The runner waits for it: its exit code is the step's result.
    let project = Project::with_dockerfile("exec-cut", dockerfile_with_a_quiet_first_run);
    let run = fault_case_in(
        project,
        "exec-cut",
        vec![Rule::at("POST", "/exec/*/start", 1, Fault::CutResponse(3))],
        Expect {
            code: 0,
            words: &[],
        },
    );
    assert!(
        run.stdout
            .contains("output stream ended before the process did"),
        "the cut is noted: {}",
        run.stdout
    );
}

/// The standard Dockerfile whose first RUN prints one line, waits a second, then prints its
/// thousands of lines.
fn dockerfile_with_a_late_loud_first_run(nonce: &str) -> String {
    keeper_dockerfile(nonce).replace(
        "seq 1 4000 | tee /numbers\n",
        "echo started && sleep 1 && seq 1 4000 | tee /numbers\n",
    )
}

#[test]
fn an_exec_output_stream_cut_before_the_process_writes_more() {
    // The engine fails a process whose output it can no longer send (exit 126): the RUN's
    // failure is the connection's, and the build exits 2 saying so, not 1.
    let project = Project::with_dockerfile("exec-cut-loud", dockerfile_with_a_late_loud_first_run);
    fault_case_in(
        project,
        "exec-cut-loud",
        vec![Rule::at("POST", "/exec/*/start", 1, Fault::CutResponse(3))],
        Expect {
            code: 2,
            words: &["stage build, line 2", "output stream to the engine broke"],
        },
    );
}

#[test]
fn a_cache_volume_whose_first_fill_fails() {
    // The RUN checks the cache directory's owner and mode: a volume left without them fails
    // the build that follows.
    fault_case(
        "volume-fill",
        vec![Rule::at(
            "PUT",
            "/containers/*/archive",
            2,
            error("upload refused"),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "upload an archive"],
        },
    );
}

#[test]
fn a_run_output_stream_cut_mid_stream() {
    // The logs of the RUN with the secret (a fresh container) break before their end; the
    // process's result is the container's exit code, which the runner still waits for.
    let run = fault_case(
        "logs-cut",
        vec![Rule::at(
            "GET",
            "/containers/*/logs",
            1,
            Fault::CutResponse(0),
        )],
        Expect {
            code: 0,
            words: &[],
        },
    );
    assert!(
        run.stdout.contains("the output stream broke"),
        "the cut is noted: {}",
        run.stdout
    );
}

#[test]
fn an_image_load_cut_mid_stream() {
    fault_case(
        "load-cut",
        vec![Rule::at("POST", "/images/load", 1, Fault::CutRequest(600))],
        Expect {
            code: 2,
            words: &["stage final", "load"],
        },
    );
}

#[test]
fn a_removal_refused_during_the_build() {
    // The first removal is the cache volume's fill holder, which the runner waits for. The
    // holder stays tracked and goes at the end of the build; the build itself is not harmed.
    fault_case(
        "remove-once",
        vec![Rule::at(
            "DELETE",
            "/containers/*",
            1,
            error("removal refused"),
        )],
        Expect {
            code: 0,
            words: &[],
        },
    );
}

#[test]
fn removals_refused_until_the_end_are_reported_and_swept_by_the_next_runner() {
    support::require_engine();
    let mut project = Project::new("remove-all");
    let proxy = FaultProxy::start(
        "remove-all",
        vec![
            Rule::at("DELETE", "/containers/*", 1, error("removal refused"))
                .and_every_later_match(),
            Rule::at("DELETE", "/volumes/*", 1, error("removal refused")).and_every_later_match(),
        ],
    );
    let (run, _) = project.build_through(&proxy);
    assert!(proxy.fired(0) > 0, "{}", proxy.log_text());
    // The image is built: the build succeeds, and says what it could not remove and who will.
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        output.contains("could not remove") && output.contains("injected: removal refused"),
        "the failed cleanup is reported: {output}"
    );
    if let Some(note) = output.lines().find(|l| l.contains("could not remove")) {
        eprintln!("remove-all: {note}");
    }
    let left = faulted::debris(&run.prefix);
    assert!(
        left.iter().any(|d| d.starts_with("container")),
        "the refused removals left containers: {left:?}"
    );
    // The next runner of this machine and PID namespace proves the first one gone and
    // removes what it left.
    let sweeper = TempDir::new("ef-sweeper");
    sweeper.write("Dockerfile", "FROM stageplan-test/busybox:1\nENV SWEPT=1\n");
    let swept = faulted::run(
        &[
            "build".to_string(),
            sweeper.path_str(),
            "--progress".to_string(),
            "json".to_string(),
        ],
        &sweeper.0,
    );
    forget_cache_tags(None, &stage_images(swept.stdout.as_bytes()));
    assert_eq!(swept.code, Some(0), "{}", swept.stderr);
    assert!(
        swept.stdout.contains("left by runners"),
        "the sweep is reported: {}",
        swept.stdout
    );
    assert_eq!(faulted::debris(&run.prefix), Vec::<String>::new());
}

/// Builds a fresh project through a proxy with `rules`, sends SIGTERM once rule 0 has fired
/// (the request is being held), and checks the build stops with 130 within `within`, leaving
/// nothing behind.
fn stopped_while_held(name: &str, rules: Vec<Rule>, within: Duration) -> Finished {
    support::require_engine();
    let mut project = Project::new(name);
    let proxy = FaultProxy::start(name, rules);
    let record = project.scratch.0.join("faulted.record.json");
    let started = faulted::start(
        &project.args(Some(&proxy.url()), &record),
        &[],
        &project.scratch.0,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.fired(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "{name}: the held request never came:\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    started.signal("TERM");
    let signalled = Instant::now();
    let run = started
        .finish_or_hang()
        .unwrap_or_else(|hung| panic!("{name}: {hung}\nrequests:\n{}", proxy.log_text()));
    let stopping = signalled.elapsed();
    project.images.extend(stage_images(run.stdout.as_bytes()));
    project.images.extend(proxy.images_made());
    if let Ok(text) = std::fs::read_to_string(&record) {
        let record: Value = serde_json::from_str(&text).expect("the record is JSON");
        project.keys.extend(step_keys(&record));
    }
    assert_eq!(
        run.code,
        Some(130),
        "{name}: {}\nrequests:\n{}",
        run.stderr,
        proxy.log_text()
    );
    assert!(
        run.stderr.contains("SIGTERM"),
        "{name}: the error names the signal: {}",
        run.stderr
    );
    assert!(
        stopping < within,
        "{name}: stopping took {stopping:?} (more than {within:?})"
    );
    // The held request dies with the proxy; nothing of this runner is left.
    drop(proxy);
    assert_eq!(
        faulted::debris(&run.prefix),
        Vec::<String>::new(),
        "{name}: {}",
        run.stderr
    );
    assert_eq!(
        faulted::files_holding(&project.secret_text, &project.scratch.0),
        Vec::<String>::new(),
        "{name}: the secret is in a host file"
    );
    run
}

#[test]
fn a_signal_while_a_create_is_held_waits_for_it_and_removes_what_it_made() {
    // The RUN container with the secret is created 3 s late; SIGTERM comes meanwhile. The
    // runner waits for the creation, then removes the container.
    stopped_while_held(
        "held-create",
        vec![Rule::at(
            "POST",
            "/containers/create",
            4,
            Fault::Delay(Duration::from_secs(3)),
        )],
        Duration::from_secs(30),
    );
}

#[test]
fn a_signal_while_a_commit_is_held_stops_at_once() {
    stopped_while_held(
        "held-commit",
        vec![Rule::at(
            "POST",
            "/commit",
            2,
            Fault::Delay(Duration::from_secs(600)),
        )],
        Duration::from_secs(15),
    );
}

#[test]
fn a_signal_while_a_create_never_answers_stops_in_bounded_time() {
    // An engine that never answers a create: the runner gives the creation a while, then
    // stops without it (whatever it makes later is the next runner's to sweep).
    let run = stopped_while_held(
        "stalled-create",
        vec![Rule::at(
            "POST",
            "/containers/create",
            4,
            Fault::Delay(Duration::from_secs(600)),
        )],
        Duration::from_secs(30),
    );
    assert!(
        run.stdout.contains("the engine did not answer 1 request"),
        "the given-up creation is reported: {}",
        run.stdout
    );
}

#[test]
fn a_refused_image_save_costs_only_the_leak_report() {
    // The leak report reads the target's layers with an image save; without them the build
    // still succeeds, and says why the report is missing.
    let run = fault_case(
        "save",
        vec![Rule::at("GET", "/images/*/get", 1, error("save refused"))],
        Expect {
            code: 0,
            words: &[],
        },
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        output.contains("injected: save refused"),
        "the missing leak report is explained: {output}"
    );
}

#[test]
fn a_refused_record_load_costs_only_the_stage_memory() {
    // The second image load keeps the stages' memories (`stageplan-record:`); the image and
    // its cache entries are there already.
    fault_case(
        "record-load",
        vec![Rule::at("POST", "/images/load", 2, error("load refused"))],
        Expect {
            code: 0,
            words: &[],
        },
    );
}

#[test]
fn a_cache_volume_created_but_reported_as_failed() {
    // The engine made the cache volume, the runner heard an error: the volume is removed with
    // the build, and the next build makes it again with its owner and mode.
    fault_case(
        "volume-lost",
        vec![Rule::at(
            "POST",
            "/volumes/create",
            1,
            Fault::ErrorAfter("injected: answer lost".into()),
        )],
        Expect {
            code: 2,
            words: &["stage build, line 5", "create volume"],
        },
    );
}
