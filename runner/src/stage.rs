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

use planner::plan::{Command, HealthTest, Instruction, Op, Source, Stage};
use planner::Plan;
use tokio::sync::Semaphore;

use crate::cache::{Cache, Key};
use crate::context::BuildContext;
use crate::engine::{ContainerSpec, Engine, ImageInfo};
use crate::error::{Result, RunnerError};
use crate::image_config::{Healthcheck, ImageConfig};
use crate::progress::Progress;
use crate::reaper::Reaper;
use crate::{copy_step, run_step, tarx, users, vars};

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

/// Performs stage `index` of the plan; `deps` holds the results of every stage it depends on.
pub async fn run_stage(
    ctx: Arc<Ctx>,
    index: usize,
    deps: HashMap<usize, Arc<StageResult>>,
    is_target: bool,
) -> Result<StageResult> {
    let stage = &ctx.plan.stages[index];
    let name = display_name(stage);
    ctx.progress.stage_started(&name, stage.instructions.len());
    let (mut state, triggers) = start_state(&ctx, stage, &name, &deps).await?;
    let triggers = onbuild_instructions(stage, &name, &triggers)?;
    for instruction in triggers.iter().chain(&stage.instructions) {
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
        Op::Workdir { path } => workdir(ctx, state, instruction, path).await.map(|_| true),
        _ => {
            apply_metadata(ctx, state, stage, instruction)?;
            Ok(false)
        }
    }
}

/// Applies a metadata instruction to the config and advances the key.
fn apply_metadata(
    ctx: &Ctx,
    state: &mut StageState,
    stage: &Stage,
    instruction: &Instruction,
) -> Result<()> {
    let escape = ctx.plan.escape;
    let vars = state.lookup_vars();
    let stage_name = state.name.clone();
    let expand = |word: &str| {
        vars::expand_word(word, &vars, escape).map_err(|message| RunnerError::Instruction {
            stage: stage_name.clone(),
            line: instruction.line,
            message,
        })
    };
    let mut resolved: Vec<String> = Vec::new();
    let config = &mut state.config.clone();
    match &instruction.op {
        Op::Env { pairs } => {
            for pair in pairs {
                let key = expand(&pair.key)?;
                let value = expand(&pair.value)?;
                config.env_set(&key, &value);
                resolved.push(format!("{key}={value}"));
            }
        }
        Op::Arg { args } => {
            for decl in args {
                let value = arg_value(ctx, &decl.name, decl.default.as_deref(), &expand)?;
                if let Some(value) = value {
                    resolved.push(format!("{}={value}", decl.name));
                    state.args.insert(decl.name.clone(), value);
                } else {
                    resolved.push(decl.name.clone());
                    state.args.remove(&decl.name);
                }
            }
        }
        Op::Label { pairs } => {
            for pair in pairs {
                config
                    .labels
                    .insert(expand(&pair.key)?, expand(&pair.value)?);
            }
        }
        Op::User { user } => config.user = expand(user)?,
        Op::Expose { ports } => {
            for port in ports {
                let port = expand(port)?;
                let port = if port.contains('/') {
                    port
                } else {
                    format!("{port}/tcp")
                };
                if !config.exposed_ports.contains(&port) {
                    config.exposed_ports.push(port);
                    config.exposed_ports.sort();
                }
            }
        }
        Op::Cmd { command } => config.cmd = Some(command_args(command, config)),
        Op::Entrypoint { command } => {
            config.entrypoint = Some(command_args(command, config));
            // An ENTRYPOINT resets the CMD inherited from the base (Docker's rule).
            if !stage_sets_cmd_before(stage, instruction) {
                config.cmd = None;
            }
        }
        Op::Shell { shell } => config.shell = shell.clone(),
        Op::Volume { paths } => {
            for path in paths {
                let path = expand(path)?;
                if !config.volumes.contains(&path) {
                    config.volumes.push(path);
                    config.volumes.sort();
                }
            }
        }
        Op::Stopsignal { signal } => config.stop_signal = expand(signal)?,
        Op::Healthcheck {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let duration = |d: &Option<String>| -> Result<i64> {
                d.as_deref().map_or(Ok(0), |text| {
                    parse_duration(text).ok_or_else(|| RunnerError::Instruction {
                        stage: stage_name.clone(),
                        line: instruction.line,
                        message: format!("bad duration {text:?} (use e.g. 30s, 1m30s)"),
                    })
                })
            };
            let test = match test {
                HealthTest::None => vec!["NONE".to_string()],
                HealthTest::Shell { script } => vec!["CMD-SHELL".to_string(), script.clone()],
                HealthTest::Exec { args } => {
                    let mut test = vec!["CMD".to_string()];
                    test.extend(args.iter().cloned());
                    test
                }
            };
            config.healthcheck = Some(Healthcheck {
                test,
                interval: duration(interval)?,
                timeout: duration(timeout)?,
                start_period: duration(start_period)?,
                start_interval: duration(start_interval)?,
                retries: retries.as_deref().map_or(Ok(0), |r| {
                    r.parse().map_err(|_| RunnerError::Instruction {
                        stage: stage_name.clone(),
                        line: instruction.line,
                        message: format!("bad --retries {r:?} (use a whole number)"),
                    })
                })?,
            });
        }
        Op::Onbuild { trigger } => config.on_build.push(trigger.clone()),
        Op::Maintainer { .. } => {}
        Op::Run { .. } | Op::Copy(_) | Op::Add(_) | Op::Workdir { .. } => {
            unreachable!("filesystem steps are dispatched before apply_metadata")
        }
    }
    let changed = *config != state.config;
    state.config = config.clone();
    state.config_dirty |= changed;
    let resolved = resolved.join("\n");
    state.key = state.key.next(&["meta", &instruction.text, &resolved]);
    ctx.progress.step_meta(&state.name, state.step);
    Ok(())
}

/// Whether a CMD precedes `instruction` in the same stage (then ENTRYPOINT keeps it).
fn stage_sets_cmd_before(stage: &Stage, instruction: &Instruction) -> bool {
    stage
        .instructions
        .iter()
        .take_while(|i| !std::ptr::eq(*i, instruction))
        .any(|i| matches!(i.op, Op::Cmd { .. }))
}

/// The value of a stage `ARG`: the build argument, else the expanded default, else the
/// global ARG or predefined value of that name.
fn arg_value(
    ctx: &Ctx,
    name: &str,
    default: Option<&str>,
    expand: &dyn Fn(&str) -> Result<String>,
) -> Result<Option<String>> {
    if let Some(value) = ctx.build_args.get(name) {
        return Ok(Some(value.clone()));
    }
    if let Some(default) = default {
        return expand(default).map(Some);
    }
    if let Some(global) = ctx.plan.global_args.iter().rev().find(|g| g.name == name) {
        return Ok(global.value.clone());
    }
    Ok(ctx.plan.predefined_args.get(name).cloned())
}

/// The argument vector of CMD/ENTRYPOINT: exec form as is, shell form through the shell.
pub fn command_args(command: &Command, config: &ImageConfig) -> Vec<String> {
    match command {
        Command::Exec { args } => args.clone(),
        Command::Shell { script } => {
            let mut args = config.shell_or_default();
            args.push(script.clone());
            args
        }
    }
}

/// Parses a Go duration (`1h2m3.5s`, `300ms`) into nanoseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = text.trim();
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i64)
}

/// `WORKDIR`: sets the working directory and creates it (owned by the current USER) when the
/// image lacks it, as BuildKit does.
async fn workdir(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    path: &str,
) -> Result<()> {
    let vars = state.lookup_vars();
    let expanded = vars::expand_word(path, &vars, ctx.plan.escape).map_err(|message| {
        RunnerError::Instruction {
            stage: state.name.clone(),
            line: instruction.line,
            message,
        }
    })?;
    let dir = if expanded.starts_with('/') {
        expanded
    } else {
        let base = if state.config.working_dir.is_empty() {
            "/"
        } else {
            &state.config.working_dir
        };
        format!("/{}", tarx::join_dest(base, &expanded))
    };
    let dir = format!("/{}", tarx::join_dest(&dir, ""));
    state.config_dirty |= state.config.working_dir != dir;
    state.config.working_dir = dir.clone();
    state.key = state
        .key
        .next(&["workdir", &instruction.text, &dir, &state.config.user]);
    if let Some(image) = ctx.cache.lookup(&state.key).await? {
        state.image = Some(image);
        state.config_dirty = true;
        ctx.progress.step_meta(&state.name, state.step);
        return Ok(());
    }
    ctx.progress
        .step_started(&state.name, state.step, instruction.line, &instruction.text);
    let holder = target_container(ctx, state).await?;
    let result = create_missing_dirs(ctx, state, &holder, &dir, instruction).await;
    let result = match result {
        Ok(true) => commit_step(ctx, state, &holder, instruction).await,
        Ok(false) => match state.image.clone() {
            // Nothing to create: remember the unchanged image under this key.
            Some(image) => {
                state.executed = true;
                ctx.cache.store(&state.key, &image).await
            }
            None => commit_step(ctx, state, &holder, instruction).await,
        },
        Err(e) => Err(e),
    };
    after_target(ctx, state, &holder, result.is_ok()).await?;
    result
}

/// Uploads the missing components of `dir`; returns whether anything was missing.
async fn create_missing_dirs(
    ctx: &Ctx,
    state: &StageState,
    holder: &str,
    dir: &str,
    instruction: &Instruction,
) -> Result<bool> {
    let mut missing = Vec::new();
    let mut prefix = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        prefix = format!("{prefix}/{part}");
        if missing.is_empty() {
            if let Some(stat) = ctx.engine.stat_path(holder, &prefix).await? {
                if !stat.is_dir() && !stat.is_symlink() {
                    return Err(RunnerError::Instruction {
                        stage: state.name.clone(),
                        line: instruction.line,
                        message: format!("WORKDIR {prefix} exists and is not a directory"),
                    });
                }
                continue;
            }
        }
        missing.push(prefix.trim_start_matches('/').to_string());
    }
    if missing.is_empty() {
        return Ok(false);
    }
    let owner = if state.config.user.is_empty() {
        (0, 0)
    } else {
        resolve_owner(ctx, state, holder, &state.config.user, instruction).await?
    };
    let tar = tarx::directories(&missing, owner, 0o755).map_err(|e| RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        message: e.to_string(),
    })?;
    ctx.engine.put_archive(holder, tar).await?;
    Ok(true)
}

/// The components of absolute path `dir` that do not exist in container `holder`, each relative
/// to `/`, parents first.
pub async fn missing_components(ctx: &Ctx, holder: &str, dir: &str) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    let mut prefix = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        prefix = format!("{prefix}/{part}");
        if missing.is_empty() && ctx.engine.stat_path(holder, &prefix).await?.is_some() {
            continue;
        }
        missing.push(prefix.trim_start_matches('/').to_string());
    }
    Ok(missing)
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

/// The container a COPY/WORKDIR step writes into: the stage's keeper or reusable holder when
/// its filesystem equals the current image, else a new never-started holder that the stage
/// keeps for its next steps (its commits are cumulative, like a keeper's).
pub async fn target_container(ctx: &Ctx, state: &mut StageState) -> Result<String> {
    if let Some(keeper) = &state.keeper {
        if keeper.synced == state.image && state.image.is_some() {
            return Ok(keeper.id.clone());
        }
    }
    if let Some(holder) = &state.holder {
        if holder.synced == state.image {
            return Ok(holder.id.clone());
        }
    }
    drop_holder(ctx, state).await?;
    let base_size = match &state.image {
        Some(image) => ctx.engine.inspect_image(image).await?.map_or(0, |i| i.size),
        None => 0,
    };
    let id = create_holder(ctx, state).await?;
    state.holder = Some(crate::keeper::Keeper {
        id: id.clone(),
        synced: state.image.clone(),
        base_size,
    });
    Ok(id)
}

/// After a step wrote into `container` (from [`target_container`]): on success the container
/// equals the new image; on failure it is discarded.
pub async fn after_target(
    ctx: &Ctx,
    state: &mut StageState,
    container: &str,
    ok: bool,
) -> Result<()> {
    let is_keeper = state.keeper.as_ref().is_some_and(|k| k.id == container);
    if is_keeper {
        if ok {
            return crate::keeper::after_commit(ctx, state).await;
        }
        return crate::keeper::retire(ctx, state).await;
    }
    let Some(holder) = state.holder.clone() else {
        return Ok(());
    };
    let size = match (&state.image, ok) {
        (Some(image), true) => ctx.engine.inspect_image(image).await?.map_or(0, |i| i.size),
        _ => 0,
    };
    if !ok || size.saturating_sub(holder.base_size) > crate::keeper::MAX_CUMULATIVE_BYTES {
        return drop_holder(ctx, state).await;
    }
    state.holder = Some(crate::keeper::Keeper {
        synced: state.image.clone(),
        ..holder
    });
    Ok(())
}

/// Removes the stage's reusable holder, if any.
pub async fn drop_holder(ctx: &Ctx, state: &mut StageState) -> Result<()> {
    if let Some(holder) = state.holder.take() {
        ctx.reaper.remove(&holder.id).await?;
    }
    Ok(())
}

/// Creates a never-started holder container of the current image (an empty one for scratch).
pub async fn create_holder(ctx: &Ctx, state: &StageState) -> Result<String> {
    let spec = ContainerSpec {
        image: state.image.clone(),
        entrypoint: vec!["/.stageplan-holder".to_string()],
        env: state.config.env.clone(),
        working_dir: Some(state.config.working_dir.clone()).filter(|w| !w.is_empty()),
        user: Some(state.config.user.clone()).filter(|u| !u.is_empty()),
        network_mode: Some("none".to_string()),
        ..ContainerSpec::default()
    };
    ctx.reaper.create(spec).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("3x"), None);
    }
}
