//! stageplan's planner: Dockerfile text and options in, a stage graph and plan JSON v1 out.
//!
//! Input: the Dockerfile text, [`Options`] (targets, build args, platform) and optionally the
//! [`ContextFiles`] the checks read (the `.dockerignore` text).
//! Output: an [`Outcome`]: the [`plan::Plan`] (absent when there are errors) and diagnostics.
//! Invariant: a pure function of its input; no I/O, clock, threads or environment; never panics
//! on any input; output is deterministic.

mod args;
mod assemble;
pub mod checks;
pub mod codes;
pub mod diagnostics;
mod dispatch;
mod epoch;
pub mod expand;
pub mod fixes;
mod flags;
pub mod graph;
mod instructions;
pub mod leak_checks;
pub mod options;
pub mod outline;
pub mod patterns;
pub mod plan;
mod render;
pub mod schema;
mod stage;
mod suggest;
pub mod syntax;
mod target;
mod values;

pub use args::{validate_reference, Platform};
pub use dispatch::http_file_name;
pub use target::suggest_stage_name;
pub use values::{check_digest, check_signal};
#[cfg(feature = "wasm")]
pub mod wasm;

pub use diagnostics::{Diagnostic, Severity};
pub use options::{ContextFiles, Options};
pub use outline::Outline;
pub use plan::{Outcome, Plan, PLAN_VERSION};

/// Plans a build of `options.targets` (default: the last stage) of the Dockerfile `text`.
pub fn plan(text: &str, options: &Options) -> Outcome {
    plan_with_context(text, options, &ContextFiles::default())
}

/// [`plan`] with the build context's files that the checks read (`.dockerignore`).
pub fn plan_with_context(text: &str, options: &Options, files: &ContextFiles) -> Outcome {
    assemble::run(text, options, files, false)
}

/// Checks the whole Dockerfile as `docker build --check` does without a target: every stage
/// is examined, and the diagnostics are returned.
pub fn check(text: &str) -> Vec<Diagnostic> {
    check_with_context(text, &Options::default(), &ContextFiles::default())
}

/// Checks the Dockerfile as `docker build --check` does with `options`: with no target every
/// stage is examined, with targets the stages they need; build args and the platform apply as
/// in [`plan`]. With `# check=error=true`, any check reported adds the error
/// `lint violation found for rules: ...` (code `LintViolation`).
pub fn check_with(text: &str, options: &Options) -> Vec<Diagnostic> {
    check_with_context(text, options, &ContextFiles::default())
}

/// [`check_with`] with the build context's files that the checks read (`.dockerignore`).
pub fn check_with_context(text: &str, options: &Options, files: &ContextFiles) -> Vec<Diagnostic> {
    assemble::run(text, options, files, true).diagnostics
}

/// The stage structure of the Dockerfile for editors, also when it has errors: the stages
/// that could be read, the targets found, the needed stages and waves, and the diagnostics
/// of planning with `options`. Never a plan (see [`outline::Outline`]).
pub fn outline(text: &str, options: &Options) -> Outline {
    outline_with_context(text, options, &ContextFiles::default())
}

/// [`outline`] with the build context's files that the checks read (`.dockerignore`).
pub fn outline_with_context(text: &str, options: &Options, files: &ContextFiles) -> Outline {
    outline::outline(text, options, files)
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
