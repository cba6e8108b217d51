//! Engine-fault cases: a connection cut mid-stream (uploads, downloads, image loads, a RUN's
//! output streams).
//!
//! Input: the standard project or a variant of it. Output: pass/fail per stream.
//! Invariant: each case injects one cut; rule 0 must fire.

use crate::check::{fault_case, fault_case_in, Expect};
use crate::project::{
    dockerfile, dockerfile_with_a_late_loud_first_run, dockerfile_with_a_quiet_first_run, Project,
};
use crate::support::fault_proxy::{Fault, Rule};

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

/// The standard Dockerfile whose RUN in a fresh container has no secret (its output is read
/// through the container's logs).
fn dockerfile_without_the_secret(nonce: &str) -> String {
    dockerfile(nonce)
        .replace("--mount=type=secret,id=token ", "")
        .replace("wc -c < /run/secrets/token", "echo 0")
}

#[test]
fn a_run_output_stream_cut_mid_stream() {
    // The logs of a RUN in a fresh container break before their end; the process's result is
    // the container's exit code, which the runner still waits for.
    let project = Project::with_dockerfile("logs-cut", dockerfile_without_the_secret);
    let run = fault_case_in(
        project,
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

/// The standard Dockerfile whose RUN with the secret prints a line and goes on for two seconds.
fn dockerfile_with_a_slow_secret_run(nonce: &str) -> String {
    dockerfile(nonce).replace(
        "date > /cache/stamp'",
        "date > /cache/stamp && echo started && sleep 2'",
    )
}

#[test]
fn a_secret_run_output_stream_cut_while_the_process_runs() {
    // The RUN with the secret runs unlogged and its output comes through an attach, which is
    // cut at once; the process goes on, and the runner waits for its exit code.
    let project = Project::with_dockerfile("attach-cut", dockerfile_with_a_slow_secret_run);
    let run = fault_case_in(
        project,
        "attach-cut",
        vec![Rule::at(
            "POST",
            "/containers/*/attach",
            1,
            Fault::CutResponse(0),
        )],
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

/// A project whose second stage binds a directory of the first one into its RUN.
fn dockerfile_with_a_bind_from_a_stage(nonce: &str) -> String {
    format!(
        "FROM stageplan-test/busybox:1 AS build
RUN echo {nonce} > /nonce && mkdir /dir && seq 1 4000 > /dir/numbers
FROM stageplan-test/busybox:1 AS final
RUN --mount=type=bind,from=build,source=/dir,target=/x wc -l < /x/numbers > /count
"
    )
}

#[test]
fn a_refused_download_into_a_bind_mount() {
    // The first download reads the source for the step's key, the second fills the mount's
    // volume: the engine's answer to that one reaches the error too.
    let project = Project::with_dockerfile("bind-get", dockerfile_with_a_bind_from_a_stage);
    fault_case_in(
        project,
        "bind-get",
        vec![Rule::at(
            "GET",
            "/containers/*/archive",
            2,
            Fault::Error("injected: download refused".into()),
        )],
        Expect {
            code: 2,
            words: &["stage final, line 4", "download /dir"],
        },
    );
}
