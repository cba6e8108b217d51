//! The translation of a plan into LLB, BuildKit's build graph: a pure function.
//!
//! Input: [`TranslateInput`]: the plan, the configs of the base images (resolved by the daemon
//! beforehand), the session id and ignore patterns of the build context, the daemon's LLB
//! capabilities and the build options.
//! Output: [`Translation`]: for each target stage an LLB definition and the image config the
//! exporter gets (`containerimage.config`); which op performs which instruction (for progress
//! and errors); the entitlements the solve needs.
//! Invariant: no I/O, clock or environment — the same input gives byte-identical definitions.
//! One module per kind of instruction, as BuildKit's frontend splits `convert_*.go`:
//! [`convert_source`] (FROM, context, images), [`convert_run`] and [`convert_runmount`],
//! [`convert_copy`] (COPY and ADD), [`convert_workdir`], [`convert_metadata`] (everything that
//! only changes the config); [`dispatch`] drives them over the plan's stages.

pub mod convert_copy;
pub mod convert_metadata;
pub mod convert_run;
pub mod convert_runmount;
pub mod convert_source;
pub mod convert_workdir;
pub mod dispatch;
pub mod exec;
pub mod file_actions;
pub mod graph;
pub mod image;
pub mod reference;
pub mod state;
pub mod values;
pub mod words;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use planner::plan::Plan;
use thiserror::Error;

use dispatch::Translator;

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

/// Translates the plan's needed stages into LLB, one definition per target.
pub fn translate(input: &TranslateInput<'_>) -> Result<Translation, TranslateError> {
    let mut translator = Translator::new(input);
    translator.run()?;
    let encoded = translator.graph.encode();
    let mut targets = Vec::new();
    for &stage in &input.plan.targets {
        let state = translator
            .finished
            .get(&stage)
            .ok_or_else(|| TranslateError {
                stage: format!("stage-{stage}"),
                line: 0,
                message: "the target is not among the plan's waves; re-create the plan".to_string(),
            })?;
        targets.push(TargetBuild {
            stage,
            definition: encoded.definition(state.root),
            image_config: state.image.to_json(),
        });
    }
    let mut steps = BTreeMap::new();
    for (node, info) in translator.steps {
        steps
            .entry(encoded.digest(node).to_string())
            .or_insert(info);
    }
    Ok(Translation {
        targets,
        steps,
        entitlements: translator.entitlements,
        n_ops: translator.graph.len(),
    })
}

/// The entitlements a solve of the plan's needed stages must ask for: `network.host` for
/// `RUN --network=host`, `security.insecure` for `RUN --security=insecure`. Known before the
/// translation, because the solve request that carries them starts first.
pub fn required_entitlements(plan: &Plan) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stage in plan.stages.iter().filter(|stage| stage.needed) {
        for instruction in &stage.instructions {
            if let planner::plan::Op::Run {
                network, security, ..
            } = &instruction.op
            {
                if network.as_deref() == Some("host") {
                    out.insert("network.host".to_string());
                }
                if security.as_deref() == Some("insecure") {
                    out.insert("security.insecure".to_string());
                }
            }
        }
    }
    out
}

/// Op metadata: the progress name, the instruction (`com.docker.dockerfile.v1.command`), the
/// caps the op needs and whether the cache is ignored.
pub fn op_metadata(
    name: &str,
    command: Option<&str>,
    caps: &[&str],
    ignore_cache: bool,
) -> pb::OpMetadata {
    let mut description = BTreeMap::from([("llb.customname".to_string(), name.to_string())]);
    if let Some(command) = command {
        description.insert(
            "com.docker.dockerfile.v1.command".to_string(),
            command.to_string(),
        );
    }
    pb::OpMetadata {
        ignore_cache,
        description,
        caps: caps.iter().map(|cap| (cap.to_string(), true)).collect(),
        ..pb::OpMetadata::default()
    }
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

/// `os/arch[/variant]` as an LLB platform.
pub fn parse_platform(text: &str) -> Option<pb::Platform> {
    let mut parts = text.split('/');
    let os = parts.next().filter(|s| !s.is_empty())?;
    let architecture = parts.next().filter(|s| !s.is_empty())?;
    let variant = parts.next().unwrap_or("");
    if parts.next().is_some() {
        return None;
    }
    Some(pb::Platform {
        os: os.to_string(),
        architecture: architecture.to_string(),
        variant: variant.to_string(),
        ..pb::Platform::default()
    })
}
