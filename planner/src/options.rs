//! The planner's inputs as the library's callers give them: [`Options`] (what to plan) and
//! [`ContextFiles`] (the build-context files the checks read).
//!
//! Input: nothing (types). Output: the types, re-exported at the crate root.
//! Invariant: a leaf module (it imports nothing of the planner), so every module can name these
//! types without importing through the crate root.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to plan: the targets, build arguments and platform (the same names as plan JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Target stage names (case-insensitive); empty means the last stage.
    pub targets: Vec<String>,
    /// `--build-arg KEY=VALUE` pairs.
    pub build_args: BTreeMap<String, String>,
    /// Target platform `os/arch[/variant]`; the build platform when absent.
    pub platform: Option<String>,
    /// The platform the build runs on, `os/arch[/variant]` (`BUILDPLATFORM`, `BUILDOS`,
    /// `BUILDARCH`, `BUILDVARIANT`, and the target platform's default, as BuildKit takes its
    /// worker's platform); `linux/amd64` when absent. A runner passes its engine's platform.
    pub build_platform: Option<String>,
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
