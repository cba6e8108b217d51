//! Plan JSON round trip: for every fixture, the plan serializes to JSON and reads back equal,
//! and unknown fields are refused. (That the CLI prints exactly the library's plan is tested in
//! planner/tests/cli.rs.)

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
