//! The runner's command line without an engine: plan errors and usage errors exit with code 2
//! and say what is wrong (the version, the JSON path). The plans here are written by hand on
//! purpose: they are the bad plans no planner makes.

use std::process::Command;

fn runner(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run the runner");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn plan_file(name: &str, text: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("stageplan-cli-{}-{name}.json", std::process::id()));
    std::fs::write(&path, text).expect("write plan");
    path
}

#[test]
fn unknown_plan_version_names_both_versions() {
    let path = plan_file("v9", r#"{"version": 9, "stages": []}"#);
    let (code, stderr) = runner(&[path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("version 9") && stderr.contains("version 1"),
        "{stderr}"
    );
}

#[test]
fn malformed_plan_names_the_json_path() {
    let path = plan_file(
        "bad",
        r#"{"version": 1, "targets": [0], "stages": [{"index": "zero"}]}"#,
    );
    let (code, stderr) = runner(&[path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("stages[0]"), "{stderr}");
}

#[test]
fn missing_plan_and_unreachable_engine_are_usage_errors() {
    let (code, stderr) = runner(&[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("runner build"), "{stderr}");
    // A plan with no stage is refused before the engine is tried.
    let path = plan_file(
        "empty",
        r#"{"version":1,"targets":[0],"stages":[],"images":[],"waves":[],"build_args":{},"platform":"linux/amd64","diagnostics":[]}"#,
    );
    let (code, stderr) = runner(&[path.to_str().unwrap(), "--context", "/"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("targets names stage 0"), "{stderr}");
    // A good plan (from the planner) on an engine that is not there.
    let plan = planner::plan("FROM scratch\nLABEL a=b\n", &planner::Options::default())
        .plan
        .expect("plan");
    let path = plan_file("ok", &serde_json::to_string(&plan).expect("json"));
    let (code, stderr) = runner(&[path.to_str().unwrap(), "--context", "/"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot reach the docker engine"),
        "{stderr}"
    );
}

#[cfg(feature = "buildkit")]
#[test]
fn record_and_report_are_refused_with_the_buildkit_backend() {
    let dir = std::env::temp_dir().join(format!("stageplan-cli-{}-bk", std::process::id()));
    std::fs::create_dir_all(&dir).expect("context dir");
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nENV A=1\n").expect("Dockerfile");
    for flag in ["--record", "--report"] {
        let out = dir.join("out");
        let (code, stderr) = runner(&[
            "build",
            dir.to_str().unwrap(),
            "--backend",
            "buildkit",
            flag,
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("--record and --report") && stderr.contains("--backend engine"),
            "{stderr}"
        );
        assert!(!out.exists(), "{flag} wrote a file");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_dockerfile_that_is_not_utf8_is_refused_naming_its_line_and_column() {
    let dir = std::env::temp_dir().join(format!("stageplan-cli-{}-latin1", std::process::id()));
    std::fs::create_dir_all(&dir).expect("context");
    // "café" in Latin-1, as an editor with another encoding saves it.
    std::fs::write(
        dir.join("Dockerfile"),
        b"FROM stageplan-test/busybox:1\nRUN echo caf\xe9 > /menu\n",
    )
    .expect("Dockerfile");
    let (code, stderr) = runner(&["build", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Dockerfile:2:13: byte 0xe9 is not UTF-8 text")
            && stderr.contains("save the Dockerfile as UTF-8")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
}
