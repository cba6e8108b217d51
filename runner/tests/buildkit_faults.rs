//! The BuildKit backend when things go wrong, on the real engine: a failing step is reported
//! with its stage, line, exit code and output; a cancelled build stops its processes on the
//! daemon; an unusable address is a clear error.
//!
//! Input: Dockerfile text through the planner, the engine's BuildKit.
//! Output: the errors the backend returns, and the host's process table after a cancellation.
//! Invariant: nothing outlives a cancelled build (the daemon's processes for it are gone a few
//! seconds after the build returns).

#![cfg(feature = "buildkit")]

mod buildkit_support;

use std::time::{Duration, Instant};

use buildkit_support::{build_ours_until, BuildFailure, Case};
use runner::buildkit::error::BuildkitError;

#[test]
fn a_failing_step_names_stage_line_exit_code_and_output() {
    let case = Case::new("failing-step").dockerfile(
        "FROM stageplan-test/busybox:1 AS checks\nRUN echo fine\nRUN echo \"about to fail\" && exit 3\nRUN echo never\n",
    );
    let error = match build_ours_until(&case, std::future::pending::<&'static str>()) {
        Err(BuildFailure::Build(error)) => error,
        other => panic!("expected a failed step, got {other:?}"),
    };
    assert_eq!(
        error.exit_code(),
        1,
        "a failed step exits with code 1: {error}"
    );
    match &error {
        BuildkitError::StepFailed {
            stage,
            line,
            text,
            exit_code,
            message,
        } => {
            assert_eq!((stage.as_str(), *line), ("checks", 3));
            assert_eq!(text, "RUN echo \"about to fail\" && exit 3");
            assert_eq!(*exit_code, Some(3));
            assert!(message.contains("about to fail"), "{message}");
        }
        other => panic!("expected StepFailed, got {other}"),
    }
}

/// Whether a process whose command line contains `marker` runs on this host.
fn process_running(marker: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .contains(marker)
            })
            .unwrap_or(false)
    })
}

#[test]
fn cancelling_stops_the_build_on_the_daemon() {
    let marker = format!("sleep 3{}", std::process::id() % 1000 + 100);
    let case = Case::new("cancel").dockerfile(&format!(
        "FROM stageplan-test/busybox:1\nRUN echo started && {marker} && echo never\n"
    ));
    let watched = marker.clone();
    let cancel = async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !process_running(&watched) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        "SIGTERM"
    };
    let started = Instant::now();
    let result = build_ours_until(&case, cancel);
    assert!(
        matches!(
            result,
            Err(BuildFailure::Build(BuildkitError::Interrupted {
                signal: "SIGTERM"
            }))
        ),
        "expected an interrupted build, got {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(100),
        "the step was never seen running"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while process_running(&marker) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !process_running(&marker),
        "the cancelled step's process still runs on the daemon"
    );
}

/// Cancels a build of `case` once a process whose command line holds `marker` runs.
fn cancel_when_running(case: &Case, marker: &str) {
    let watched = marker.to_string();
    let cancel = async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !process_running(&watched) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        "SIGINT"
    };
    let result = build_ours_until(case, cancel);
    assert!(
        matches!(
            result,
            Err(BuildFailure::Build(BuildkitError::Interrupted {
                signal: "SIGINT"
            }))
        ),
        "expected an interrupted build, got {result:?}"
    );
}

#[test]
fn a_build_started_right_after_a_cancelled_one_runs_its_steps_afresh() {
    // Ctrl-C and the same command again: the second build must not join the cancelled
    // build's steps while the daemon is still tearing them down (it failed with "exit code:
    // 137: context canceled" about one time in three when the cancelled build returned
    // before the daemon had discarded it).
    for round in 0..6 {
        let marker = format!("rerun{}x{round}", std::process::id());
        let case = Case::new(&format!("rerun-{round}")).dockerfile(&format!(
            "FROM stageplan-test/busybox:1\nRUN echo {marker} && sleep 3 && echo {marker} > /done\n"
        ));
        cancel_when_running(&case, &marker);
        let rebuilt = buildkit_support::build_ours(&case);
        assert!(
            rebuilt.is_ok(),
            "round {round}: the build after the cancelled one failed: {rebuilt:?}"
        );
        assert_eq!(case.read_from_image("/done").trim(), marker);
    }
}

#[test]
fn a_source_date_epoch_after_the_year_9999_is_refused_before_anything_is_built() {
    // An image's time has a four-digit year (BuildKit fails to write a later one into the
    // image config); the backend panicked formatting it, after resolving the base image.
    let late = (runner::plan_check::LATEST_EPOCH + 1).to_string();
    let case = Case::new("epoch-9999")
        .dockerfile("FROM stageplan-test/busybox:1\nRUN true\n")
        .build_arg("SOURCE_DATE_EPOCH", &late);
    let says_what_to_do = |text: &str| {
        assert!(
            text.contains(&format!("SOURCE_DATE_EPOCH is {late}"))
                && text.contains("year 9999")
                && text.contains("253402300799")
                && !text.contains("panicked"),
            "{text}"
        );
    };
    match build_ours_until(&case, std::future::pending::<&'static str>()) {
        Err(BuildFailure::Build(error)) => {
            assert_eq!(error.exit_code(), 2, "{error}");
            says_what_to_do(&buildkit_support::error_chain(&error));
        }
        other => panic!("expected the plan to be refused, got {other:?}"),
    }
    // The command line, on both backends: a usage error, never a panic.
    for backend in ["buildkit", "engine"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
            .arg("build")
            .arg(case.dir())
            .args(["--backend", backend, "--progress", "plain"])
            .args(["--build-arg", &format!("SOURCE_DATE_EPOCH={late}")])
            .output()
            .expect("run the runner");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{backend}: {stderr}");
        says_what_to_do(&stderr);
    }
}

#[test]
fn an_unreachable_engine_is_a_clear_error() {
    let address = runner::buildkit::transport::hijack::EngineAddress::parse(
        "unix:///nonexistent/docker.sock",
        None,
    )
    .expect("a valid address");
    let transport = runner::buildkit::transport::engine::EngineTransport::new(address);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let error = runtime
        .block_on(async {
            use runner::buildkit::transport::contract::Transport;
            transport.channel().await
        })
        .expect_err("no engine there");
    let text = buildkit_support::error_chain(&error);
    assert!(text.contains("/nonexistent/docker.sock"), "{text}");
    assert_eq!(error.exit_code(), 2);
}
