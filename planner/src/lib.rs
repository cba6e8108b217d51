//! stageplan's planner: Dockerfile text and options in, a stage graph and plan JSON v1 out.
//!
//! Input: the Dockerfile text and [`Options`] (targets, build args, platform).
//! Output: an [`Outcome`]: the [`plan::Plan`] (absent when there are errors) and diagnostics.
//! Invariant: a pure function of its input; no I/O, clock, threads or environment; never panics
//! on any input; output is deterministic.

pub mod diagnostics;
pub mod expand;
pub mod plan;
pub mod syntax;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use diagnostics::{Diagnostic, Severity};
pub use plan::Plan;

/// What to plan: the targets, build arguments and platform (the same names as plan JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Target stage names (case-insensitive); empty means the last stage.
    pub targets: Vec<String>,
    /// `--build-arg KEY=VALUE` pairs.
    pub build_args: BTreeMap<String, String>,
    /// Target platform `os/arch[/variant]`; `linux/amd64` when absent.
    pub platform: Option<String>,
}

/// The result of planning: a plan when the file has no errors, and every diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The plan; null when there are errors.
    pub plan: Option<Plan>,
    /// Errors, warnings and infos, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}
