//! stageplan's planner: Dockerfile text and options in, a stage graph and plan JSON v1 out.
//!
//! Input: the Dockerfile text and [`Options`] (targets, build args, platform).
//! Output: an [`Outcome`]: the [`plan::Plan`] (absent when there are errors) and diagnostics.
//! Invariant: a pure function of its input; no I/O, clock, threads or environment; never panics
//! on any input; output is deterministic.

mod args;
mod assemble;
pub mod checks;
pub mod codes;
pub mod diagnostics;
pub mod expand;
pub mod fixes;
mod flags;
pub mod graph;
mod instructions;
pub mod outline;
pub mod plan;
mod render;
pub mod schema;
mod stage;
mod suggest;
pub mod syntax;
mod target;

pub use target::suggest_stage_name;
#[cfg(feature = "wasm")]
pub mod wasm;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use diagnostics::{Diagnostic, Severity};
pub use outline::Outline;
pub use plan::{Plan, PLAN_VERSION};

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
    /// The Dockerfile's path, recorded in the plan as given (the planner reads nothing).
    pub dockerfile: Option<String>,
}

/// The result of planning: a plan when the file has no errors, and every diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The plan; null when there are errors.
    pub plan: Option<Plan>,
    /// Errors, warnings and infos, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Plans a build of `options.targets` (default: the last stage) of the Dockerfile `text`.
pub fn plan(text: &str, options: &Options) -> Outcome {
    assemble::run(text, options, false)
}

/// Checks the whole Dockerfile as `docker build --check` does without a target: every stage
/// is examined, and the diagnostics are returned.
pub fn check(text: &str) -> Vec<Diagnostic> {
    check_with(text, &Options::default())
}

/// Checks the Dockerfile as `docker build --check` does with `options`: with no target every
/// stage is examined, with targets the stages they need; build args and the platform apply as
/// in [`plan`]. With `# check=error=true`, any check reported adds the error
/// `lint violation found for rules: ...` (code `LintViolation`).
pub fn check_with(text: &str, options: &Options) -> Vec<Diagnostic> {
    assemble::run(text, options, true).diagnostics
}

/// The stage structure of the Dockerfile for editors, also when it has errors: the stages
/// that could be read, the targets found, the needed stages and waves, and the diagnostics
/// of planning with `options`. Never a plan (see [`outline::Outline`]).
pub fn outline(text: &str, options: &Options) -> Outline {
    outline::outline(text, options)
}

/// Where a stage name could be written at byte `offset` of `text` (the base of a `FROM`, a
/// `COPY --from=` value, a mount's `from=`), for completion in editors.
pub fn stage_reference_slot(text: &str, offset: usize) -> Option<syntax::words::ReferenceSlot> {
    syntax::words::reference_slot(offset, &syntax::parse(text))
}

/// Whether `name` is a valid stage name once lower-cased (BuildKit: a letter, then letters,
/// digits, `-`, `_` or `.`), for editors that rename stages.
pub fn is_valid_stage_name(name: &str) -> bool {
    stage::is_valid_stage_name(&name.to_lowercase())
}
