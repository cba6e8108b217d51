//! The runner's behaviour on a real engine, from Dockerfile text: a failing step, a COPY the
//! image cannot take, Ctrl-C,
//! a runner killed with SIGKILL, the step cache, a base image that is missing, the
//! Dockerfile features this engine's BuildKit is too old for (heredocs, `COPY --parents`,
//! `--exclude`, `--link`), and the Dockerfile or the context read from standard input.
//!
//! Input: Dockerfiles written into temporary contexts, built with `runner build DIR` or planned
//! with the planner library and run as `runner plan.json --context DIR`.
//! Output: assertions on exit codes, messages, left-over containers, progress events and the
//! files of the built images.
//! Invariant: every image, directory and cache id carries `stageplan-rt-<pid>` and is removed
//! on the way out.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    assert_built, docker, forget_cache_tags, image_tag, remove_images, require_engine, run_runner,
    runner_bin, stage_images, write_plan, TempDir, BASE,
};

/// The containers of the runner process `pid`, running or not.
fn runner_containers(pid: u32) -> Vec<String> {
    support::containers_of_runner(pid, true)
}

/// Starts `runner build DIR` with `args` after it, output piped.
fn spawn_build(dir: &TempDir, args: &[&str]) -> Child {
    Command::new(runner_bin())
        .arg("build")
        .arg(&dir.0)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner")
}

/// Waits until the runner `pid` has at least `n` containers, failing after a minute.
fn wait_for_containers(pid: u32, n: usize) {
    let started = Instant::now();
    while runner_containers(pid).len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the runner's RUN containers never appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_failing_run_exits_1_names_stage_line_and_code_and_leaves_no_containers() {
    require_engine();
    let dir = TempDir::new("fail");
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS build\n\
             RUN echo preparing\n\
             RUN echo first-line; echo 'it broke' >&2; exit 7\n"
        ),
    );
    // The plan form: the planner library writes the plan, the runner performs it.
    let plan = write_plan(
        &dir.0.join("Dockerfile"),
        &[],
        &BTreeMap::new(),
        &dir.0.join("plan.json"),
    );
    let child = Command::new(runner_bin())
        .arg(&plan)
        .args([
            "--context",
            &dir.path_str(),
            "--progress",
            "plain",
            "--no-cache",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stage build, line 3"), "{stderr}");
    assert!(stderr.contains("exited with code 7"), "{stderr}");
    // BuildKit's words, which CI log searches look for.
    assert!(
        stderr.contains(
            "process \"/bin/sh -c echo first-line; echo 'it broke' >&2; exit 7\" did not complete successfully: exit code: 7"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("it broke"), "{stderr}");
    assert_eq!(runner_containers(pid), Vec::<String>::new());
}

/// Whether `text` is an image id as `docker build --iidfile` writes it: `sha256:` and 64 hex
/// digits, nothing after.
fn is_image_id(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[test]
fn the_iidfile_holds_the_target_image_id_as_docker_writes_it_and_a_failed_build_removes_it() {
    require_engine();
    let dir = TempDir::new("iidfile");
    let nonce = support::nonce();
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS build\n\
             RUN echo {nonce} > /n\n\
             \n\
             FROM {BASE}\n\
             COPY --from=build /n /n\n"
        ),
    );
    let context = dir.path_str();
    let iidfile = dir.0.join("id.txt");
    let iidfile_arg = iidfile.to_string_lossy().into_owned();
    let image = image_tag("iidfile");
    let out = run_runner(&[
        "build",
        &context,
        "--progress",
        "json",
        "-t",
        &image,
        "--iidfile",
        &iidfile_arg,
    ]);
    assert_built(&out, "the build with --iidfile");
    let written = std::fs::read_to_string(&iidfile).expect("the runner wrote the iidfile");
    let images = stage_images(&out.stdout);
    assert!(is_image_id(&written), "{written:?}");
    assert_eq!(
        images.last(),
        Some(&written),
        "the iidfile names the target image"
    );
    assert_eq!(
        docker(&["image", "inspect", "--format", "{{.Id}}", &image]).trim(),
        written
    );

    // BuildKit's `docker build --iidfile` writes the same form (no newline).
    let reference = dir.0.join("buildkit-id.txt");
    let reference_image = image_tag("iidfile-buildkit");
    let reference_arg = reference.to_string_lossy().into_owned();
    support::buildkit_build(
        &dir.0,
        &["-t", &reference_image, "--iidfile", &reference_arg],
    );
    let reference_id = std::fs::read_to_string(&reference).expect("BuildKit's iidfile");
    assert!(is_image_id(&reference_id), "{reference_id:?}");

    // A build that fails, whether planning it or running a step, leaves no iidfile: a script
    // that reads it after a failure must not find the last build's id.
    dir.write("Dockerfile", "FROM\n");
    let out = run_runner(&["build", &context, "--iidfile", &iidfile_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!iidfile.exists(), "a plan error left the old iidfile");
    std::fs::write(&iidfile, &written).expect("restore the iidfile");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN echo {nonce}; exit 3\n"),
    );
    let out = run_runner(&["build", &context, "--iidfile", &iidfile_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!iidfile.exists(), "a failed step left the old iidfile");

    forget_cache_tags(None, &images);
    remove_images(None, &[&image, &reference_image]);
}

/// The labels of image `reference`.
fn image_labels(reference: &str) -> BTreeMap<String, String> {
    let json = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        reference,
    ]);
    serde_json::from_str::<Option<BTreeMap<String, String>>>(json.trim())
        .expect("labels JSON")
        .unwrap_or_default()
}

#[test]
fn labels_go_on_the_target_image_over_its_own_as_buildkit_sets_them_with_both_backends_and_are_part_of_its_cache_key(
) {
    require_engine();
    let dir = TempDir::new("labels");
    let nonce = support::nonce();
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS base\n\
             LABEL from.base=yes\n\
             \n\
             FROM base\n\
             LABEL stage=final version=\"{nonce}\"\n"
        ),
    );
    let context = dir.path_str();
    let image = image_tag("labels");
    let labelled = |version: &str| {
        let out = run_runner(&[
            "build",
            &context,
            "--progress",
            "json",
            "-t",
            &image,
            "--label",
            &format!("version={version}"),
            "--label",
            "org.opencontainers.image.revision=abc123",
            "--label",
            "empty",
        ]);
        assert_built(&out, "a build with --label");
        out
    };
    let first = labelled("2.0");
    let ours = image_labels(&image);
    let reference = image_tag("labels-buildkit");
    support::buildkit_build(
        &dir.0,
        &[
            "-t",
            &reference,
            "--label",
            "version=2.0",
            "--label",
            "org.opencontainers.image.revision=abc123",
            "--label",
            "empty",
        ],
    );
    assert_eq!(ours, image_labels(&reference), "runner vs BuildKit");
    // The BuildKit backend sets them the same way.
    let via_llb = image_tag("labels-llb");
    let out = run_runner(&[
        "build",
        &context,
        "--backend",
        "buildkit",
        "-t",
        &via_llb,
        "--label",
        "version=2.0",
        "--label",
        "org.opencontainers.image.revision=abc123",
        "--label",
        "empty",
    ]);
    assert_built(&out, "--backend buildkit with --label");
    assert_eq!(image_labels(&via_llb), ours, "--backend buildkit");
    assert_eq!(ours.get("version").map(String::as_str), Some("2.0"));
    assert_eq!(ours.get("from.base").map(String::as_str), Some("yes"));
    assert_eq!(ours.get("empty").map(String::as_str), Some(""));
    // The same labels again: the same image, from the cache; another value: another image.
    let id = || docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
    let first_id = id();
    let again = labelled("2.0");
    assert_eq!(id(), first_id, "the same labels made a new image");
    let other = labelled("2.1");
    assert_ne!(id(), first_id, "another label value kept the old image");
    assert_eq!(
        image_labels(&image).get("version").map(String::as_str),
        Some("2.1")
    );
    let mut images = stage_images(&first.stdout);
    images.extend(stage_images(&again.stdout));
    images.extend(stage_images(&other.stdout));
    forget_cache_tags(None, &images);
    remove_images(None, &[&image, &reference, &via_llb]);
}

/// The image's `Created` and every history entry's time (seconds, oldest first), as the engine
/// stores them.
fn image_times(reference: &str) -> (String, Vec<i64>) {
    let created = docker(&["image", "inspect", "--format", "{{.Created}}", reference]);
    let history =
        support::engine_get(None, &format!("/images/{reference}/history")).expect("image history");
    let mut times: Vec<i64> = history
        .as_array()
        .expect("history list")
        .iter()
        .map(|entry| entry["Created"].as_i64().expect("Created seconds"))
        .collect();
    times.reverse();
    (created.trim().to_string(), times)
}

#[test]
fn source_date_epoch_dates_the_image_and_its_new_history_with_both_backends_as_buildkit_does() {
    require_engine();
    let dir = TempDir::new("epoch");
    let nonce = support::nonce();
    dir.write(
        "Dockerfile",
        &format!(
            "ARG SOURCE_DATE_EPOCH\n\
             FROM {BASE} AS base\n\
             RUN echo {nonce} > /built\n\
             \n\
             FROM base\n\
             ENV STAGE=final\n\
             RUN echo final > /final\n"
        ),
    );
    let context = dir.path_str();
    let (_, base_times) = image_times(BASE);
    let build = |tag: &str, extra: &[&str]| {
        let mut args = vec!["build", context.as_str(), "--progress", "json", "-t", tag];
        args.extend_from_slice(extra);
        let out = run_runner(&args);
        assert_built(&out, "a build with SOURCE_DATE_EPOCH");
        out
    };
    let image = image_tag("epoch");
    let first = build(&image, &["--build-arg", "SOURCE_DATE_EPOCH=1700000001"]);
    let (created, times) = image_times(&image);
    assert_eq!(created, "2023-11-14T22:13:21Z");
    // The base image's entries keep their times; the build's own are the epoch.
    assert!(times.len() > base_times.len(), "{times:?}");
    assert_eq!(times[..base_times.len()], base_times[..]);
    assert!(
        times[base_times.len()..]
            .iter()
            .all(|&t| t == 1_700_000_001),
        "{times:?}"
    );
    // Another epoch is another image (not the cached one); none gives the build's time.
    let second = build(&image, &["--build-arg", "SOURCE_DATE_EPOCH=1600000000"]);
    assert_eq!(image_times(&image).0, "2020-09-13T12:26:40Z");
    let third = build(&image, &[]);
    let (now_created, _) = image_times(&image);
    assert!(now_created.as_str() > "2026", "{now_created}");
    // The BuildKit backend dates the same way.
    let via_llb = image_tag("epoch-llb");
    build(
        &via_llb,
        &[
            "--backend",
            "buildkit",
            "--build-arg",
            "SOURCE_DATE_EPOCH=1700000001",
        ],
    );
    let (llb_created, llb_times) = image_times(&via_llb);
    assert_eq!(llb_created, "2023-11-14T22:13:21Z");
    assert!(
        llb_times[base_times.len()..]
            .iter()
            .all(|&t| t == 1_700_000_001),
        "{llb_times:?}"
    );
    let mut images = stage_images(&first.stdout);
    images.extend(stage_images(&second.stdout));
    images.extend(stage_images(&third.stdout));
    forget_cache_tags(None, &images);
    remove_images(None, &[&image, &via_llb]);
}

#[test]
fn the_build_network_and_added_hosts_reach_the_runs_as_buildkit_gives_them() {
    require_engine();
    let dir = TempDir::new("network");
    let nonce = support::nonce();
    // RUNs without a network of their own take the build's (this engine's BuildKit has no
    // `RUN --network`, so the comparison leaves it out; it is checked below).
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             RUN echo {nonce} > /nonce && grep -w myhost /etc/hosts > /hosts && ls /sys/class/net > /nets\n"
        ),
    );
    let context = dir.path_str();
    let (ours, theirs) = (image_tag("network"), image_tag("network-buildkit"));
    let build = |host: &str| {
        let out = run_runner(&[
            "build",
            &context,
            "--network",
            "none",
            "--add-host",
            host,
            "-t",
            &ours,
        ]);
        assert_built(&out, "a build with --network none --add-host");
    };
    build("myhost:10.1.2.3");
    support::buildkit_build(
        &dir.0,
        &[
            "--network",
            "none",
            "--add-host",
            "myhost:10.1.2.3",
            "-t",
            &theirs,
        ],
    );
    let file = |image: &str, path: &str| docker(&["run", "--rm", image, "cat", path]);
    assert_eq!(file(&ours, "/hosts"), "10.1.2.3\tmyhost\n");
    assert_eq!(file(&ours, "/nets"), "lo\n");
    let problems = support::snapshot::differences(None, &ours, &theirs);
    assert!(
        problems.is_empty(),
        "runner vs BuildKit:\n{}",
        problems.join("\n")
    );
    // The BuildKit backend makes the very steps docker build made: the same image, from
    // BuildKit's cache.
    let via_llb = image_tag("network-llb");
    let out = run_runner(&[
        "build",
        &context,
        "--backend",
        "buildkit",
        "--network",
        "none",
        "--add-host",
        "myhost:10.1.2.3",
        "-t",
        &via_llb,
    ]);
    assert_built(&out, "--backend buildkit with --network and --add-host");
    let id = |image: &str| docker(&["image", "inspect", "--format", "{{.Id}}", image]);
    assert_eq!(
        id(&via_llb),
        id(&theirs),
        "--backend buildkit vs docker build"
    );
    // Another address is another step: not taken from the cache.
    build("myhost:10.9.9.9");
    assert_eq!(file(&ours, "/hosts"), "10.9.9.9\tmyhost\n");
    // `RUN --network=default` takes the build's network too; `RUN --network=host` its own.
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             RUN --network=default echo {nonce} > /nonce && ls /sys/class/net > /nets\n\
             RUN --network=host ls /sys/class/net > /host-nets\n"
        ),
    );
    build("myhost:10.1.2.3");
    assert_eq!(file(&ours, "/nets"), "lo\n");
    assert_ne!(file(&ours, "/host-nets"), "lo\n");
    remove_images(None, &[&ours, &theirs, &via_llb]);
}

#[test]
fn a_copy_the_image_cannot_take_fails_the_step_naming_its_line() {
    require_engine();
    let dir = TempDir::new("refused");
    // BuildKit fails this COPY too ("cannot copy to non-directory"): the directory dir/inner
    // would replace the symlink /d/inner.
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             RUN mkdir /d /target && ln -s /target /d/inner\n\
             COPY dir /d/\n"
        ),
    );
    dir.write("dir/inner/c", "c");
    let child = Command::new(runner_bin())
        .args([
            "build",
            &dir.path_str(),
            "--no-cache",
            "--progress",
            "plain",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 2 as every COPY the instruction itself makes impossible (1: a command that failed).
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stage stage-0, line 3"), "{stderr}");
    assert!(stderr.contains("cannot copy into /d"), "{stderr}");
    assert!(stderr.contains("/d/inner"), "{stderr}");
    // The refused COPY's holder and the RUN's keeper are gone.
    assert_eq!(runner_containers(pid), Vec::<String>::new());
}

#[test]
fn sigint_mid_build_stops_and_removes_every_container() {
    require_engine();
    let dir = TempDir::new("sigint");
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS slow\n\
             RUN echo started; sleep 60\n\
             FROM {BASE} AS slow2\n\
             RUN sleep 61\n\
             FROM scratch AS all\n\
             COPY --from=slow /bin/busybox /a\n\
             COPY --from=slow2 /bin/busybox /b\n"
        ),
    );
    let child = spawn_build(&dir, &["--progress", "plain", "--no-cache", "--jobs", "2"]);
    let pid = child.id();
    wait_for_containers(pid, 2);
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(runner_containers(pid), Vec::<String>::new());
}

#[test]
fn containers_of_a_killed_runner_are_swept_by_the_next_one() {
    require_engine();
    let dir = TempDir::new("sweep");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE} AS slow\nRUN sleep 120\n"),
    );
    let mut child = spawn_build(&dir, &["--progress", "plain", "--no-cache"]);
    let pid = child.id();
    wait_for_containers(pid, 1);
    child.kill().expect("SIGKILL the runner");
    child.wait().expect("reap");
    // SIGKILL gives the runner no chance to clean up: its RUN container keeps running until a
    // runner starts (a concurrent test's runner may be the one that sweeps it).
    let next = TempDir::new("sweep-next");
    next.write(
        "Dockerfile",
        &format!("FROM {BASE} AS quick\nLABEL swept=yes\n"),
    );
    let out = run_runner(&["build", &next.path_str(), "--progress", "plain"]);
    assert_built(&out, "the next build");
    assert_eq!(runner_containers(pid), Vec::<String>::new());
}

fn json_events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect()
}

#[test]
fn a_second_build_takes_every_step_from_the_cache_and_a_change_reruns_only_what_reads_it() {
    require_engine();
    let dir = TempDir::new("cache");
    let pid = std::process::id();
    dir.write("app.txt", &format!("app {pid}\n"));
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS build\n\
             ENV N={pid}\n\
             RUN echo $N > /n\n\
             WORKDIR /w\n\
             COPY app.txt /w/\n\
             \n\
             FROM scratch AS out\n\
             COPY --from=build /n /w/app.txt /\n\
             LABEL x=y\n"
        ),
    );
    let image = image_tag("cache");
    let context = dir.path_str();
    let args = ["build", &context, "--progress", "json", "-t", &image];
    let child = Command::new(runner_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner");
    let first_pid = child.id();
    let first = child.wait_with_output().expect("wait");
    assert_built(&first, "the first build");
    // A successful build leaves no temporary container (keepers, holders) behind either.
    assert_eq!(runner_containers(first_pid), Vec::<String>::new());
    let second = run_runner(&args);
    assert_built(&second, "the second build");
    let events = json_events(&second.stdout);
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("step_started"), 0, "a step ran again: {events:?}");
    assert_eq!(count("step_cached"), 3, "{events:?}");
    assert_eq!(count("stage_done"), 2);
    let done = events.last().expect("events");
    assert_eq!(done["event"], "build_done");
    assert_eq!(done["ok"], true);
    // Changing a context file invalidates exactly the steps that read it.
    dir.write("app.txt", "changed\n");
    let third = run_runner(&args);
    assert_built(&third, "the build after a change");
    let events = json_events(&third.stdout);
    let started: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "step_started")
        .collect();
    let mut images = stage_images(&first.stdout);
    images.extend(stage_images(&third.stdout));
    forget_cache_tags(None, &images);
    remove_images(None, &[&image]);
    assert_eq!(
        started.len(),
        2,
        "only the context COPY and the COPY --from after it must run again: {started:?}"
    );
}

#[test]
fn heredocs_parents_exclude_and_link_produce_the_expected_files() {
    require_engine();
    let dir = TempDir::new("features");
    dir.write("src/a/one.txt", "one\n");
    dir.write("src/a/skip.log", "log\n");
    dir.write("src/b/two.txt", "two\n");
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS feat\n\
             ARG WHO=world\n\
             RUN <<EOF\n\
             mkdir -p /out\n\
             echo \"hello $WHO\" > /out/greeting\n\
             EOF\n\
             RUN cat <<EOT > /out/raw\n\
             line1\n\
             line2\n\
             EOT\n\
             COPY <<CONF /out/conf\n\
             name=$WHO\n\
             CONF\n\
             COPY --parents src/a/one.txt src/b/two.txt /tree/\n\
             COPY --exclude=*.log src/a /filtered/\n\
             COPY --link src/b/two.txt /linked.txt\n"
        ),
    );
    let image = image_tag("features");
    let out = run_runner(&[
        "build",
        &dir.path_str(),
        "-t",
        &image,
        "--progress",
        "json",
        "--no-cache",
    ]);
    assert_built(&out, "the build");
    let listing = docker(&[
        "run", "--rm", &image, "sh", "-c",
        "cat /out/greeting /out/raw /out/conf; find /tree /filtered -type f | sort; cat /linked.txt",
    ]);
    forget_cache_tags(None, &stage_images(&out.stdout));
    remove_images(None, &[&image]);
    assert_eq!(
        listing,
        "hello world\nline1\nline2\nname=world\n/filtered/one.txt\n/tree/src/a/one.txt\n/tree/src/b/two.txt\ntwo\n"
    );
}

#[test]
fn a_missing_base_image_that_cannot_be_pulled_is_an_error_naming_it() {
    require_engine();
    let dir = TempDir::new("nopull");
    let missing = image_tag("not-there");
    // The error names the stage and the line that uses the image, as BuildKit's source map
    // does (testErrorsSourceMap): a FROM, a COPY --from and a mount's from=.
    for (dockerfile, place) in [
        (
            format!("FROM {missing} AS x\nRUN true\n"),
            "stage x, line 1",
        ),
        (
            format!("FROM {BASE}\nENV foo=bar\nCOPY --from={missing} foo bar\n"),
            "stage stage-0, line 3",
        ),
        (
            format!("FROM {BASE} AS m\nRUN true\nRUN --mount=from={missing},target=/m true\n"),
            "stage m, line 3",
        ),
    ] {
        dir.write("Dockerfile", &dockerfile);
        let out = run_runner(&["build", &dir.path_str(), "--progress", "plain"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("{place}: image \"{missing}\" is not present")),
            "{stderr}"
        );
    }
}

#[test]
fn quiet_prints_the_image_id_alone_and_a_failure_still_names_its_step() {
    require_engine();
    let dir = TempDir::new("quiet");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN echo {} > /f\n", support::nonce()),
    );
    let context = dir.path_str();
    let out = run_runner(&["build", &context, "-q"]);
    assert_built(&out, "a build with -q");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(is_image_id(stdout.trim_end()), "stdout: {stdout:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "-q prints nothing else"
    );
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN echo out && exit 3\n"),
    );
    let out = run_runner(&["build", &context, "--progress", "quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("exited with code 3"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// Runs the runner with `input` on its standard input and `cache_home` as its cache directory.
fn run_runner_with_stdin(
    args: &[&str],
    input: &[u8],
    cache_home: &std::path::Path,
) -> std::process::Output {
    let mut child = Command::new(runner_bin())
        .args(args)
        .env("XDG_CACHE_HOME", cache_home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runner");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input)
        .expect("write the runner's standard input");
    child.wait_with_output().expect("wait for the runner")
}

/// The temporary directories contexts read from standard input are unpacked into.
fn stdin_contexts() -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("stageplan-tmp-") && name.contains("-stdin"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_dockerfile_or_the_whole_context_can_come_from_standard_input_as_docker_build_takes_them() {
    require_engine();
    let dir = TempDir::new("stdin");
    dir.write("data.txt", "from the context\n");
    let dockerfile = format!(
        "FROM {BASE}\nCOPY data.txt /data.txt\nRUN echo {} > /built\n",
        support::nonce()
    );
    dir.write("build.Dockerfile", &dockerfile);
    let context = dir.path_str();
    let image = image_tag("stdin");
    let left_before = stdin_contexts();
    let cache_home = dir.0.join("cache-home");
    let mut built = Vec::new();
    let mut ids = Vec::new();
    let mut build = |args: &[&str], input: &[u8], what: &str| {
        let mut all = vec!["build", "-t", &image, "--progress", "json"];
        all.extend_from_slice(args);
        let out = run_runner_with_stdin(&all, input, &cache_home);
        assert_built(&out, what);
        built.extend(stage_images(&out.stdout));
        ids.push(docker(&["image", "inspect", "-f", "{{.Id}}", &image]));
        docker(&["run", "--rm", &image, "cat", "/data.txt"])
    };
    // The Dockerfile as a file, then on standard input with the context directory (`-f -`).
    let from_file = build(
        &["-f", &format!("{context}/build.Dockerfile"), &context],
        b"",
        "-f FILE",
    );
    let from_stdin = build(&["-f", "-", &context], dockerfile.as_bytes(), "-f - DIR");
    // The whole context as a gzip tar on standard input, its Dockerfile named with -f.
    let tar = Command::new("tar")
        .args(["czf", "-", "-C", &context, "data.txt", "build.Dockerfile"])
        .output()
        .expect("run tar");
    assert!(tar.status.success());
    let from_archive = build(
        &["-f", "build.Dockerfile", "-"],
        &tar.stdout,
        "a context archive",
    );
    // A Dockerfile alone on standard input builds with an empty context.
    let out = run_runner_with_stdin(
        &["build", "-q", "-"],
        format!("FROM {BASE}\nRUN ls -A / > /root-listing\nCOPY data.txt /\n").as_bytes(),
        &cache_home,
    );
    let empty_context = String::from_utf8_lossy(&out.stderr).into_owned();
    let both = run_runner_with_stdin(
        &["build", "-f", "-", "-"],
        dockerfile.as_bytes(),
        &cache_home,
    );
    // The context directory's digests are kept between builds; a context that exists for one
    // build only leaves no cache file behind.
    let digest_caches = std::fs::read_dir(cache_home.join("stageplan/context"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    forget_cache_tags(None, &built);
    remove_images(None, &[&image]);
    assert_eq!(
        [from_file.as_str(), &from_stdin, &from_archive],
        ["from the context\n"; 3]
    );
    assert!(
        ids.windows(2).all(|pair| pair[0] == pair[1]),
        "the same Dockerfile and context give the same image whichever way they come: {ids:?}"
    );
    assert_eq!(out.status.code(), Some(2), "{empty_context}");
    assert!(
        empty_context.contains("COPY source \"data.txt\" not found in the build context \"(none: the Dockerfile came on standard input, with no context)\""),
        "{empty_context}"
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot both come from standard input"));
    assert_eq!(
        stdin_contexts(),
        left_before,
        "a context from standard input is removed"
    );
    assert_eq!(
        digest_caches, 1,
        "one digest cache, for the context directory"
    );
}

#[test]
fn a_base_image_of_another_platform_is_an_error_not_a_silent_substitute() {
    require_engine();
    let dir = TempDir::new("platform");
    let context = dir.path_str();
    // The cross-compiling pattern: the build platform's image, whatever the target.
    dir.write(
        "Dockerfile",
        &format!("FROM --platform=$BUILDPLATFORM {BASE}\nARG TARGETPLATFORM\nRUN echo $TARGETPLATFORM > /target\n"),
    );
    let image = image_tag("platform");
    let out = run_runner(&[
        "build",
        &context,
        "--platform",
        "linux/amd64",
        "-t",
        &image,
        "--progress",
        "json",
    ]);
    assert_built(&out, "FROM --platform=$BUILDPLATFORM");
    let target = docker(&["run", "--rm", &image, "cat", "/target"]);
    forget_cache_tags(None, &stage_images(&out.stdout));
    remove_images(None, &[&image]);
    assert_eq!(target, "linux/amd64\n");
    // Another platform, asked for on the FROM line or for the whole build.
    dir.write(
        "Dockerfile",
        &format!("FROM --platform=linux/arm64 {BASE}\nRUN true\n"),
    );
    let on_the_line = run_runner(&["build", &context]);
    dir.write("Dockerfile", &format!("FROM {BASE}\nRUN true\n"));
    let for_the_build = run_runner(&["build", &context, "--platform", "linux/arm64"]);
    // A plan made on another build platform: `$BUILDPLATFORM` stands for the engine's own.
    let text = format!("FROM --platform=$BUILDPLATFORM {BASE}\nRUN true\n");
    let options = planner::Options {
        build_platform: Some("linux/arm64".to_string()),
        ..planner::Options::default()
    };
    let plan = planner::plan(&text, &options).plan.expect("plan");
    let plan_file = dir.0.join("arm64-plan.json");
    std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();
    let planned_elsewhere = run_runner(&[
        &plan_file.to_string_lossy(),
        "--context",
        &context,
        "--progress",
        "json",
    ]);
    assert_built(
        &planned_elsewhere,
        "a plan made with build platform linux/arm64",
    );
    forget_cache_tags(None, &stage_images(&planned_elsewhere.stdout));
    for (out, what) in [
        (on_the_line, "FROM --platform"),
        (for_the_build, "--platform"),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains("line 1")
                && stderr.contains(&format!("{BASE} is linux/amd64 here, not linux/arm64")),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn a_tag_the_engine_would_refuse_fails_before_anything_is_built() {
    require_engine();
    let dir = TempDir::new("bad-tag");
    dir.write("Dockerfile", &format!("FROM {BASE}\nRUN exit 7\n"));
    let context = dir.path_str();
    for (tag, reason) in [
        ("Upper-Case:1", "repository name must be lowercase"),
        ("app:bad tag", "invalid reference format"),
    ] {
        let out = run_runner(&["build", &context, "-t", tag, "--progress", "json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tag}: {stderr}");
        assert!(stderr.contains(reason), "{tag}: {stderr}");
        // Refused before planning: the failing RUN never ran.
        assert!(out.stdout.is_empty(), "{tag}: a build started");
    }
}

#[test]
fn a_run_as_a_user_the_image_lacks_fails_naming_the_user_and_its_line() {
    require_engine();
    let dir = TempDir::new("ghost-user");
    let context = dir.path_str();
    // The first RUN of a stage (its own container) and a later one (an exec in the keeper).
    for (dockerfile, line) in [
        (format!("FROM {BASE}\nUSER ghost\nRUN true\n"), 3),
        (
            format!("FROM {BASE}\nRUN true\nUSER ghost:nogroup\nRUN true\n"),
            4,
        ),
    ] {
        dir.write("Dockerfile", &dockerfile);
        let out = run_runner(&["build", &context, "--progress", "plain"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("line {line}: USER ghost"))
                && stderr.contains("unable to find user ghost")
                && stderr.contains("use a numeric uid"),
            "{stderr}"
        );
    }
}

#[test]
fn run_security_insecure_is_refused_without_the_entitlement() {
    // BuildKit refuses a privileged RUN unless the build grants security.insecure; the runner
    // refuses it before building anything, naming the line and the flag that grants it.
    require_engine();
    let dir = TempDir::new("insecure");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE} AS build\nRUN echo first\nRUN --security=insecure echo privileged\n"),
    );
    let out = run_runner(&["build", &dir.path_str(), "--progress", "plain"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stage build, line 3") && stderr.contains("--allow security.insecure"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("[build] #1"),
        "nothing is built before the refusal: {stderr}"
    );
    // A base image's ONBUILD trigger asks for it only when a stage builds on the image: it is
    // refused then, before it runs.
    let base = image_tag("insecure-onbuild");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nONBUILD RUN --security=insecure echo privileged\n"),
    );
    let built = run_runner(&["build", &dir.path_str(), "-t", &base, "--progress", "json"]);
    assert_built(&built, "the base image with the trigger");
    dir.write(
        "Dockerfile",
        &format!("FROM {base} AS child\nRUN echo after\n"),
    );
    let out = run_runner(&["build", &dir.path_str(), "--progress", "plain"]);
    forget_cache_tags(None, &support::stage_images(&built.stdout));
    remove_images(None, &[&base]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stage child") && stderr.contains("--allow security.insecure"),
        "{stderr}"
    );
}

#[test]
fn a_solve_the_daemon_refuses_fails_with_its_reason_on_the_buildkit_backend() {
    // With --allow security.insecure the BuildKit backend asks the daemon for the entitlement;
    // the engine scripts/setup.sh starts does not grant it to its builder, so the daemon
    // refuses the whole solve before it begins. The error must be that refusal, not what the
    // gateway then says ("no such job": the refused solve made none).
    require_engine();
    let dir = TempDir::new("insecure-refused");
    dir.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN --security=insecure true\n"),
    );
    let out = run_runner(&[
        "build",
        &dir.path_str(),
        "--backend",
        "buildkit",
        "--allow",
        "security.insecure",
        "--progress",
        "plain",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("entitlement security.insecure is not allowed")
            && !stderr.contains("no such job"),
        "{stderr}"
    );
}

#[test]
fn a_stopsignal_from_the_base_images_env_is_checked_when_the_build_runs_with_both_backends() {
    require_engine();
    let dir = TempDir::new("stopsignal");
    let context = dir.path_str();
    let base = image_tag("stopsignal-base");
    dir.write("Dockerfile", &format!("FROM {BASE}\nENV S=NOTASIGNAL\n"));
    assert_built(
        &run_runner(&["build", &context, "-t", &base]),
        "the base with ENV S",
    );
    // The planner cannot know S; the runner sees BuildKit's error at the instruction's line.
    dir.write(
        "Dockerfile",
        &format!("FROM {base}\nRUN true\nSTOPSIGNAL $S\n"),
    );
    for backend in ["engine", "buildkit"] {
        let out = run_runner(&["build", &context, "--backend", backend]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{backend}: {stderr}");
        assert!(
            stderr.contains("line 3") && stderr.contains("Invalid signal: NOTASIGNAL"),
            "{backend}: {stderr}"
        );
    }
    remove_images(None, &[&base]);
}

#[test]
fn a_copy_done_before_an_interrupt_is_cached_though_the_next_copy_waits_for_another_stage() {
    require_engine();
    let dir = TempDir::new("copy-then-wait");
    let nonce = support::nonce();
    dir.write("src/a", &nonce);
    dir.write("src/b", "b\n");
    dir.write(
        "Dockerfile",
        &format!(
            "FROM {BASE} AS slow\n\
             ARG SLEEP=60\n\
             RUN sleep $SLEEP\n\
             FROM {BASE} AS final\n\
             COPY src/ /src/\n\
             COPY --from=slow /bin/busybox /slow-busybox\n"
        ),
    );
    let mut child = spawn_build(&dir, &["--progress", "plain"]);
    let pid = child.id();
    // Interrupt once the first COPY says it is done (the second one waits for `slow`).
    let stderr = child.stderr.take().expect("stderr");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("[final] #1 done") {
                let _ = done_tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the first COPY finished");
    let killed = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    let first = reader.join().expect("reader");
    assert_eq!(status.code(), Some(130), "{first}");
    // The next build takes that COPY from the cache.
    let out = run_runner(&[
        "build",
        &dir.path_str(),
        "--progress",
        "plain",
        "--build-arg",
        "SLEEP=0",
    ]);
    assert_built(&out, "the build after the interrupt");
    let second = String::from_utf8_lossy(&out.stderr);
    assert!(
        second.contains("[final] #1 CACHED COPY src/ /src/"),
        "{second}"
    );
}
