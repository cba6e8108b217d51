//! The state of one stage while it is built, and what a finished stage hands on.
//!
//! Input: the stage's starting point (image, config, key) and each step's changes.
//! Output: [`StageState`] (the evolving image, config, ARGs and key) and [`StageResult`].
//! Invariant: plain data: the operations on a stage's containers live in `keeper` and
//! `holders`, which depend on this module and never the other way round.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::cache::Key;
use crate::error::{RunnerError, StepError};
use crate::image_config::ImageConfig;

/// A container a stage keeps between steps: a started keeper (RUN steps run in it as execs) or
/// a never-started holder (COPY/WORKDIR steps write into it).
#[derive(Debug, Clone)]
pub struct LiveContainer {
    /// Container id.
    pub id: String,
    /// The image its filesystem currently equals.
    pub synced: Option<String>,
    /// Size of the image it was created from (its commits carry everything on top of it).
    pub base_size: u64,
}

/// The platform an image is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImagePlatform {
    /// `linux`.
    pub os: String,
    /// `amd64`.
    pub architecture: String,
    /// `v8`, or empty.
    pub variant: String,
}

/// What a finished stage hands to the stages that use it.
#[derive(Debug)]
pub struct StageResult {
    /// The stage's index in the plan.
    pub index: usize,
    /// The stage's display name.
    pub name: String,
    /// Its image id; `None` for an empty filesystem (a scratch stage with no files).
    pub image: Option<String>,
    /// Its final config.
    pub config: ImageConfig,
    /// Its ARGs in scope at the end (a child stage inherits them).
    pub args: BTreeMap<String, String>,
    /// Its platform.
    pub platform: ImagePlatform,
    /// Its final cache key.
    pub key: Key,
    /// Whether every step came from the cache.
    pub cached: bool,
    /// Whether a RUN ran in this stage or a stage it is built on (BuildKit's image then has
    /// the empty `/dev`, `/proc` and `/sys` its executor mounts on).
    pub ran_run: bool,
    /// The stage's keeper, handed to the first stage built on this one.
    pub keeper: Mutex<Option<LiveContainer>>,
}

/// The evolving state of a stage being built. (Cloned only to predict the keys of steps ahead;
/// a clone never touches a container.)
#[derive(Clone)]
pub struct StageState {
    /// The stage's index in the plan.
    pub index: usize,
    /// Display name (from the plan).
    pub name: String,
    /// Current image id; `None` while the filesystem is empty.
    pub image: Option<String>,
    /// Current config.
    pub config: ImageConfig,
    /// The platform of the stage's image.
    pub platform: ImagePlatform,
    /// Key of the current state.
    pub key: Key,
    /// Whether `config` differs from the config stored in `image`.
    pub config_dirty: bool,
    /// ARGs declared in the stage (or inherited from its parent stage), with their values.
    pub args: BTreeMap<String, String>,
    /// Whether every filesystem step so far was a cache hit.
    pub all_cached: bool,
    /// Whether a RUN ran in this stage (cached or not) or a stage it is built on.
    pub ran_run: bool,
    /// Step counter for progress (1-based).
    pub step: usize,
    /// Results of the stages this one depends on, as they become available.
    pub deps: HashMap<usize, Arc<StageResult>>,
    /// Whether the current step did work (was not a cache hit or a metadata fold).
    pub executed: bool,
    /// The stage's keeper container, when RUN steps share one.
    pub keeper: Option<LiveContainer>,
    /// Whether RUN steps may use a keeper.
    pub keeper_enabled: bool,
    /// A never-started holder reused by consecutive COPY/WORKDIR steps.
    pub holder: Option<LiveContainer>,
    /// The container (holder or keeper) that holds COPY/ADD results not committed yet: a run
    /// of consecutive COPY/ADD steps is committed once, at its last step. While it is set, the
    /// stage's files are that container's, and `image` is the last committed image.
    pub pending: Option<String>,
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

    /// A function that places a step problem at `line` of this stage.
    pub fn fail_at(&self, line: u32) -> impl Fn(StepError) -> RunnerError {
        let stage = self.name.clone();
        move |source| RunnerError::Instruction {
            stage: stage.clone(),
            line,
            source,
        }
    }

    /// The stage's result once its last step is done.
    pub fn into_result(self, handed_keeper: Option<LiveContainer>) -> StageResult {
        StageResult {
            index: self.index,
            name: self.name,
            image: self.image,
            config: self.config,
            args: self.args,
            platform: self.platform,
            key: self.key,
            cached: self.all_cached,
            ran_run: self.ran_run,
            keeper: Mutex::new(handed_keeper),
        }
    }
}
