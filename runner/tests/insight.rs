//! The build record on the real engine, from Dockerfile text: every cache-miss reason the record
//! names (first build, a context file by path, a build argument by name, an ENV variable, the
//! base image, the instruction text, an earlier step, a stage read with COPY --from,
//! `--no-cache`, an evicted cache entry), read back from the stage memories the engine keeps
//! (also from another copy of the context, as another machine would); and every leak warning
//! (context files, a builder base three ways, the biggest added directories, a clean target).
//!
//! Input: the local engine and `stageplan-test/busybox:1` (scripts/setup.sh). Output: pass/fail.
//! Invariant: every image, cache tag and record image a test makes is removed at its end.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{
    assert_built, docker_at, forget_cache_tags, image_tag, remove_images, require_engine,
    runner_bin, stage_images, TempDir, BASE,
};

/// One runner build of `dir` with `--record`, and what it left to clean up.
struct Built {
    record: Value,
    events: Vec<Value>,
    /// The summary lines (`build_done`'s `summary`).
    summary: String,
}

/// Everything a test's builds made, removed when dropped.
#[derive(Default)]
struct Cleanup {
    images: Vec<String>,
    tags: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        forget_cache_tags(None, &self.images);
        let tags: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        remove_images(None, &tags);
    }
}

/// Runs `runner build DIR --record FILE --progress json ARGS` (with `env`), asserts it built.
fn build(dir: &Path, args: &[&str], env: &[(&str, &Path)], cleanup: &mut Cleanup) -> Built {
    let record_file = dir.with_extension("record.json");
    let out = runner(dir, &record_file, "json", args, env);
    assert_built(&out, &format!("runner build {} {args:?}", dir.display()));
    cleanup.images.extend(stage_images(&out.stdout));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON event per line"))
        .collect();
    let summary = events
        .iter()
        .find(|e| e["event"] == "build_done")
        .and_then(|e| e["summary"].as_array())
        .map(|lines| {
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let record = read_record(&record_file);
    Built {
        record,
        events,
        summary,
    }
}

fn runner(
    dir: &Path,
    record_file: &Path,
    progress: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Output {
    let mut command = Command::new(runner_bin());
    command
        .arg("build")
        .arg(dir)
        .args(["--progress", progress, "--record"])
        .arg(record_file)
        .args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run the runner")
}

/// The stage images a record names.
fn record_images(record: &Value) -> Vec<String> {
    record["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["image"].as_str().map(str::to_string))
        .collect()
}

fn read_record(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the record file");
    let record: Value = serde_json::from_str(&text).expect("the record is JSON");
    assert_eq!(record["version"], 1);
    record
}

/// The record of step `step` of stage `stage`.
fn step<'a>(record: &'a Value, stage: &str, step: u64) -> &'a Value {
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
        .unwrap_or_else(|| panic!("no step {stage} #{step} in {record:#}"))
}

/// The miss reason of a step that ran (its `kind` and the whole reason).
fn miss<'a>(record: &'a Value, stage: &str, number: u64) -> &'a Value {
    let found = step(record, stage, number);
    assert_eq!(
        found["status"], "ran",
        "{stage} #{number} did not run: {found:#}"
    );
    &found["miss"]
}

fn cached(record: &Value, stage: &str, number: u64) {
    let found = step(record, stage, number);
    assert_eq!(found["status"], "cached", "{stage} #{number}: {found:#}");
}

/// A project directory named `name` under a fresh parent `parent`.
fn project(parent: &TempDir, name: &str) -> PathBuf {
    let dir = parent.0.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn write(dir: &Path, rel: &str, content: &str) {
    std::fs::write(dir.join(rel), content).expect("write");
}

/// A word no other build has used, so a test's steps never hit another test's cache entries.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// The Dockerfile of the reasons test; `unique` keeps its steps out of other builds' cache
/// entries (a step whose image is the shared base image would lose its entry whenever another
/// test forgets the base image's cache tags).
fn dockerfile(unique: &str, env_line: &str, run: &str) -> String {
    format!(
        "FROM {BASE} AS build\n\
         RUN echo {unique} > /unique\n\
         WORKDIR /src\n\
         COPY *.txt ./\n\
         ARG FLAVOR=plain\n\
         {env_line}\n\
         {run}\n\
         FROM {BASE}\n\
         COPY --from=build /out /out\n"
    )
}

#[test]
fn each_cache_miss_names_the_first_input_that_differs_from_the_last_build() {
    require_engine();
    let mut cleanup = Cleanup::default();
    // The project directory has the same name in two places, as on two machines sharing one
    // engine; each place has its own context digest cache.
    let name = format!("project-{}-reasons", std::process::id());
    let (here_parent, there_parent) = (TempDir::new("reasons-a"), TempDir::new("reasons-b"));
    let (here, there) = (project(&here_parent, &name), project(&there_parent, &name));
    let run = "RUN cat *.txt > /out && echo \"$FLAVOR $MODE\" >> /out";
    let unique = nonce();
    for dir in [&here, &there] {
        write(dir, "app.txt", &format!("app 1 {unique}\n"));
        write(dir, "notes.txt", "notes\n");
        write(
            dir,
            "Dockerfile",
            &dockerfile(&unique, "ENV MODE=fast", run),
        );
    }
    let caches = (
        TempDir::new("reasons-cache-a"),
        TempDir::new("reasons-cache-b"),
    );
    let env_here = [("XDG_CACHE_HOME", caches.0 .0.as_path())];
    let env_there = [("XDG_CACHE_HOME", caches.1 .0.as_path())];

    let first = build(&here, &[], &env_here, &mut cleanup);
    for (stage, number) in [
        ("build", 1),
        ("build", 2),
        ("build", 3),
        ("build", 6),
        ("stage-1", 1),
    ] {
        assert_eq!(miss(&first.record, stage, number)["kind"], "first_build");
    }
    assert_eq!(step(&first.record, "build", 5)["status"], "config");

    // A changed context file, built from the other copy: the engine's record of the first build
    // is found, and the reason goes through the RUN after it and the stage that copies from it.
    write(&there, "app.txt", "app 2\n");
    let record_file = there.with_extension("record.json");
    let out = runner(&there, &record_file, "plain", &[], &env_there);
    assert_built(&out, "the build after app.txt changed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("#3 COPY *.txt ./  (cache miss: app.txt changed)"),
        "{stderr}"
    );
    let second = read_record(&record_file);
    cleanup.images.extend(record_images(&second));
    cached(&second, "build", 2);
    assert_eq!(
        miss(&second, "build", 3),
        &serde_json::json!({"kind": "context_file", "path": "app.txt", "change": "changed", "more": 0})
    );
    let through = miss(&second, "build", 6);
    assert_eq!(through["kind"], "earlier_step");
    assert_eq!(
        (through["step"].as_u64(), through["line"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(through["cause"]["path"], "app.txt");
    assert_eq!(step(&second, "build", 6)["miss_text"], "app.txt changed");
    let from_stage = miss(&second, "stage-1", 1);
    assert_eq!(from_stage["kind"], "stage");
    assert_eq!(from_stage["name"], "build");
    assert_eq!(from_stage["cause"]["path"], "app.txt");
    assert_eq!(
        step(&second, "stage-1", 1)["miss_text"],
        "stage build changed: app.txt changed"
    );

    // A build argument, named; the progress events carry the record's fields.
    let third = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    cached(&third.record, "build", 3);
    assert_eq!(
        miss(&third.record, "build", 6),
        &serde_json::json!({"kind": "build_arg", "name": "FLAVOR"})
    );
    let started = third
        .events
        .iter()
        .find(|e| e["event"] == "step_started" && e["stage"] == "build" && e["step"] == 6)
        .expect("a step_started event for build #6");
    assert_eq!(started["miss_text"], "build arg FLAVOR changed");
    let done = third
        .events
        .iter()
        .find(|e| e["event"] == "step_done" && e["stage"] == "build" && e["step"] == 6)
        .expect("a step_done event for build #6");
    assert_eq!(&done["record"], step(&third.record, "build", 6));

    // A new context file matched by the wildcard.
    write(&there, "extra.txt", "extra\n");
    let fourth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    assert_eq!(
        miss(&fourth.record, "build", 3),
        &serde_json::json!({"kind": "context_file", "path": "extra.txt", "change": "added", "more": 0})
    );

    // An ENV variable the RUN sees.
    write(
        &there,
        "Dockerfile",
        &dockerfile(&unique, "ENV MODE=slow", run),
    );
    let fifth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    cached(&fifth.record, "build", 3);
    assert_eq!(
        miss(&fifth.record, "build", 6),
        &serde_json::json!({"kind": "env", "name": "MODE"})
    );

    // The instruction's own text.
    let edited = "RUN cat *.txt > /out && echo \"$FLAVOR $MODE edited\" >> /out";
    write(
        &there,
        "Dockerfile",
        &dockerfile(&unique, "ENV MODE=slow", edited),
    );
    let sixth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    assert_eq!(
        miss(&sixth.record, "build", 6),
        &serde_json::json!({"kind": "instruction", "field": "text"})
    );
    assert_eq!(
        step(&sixth.record, "build", 6)["miss_text"],
        "instruction changed"
    );

    // --no-cache, for every step.
    let args = ["--build-arg", "FLAVOR=fancy", "--no-cache"];
    let seventh = build(&there, &args, &env_there, &mut cleanup);
    for (stage, number) in [
        ("build", 1),
        ("build", 2),
        ("build", 3),
        ("build", 6),
        ("stage-1", 1),
    ] {
        assert_eq!(miss(&seventh.record, stage, number)["kind"], "no_cache");
    }

    // The same key as the last build, but its cache entry is gone.
    let key = step(&seventh.record, "stage-1", 1)["key"]
        .as_str()
        .expect("a key")
        .to_string();
    let untag = docker_at(None, &["rmi", &format!("stageplan-cache:{key}")]);
    assert!(untag.status.success(), "{untag:?}");
    let eighth = build(
        &there,
        &["--build-arg", "FLAVOR=fancy"],
        &env_there,
        &mut cleanup,
    );
    cached(&eighth.record, "build", 6);
    assert_eq!(
        miss(&eighth.record, "stage-1", 1),
        &serde_json::json!({"kind": "cache_evicted"})
    );
}

#[test]
fn a_new_base_image_is_the_reason_and_the_record_names_both_references() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let other = image_tag("insight-other-base");
    cleanup.tags.push(other.clone());
    let base_dir = TempDir::new("insight-other-base");
    let unique = nonce();
    base_dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN echo other {unique} > /other\n"),
    );
    let out = Command::new(runner_bin())
        .args([
            "build",
            &base_dir.path_str(),
            "--progress",
            "json",
            "-t",
            &other,
        ])
        .output()
        .expect("run the runner");
    assert_built(&out, "the other base image");
    cleanup.images.extend(stage_images(&out.stdout));

    let parent = TempDir::new("insight-base");
    let dir = project(&parent, &format!("project-{}-base", std::process::id()));
    write(
        &dir,
        "Dockerfile",
        &format!("ARG IMAGE={BASE}\nFROM ${{IMAGE}} AS app\nRUN echo hi {unique} > /hi\n"),
    );
    let first = build(&dir, &[], &[], &mut cleanup);
    assert_eq!(miss(&first.record, "app", 1)["kind"], "first_build");
    let second = build(
        &dir,
        &["--build-arg", &format!("IMAGE={other}")],
        &[],
        &mut cleanup,
    );
    assert_eq!(
        miss(&second.record, "app", 1),
        &serde_json::json!({"kind": "base_image", "image": other, "previous_image": BASE})
    );
    assert_eq!(
        step(&second.record, "app", 1)["miss_text"],
        format!("base image {BASE} -> {other}")
    );
}

/// Builds a one-off project and returns its record and stderr (the summary).
fn build_project(name: &str, files: &[(&str, &str)], cleanup: &mut Cleanup) -> Built {
    let parent = TempDir::new(name);
    let dir = project(&parent, &format!("project-{}-{name}", std::process::id()));
    for (rel, content) in files {
        write(&dir, rel, content);
    }
    let tag = image_tag(name);
    cleanup.tags.push(tag.clone());
    build(&dir, &["-t", &tag], &[], cleanup)
}

fn leaks(record: &Value) -> Vec<&Value> {
    record["leaks"].as_array().expect("leaks").iter().collect()
}

#[test]
fn a_fat_image_ships_its_sources_and_its_toolchain_and_shows_what_it_adds() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let built = build_project(
        "insight-fat",
        &[
            ("main.sh", "echo built\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {BASE}\nWORKDIR /app\nCOPY main.sh ./\nRUN sh main.sh > /app/result && head -c 300000 /dev/zero > /app/cache.bin\nCMD [\"cat\", \"/app/result\"]\n"
                ),
            ),
        ],
        &mut cleanup,
    );
    let found = leaks(&built.record);
    let context = found
        .iter()
        .find(|l| l["kind"] == "context_files")
        .unwrap_or_else(|| panic!("no context-file leak: {found:?}"));
    assert_eq!(context["paths"], serde_json::json!(["/app/main.sh"]));
    assert_eq!(context["line"], 3);
    let toolchain = found
        .iter()
        .find(|l| l["kind"] == "builder_base")
        .unwrap_or_else(|| panic!("no builder-base leak: {found:?}"));
    assert_eq!(toolchain["line"], 4);
    assert!(
        toolchain["message"].as_str().is_some_and(|m| m.contains(
            "builds in its own image (the RUN on line 4 works on sources copied on line 3)"
        )),
        "{toolchain}"
    );
    let dirs = built.record["biggest_dirs"].as_array().expect("dirs");
    assert_eq!(dirs[0]["path"], "/app", "{dirs:?}");
    assert!(
        dirs[0]["bytes"].as_u64().is_some_and(|b| b >= 300_000),
        "{dirs:?}"
    );
    // The summary prints the same.
    assert!(built.summary.contains("warning: line 3: 1 file from the build context ships in target stage \"stage-0\" (/app/main.sh)"), "{}", built.summary);
    assert!(
        built
            .summary
            .contains("biggest directories the image adds over"),
        "{}",
        built.summary
    );
}

#[test]
fn a_target_based_on_a_builder_stage_or_the_builders_image_ships_the_toolchain() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let on_stage = build_project(
        "insight-on-stage",
        &[(
            "Dockerfile",
            &format!(
                "FROM {BASE} AS build\nRUN echo bin > /bin.out\nFROM {BASE} AS test\nCOPY --from=build /bin.out /tested\nFROM build AS final\nCOPY --from=test /tested /tested\n"
            ),
        )],
        &mut cleanup,
    );
    let found = leaks(&on_stage.record);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["kind"], "builder_base");
    assert_eq!(found[0]["line"], 5);
    assert!(found[0]["message"].as_str().is_some_and(|m| m.starts_with(
        "target stage \"final\" is based on stage \"build\", which stage \"test\" copies build output from"
    )));

    let on_image = build_project(
        "insight-on-image",
        &[(
            "Dockerfile",
            &format!("FROM {BASE} AS build\nRUN echo bin > /bin.out\nFROM {BASE}\nCOPY --from=build /bin.out /app\n"),
        )],
        &mut cleanup,
    );
    let found = leaks(&on_image.record);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&format!(
            "is based on {BASE}, which stage \"build\" builds in"
        ))));
}

#[test]
fn a_multi_stage_target_from_scratch_is_clean() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let built = build_project(
        "insight-clean",
        &[
            ("main.sh", "echo built\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {BASE} AS build\nCOPY main.sh /src/\nRUN sh /src/main.sh > /out\nFROM scratch\nCOPY --from=build /out /out\n"
                ),
            ),
        ],
        &mut cleanup,
    );
    assert_eq!(leaks(&built.record), Vec::<&Value>::new());
    assert!(
        built.summary.contains("leak report: clean"),
        "{}",
        built.summary
    );
    assert_eq!(built.record["added_bytes"], 6);
}
