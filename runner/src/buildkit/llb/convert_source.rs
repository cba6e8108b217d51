//! Where a stage's filesystem comes from (`FROM`), and the two other kinds of source: the
//! build context (`local://context`) and images named by `COPY --from`/`--mount from=`.
//!
//! Input: the stage's base from the plan, the resolved base image configs, the session.
//! Output: the stage's starting [`StageState`] (root, environment, working directory, user,
//! image config) and the ONBUILD triggers of an image base, parsed with the planner; source
//! ops for images and the context.
//! Invariant: a stage built on another stage starts from that stage's final state, as the
//! frontend does; an image base is pinned to the digest BuildKit resolved; the context source
//! carries the session, the ignore patterns and (filled in at the end) the paths steps read.

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;
use planner::plan::{Instruction, Op, Source, Stage};

use super::graph::Output;
use super::image::{Image, DEFAULT_PATH};
use super::ops::{op_metadata, parse_platform};
use super::reference;
use super::state::StageState;
use super::translator::Translator;

/// The name of the build context's local source (BuildKit's `context`).
pub const CONTEXT_NAME: &str = "context";

/// The starting state of `stage`, and the ONBUILD triggers of its image base.
pub fn base_state(
    t: &mut Translator<'_>,
    stage: &Stage,
    display: &str,
) -> Result<(StageState, Vec<Instruction>), String> {
    let plan = t.plan();
    let platform_text = stage.platform.as_deref().unwrap_or(&plan.platform);
    let platform = parse_platform(platform_text)
        .ok_or_else(|| format!("invalid platform {platform_text:?}; use os/arch[/variant]"))?;
    let step_total = step_total(stage);
    let step_prefix = if plan.stages.len() == 1 {
        String::new()
    } else {
        super::types::display_name(stage)
    };
    let mut triggers = Vec::new();
    let mut state = match &stage.base {
        Source::Stage { stage: parent } => {
            let parent_state = t.finished.get(parent).ok_or_else(|| {
                format!("its base stage {parent} is not built before it; re-create the plan")
            })?;
            let mut state = parent_state.clone();
            state.step_index = 0;
            // Triggers of a stage base are in the plan, as this stage's first instructions.
            state.image.config.on_build.clear();
            state.build_args.clear();
            state.cmd_set = false;
            state
        }
        Source::Scratch => StageState {
            stage_index: stage.index,
            display: display.to_string(),
            root: None,
            env: Vec::new(),
            dir: "/".to_string(),
            user: String::new(),
            image: Image::empty(&platform.os, &platform.architecture, &platform.variant),
            platform: platform.clone(),
            build_args: Vec::new(),
            cmd_set: false,
            step_total,
            step_index: 0,
            step_prefix: step_prefix.clone(),
        },
        Source::Image { image } => {
            let resolved = t.input.base_images.get(image).ok_or_else(|| {
                format!("the configuration of base image {image:?} was not resolved before the translation")
            })?;
            let mut config = Image::from_base_config(&resolved.config).map_err(|e| {
                format!("the configuration of base image {image:?} is not an image config: {e}")
            })?;
            let mut state = StageState {
                stage_index: stage.index,
                display: display.to_string(),
                root: None,
                env: Vec::new(),
                dir: "/".to_string(),
                user: String::new(),
                image: Image::default(),
                platform: platform.clone(),
                build_args: Vec::new(),
                cmd_set: false,
                step_total,
                step_index: 0,
                step_prefix: step_prefix.clone(),
            };
            if !config.has_no_layers() {
                let name = state.step_name(&format!("FROM {}", resolved.reference));
                let node = image_node(t, &resolved.reference, &platform, &name, &stage.base_text);
                state.root = Some(Output { node, index: 0 });
            }
            for trigger in std::mem::take(&mut config.config.on_build) {
                triggers.push(parse_trigger(&trigger, stage.location.line)?);
            }
            state.image = config;
            state
        }
    };
    state.stage_index = stage.index;
    state.display = display.to_string();
    state.step_total = step_total;
    state.step_prefix = step_prefix;
    if !matches!(stage.base, Source::Stage { .. }) {
        state.platform = platform;
    }
    initialize_from_config(&mut state);
    Ok((state, triggers))
}

/// The frontend's set-up of a stage from its image config: PATH ensured, Env copied into the
/// LLB environment, WorkingDir and User applied.
fn initialize_from_config(state: &mut StageState) {
    if !state.image.config.env_has("PATH") {
        state.image.config.env.push(format!("PATH={DEFAULT_PATH}"));
    }
    let env = state.image.config.env.clone();
    for entry in env {
        let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        state.env_add(key, value);
    }
    let working_dir = state.image.config.working_dir.clone();
    if !working_dir.is_empty() {
        state.set_dir(&working_dir);
        if !working_dir.starts_with('/') {
            state.image.config.working_dir =
                super::state::join(&["/", &state.image.config.working_dir, &working_dir]);
        }
    }
    let user = state.image.config.user.clone();
    if !user.is_empty() {
        state.user = user;
    }
}

/// The steps the frontend counts for progress names: the FROM of an image, every COPY, ADD,
/// RUN and WORKDIR of the stage itself (not triggers).
fn step_total(stage: &Stage) -> usize {
    let from = usize::from(matches!(stage.base, Source::Image { .. }));
    from + stage
        .instructions
        .iter()
        .filter(|i| i.onbuild_from.is_none())
        .filter(|i| {
            matches!(
                i.op,
                Op::Run { .. } | Op::Copy(_) | Op::Add(_) | Op::Workdir { .. }
            )
        })
        .count()
}

/// Parses an image's ONBUILD trigger with the planner (as the one instruction of a
/// `FROM scratch` file); it reports the stage's FROM line.
fn parse_trigger(trigger: &str, line: u32) -> Result<Instruction, String> {
    let text = format!("FROM scratch\n{trigger}\n");
    let outcome = planner::plan(&text, &planner::Options::default());
    let instruction = outcome
        .plan
        .and_then(|plan| plan.stages.into_iter().next())
        .and_then(|stage| stage.instructions.into_iter().next())
        .ok_or_else(|| {
            let messages: Vec<String> = outcome
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect();
            format!(
                "the base image's ONBUILD trigger {trigger:?} cannot be performed: {}",
                messages.join("; ")
            )
        })?;
    Ok(Instruction {
        line,
        end_line: line,
        ..instruction
    })
}

/// The source op of an image (one per identifier).
fn image_node(
    t: &mut Translator<'_>,
    reference: &str,
    platform: &pb::Platform,
    name: &str,
    command: &str,
) -> super::graph::NodeId {
    let identifier = format!("docker-image://{reference}");
    if let Some(node) = t.image_nodes.get(&identifier) {
        return *node;
    }
    let op = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp {
            identifier: identifier.clone(),
            attrs: BTreeMap::new(),
        })),
        platform: Some(platform.clone()),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let metadata = op_metadata(
        name,
        Some(&format!("FROM {command}")),
        &["source.image"],
        false,
    );
    let node = t.graph.add(op, Vec::new(), metadata);
    t.image_nodes.insert(identifier, node);
    node
}

/// The filesystem a `--from`/`from=` source names: a stage's root, an image, or nothing.
pub fn source_root(t: &mut Translator<'_>, source: &Source) -> Result<Option<Output>, String> {
    match source {
        Source::Stage { stage } => t.stage_root(*stage),
        Source::Image { image } => Ok(Some(image_output(t, image))),
        Source::Scratch => Ok(None),
    }
}

/// The filesystem of an image named by `COPY --from` or `--mount from=` (not pinned: the
/// frontend resolves only FROM images).
pub fn image_output(t: &mut Translator<'_>, image: &str) -> Output {
    let reference = reference::normalize(image);
    let platform = parse_platform(&t.plan().platform).unwrap_or_default();
    let name = format!("FROM {reference}");
    let node = image_node(t, &reference, &platform, &name, image);
    Output { node, index: 0 }
}

/// The build context's source, created on first use.
pub fn context_output(t: &mut Translator<'_>) -> Output {
    if let Some(node) = t.context_node {
        return Output { node, index: 0 };
    }
    let node = local_context_node(t, &[], &[]);
    t.context_node = Some(node);
    Output { node, index: 0 }
}

/// A source of the build context limited to `include` patterns and with `extra_excludes` on top
/// of the ignore file's; used to perform `COPY --parents`/`--exclude` on daemons whose file ops
/// cannot filter (the transfer itself filters, with the same pattern rules).
pub fn filtered_context_output(
    t: &mut Translator<'_>,
    include: &[String],
    extra_excludes: &[String],
) -> Output {
    let node = local_context_node(t, include, extra_excludes);
    Output { node, index: 0 }
}

fn local_context_node(
    t: &mut Translator<'_>,
    include: &[String],
    extra_excludes: &[String],
) -> super::graph::NodeId {
    let context = &t.input.context;
    let mut attrs = BTreeMap::from([
        ("local.session".to_string(), context.session_id.clone()),
        ("local.sharedkeyhint".to_string(), CONTEXT_NAME.to_string()),
    ]);
    let mut caps = vec![
        "source.local",
        "source.local.sessionid",
        "source.local.sharedkeyhint",
    ];
    let mut excludes = context.excludes.clone();
    excludes.extend(extra_excludes.iter().cloned());
    if !excludes.is_empty() {
        attrs.insert(
            "local.excludepatterns".to_string(),
            serde_json::to_string(&excludes).unwrap_or_default(),
        );
        caps.push("source.local.excludepatterns");
    }
    if !include.is_empty() {
        attrs.insert(
            "local.includepattern".to_string(),
            serde_json::to_string(include).unwrap_or_default(),
        );
        caps.push("source.local.includepatterns");
    }
    let op = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp {
            identifier: format!("local://{CONTEXT_NAME}"),
            attrs,
        })),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let metadata = op_metadata("[internal] load build context", None, &caps, false);
    t.graph.add(op, Vec::new(), metadata)
}

/// Gives the context source its follow paths (every path a step reads), unless a step reads
/// the whole context; the frontend's `normalizeContextPaths`.
pub fn finish_context(t: &mut Translator<'_>) {
    let Some(node) = t.context_node else {
        return;
    };
    if t.context_paths.contains("/") || t.context_paths.is_empty() {
        return;
    }
    let paths: Vec<String> = t
        .context_paths
        .iter()
        .map(|p| super::state::join(&[".", p]))
        .collect();
    let json = serde_json::to_string(&paths).unwrap_or_default();
    if let Some(pb::op::Op::Source(source)) = &mut t.graph.op_mut(node).op {
        source.attrs.insert("local.followpaths".to_string(), json);
    }
    let metadata = t.graph.metadata(node).clone();
    let mut metadata = metadata;
    metadata
        .caps
        .insert("source.local.followpaths".to_string(), true);
    t.graph.set_metadata(node, metadata);
}
