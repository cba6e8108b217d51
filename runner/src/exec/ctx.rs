//! What every step of one build shares: the engine, the reaper, the cache, progress, the plan,
//! the build context and the build options.
//!
//! Input: a connected engine, a checked plan, the opened context, [`BuildOptions`].
//! Output: [`Ctx`], plus the shared services steps use through it: base images made present
//! ([`Ctx::ensure_image`]), never-started holders of source images ([`Ctx::source_holder`]),
//! word expansion with the plan's escape character ([`Ctx::expand`]).
//! Invariant: one `Ctx` per build; everything in it is safe to use from every stage task.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use planner::Plan;
use tokio::sync::{Mutex, OnceCell, Semaphore};

use super::cache::Cache;
use super::rebuilding::Rebuilding;
use crate::containers::reaper::{ReapError, Reaper};
use crate::context::BuildContext;
use crate::engine::{ContainerSpec, Engine, ImageInfo};
use crate::error::{Result, RunnerError, StepError};
use crate::progress::Progress;
use crate::record::memory::StageMemory;
use crate::record::recorder::Recorder;
use crate::record::store;

/// The entrypoint of containers that are never started (holders): the engine wants a command.
pub const HOLDER_ENTRYPOINT: &str = "/.stageplan-holder";

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Skip cache lookups (results are still stored) and start cache mounts empty.
    pub no_cache: bool,
    /// How many RUN steps may run at once; `None` for no limit.
    pub jobs: Option<usize>,
    /// `name[:tag]` references for the (last) target image.
    pub tags: Vec<String>,
    /// `--build-arg` values; they override the plan's.
    pub build_args: BTreeMap<String, String>,
    /// `--secret` id to where the secret is.
    pub secrets: BTreeMap<String, crate::secret::SecretSource>,
    /// `--ssh` id to the agent's socket.
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--network`: the network of RUN steps without their own (`host`, `none`); `None` for
    /// the engine's default.
    pub network: Option<String>,
    /// `--add-host`: `host:ip` entries for the RUN steps' /etc/hosts.
    pub add_hosts: Vec<String>,
    /// Run every RUN in its own fresh container instead of a per-stage keeper.
    pub isolate_runs: bool,
    /// `--allow security.insecure`: `RUN --security=insecure` may run privileged.
    pub allow_insecure: bool,
    /// `--record FILE`: where to write the build record (JSON).
    pub record_file: Option<PathBuf>,
    /// `--report FILE`: where to write the build report (HTML).
    pub report_file: Option<PathBuf>,
    /// `--output`: where to write the (last) target's files.
    pub output: Option<crate::export::Output>,
    /// `--label KEY=VALUE`: labels set on the (last) target's image, over its own.
    pub labels: BTreeMap<String, String>,
    /// `--platform`, when given: the platform every base image without `FROM --platform` must
    /// have.
    pub platform: Option<String>,
}

/// A stage memory being read from the engine.
type MemoryRead = tokio::task::JoinHandle<Option<(String, StageMemory)>>;

/// Everything the stages of one build share.
pub struct Ctx {
    /// The engine.
    pub engine: Engine,
    /// Temporary container and volume tracking.
    pub reaper: Reaper,
    /// The step cache.
    pub cache: Cache,
    /// Progress output.
    pub progress: Progress,
    /// The plan being performed.
    pub plan: Arc<Plan>,
    /// The build context.
    pub context: Arc<BuildContext>,
    /// Build arguments: the plan's, overridden by `--build-arg`.
    pub build_args: BTreeMap<String, String>,
    /// The build options.
    pub options: BuildOptions,
    /// Limits how many RUN steps run at once (`--jobs`); `None` for no limit.
    pub jobs: Option<Arc<Semaphore>>,
    /// The build record being collected (its clock started with the build).
    pub recorder: Arc<Recorder>,
    /// Which stages missed the cache (or depend on one that did).
    pub rebuilding: Rebuilding,
    source_holders: std::sync::Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    memory_reads: std::sync::Mutex<HashMap<String, MemoryRead>>,
    emptied_cache_mounts: Mutex<BTreeSet<String>>,
    cache_volume_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    cache_sharing_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    cache_users: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

/// A RUN's use of a cache volume (see [`Ctx::claim_cache_volume`]); ends when dropped.
pub struct CacheClaim {
    /// The volume the RUN mounts.
    pub volume: String,
    users: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl Drop for CacheClaim {
    fn drop(&mut self) {
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = users.get_mut(&self.volume) {
            *count -= 1;
            if *count == 0 {
                users.remove(&self.volume);
            }
        }
    }
}

impl Ctx {
    /// A context for one build.
    pub fn new(
        engine: Engine,
        reaper: Reaper,
        progress: Progress,
        plan: Arc<Plan>,
        context: Arc<BuildContext>,
        options: BuildOptions,
    ) -> Ctx {
        let mut build_args = plan.build_args.clone();
        build_args.extend(options.build_args.clone());
        Ctx {
            cache: Cache::new(engine.clone(), !options.no_cache),
            rebuilding: Rebuilding::new(&plan),
            engine,
            reaper,
            progress,
            plan,
            context,
            build_args,
            jobs: options.jobs.map(|n| Arc::new(Semaphore::new(n.max(1)))),
            recorder: Arc::new(Recorder::new()),
            options,
            source_holders: std::sync::Mutex::new(HashMap::new()),
            memory_reads: std::sync::Mutex::new(HashMap::new()),
            emptied_cache_mounts: Mutex::new(BTreeSet::new()),
            cache_volume_locks: std::sync::Mutex::new(HashMap::new()),
            cache_sharing_locks: std::sync::Mutex::new(HashMap::new()),
            cache_users: Arc::default(),
        }
    }

    /// Expands one word of the plan with `vars` (BuildKit's rules, the plan's escape character).
    pub fn expand(
        &self,
        word: &str,
        vars: &BTreeMap<String, String>,
    ) -> std::result::Result<String, StepError> {
        planner::expand::expand_word(word, vars, self.plan.escape)
            .map_err(|source| StepError::Expand { source })
    }

    /// Inspects an external image, pulling it when the engine does not have it.
    ///
    /// An image that is neither there nor pullable is the instruction's error (the caller adds
    /// its stage and line); other engine failures are the outer error.
    pub async fn ensure_image(
        &self,
        stage: &str,
        reference: &str,
    ) -> Result<std::result::Result<ImageInfo, StepError>> {
        if let Some(info) = self.engine.inspect_image(reference).await? {
            return Ok(Ok(info));
        }
        self.progress.note(stage, &format!("pulling {reference}"));
        let progress = self.progress.clone();
        let stage_name = stage.to_string();
        let mut report = move |line: String| progress.note(&stage_name, &line);
        let unavailable = |source| StepError::ImageUnavailable {
            image: reference.to_string(),
            source: Box::new(source),
        };
        if let Err(source) = self.engine.pull_image(reference, &mut report).await {
            return Ok(Err(unavailable(source)));
        }
        Ok(self.engine.inspect_image(reference).await?.ok_or_else(|| {
            unavailable(crate::engine::EngineError {
                op: format!("inspect {reference} after pulling it"),
                source: crate::engine::EngineCause::Protocol(
                    "the pull finished but the engine does not list the image".to_string(),
                ),
            })
        }))
    }

    /// The build's never-started holder container of `image` (created on first use, once even
    /// when several steps ask at the same time), for reading its files. Holders of different
    /// images are created concurrently.
    pub async fn source_holder(&self, image: &str) -> Result<String> {
        let cell = {
            let mut holders = self
                .source_holders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            holders.entry(image.to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| {
            self.create_container(ContainerSpec {
                image: Some(image.to_string()),
                entrypoint: vec![HOLDER_ENTRYPOINT.to_string()],
                network_mode: Some("none".to_string()),
                ..ContainerSpec::default()
            })
        })
        .await
        .cloned()
    }

    /// Creates a temporary container through the reaper.
    pub async fn create_container(&self, spec: ContainerSpec) -> Result<String> {
        self.reaper.create(spec).await.map_err(reap_error)
    }

    /// Creates a temporary volume through the reaper.
    pub async fn create_volume(&self) -> Result<String> {
        self.reaper.create_volume().await.map_err(reap_error)
    }

    /// The host name RUN steps see: the build argument `BUILDKIT_SANDBOX_HOSTNAME`, else
    /// BuildKit's `buildkitsandbox`.
    pub fn sandbox_hostname(&self) -> String {
        self.build_args
            .get("BUILDKIT_SANDBOX_HOSTNAME")
            .filter(|h| !h.is_empty())
            .cloned()
            .unwrap_or_else(|| "buildkitsandbox".to_string())
    }

    /// The identity of stage `name` across builds and machines (its record image's tag): the
    /// context directory's name, the plan's Dockerfile name and the stage's display name.
    pub fn stage_identity(&self, name: &str) -> String {
        crate::record::memory::stage_identity(
            self.context.root(),
            self.plan.dockerfile.as_deref(),
            name,
        )
    }

    /// Starts reading the last build's memory of every needed stage, all at once (a stage then
    /// waits for its own read instead of making it when it starts).
    pub fn read_memories(&self) {
        let mut reads = self
            .memory_reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for stage in self.plan.stages.iter().filter(|s| s.needed) {
            let identity = self.stage_identity(&stage.display_name);
            let engine = self.engine.clone();
            let key = identity.clone();
            let read = tokio::spawn(async move { store::load(&engine, &key).await.ok().flatten() });
            reads.insert(identity, read);
        }
    }

    /// The last build's memory of the stage `identity` (with its record image's id), read when
    /// the build started or now; `None` when there is none or it cannot be read.
    pub async fn memory_of(&self, identity: &str) -> Option<(String, StageMemory)> {
        let started = self
            .memory_reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(identity);
        match started {
            Some(read) => read.await.ok().flatten(),
            None => store::load(&self.engine, identity).await.ok().flatten(),
        }
    }

    /// The lock of cache volume `name` within this build: the stages that mount it check and
    /// fill it one at a time.
    pub fn cache_volume_lock(&self, name: &str) -> Arc<Mutex<()>> {
        self.cache_volume_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// The `sharing=locked` lock of cache volume `name` within this build: a RUN that mounts
    /// the cache so holds it from before the cache is prepared until its container is gone, so
    /// such RUNs use the cache one at a time, as BuildKit's locked cache mounts.
    pub fn cache_sharing_lock(&self, name: &str) -> Arc<Mutex<()>> {
        self.cache_sharing_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// A RUN's use of cache volume `name` until the claim drops: `name` itself, or with
    /// `private` the first of `name`, `name-2`, `name-3`… that no other RUN of the build uses
    /// now.
    pub fn claim_cache_volume(&self, name: &str, private: bool) -> CacheClaim {
        let mut users = self
            .cache_users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let volume = if private {
            (1..)
                .map(|n| match n {
                    1 => name.to_string(),
                    n => format!("{name}-{n}"),
                })
                .find(|candidate| !users.contains_key(candidate))
                .unwrap_or_else(|| name.to_string())
        } else {
            name.to_string()
        };
        *users.entry(volume.clone()).or_default() += 1;
        CacheClaim {
            volume,
            users: self.cache_users.clone(),
        }
    }

    /// With `--no-cache`, whether the cache-mount volume `name` still has to be emptied in this
    /// build (true once per volume); always false otherwise.
    pub async fn cache_mount_needs_emptying(&self, name: &str) -> bool {
        self.options.no_cache
            && self
                .emptied_cache_mounts
                .lock()
                .await
                .insert(name.to_string())
    }
}

/// The runner error for a reaper failure.
pub fn reap_error(error: ReapError) -> RunnerError {
    match error {
        ReapError::ShuttingDown => RunnerError::Stopping,
        ReapError::Engine(e) => RunnerError::Engine(e),
    }
}
