//! JSON Schemas of the wire types, generated with schemars: the plan (plan JSON v1), the
//! planning outcome (`{plan, diagnostics}`, what the WASM `plan()` returns), the outline (what
//! the WASM `outline()` returns) and the options.
//!
//! Input: nothing. Output: pretty-printed JSON Schema documents.
//! Invariant: the committed files under `planner/schema/` equal these (a test checks).

use crate::{Options, Outcome, Outline, Plan};

fn pretty(schema: schemars::Schema) -> String {
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// The schema of plan JSON v1.
pub fn plan_schema() -> String {
    pretty(schemars::schema_for!(Plan))
}

/// The schema of a planning outcome.
pub fn outcome_schema() -> String {
    pretty(schemars::schema_for!(Outcome))
}

/// The schema of an outline (the stage structure editors get, also with errors).
pub fn outline_schema() -> String {
    pretty(schemars::schema_for!(Outline))
}

/// The schema of the planning options.
pub fn options_schema() -> String {
    pretty(schemars::schema_for!(Options))
}

/// Every schema with its file name under `planner/schema/`.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("plan.schema.json", plan_schema()),
        ("outcome.schema.json", outcome_schema()),
        ("options.schema.json", options_schema()),
        ("outline.schema.json", outline_schema()),
    ]
}
