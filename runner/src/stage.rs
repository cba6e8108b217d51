//! One stage of a plan, performed instruction by instruction.
//!
//! Input: the stage from the plan, the results of the stages it depends on, the shared
//! [`Ctx`] (engine, cache, context, progress, build options).
//! Output: a [`StageResult`]: the stage's image id, its config and its cache key.
//! Invariant: metadata instructions only change the in-memory config and the key; filesystem
//! steps (RUN, COPY, ADD, WORKDIR) are looked up in the cache by key and otherwise performed
//! and committed with the whole config; a target stage always ends in an image whose config is
//! the stage's final config.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use planner::plan::{Instruction, Op, Source, Stage};
use planner::Plan;
use tokio::sync::Semaphore;

use crate::cache::{Cache, Key};
use crate::context::BuildContext;
use crate::engine::{ContainerSpec, Engine, ImageInfo};
use crate::error::{Result, RunnerError};
use crate::holders::{create_holder, drop_holder};
use crate::image_config::ImageConfig;
use crate::progress::Progress;
use crate::reaper::Reaper;
use crate::{copy_step, metadata, run_step, tarx, users, workdir};

/// Everything the stages of one build share.
pub struct Ctx {
    /// The engine.
    pub engine: Engine,
    /// Temporary container tracking.
    pub reaper: Reaper,
    /// The step cache.
    pub cache: Cache,
    /// Progress output.
    pub progress: Progress,
    /// The plan being performed.
    pub plan: Arc<Plan>,
    /// The build context.
    pub context: Arc<BuildContext>,
    /// Build arguments (the plan's, overridden by `--build-arg`).
    pub build_args: BTreeMap<String, String>,
    /// `--secret id=...,src=...`: id to file.
    pub secrets: BTreeMap<String, PathBuf>,
    /// Limits how many containers run at once (`--jobs`).
    pub jobs: Arc<Semaphore>,
    /// Run every RUN in a fresh container (no keeper).
    pub isolate_runs: bool,
    /// Never-started holders of COPY --from source images, one per image for the whole build.
    pub source_holders: tokio::sync::Mutex<HashMap<String, String>>,
}

impl Ctx {
    /// The build's holder container of `image` (created on first use), for reading its files.
    pub async fn source_holder(&self, image: &str) -> Result<String> {
        let mut holders = self.source_holders.lock().await;
        if let Some(id) = holders.get(image) {
            return Ok(id.clone());
        }
        let id = self
            .reaper
            .create(ContainerSpec {
                image: Some(image.to_string()),
                entrypoint: vec!["/.stageplan-holder".to_string()],
                network_mode: Some("none".to_string()),
                ..ContainerSpec::default()
            })
            .await?;
        holders.insert(image.to_string(), id.clone());
        Ok(id)
    }

    /// Removes the source holders (at the end of a successful build).
    pub async fn remove_source_holders(&self) -> Result<()> {
        let holders: Vec<String> = self
            .source_holders
            .lock()
            .await
            .drain()
            .map(|(_, id)| id)
            .collect();
        for id in holders {
            self.reaper.remove(&id).await?;
        }
        Ok(())
    }
}

/// What a finished stage hands to the stages that use it.
#[derive(Debug)]
pub struct StageResult {
    /// The stage's display name.
    pub name: String,
    /// Its image id; `None` for an empty filesystem (a scratch stage with no files).
    pub image: Option<String>,
    /// Its final config.
    pub config: ImageConfig,
    /// Its final cache key.
    pub key: Key,
    /// Whether every step came from the cache.
    pub cached: bool,
    /// The stage's keeper, handed to the first stage built on this one.
    pub keeper: std::sync::Mutex<Option<crate::keeper::Keeper>>,
}

/// The evolving state of a stage being built.
pub struct StageState {
    /// Display name (`builder` or `stage 2`).
    pub name: String,
    /// Current image id; `None` while the filesystem is empty.
    pub image: Option<String>,
    /// Current config.
    pub config: ImageConfig,
    /// Key of the current state.
    pub key: Key,
    /// Whether `config` differs from the config stored in `image`.
    pub config_dirty: bool,
    /// ARGs declared in the stage, with their values.
    pub args: BTreeMap<String, String>,
    /// Whether every filesystem step so far was a cache hit.
    pub all_cached: bool,
    /// Step counter for progress (1-based).
    pub step: usize,
    /// Results of the stages this one depends on.
    pub deps: HashMap<usize, Arc<StageResult>>,
    /// Whether the current step did work (was not a cache hit or a metadata fold).
    pub executed: bool,
    /// The stage's keeper container, when RUN steps share one (see [`crate::keeper`]).
    pub keeper: Option<crate::keeper::Keeper>,
    /// Whether RUN steps may use a keeper.
    pub keeper_enabled: bool,
    /// A never-started holder reused by consecutive COPY/WORKDIR steps.
    pub holder: Option<crate::keeper::Keeper>,
}

impl StageState {
    /// The variables visible to word expansion: ARGs, overridden by ENV.
    pub fn lookup_vars(&self) -> BTreeMap<String, String> {
        let mut vars = self.args.clone();
        vars.extend(self.config.env_map());
        vars
    }

    /// The ARGs a RUN sees as environment (those not overridden by ENV), sorted.
    pub fn run_args(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter(|(name, _)| self.config.env_get(name).is_none())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The display name of a stage.
pub fn display_name(stage: &Stage) -> String {
    stage
        .name
        .clone()
        .unwrap_or_else(|| format!("stage {}", stage.index))
}

/// A stage's eventual result, shared by every stage that waits for it.
pub type StageFuture = futures_util::future::Shared<
    futures_util::future::BoxFuture<
        'static,
        std::result::Result<Arc<StageResult>, Arc<RunnerError>>,
    >,
>;

/// Performs stage `index` of the plan. `dep_futures` are the stages it depends on; it waits for
/// its base before starting and for a `COPY --from`/`RUN --mount from=` stage only when it
/// reaches that instruction, so its other steps overlap with those stages.
pub async fn run_stage(
    ctx: Arc<Ctx>,
    index: usize,
    dep_futures: HashMap<usize, StageFuture>,
    is_target: bool,
) -> Result<StageResult> {
    let stage = &ctx.plan.stages[index];
    let name = display_name(stage);
    let mut deps: HashMap<usize, Arc<StageResult>> = HashMap::new();
    if let Source::Stage { stage: parent } = stage.base {
        await_dep(&dep_futures, &mut deps, parent).await?;
    }
    ctx.progress.stage_started(&name, stage.instructions.len());
    let (mut state, triggers) = start_state(&ctx, stage, &name, &deps).await?;
    let triggers = onbuild_instructions(stage, &name, &triggers)?;
    for instruction in triggers.iter().chain(&stage.instructions) {
        for needed in instruction_stage_deps(instruction) {
            if !deps.contains_key(&needed) {
                if let Err(e) = await_dep(&dep_futures, &mut deps, needed).await {
                    let _ = crate::keeper::retire(&ctx, &mut state).await;
                    let _ = drop_holder(&ctx, &mut state).await;
                    return Err(e);
                }
                if let Some(result) = deps.get(&needed) {
                    state.deps.insert(needed, result.clone());
                }
            }
        }
        state.step += 1;
        let started = Instant::now();
        state.executed = false;
        let performed = perform(&ctx, &mut state, stage, instruction, &deps).await;
        if let Err(e) = performed {
            let _ = crate::keeper::retire(&ctx, &mut state).await;
            let _ = drop_holder(&ctx, &mut state).await;
            return Err(e);
        }
        if state.executed {
            ctx.progress.step_done(&name, state.step, started.elapsed());
        }
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
    let handed = if has_child && in_sync {
        state.keeper.take()
    } else {
        None
    };
    crate::keeper::retire(&ctx, &mut state).await?;
    drop_holder(&ctx, &mut state).await?;
    if is_target && (state.config_dirty || state.image.is_none()) {
        finish_config(&ctx, &mut state).await?;
    }
    let image = state.image.clone().unwrap_or_default();
    ctx.progress.stage_done(&name, &image, state.all_cached);
    Ok(StageResult {
        name,
        image: state.image,
        config: state.config,
        key: state.key,
        cached: state.all_cached,
        keeper: std::sync::Mutex::new(handed),
    })
}

/// Waits for stage `index` (if this stage depends on it) and records its result.
async fn await_dep(
    futures: &HashMap<usize, StageFuture>,
    deps: &mut HashMap<usize, Arc<StageResult>>,
    index: usize,
) -> Result<()> {
    if let Some(future) = futures.get(&index) {
        let result = future.clone().await.map_err(RunnerError::Shared)?;
        deps.insert(index, result);
    }
    Ok(())
}

/// The stages an instruction reads from (`COPY --from`, `RUN --mount from=`).
fn instruction_stage_deps(instruction: &Instruction) -> Vec<usize> {
    let mut sources: Vec<&Source> = Vec::new();
    match &instruction.op {
        Op::Copy(spec) | Op::Add(spec) => sources.extend(spec.from.iter()),
        Op::Run { mounts, .. } => sources.extend(mounts.iter().filter_map(|m| m.from.as_ref())),
        _ => {}
    }
    sources
        .into_iter()
        .filter_map(|s| match s {
            Source::Stage { stage } => Some(*stage),
            _ => None,
        })
        .collect()
}

/// How many RUN steps could share a keeper along the chain of stages that start from this one
/// (this stage's eligible RUNs plus the most of any needed stage built on it).
fn keeper_chain(plan: &Plan, index: usize, depth: usize) -> usize {
    let own = plan.stages[index]
        .instructions
        .iter()
        .filter(|i| crate::run_step::keeper_eligible(i))
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

/// Resolves the stage's base into its starting state.
async fn start_state(
    ctx: &Ctx,
    stage: &Stage,
    name: &str,
    deps: &HashMap<usize, Arc<StageResult>>,
) -> Result<(StageState, Vec<String>)> {
    let mut inherited = None;
    let (image, mut config, key) = match &stage.base {
        // BuildKit's empty image: WorkingDir "/" (PATH is added below).
        Source::Scratch => (
            None,
            ImageConfig {
                working_dir: "/".to_string(),
                ..ImageConfig::default()
            },
            Key::root("scratch"),
        ),
        Source::Stage { stage: parent } => {
            let result = deps.get(parent).ok_or_else(|| {
                RunnerError::Plan(format!("stage {} depends on stage {parent}, which the plan does not list in depends_on", stage.index))
            })?;
            let key = Key::root(&format!("stage:{}", result.key.as_str()));
            inherited = result.keeper.lock().ok().and_then(|mut k| k.take());
            (result.image.clone(), result.config.clone(), key)
        }
        Source::Image { image } => {
            let info = ensure_image(ctx, name, image).await?;
            let key = Key::root(&format!("image:{}", info.id));
            (Some(info.id), info.config, key)
        }
    };
    // ONBUILD triggers of an external base run first; a stage base's triggers are already in
    // the plan (as instructions with `onbuild_from`).
    let triggers = match &stage.base {
        Source::Image { .. } => config.on_build.clone(),
        _ => Vec::new(),
    };
    let base_config = config.clone();
    config.ensure_path();
    // Triggers of the base are consumed by this stage, not inherited.
    config.on_build.clear();
    let config_dirty = config != base_config || image.is_none();
    let state = StageState {
        name: name.to_string(),
        image,
        config,
        key,
        config_dirty,
        args: BTreeMap::new(),
        all_cached: true,
        step: 0,
        deps: deps.clone(),
        executed: false,
        keeper: inherited,
        holder: None,
        keeper_enabled: !ctx.isolate_runs && keeper_chain(&ctx.plan, stage.index, 0) >= 2,
    };
    Ok((state, triggers))
}

/// Parses the ONBUILD triggers of an external base image with the planner library (each as
/// the one instruction of a `FROM scratch` file); they report the stage's FROM line.
fn onbuild_instructions(
    stage: &Stage,
    name: &str,
    triggers: &[String],
) -> Result<Vec<Instruction>> {
    let mut parsed = Vec::new();
    for trigger in triggers {
        let text = format!("FROM scratch\n{trigger}\n");
        let outcome = planner::plan(&text, &planner::Options::default());
        let instruction = outcome
            .plan
            .and_then(|plan| plan.stages.into_iter().next())
            .and_then(|s| s.instructions.into_iter().next())
            .ok_or_else(|| RunnerError::Instruction {
                stage: name.to_string(),
                line: stage.location.line,
                message: format!(
                    "the base image's ONBUILD trigger {trigger:?} cannot be performed: {}",
                    outcome
                        .diagnostics
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            })?;
        parsed.push(Instruction {
            line: stage.location.line,
            end_line: stage.location.line,
            ..instruction
        });
    }
    Ok(parsed)
}

/// Inspects an external image, pulling it when the engine does not have it.
pub async fn ensure_image(ctx: &Ctx, stage: &str, reference: &str) -> Result<ImageInfo> {
    if let Some(info) = ctx.engine.inspect_image(reference).await? {
        return Ok(info);
    }
    ctx.progress.note(stage, &format!("pulling {reference}"));
    let progress = ctx.progress.clone();
    let stage_name = stage.to_string();
    let mut report = move |line: String| progress.note(&stage_name, &line);
    ctx.engine.pull_image(reference, &mut report).await?;
    ctx.engine
        .inspect_image(reference)
        .await?
        .ok_or_else(|| RunnerError::ImageUnavailable {
            image: reference.to_string(),
            message: "the pull finished but the engine does not list the image".to_string(),
        })
}

/// Performs one instruction; returns whether it did work worth a `step_done` event.
async fn perform(
    ctx: &Ctx,
    state: &mut StageState,
    stage: &Stage,
    instruction: &Instruction,
    deps: &HashMap<usize, Arc<StageResult>>,
) -> Result<bool> {
    match &instruction.op {
        Op::Run { .. } => run_step::perform(ctx, state, instruction)
            .await
            .map(|_| true),
        Op::Copy(spec) | Op::Add(spec) => {
            let is_add = matches!(instruction.op, Op::Add(_));
            copy_step::perform(ctx, state, instruction, spec, is_add, deps)
                .await
                .map(|_| true)
        }
        Op::Workdir { path } => workdir::workdir(ctx, state, instruction, path)
            .await
            .map(|_| true),
        _ => {
            metadata::apply_metadata(ctx, state, stage, instruction)?;
            Ok(false)
        }
    }
}

/// Resolves a `user[:group]` spec against the files of the container `holder`.
pub async fn resolve_owner(
    ctx: &Ctx,
    state: &StageState,
    holder: &str,
    spec: &str,
    instruction: &Instruction,
) -> Result<(u64, u64)> {
    let read = |path: &'static str| async move {
        let tar = ctx.engine.get_archive(holder, path).await?;
        Ok::<String, RunnerError>(
            tar.and_then(|t| tarx::first_file(&t).ok().flatten())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
        )
    };
    let (passwd, group) = if users::needs_lookup(spec) {
        (read("/etc/passwd").await?, read("/etc/group").await?)
    } else {
        (String::new(), String::new())
    };
    users::resolve(spec, &passwd, &group).map_err(|message| RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        message,
    })
}

/// Commits `container` with the stage's config as the result of the current key.
pub async fn commit_step(
    ctx: &Ctx,
    state: &mut StageState,
    container: &str,
    instruction: &Instruction,
) -> Result<()> {
    let comment = format!("stageplan: {}", instruction.text);
    let image = ctx
        .engine
        .commit(container, &state.config, &comment)
        .await?;
    ctx.cache.store(&state.key, &image).await?;
    state.image = Some(image);
    state.config_dirty = false;
    state.all_cached = false;
    state.executed = true;
    Ok(())
}

/// Looks the step's key (already in `state.key`) up in the cache. On a hit the stage takes the
/// cached image, which was committed with exactly this config (the key covers it), and the step
/// shows as cached; on a miss it shows as started. Returns whether it was a hit.
pub async fn cached_or_started(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
) -> Result<bool> {
    if let Some(image) = ctx.cache.lookup(&state.key).await? {
        state.image = Some(image);
        state.config_dirty = false;
        ctx.progress
            .step_cached(&state.name, state.step, instruction.line, &instruction.text);
        return Ok(true);
    }
    ctx.progress
        .step_started(&state.name, state.step, instruction.line, &instruction.text);
    Ok(false)
}

/// Gives a target stage an image carrying its final config (a commit with no layer).
async fn finish_config(ctx: &Ctx, state: &mut StageState) -> Result<()> {
    state.key = state.key.next(&["final-config"]);
    if let Some(image) = ctx.cache.lookup(&state.key).await? {
        state.image = Some(image);
        state.config_dirty = false;
        return Ok(());
    }
    let holder = create_holder(ctx, state).await?;
    let comment = "stageplan: image config";
    let result = ctx.engine.commit(&holder, &state.config, comment).await;
    ctx.reaper.remove(&holder).await?;
    let image = result?;
    ctx.cache.store(&state.key, &image).await?;
    state.image = Some(image);
    state.config_dirty = false;
    state.all_cached = false;
    Ok(())
}
