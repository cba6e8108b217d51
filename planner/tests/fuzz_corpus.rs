//! The fuzz targets' properties on the committed inputs, as an ordinary test: every file of
//! `planner/fuzz/seeds/` (the minimized seed corpus) and `planner/fuzz/regressions/` (inputs that
//! once failed a target, each a finding of a fuzzing campaign) must parse with spans inside the
//! text, plan into a consistent plan or fail with an error, plan twice to the same JSON, and
//! round-trip through plan JSON. See docs/fuzzing.md for the campaigns themselves.

use std::path::PathBuf;

fn inputs() -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut found = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("readable fuzz input");
                found.push((path, bytes));
            }
        }
    }
    found.sort();
    found
}

/// The same split as the `plan` and `props` targets: Dockerfile, then after a NUL byte the
/// `.dockerignore`, then after another a target.
fn split(input: &str) -> (&str, planner::ContextFiles, planner::Options) {
    let mut parts = input.splitn(3, '\0');
    let text = parts.next().unwrap_or("");
    let files = planner::ContextFiles {
        dockerignore: parts.next().map(str::to_string),
    };
    let options = planner::Options {
        targets: parts.next().map(str::to_string).into_iter().collect(),
        ..planner::Options::default()
    };
    (text, files, options)
}

#[test]
fn committed_fuzz_inputs_keep_the_targets_properties() {
    let inputs = inputs();
    assert!(inputs.len() >= 20, "the seed corpus is missing");
    for (path, bytes) in inputs {
        let Ok(input) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let name = path.display();
        let parsed = planner::syntax::parse(input);
        for instr in &parsed.instructions {
            assert!(instr.span.end <= input.len(), "{name}: span past the end");
            assert!(instr.start_line <= instr.end_line, "{name}: lines reversed");
        }
        let (text, files, options) = split(input);
        let outcome = planner::plan_with_context(text, &options, &files);
        let again = planner::plan_with_context(text, &options, &files);
        assert_eq!(
            serde_json::to_string(&outcome).unwrap(),
            serde_json::to_string(&again).unwrap(),
            "{name}: not deterministic"
        );
        match &outcome.plan {
            Some(plan) => {
                let mut in_waves: Vec<usize> = plan.waves.iter().flatten().copied().collect();
                in_waves.sort_unstable();
                let needed: Vec<usize> = plan
                    .stages
                    .iter()
                    .filter(|stage| stage.needed)
                    .map(|stage| stage.index)
                    .collect();
                assert_eq!(
                    in_waves, needed,
                    "{name}: waves do not cover the needed stages"
                );
                let json = serde_json::to_string(plan).unwrap();
                let back: planner::Plan = serde_json::from_str(&json).unwrap();
                assert_eq!(&back, plan, "{name}: plan JSON does not round-trip");
            }
            None => assert!(
                outcome.diagnostics.iter().any(|d| d.is_error()),
                "{name}: no plan and no error"
            ),
        }
        let _ = planner::check_with_context(text, &options, &files);
    }
}
