//! Fuzz target `props`: properties of planning rather than "no panic": the same text planned
//! twice gives byte-identical JSON; a plan's JSON parses back into the same plan; and no input
//! takes more than 10 ms per KB (at least 100 ms are allowed, so a scheduler pause on a shared
//! machine is not a finding).
//!
//! Input: arbitrary bytes (the Dockerfile, then optionally a NUL byte and a `.dockerignore`).
//! Output: nothing; a failed assertion is a finding.
//! Invariant: run with `RUSTC_BOOTSTRAP=1 cargo fuzz run props -- -max_len=65536` in planner/
//! (see docs/fuzzing.md).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (text, dockerignore) = match input.split_once('\0') {
        Some((text, ignore)) => (text, Some(ignore.to_string())),
        None => (input, None),
    };
    let files = planner::ContextFiles { dockerignore };
    let options = planner::Options::default();
    let started = Instant::now();
    let first = planner::plan_with_context(text, &options, &files);
    let elapsed = started.elapsed();
    let budget = Duration::from_millis(100).max(Duration::from_micros(10 * data.len() as u64));
    assert!(elapsed <= budget, "{} bytes took {elapsed:?} (budget {budget:?})", data.len());

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
