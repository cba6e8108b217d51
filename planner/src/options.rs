//! The planner's inputs and result as the library's callers see them: [`Options`] (what to
//! plan), [`ContextFiles`] (the build-context files the checks read) and [`Outcome`] (the plan
//! and the diagnostics).
//!
//! Input: nothing (types). Output: the types, re-exported at the crate root.
//! Invariant: a leaf module (it imports only the wire types below it), so every module can name
//! these types without importing through the crate root.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
use crate::plan::Plan;

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

/// The files of the build context that BuildKit's checks read. The planner reads no files:
/// the caller passes their text (the CLI and the editor extension read them, the playground
/// has a text box).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ContextFiles {
    /// The text of `<Dockerfile>.dockerignore`, or else of `.dockerignore` at the context root,
    /// for the `CopyIgnoredFile` check; absent when there is none.
    pub dockerignore: Option<String>,
}

/// The result of planning: a plan when the file has no errors, and every diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The plan; null when there are errors.
    pub plan: Option<Plan>,
    /// Errors, warnings and infos, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}
