//! The runner's behaviour on a real engine: failures, Ctrl-C, the step cache, and the Dockerfile
//! features the engine's own BuildKit is too old for (heredocs, COPY --parents/--exclude/--link).
//!
//! Input: small plans written with [`Df`], the local engine.
//! Output: assertions on exit codes, messages, left-over containers, progress events and the
//! files of the built images.
//! Invariant: every test names its images after itself and the test process, and removes them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use planner::plan::{CopySpec, Op};

use crate::runner_support::{
    containers_named, copy_spec, docker, heredoc, remove_images, require_engine, run_runner,
    run_runner_tracked, runner_bin, write_plan, Df, TempDir, BASE,
};

fn tag(name: &str) -> String {
    format!("stageplan-it/{name}:{}", std::process::id())
}

#[test]
fn a_failing_run_exits_1_names_stage_line_and_code_and_leaves_no_containers() {
    require_engine();
    let dir = TempDir::new("fail");
    let mut df = Df::new();
    df.from(BASE, "build")
        .run("echo preparing")
        .run("echo first-line; echo 'it broke' >&2; exit 7");
    let plan = write_plan(&dir.0, &df.plan("build"));
    let child = Command::new(runner_bin())
        .args([
            plan.to_str().unwrap(),
            "--context",
            dir.0.to_str().unwrap(),
            "--progress",
            "plain",
            "--no-cache",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn runner");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stage build, line 3"), "{stderr}");
    assert!(stderr.contains("exited with code 7"), "{stderr}");
    assert!(stderr.contains("it broke"), "{stderr}");
    assert_eq!(
        containers_named(None, &format!("stageplan-{pid}-")),
        Vec::<String>::new()
    );
}

#[test]
fn sigint_mid_build_stops_and_removes_every_container() {
    require_engine();
    let dir = TempDir::new("sigint");
    let mut df = Df::new();
    df.from(BASE, "slow").run("echo started; sleep 60");
    df.from(BASE, "slow2").run("sleep 61");
    df.from("scratch", "all")
        .copy("--from=slow", &["/bin/busybox"], "/a", from(0))
        .copy("--from=slow2", &["/bin/busybox"], "/b", from(1));
    let plan = write_plan(&dir.0, &df.plan("all"));
    let child = Command::new(runner_bin())
        .args([
            plan.to_str().unwrap(),
            "--context",
            dir.0.to_str().unwrap(),
            "--progress",
            "plain",
            "--no-cache",
            "--jobs",
            "2",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn runner");
    let pid = child.id();
    let prefix = format!("stageplan-{pid}-");
    let started = Instant::now();
    while containers_named(None, &prefix).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the RUN containers never appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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
    assert_eq!(containers_named(None, &prefix), Vec::<String>::new());
}

fn from(stage: usize) -> CopySpec {
    let mut spec = copy_spec();
    spec.from = Some(planner::plan::Source::Stage { stage });
    spec
}

#[test]
fn a_second_build_takes_every_step_from_the_cache() {
    require_engine();
    let dir = TempDir::new("cache");
    dir.write("app.txt", &format!("app {}\n", std::process::id()));
    let mut df = Df::new();
    df.from(BASE, "build")
        .env(&[("N", &std::process::id().to_string())])
        .run("echo $N > /n")
        .ins("WORKDIR /w", Op::Workdir { path: "/w".into() })
        .copy("", &["app.txt"], "/w/", copy_spec());
    df.from("scratch", "out")
        .copy("--from=build", &["/n", "/w/app.txt"], "/", from(0))
        .ins(
            "LABEL x=y",
            Op::Label {
                pairs: vec![crate::runner_support::kv("x", "y")],
            },
        );
    let plan = write_plan(&dir.0, &df.plan("out"));
    let image = tag("cache");
    let args = [
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
        "--progress",
        "json",
        "-t",
        &image,
    ];
    let (first, pid) = run_runner_tracked(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // A successful build leaves no temporary container (keepers, holders) behind either.
    assert_eq!(
        containers_named(None, &format!("stageplan-{pid}-")),
        Vec::<String>::new()
    );
    let second = run_runner(&args);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&second.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
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
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    let started = String::from_utf8_lossy(&third.stdout)
        .matches("\"step_started\"")
        .count();
    assert_eq!(
        started, 2,
        "the context COPY and the COPY --from after it must run again"
    );
    remove_images(None, &[&image]);
}

#[test]
fn heredocs_parents_exclude_and_link_produce_the_expected_files() {
    require_engine();
    let dir = TempDir::new("features");
    dir.write("src/a/one.txt", "one\n");
    dir.write("src/a/skip.log", "log\n");
    dir.write("src/b/two.txt", "two\n");
    let mut df = Df::new();
    df.from(BASE, "feat").arg("WHO", Some("world"));
    df.run_heredoc(
        "<<EOF",
        &[(
            "EOF",
            "mkdir -p /out\necho \"hello $WHO\" > /out/greeting\n",
        )],
    );
    df.run_heredoc("cat <<EOT > /out/raw", &[("EOT", "line1\nline2\n")]);
    let mut doc_spec = copy_spec();
    doc_spec.heredocs = vec![heredoc("CONF", "name=$WHO\n")];
    df.ins(
        "COPY <<CONF /out/conf\nname=$WHO\nCONF",
        Op::Copy(CopySpec {
            sources: vec!["<<CONF".into()],
            dest: "/out/conf".into(),
            ..doc_spec
        }),
    );
    let mut parents = copy_spec();
    parents.parents = true;
    df.copy(
        "--parents",
        &["src/a/one.txt", "src/b/two.txt"],
        "/tree/",
        parents,
    );
    let mut exclude = copy_spec();
    exclude.exclude = vec!["*.log".into()];
    df.copy("--exclude=*.log", &["src/a"], "/filtered/", exclude);
    let mut link = copy_spec();
    link.link = true;
    df.copy("--link", &["src/b/two.txt"], "/linked.txt", link);
    let plan = write_plan(&dir.0, &df.plan("feat"));
    let image = tag("features");
    let out = run_runner(&[
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
        "-t",
        &image,
        "--progress",
        "plain",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = docker(&[
        "run", "--rm", &image, "sh", "-c",
        "cat /out/greeting /out/raw /out/conf; find /tree /filtered -type f | sort; cat /linked.txt",
    ]);
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
    let missing = format!("stageplan-it/not-there-{}:1", std::process::id());
    let mut df = Df::new();
    df.from(&missing, "x").run("true");
    let plan = write_plan(&dir.0, &df.plan("x"));
    let out = run_runner(&[
        plan.to_str().unwrap(),
        "--context",
        dir.0.to_str().unwrap(),
        "--progress",
        "plain",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("image \"{missing}\" is not present")),
        "{stderr}"
    );
}

#[test]
fn containers_of_a_killed_runner_are_swept_by_the_next_one() {
    require_engine();
    let dir = TempDir::new("sweep");
    let mut df = Df::new();
    df.from(BASE, "slow").run("sleep 120");
    let plan = write_plan(&dir.0, &df.plan("slow"));
    let mut child = Command::new(runner_bin())
        .args([
            plan.to_str().unwrap(),
            "--context",
            dir.0.to_str().unwrap(),
            "--progress",
            "plain",
            "--no-cache",
        ])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn runner");
    let prefix = format!("stageplan-{}-", child.id());
    let started = Instant::now();
    while containers_named(None, &prefix).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the RUN container never appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().expect("SIGKILL the runner");
    child.wait().expect("reap");
    // SIGKILL gives the runner no chance to clean up: its RUN container keeps running until a
    // runner starts (any concurrent test's runner may be the one that sweeps it).
    let mut next = Df::new();
    next.from(BASE, "quick").ins(
        "LABEL swept=yes",
        Op::Label {
            pairs: vec![crate::runner_support::kv("swept", "yes")],
        },
    );
    let dir2 = TempDir::new("sweep-next");
    let plan2 = write_plan(&dir2.0, &next.plan("quick"));
    let out = run_runner(&[
        plan2.to_str().unwrap(),
        "--context",
        dir2.0.to_str().unwrap(),
        "--progress",
        "plain",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(containers_named(None, &prefix), Vec::<String>::new());
}
