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

#[path = "../support/mod.rs"]
mod support;

mod check;
mod project;
mod refused;
mod stops;
mod streams;

use check::committed_steps;
use project::Project;
use support::fault_proxy::FaultProxy;
use support::faulted;

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
    // The build used every kind of request the faults below pick, the upgraded exec and attach
    // streams included (the RUN with the secret is attached to, its container keeps no log).
    for (method, pattern) in [
        ("POST", "/containers/create"),
        ("POST", "/containers/*/start"),
        ("POST", "/exec/*/start"),
        ("PUT", "/containers/*/archive"),
        ("GET", "/containers/*/archive"),
        ("POST", "/containers/*/attach"),
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
