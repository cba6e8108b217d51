//! Fuzz target `plan`: planning and checking never panic, and a plan is consistent: the waves
//! hold exactly the needed stages, dependencies come in earlier waves, and every index points
//! at a stage.
//!
//! Input: arbitrary bytes: the Dockerfile, then optionally a NUL byte and the `.dockerignore`
//! text, then optionally another NUL byte and a target name. Output: nothing; a panic or a
//! failed assertion is a finding.
//! Invariant: run with `RUSTC_BOOTSTRAP=1 cargo fuzz run plan` in planner/ (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let mut parts = input.splitn(3, '\0');
    let text = parts.next().unwrap_or("");
    let files = planner::ContextFiles {
        dockerignore: parts.next().map(str::to_string),
    };
    let options = planner::Options {
        targets: parts.next().map(str::to_string).into_iter().collect(),
        ..planner::Options::default()
    };
    let outcome = planner::plan_with_context(text, &options, &files);
    if let Some(plan) = &outcome.plan {
        let n_stages = plan.stages.len();
        let mut in_waves: Vec<usize> = plan.waves.iter().flatten().copied().collect();
        in_waves.sort_unstable();
        let needed: Vec<usize> = plan.stages.iter().filter(|s| s.needed).map(|s| s.index).collect();
        assert_eq!(in_waves, needed);
        for (wave_idx, wave) in plan.waves.iter().enumerate() {
            for stage in wave {
                for dep in &plan.stages[*stage].depends_on {
                    assert!(*dep < n_stages);
                    let dep_wave = plan.waves.iter().position(|w| w.contains(dep));
                    assert!(dep_wave.is_some_and(|w| w < wave_idx));
                }
            }
        }
        assert!(plan.targets.iter().all(|t| *t < n_stages && plan.stages[*t].needed));
        assert!(outcome.diagnostics.iter().all(|d| !d.is_error()));
    } else {
        assert!(outcome.diagnostics.iter().any(|d| d.is_error()));
    }
    let _ = planner::check_with_context(text, &options, &files);
});
