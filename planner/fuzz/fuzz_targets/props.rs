//! Fuzz target `props`: properties of planning rather than "no panic": the same text planned
//! twice gives byte-identical JSON; a plan's JSON parses back into the same plan; and no input
//! takes more than 10 ms of CPU time per KB (at least 100 ms are allowed). The time is the
//! thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, the one `unsafe` call here), not the wall
//! clock, so a scheduler pause on a shared machine is not a finding.
//!
//! Input: arbitrary bytes (the Dockerfile, then optionally a NUL byte and a `.dockerignore`).
//! Output: nothing; a failed assertion is a finding.
//! Invariant: run with `RUSTC_BOOTSTRAP=1 cargo fuzz run props -- -max_len=65536` in planner/
//! (see docs/fuzzing.md).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

/// CPU time used by this thread so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant Linux knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (text, dockerignore) = match input.split_once('\0') {
        Some((text, ignore)) => (text, Some(ignore.to_string())),
        None => (input, None),
    };
    let files = planner::ContextFiles { dockerignore };
    let options = planner::Options::default();
    let started = thread_cpu_time();
    let first = planner::plan_with_context(text, &options, &files);
    let elapsed = thread_cpu_time().saturating_sub(started);
    let budget = Duration::from_millis(100).max(Duration::from_micros(10 * data.len() as u64));
    assert!(
        elapsed <= budget,
        "{} bytes took {elapsed:?} of CPU time (budget {budget:?})",
        data.len()
    );

    let first_json = serde_json::to_string(&first).expect("outcome serializes");
    let second = planner::plan_with_context(text, &options, &files);
    let second_json = serde_json::to_string(&second).expect("serializes");
    assert_eq!(first_json, second_json, "planning is not deterministic");

    if let Some(plan) = &first.plan {
        let json = serde_json::to_string(plan).expect("plan serializes");
        let back: planner::Plan = serde_json::from_str(&json).expect("plan JSON parses back");
        assert_eq!(&back, plan, "plan JSON does not round-trip");
    }
});
