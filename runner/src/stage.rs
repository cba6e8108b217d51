//! One stage of a plan, performed instruction by instruction: the dispatch from an instruction
//! to its kind of step.
//!
//! Input: the stage from the plan, the futures of the stages it depends on, the shared [`Ctx`].
//! Output: a [`StageResult`]: the stage's image id, config, ARGs and cache key.
//! Invariant: a stage waits for its base before starting and for a `COPY --from`/`RUN --mount
//! from=` stage only when it reaches that instruction; metadata instructions only change the
//! in-memory config; filesystem steps are looked up in the cache by what they execute; a target
//! stage always ends in an image whose config is exactly the stage's final config; on failure
//! the stage's keeper and holder are removed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use planner::plan::{Instruction, Op, Source, Stage};
use planner::Plan;

use crate::error::{Result, RunnerError, StepError};
use crate::exec::base_image::without_volumes;
use crate::exec::cache::Key;
use crate::exec::commit::finish_target;
use crate::exec::ctx::Ctx;
use crate::exec::holders::drop_holder;
use crate::exec::insight::StageInsight;
use crate::exec::keeper;
use crate::exec::stage_deps::{await_dep, instruction_stage_deps, StageFuture};
use crate::exec::stage_state::{ImagePlatform, StageArgs, StageResult, StageState};
use crate::image_config::ImageConfig;
use crate::record::memory::{RootMemory, RECORD_REPO};
use crate::record::recorder::{FinishedStage, PendingMemory, StageFacts};
use crate::resume;
use crate::steps::metadata;
use crate::steps::{copy, run, workdir};

/// Performs stage `index` of the plan.
pub async fn run_stage(
    ctx: Arc<Ctx>,
    index: usize,
    dep_futures: HashMap<usize, StageFuture>,
    is_target: bool,
) -> Result<StageResult> {
    let stage = &ctx.plan.stages[index];
    let name = stage.display_name.clone();
    let mut deps: HashMap<usize, Arc<StageResult>> = HashMap::new();
    if let Source::Stage { stage: parent } = stage.base {
        await_dep(&dep_futures, &mut deps, parent).await?;
    }
    ctx.progress.stage_started(&name, stage.instructions.len());
    ctx.recorder.stage_started(index, &name, is_target);
    let from_line = stage.location.line;
    let (mut state, triggers) = start_state(&ctx, stage, &deps)
        .await
        .map_err(|e| e.in_stage(&name, || format!("line {from_line}")))?;
    let triggers = onbuild_instructions(stage, &triggers)?;
    let all: Vec<&Instruction> = triggers.iter().chain(&stage.instructions).collect();
    let mut position = 0;
    while position < all.len() {
        // A build that may be warm looks a run of steps up all at once and starts again after
        // its deepest cached step (a run of COPY steps is committed once, under its last key;
        // the record gets each step). Not once the stage has missed: its keys are new.
        if ctx.cache.enabled()
            && state.pending.is_none()
            && !ctx.rebuilding.is_marked(index)
            && !is_metadata(all[position])
        {
            let run = resume::keyable_run(&all, position);
            if run.len() > 1 {
                match resume::resume_run(&ctx, &mut state, &dep_futures, &all, &run).await {
                    Ok(Some(next)) => {
                        position = next;
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        keeper::retire(&ctx, &mut state);
                        drop_holder(&ctx, &mut state);
                        let line = all[position].line;
                        return Err(e.in_stage(&name, || format!("line {line}")));
                    }
                }
            }
        }
        let instruction = all[position];
        state.step += 1;
        state.executed = false;
        state.insight.begin_step(ctx.recorder.now_ms());
        // A step is left uncommitted for the next one only when that one can start at once:
        // a step that must first wait for another stage would hold finished work in a
        // container for that long, and an interrupted build would lose it.
        let ready = |i: &Instruction| stage_deps_ready(i, &state.deps, &dep_futures);
        let defer = is_batchable(instruction) && next_write_is_batchable(&all, position, &ready);
        if defer {
            // Its result is committed (and cached) with the last step of its run.
            let last = *copy_run(&all, position, &ready).last().unwrap_or(&position);
            state.insight.step.committed_with =
                Some((state.step + (last - position), all[last].line));
        }
        let result = async {
            for needed in instruction_stage_deps(instruction) {
                if !state.deps.contains_key(&needed) {
                    let waiting = Instant::now();
                    await_dep(&dep_futures, &mut state.deps, needed).await?;
                    state.insight.step.clock.add_wait(waiting.elapsed());
                    state.insight.step.waited_for.push(needed);
                }
            }
            perform(&ctx, &mut state, instruction, &all[..position], defer).await
        }
        .await
        .map_err(|e| e.in_stage(&name, || format!("line {}", instruction.line)));
        let record = state.insight.finish_step(
            index,
            state.step,
            instruction,
            state.key.as_str(),
            ctx.recorder.now_ms(),
            result.is_err(),
        );
        ctx.progress.step_done(&state.name, &record);
        ctx.recorder.step_finished(record);
        if let Err(e) = result {
            keeper::retire(&ctx, &mut state);
            drop_holder(&ctx, &mut state);
            return Err(e);
        }
        position += 1;
    }
    // Hand the keeper to a stage built on this one (it continues from this image), or stop it.
    let has_child = ctx
        .plan
        .stages
        .iter()
        .any(|s| s.needed && matches!(s.base, Source::Stage { stage } if stage == index));
    let in_sync = state
        .keeper
        .as_ref()
        .is_some_and(|k| k.synced == state.image);
    let handed = if has_child && in_sync && !is_target {
        state.keeper.take()
    } else {
        None
    };
    keeper::retire(&ctx, &mut state);
    drop_holder(&ctx, &mut state);
    if is_target {
        // `--label` values go on the last target's image, over its own labels (BuildKit sets
        // them on the target's config after every instruction).
        if ctx.plan.targets.last() == Some(&index) {
            state.config.labels.extend(ctx.options.labels.clone());
        }
        finish_target(&ctx, &mut state)
            .await
            .map_err(|e| e.in_stage(&name, || "its final image".to_string()))?;
    }
    // Later stages read this one's files through a holder of its image: make it now, while
    // they are still on their way to that step. Not for a stage that came whole from the
    // cache: its readers' steps are most likely cached too and never read the files (a warm
    // build would pay a container for nothing); a reader that misses makes its holder itself.
    if let Some(image) = state
        .image
        .clone()
        .filter(|_| !state.all_cached && read_by_needed_stage(&ctx.plan, index))
    {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            // A failure here (a stopping build) is the reader's to report when it asks again.
            let _ = ctx.source_holder(&image).await;
        });
    }
    let image = state.image.clone().unwrap_or_default();
    let record = format!("{RECORD_REPO}:{}", state.insight.identity);
    ctx.progress
        .stage_done(&name, &image, state.all_cached, &record);
    ctx.recorder
        .stage_finished(index, finished_stage(&mut state));
    Ok(state.into_result(handed))
}

/// What the record keeps of a finished stage: its image, what changed, the facts the leak
/// report needs, and the memory for the next build.
fn finished_stage(state: &mut StageState) -> FinishedStage {
    let insight = &mut state.insight;
    let memory = insight.memory_now().map(|memory| PendingMemory {
        identity: insight.identity.clone(),
        memory,
        previous: insight.memory.take(),
    });
    FinishedStage {
        image: state.image.clone(),
        size: insight.image_size,
        layers: insight.layers,
        cached: state.all_cached,
        change: insight.first_change.clone(),
        facts: StageFacts {
            root_image: state.root_image.as_ref().map(|(id, _)| id.clone()),
            root_reference: state.root_image.as_ref().map(|(_, r)| r.clone()),
            context_copy_line: insight.context_copy_line,
            compile_line: insight.compile_line,
            image: state.image.clone(),
        },
        memory,
    }
}

/// Whether a needed stage reads stage `index`'s files (`COPY --from`, `RUN --mount from=`).
fn read_by_needed_stage(plan: &Plan, index: usize) -> bool {
    plan.stages
        .iter()
        .filter(|s| s.needed)
        .flat_map(|s| &s.instructions)
        .any(|i| instruction_stage_deps(i).contains(&index))
}

/// Whether a RUN could run in a keeper (no mounts, default network and security, no `#!`
/// heredoc).
fn keeper_eligible(instruction: &Instruction) -> bool {
    match &instruction.op {
        Op::Run {
            mounts,
            network,
            security,
            heredocs,
            ..
        } => {
            mounts.is_empty()
                && matches!(network.as_deref(), None | Some("default"))
                && matches!(security.as_deref(), None | Some("sandbox"))
                && !heredocs.iter().any(|h| h.body.starts_with("#!"))
        }
        _ => false,
    }
}

/// How many RUN steps could share a keeper along the chain of stages that start from this one
/// (this stage's eligible RUNs plus the most of any needed stage built on it).
fn keeper_chain(plan: &Plan, index: usize, depth: usize) -> usize {
    let own = plan.stages[index]
        .instructions
        .iter()
        .filter(|i| keeper_eligible(i))
        .count();
    if depth > plan.stages.len() {
        return own;
    }
    let children = plan
        .stages
        .iter()
        .filter(|s| s.needed && matches!(s.base, Source::Stage { stage } if stage == index))
        .map(|s| keeper_chain(plan, s.index, depth + 1))
        .max()
        .unwrap_or(0);
    own + children
}

/// Resolves the stage's base into its starting state; returns the base image's ONBUILD
/// triggers too.
async fn start_state(
    ctx: &Ctx,
    stage: &Stage,
    deps: &HashMap<usize, Arc<StageResult>>,
) -> Result<(StageState, Vec<String>)> {
    let mut inherited = None;
    let mut args = StageArgs::default();
    let mut ran_run = false;
    let plan_platform = || ImagePlatform::parse(&ctx.plan.platform);
    let mut insight = StageInsight::new(ctx.stage_identity(&stage.display_name));
    insight.memory = ctx.memory_of(&insight.identity).await;
    let mut root_image = None;
    let mut base_stage = None;
    let (mut image, mut config, key, platform) = match &stage.base {
        // BuildKit's empty image: WorkingDir "/" (PATH is added below).
        Source::Scratch => {
            insight.image_size = Some(0);
            insight.layers = Some(0);
            (
                None,
                ImageConfig {
                    working_dir: "/".to_string(),
                    ..ImageConfig::default()
                },
                Key::root("scratch", ""),
                // The target platform, also under `FROM --platform=P scratch`: this engine's
                // BuildKit writes the build's platform into such an image.
                plan_platform(),
            )
        }
        Source::Stage { stage: parent } => {
            let result = deps.get(parent).ok_or_else(|| RunnerError::Instruction {
                stage: stage.display_name.clone(),
                line: stage.location.line,
                source: StepError::Invalid(format!(
                    "the base stage {parent} did not run; the plan's depends_on is incomplete"
                )),
            })?;
            inherited = result.keeper.lock().ok().and_then(|mut k| k.take());
            // A stage built on another inherits its ARGs (BuildKit does the same), under the
            // parent's ENV again.
            args = result.args.inherited_under(&result.config);
            ran_run = result.ran_run;
            insight.image_size = result.lineage.image_size;
            insight.layers = result.lineage.layers;
            insight.context_copy_line = result.lineage.context_copy_line;
            insight.compile_line = result.lineage.compile_line;
            root_image = result.lineage.root_image.clone();
            base_stage = Some(result.clone());
            (
                result.image.clone(),
                result.config.clone(),
                Key::root("stage", result.key.as_str()),
                result.platform.clone(),
            )
        }
        Source::Image { image } => {
            let info = ctx
                .ensure_image(&stage.display_name, image)
                .await?
                .map_err(|source| RunnerError::Instruction {
                    stage: stage.display_name.clone(),
                    line: stage.location.line,
                    source,
                })?;
            let platform = ImagePlatform {
                os: info.os.clone(),
                architecture: info.architecture.clone(),
                variant: info.variant.clone(),
            };
            // BuildKit resolves the image for the platform asked for; the runner uses the
            // engine's image as it is, so one of another platform is an error, not a silent
            // substitute. The plan's build platform stands for the engine's own, whatever the
            // planner assumed (`FROM --platform=$BUILDPLATFORM` builds natively).
            let build_platform = ctx.plan.predefined_args.get("BUILDPLATFORM");
            let wanted = stage
                .platform
                .as_deref()
                .or(ctx.options.platform.as_deref())
                .filter(|wanted| Some(&wanted.to_string()) != build_platform);
            if let Some(wanted) = wanted {
                if !platform.satisfies(wanted) {
                    return Err(RunnerError::Instruction {
                        stage: stage.display_name.clone(),
                        line: stage.location.line,
                        source: StepError::Invalid(format!(
                            "{image} is {} here, not {wanted}: the runner builds on the engine's images and does not emulate other platforms; drop the platform, or load an image made for {wanted}",
                            platform.describe()
                        )),
                    });
                }
            }
            insight.image_size = Some(info.size);
            insight.layers = Some(info.diff_ids.len() as u64);
            root_image = Some((info.id.clone(), image.clone()));
            (
                Some(info.id.clone()),
                info.config,
                Key::root("image", &info.id),
                platform,
            )
        }
    };
    // The stage's containers start from an image without the base's volumes (the config keeps
    // them for the final image).
    if let Some(base) = image.as_deref().filter(|_| !config.volumes.is_empty()) {
        image = Some(without_volumes(ctx, base).await?);
    }
    // ONBUILD triggers of an external base run first; a stage base's triggers are already in
    // the plan (as instructions with `onbuild_from`).
    let triggers = match &stage.base {
        Source::Image { .. } => config.on_build.clone(),
        _ => Vec::new(),
    };
    config.ensure_path();
    // Triggers of the base are consumed by this stage, not inherited.
    config.on_build.clear();
    let (kind, value) = match &stage.base {
        Source::Scratch => ("scratch", String::new()),
        Source::Stage { .. } => ("stage", key_parent_value(&base_stage)),
        Source::Image { .. } => (
            "image",
            root_image.clone().map(|(id, _)| id).unwrap_or_default(),
        ),
    };
    insight.start(
        RootMemory {
            cache_format: crate::exec::cache::CACHE_FORMAT,
            kind: kind.to_string(),
            value,
            image: match &stage.base {
                Source::Image { image } => Some(image.clone()),
                _ => None,
            },
        },
        base_stage
            .as_deref()
            .map(|b| (b.index, b.name.clone(), b.change.clone())),
    );
    // A keeper handed down by the base stage is already running: one RUN in it is cheaper
    // than a fresh container even when this stage has no second RUN.
    let keeper_enabled = !ctx.options.isolate_runs
        && (inherited.is_some() || keeper_chain(&ctx.plan, stage.index, 0) >= 2);
    let state = StageState {
        index: stage.index,
        name: stage.display_name.clone(),
        image,
        config,
        platform,
        key,
        config_dirty: true,
        args,
        all_cached: true,
        ran_run,
        step: 0,
        deps: deps.clone(),
        executed: false,
        keeper: inherited,
        holder: None,
        pending: None,
        keeper_enabled,
        insight,
        root_image,
    };
    Ok((state, triggers))
}

/// The parent stage's final key, as the stage's root remembers it.
fn key_parent_value(base: &Option<Arc<StageResult>>) -> String {
    base.as_ref()
        .map(|result| result.key.as_str().to_string())
        .unwrap_or_default()
}

/// Parses the ONBUILD triggers of an external base image with the planner library (each as
/// the one instruction of a `FROM scratch` file); they report the stage's FROM line.
fn onbuild_instructions(stage: &Stage, triggers: &[String]) -> Result<Vec<Instruction>> {
    let mut parsed = Vec::new();
    for trigger in triggers {
        let text = format!("FROM scratch\n{trigger}\n");
        let outcome = planner::plan(&text, &planner::Options::default());
        let instruction = outcome
            .plan
            .and_then(|plan| plan.stages.into_iter().next())
            .and_then(|s| s.instructions.into_iter().next())
            .ok_or_else(|| RunnerError::Instruction {
                stage: stage.display_name.clone(),
                line: stage.location.line,
                source: StepError::Invalid(format!(
                    "the base image's ONBUILD trigger {trigger:?} cannot be performed: {}",
                    outcome
                        .diagnostics
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            })?;
        parsed.push(Instruction {
            line: stage.location.line,
            end_line: stage.location.line,
            ..instruction
        });
    }
    Ok(parsed)
}

/// Performs one instruction; `earlier` are the stage's instructions before it; `defer` lets a
/// COPY/ADD leave its commit to the next one.
async fn perform(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    earlier: &[&Instruction],
    defer: bool,
) -> Result<()> {
    match &instruction.op {
        Op::Run { .. } => {
            state.ran_run = true;
            run::perform(ctx, state, instruction).await
        }
        Op::Copy(spec) => copy::perform(ctx, state, instruction, spec, false, defer).await,
        Op::Add(spec) => copy::perform(ctx, state, instruction, spec, true, defer).await,
        Op::Workdir { path } => workdir::perform(ctx, state, instruction, path, defer).await,
        _ => {
            metadata::fold(ctx, state, instruction, earlier)?;
            ctx.progress.step_meta(&state.name, state.step);
            Ok(())
        }
    }
}

/// Whether a step only writes files into a holder (COPY, ADD, WORKDIR): a run of them is
/// committed once.
fn is_batchable(instruction: &Instruction) -> bool {
    matches!(
        instruction.op,
        Op::Copy(_) | Op::Add(_) | Op::Workdir { .. }
    )
}

/// Whether an instruction changes only the config (no filesystem step, no container).
fn is_metadata(instruction: &Instruction) -> bool {
    !matches!(
        instruction.op,
        Op::Run { .. } | Op::Copy(_) | Op::Add(_) | Op::Workdir { .. }
    )
}

/// Whether the next instruction after `position` that touches the filesystem is a COPY, ADD
/// or WORKDIR that can start at once (`ready`: every stage it reads has finished).
fn next_write_is_batchable(
    all: &[&Instruction],
    position: usize,
    ready: &dyn Fn(&Instruction) -> bool,
) -> bool {
    all[position + 1..]
        .iter()
        .find(|i| !is_metadata(i))
        .is_some_and(|i| is_batchable(i) && ready(i))
}

/// Whether every stage `instruction` reads has finished (its result is known or its future
/// has completed), so the step would not wait.
fn stage_deps_ready(
    instruction: &Instruction,
    known: &HashMap<usize, Arc<StageResult>>,
    futures: &HashMap<usize, StageFuture>,
) -> bool {
    instruction_stage_deps(instruction).iter().all(|needed| {
        known.contains_key(needed) || futures.get(needed).is_none_or(|f| f.peek().is_some())
    })
}

/// The run of COPY/ADD/WORKDIR steps starting at `position` (metadata between them included):
/// the positions up to the last of them before a RUN or before one that would wait for
/// another stage (`ready`).
fn copy_run(
    all: &[&Instruction],
    position: usize,
    ready: &dyn Fn(&Instruction) -> bool,
) -> Vec<usize> {
    let mut run = vec![position];
    let mut last_copy = 0;
    for (offset, instruction) in all[position + 1..].iter().enumerate() {
        if is_batchable(instruction) && ready(instruction) {
            run.push(position + 1 + offset);
            last_copy = run.len();
        } else if is_metadata(instruction) {
            run.push(position + 1 + offset);
        } else {
            break;
        }
    }
    run.truncate(last_copy.max(1));
    run
}
