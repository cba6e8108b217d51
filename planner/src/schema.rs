//! JSON Schemas of the wire types, generated with schemars: the plan (plan JSON v1), the
//! planning outcome (`{plan, diagnostics}`, what the WASM `plan()` returns), the outline (what
//! the WASM `outline()` returns) and the options object the WASM functions take ([`Options`]
//! and [`ContextFiles`] in one object).
//!
//! Input: nothing. Output: pretty-printed JSON Schema documents.
//! Invariant: the committed files under `planner/schema/` equal these (a test checks).

use crate::options::{ContextFiles, Options};
use crate::outline::Outline;
use crate::plan::Outcome;
use crate::plan::Plan;

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

/// What to plan and with which build-context files: the options object of the WebAssembly
/// interface (targets, build arguments, platform, the Dockerfile's path, and the
/// `.dockerignore` text).
#[derive(schemars::JsonSchema)]
#[schemars(rename = "Options")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct OptionsObject {
    #[serde(flatten)]
    options: Options,
    #[serde(flatten)]
    files: ContextFiles,
}

/// The schema of the planning options object.
pub fn options_schema() -> String {
    pretty(schemars::schema_for!(OptionsObject))
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
