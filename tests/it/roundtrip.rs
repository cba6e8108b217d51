//! Plan JSON round trip: for every fixture, the plan serializes to JSON and reads back equal
//! (and unknown fields are refused), and the `planner` CLI prints exactly the library's plan.

use std::process::Command;

use crate::conformance::{dockerfile_fixtures, fixture_name};

#[test]
fn every_fixture_plan_round_trips() {
    let mut planned = 0;
    for path in dockerfile_fixtures() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let Some(plan) = planner::plan(&text, &planner::Options::default()).plan else {
            continue;
        };
        let json = serde_json::to_string(&plan).unwrap();
        let back: planner::Plan = serde_json::from_str(&json).unwrap_or_else(|e| {
            panic!("{}: plan JSON does not read back: {e}", fixture_name(&path))
        });
        assert_eq!(
            back,
            plan,
            "{}: round trip changed the plan",
            fixture_name(&path)
        );
        planned += 1;
    }
    println!("round trip: {planned} fixture plans");
    assert!(planned >= 100, "only {planned} fixtures produced a plan");
}

#[test]
fn unknown_fields_and_versions_are_visible() {
    let plan = planner::plan("FROM alpine\n", &planner::Options::default())
        .plan
        .unwrap();
    let mut value = serde_json::to_value(&plan).unwrap();
    value["surprise"] = serde_json::json!(true);
    let err = serde_json::from_value::<planner::Plan>(value)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `surprise`"), "{err}");
}

#[test]
fn cli_prints_the_library_plan() {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/planner");
    let built = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "planner", "--bin", "planner"])
        .status();
    assert!(
        built.is_ok_and(|s| s.success()),
        "cargo build of the planner binary failed"
    );
    let mut compared = 0;
    for path in dockerfile_fixtures().into_iter().step_by(7) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let Some(plan) = planner::plan(&text, &planner::Options::default()).plan else {
            continue;
        };
        let out = Command::new(&bin).arg("plan").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}: planner exited {:?}",
            fixture_name(&path),
            out.status
        );
        let cli: planner::Plan = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(cli, plan, "{}: CLI and library differ", fixture_name(&path));
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} fixtures compared");
}
