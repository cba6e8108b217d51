//! Golden semantics: the planner's stage graph against facts derived from BuildKit.
//!
//! Input: every `tests/fixtures/dockerfiles/**/expect.json` next to its `Dockerfile`. An
//! expect.json is one case, or `{"note", "cases": [case, ...]}`; a case holds `options`
//! (planner::Options as JSON) and any of the expected facts `targets`, `names`, `needed`,
//! `waves`, `images`, `bases`, `depends_on`, `warnings` (the exact set of warning codes) or
//! `errors` (substrings that error messages must contain; then no plan may be produced).
//! The facts were written from BuildKit's source (summarised with its sources in
//! docs/buildkit-semantics.md), not from planner output.
//! Output: one test that runs `planner::plan` on each case, reports every difference with the
//! fixture and case, and prints `semantics: N/M cases pass`.
//! Invariant: a key that is absent is not checked; an unknown key fails the test (typos).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

use crate::conformance::{dockerfile_fixtures, fixture_name};

const CASE_KEYS: &[&str] = &[
    "note",
    "options",
    "targets",
    "names",
    "needed",
    "waves",
    "images",
    "bases",
    "depends_on",
    "warnings",
    "errors",
];

/// The cases of one expect.json, each with a label for messages.
fn cases(expect: &Value) -> Vec<(String, Value)> {
    match expect.get("cases").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, case)| (format!("case {i}"), case.clone()))
            .collect(),
        None => vec![("case 0".to_string(), expect.clone())],
    }
}

/// The facts of a plan JSON that expect.json can name.
fn plan_facts(plan: &Value) -> Vec<(&'static str, Value)> {
    let stages = plan["stages"].as_array().cloned().unwrap_or_default();
    let field = |key: &str| Value::Array(stages.iter().map(|s| s[key].clone()).collect());
    let needed: Vec<Value> = stages
        .iter()
        .filter(|s| s["needed"] == json!(true))
        .map(|s| s["index"].clone())
        .collect();
    vec![
        ("targets", plan["targets"].clone()),
        ("names", field("name")),
        ("needed", Value::Array(needed)),
        ("waves", plan["waves"].clone()),
        ("images", plan["images"].clone()),
        ("bases", field("base")),
        ("depends_on", field("depends_on")),
    ]
}

fn codes_with_severity(diagnostics: &Value, severity: &str) -> BTreeSet<String> {
    diagnostics
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["severity"] == json!(severity))
        .filter_map(|d| d["code"].as_str().map(str::to_string))
        .collect()
}

fn error_messages(diagnostics: &Value) -> Vec<String> {
    diagnostics
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["severity"] == json!("error"))
        .map(|d| {
            format!(
                "[{}] line {}: {}",
                d["code"].as_str().unwrap_or("?"),
                d["line"],
                d["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Runs one case; returns its problems (empty when it passes).
fn check_case(text: &str, case: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(map) = case.as_object() {
        for key in map.keys().filter(|k| !CASE_KEYS.contains(&k.as_str())) {
            problems.push(format!("unknown key {key:?} in expect.json"));
        }
    }
    let options: planner::Options =
        match serde_json::from_value(case.get("options").cloned().unwrap_or(json!({}))) {
            Ok(options) => options,
            Err(err) => return vec![format!("bad options in expect.json: {err}")],
        };
    let outcome = serde_json::to_value(planner::plan(text, &options)).unwrap_or(Value::Null);
    let diagnostics = &outcome["diagnostics"];
    let expected_errors: Vec<&str> = case["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !expected_errors.is_empty() {
        let messages = error_messages(diagnostics);
        if !outcome["plan"].is_null() {
            problems.push("expected errors, but a plan was produced".to_string());
        }
        for wanted in expected_errors {
            if !messages.iter().any(|m| m.contains(wanted)) {
                problems.push(format!(
                    "no error message contains {wanted:?}; errors were: {messages:#?}"
                ));
            }
        }
    } else if outcome["plan"].is_null() {
        problems.push(format!(
            "no plan; errors: {:#?}",
            error_messages(diagnostics)
        ));
    } else {
        for (key, actual) in plan_facts(&outcome["plan"]) {
            if let Some(expected) = case.get(key) {
                if *expected != actual {
                    problems.push(format!("{key}: expected {expected}, planner gave {actual}"));
                }
            }
        }
    }
    if let Some(expected) = case.get("warnings").and_then(Value::as_array) {
        let expected: BTreeSet<String> = expected
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        // The planner's own checks (`stageplan/…`) are not BuildKit's; their tests are in
        // planner/src/leak_checks.rs.
        let actual: BTreeSet<String> = codes_with_severity(diagnostics, "warning")
            .into_iter()
            .filter(|code| !code.starts_with("stageplan/"))
            .collect();
        if expected != actual {
            problems.push(format!(
                "warnings: expected {expected:?}, planner gave {actual:?}"
            ));
        }
    }
    problems
}

#[test]
fn planner_matches_buildkit_semantics() {
    let mut total = 0;
    let mut passed = 0;
    let mut fixtures = 0;
    let mut failures = Vec::new();
    for dockerfile in dockerfile_fixtures() {
        let expect_path = dockerfile.with_file_name("expect.json");
        if !expect_path.exists() {
            continue;
        }
        fixtures += 1;
        let name = fixture_name(&dockerfile);
        let text = read(&dockerfile);
        let expect: Value = serde_json::from_str(&read(&expect_path))
            .unwrap_or_else(|err| panic!("{}: invalid JSON: {err}", expect_path.display()));
        for (label, case) in cases(&expect) {
            total += 1;
            let problems = check_case(&text, &case);
            if problems.is_empty() {
                passed += 1;
            } else {
                let options = case.get("options").cloned().unwrap_or(json!({}));
                failures.push(format!(
                    "{name} {label} (options {options}):\n  {}",
                    problems.join("\n  ")
                ));
            }
        }
    }
    println!("semantics: {passed}/{total} cases pass ({fixtures} fixtures)");
    assert!(
        fixtures >= 25,
        "expected at least 25 fixtures with expect.json, found {fixtures}"
    );
    assert!(
        failures.is_empty(),
        "semantics: {passed}/{total} cases pass; failures:\n\n{}",
        failures.join("\n\n")
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}
