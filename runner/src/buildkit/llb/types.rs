//! The translation's input and output types, and the stage label every message uses.
//!
//! Input: nothing (plain data).
//! Output: [`TranslateInput`] (what the translation reads), [`Translation`] and [`TargetBuild`]
//! (what it gives), [`StepInfo`] (which instruction an op performs) and [`TranslateError`].
//! Invariant: data only, no behaviour beyond small pure helpers; every other module of the
//! translation builds on this one and it imports none of them.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use planner::plan::Plan;
use thiserror::Error;

/// A base image as the daemon resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference pinned to its digest (`docker.io/library/busybox:1@sha256:...`), or only
    /// normalized when the daemon gave no digest.
    pub reference: String,
    /// The image config JSON.
    pub config: Vec<u8>,
}

/// The build context as a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextInput {
    /// The session that serves the context directory.
    pub session_id: String,
    /// The `.dockerignore` patterns.
    pub excludes: Vec<String>,
}

/// Behaviour of the daemon's own Dockerfile frontend that the translation reproduces, so images
/// match that frontend's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compat {
    /// `CMD` sets `ArgsEscaped` (BuildKit before v0.10 did, on every platform).
    pub cmd_sets_args_escaped: bool,
    /// COPY/ADD history entries list `--parents`, `--chown=` and `--chmod=` (newer frontends).
    pub copy_history_lists_flags: bool,
}

impl Compat {
    /// The behaviour of the frontend that comes with a daemon of these capabilities: MergeOp
    /// arrived in BuildKit v0.10, with the frontend that stopped setting `ArgsEscaped`; a daemon
    /// without it has the frontend of BuildKit v0.8/v0.9 (Docker 20.10).
    pub fn for_caps(caps: &BTreeSet<String>) -> Compat {
        let legacy = !caps.contains("mergeop");
        Compat {
            cmd_sets_args_escaped: legacy,
            copy_history_lists_flags: !legacy,
        }
    }
}

/// Everything the translation reads.
#[derive(Debug, Clone)]
pub struct TranslateInput<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The FROM images of the needed stages, by the reference as the plan writes it.
    pub base_images: &'a BTreeMap<String, ResolvedImage>,
    /// The build context.
    pub context: ContextInput,
    /// The build arguments (the plan's, with the ones given to the build on top).
    pub build_args: &'a BTreeMap<String, String>,
    /// The daemon's LLB capabilities.
    pub caps: &'a BTreeSet<String>,
    /// Frontend behaviour to reproduce.
    pub compat: Compat,
    /// `--no-cache`: every RUN, COPY and ADD runs again.
    pub no_cache: bool,
    /// `--label` values for the last target's image config, over its own labels.
    pub labels: &'a BTreeMap<String, String>,
    /// `--network`: the network of RUNs without one of their own (`host`, `none`), as the
    /// frontend's forced network mode; `None` for the daemon's default.
    pub network: Option<&'a str>,
    /// `--add-host` entries (`host:ip`) for every RUN's /etc/hosts.
    pub add_hosts: &'a [String],
}

/// What one target stage solves to.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetBuild {
    /// The stage's index.
    pub stage: usize,
    /// The LLB definition (empty for an empty filesystem).
    pub definition: pb::Definition,
    /// The image config JSON for the exporter.
    pub image_config: Vec<u8>,
}

/// Which instruction an op performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// The stage's display name.
    pub stage: String,
    /// The stage's index.
    pub stage_index: usize,
    /// 1-based position of the instruction in its stage.
    pub step: usize,
    /// 1-based Dockerfile line.
    pub line: u32,
    /// The instruction as written.
    pub text: String,
}

/// The result of a translation.
#[derive(Debug, Clone)]
pub struct Translation {
    /// One build per plan target, in the plan's order.
    pub targets: Vec<TargetBuild>,
    /// Op digest → the instruction it performs.
    pub steps: BTreeMap<String, StepInfo>,
    /// Entitlements the solve must be granted.
    pub entitlements: BTreeSet<String>,
    /// The number of distinct ops.
    pub n_ops: usize,
}

/// An instruction that cannot be expressed as LLB.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("stage {stage}, line {line}: {message}")]
pub struct TranslateError {
    /// The stage's display name.
    pub stage: String,
    /// 1-based Dockerfile line.
    pub line: u32,
    /// What is wrong and what to do.
    pub message: String,
}

/// The stage's label in progress and errors, as the plan records it (`stage-N` for an unnamed
/// stage of a plan made before the plan recorded labels).
pub fn display_name(stage: &planner::plan::Stage) -> String {
    if stage.display_name.is_empty() {
        stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", stage.index))
    } else {
        stage.display_name.clone()
    }
}
