//! Fuzz target: planning never panics and a plan is consistent (waves cover the needed stages).
//! Run with `cargo +nightly fuzz run plan` in planner/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let outcome = planner::plan(text, &planner::Options::default());
    if let Some(plan) = outcome.plan {
        let in_waves: usize = plan.waves.iter().map(Vec::len).sum();
        assert_eq!(in_waves, plan.stages.iter().filter(|s| s.needed).count());
    }
    let _ = planner::check(text);
});
