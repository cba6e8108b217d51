//! The state of one stage while it is built, and what a finished stage hands on.
//!
//! Input: the stage's starting point (image, config, key) and each step's changes.
//! Output: [`StageState`] (the evolving image, config, ARGs and key) and [`StageResult`].
//! Invariant: plain data: the operations on a stage's containers live in `keeper` and
//! `holders`, which depend on this module and never the other way round.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::cache::{Key, KeyBuilder};
use super::insight::StageInsight;
use crate::error::{RunnerError, StepError};
use crate::image_config::ImageConfig;
use crate::record::types::MissReason;

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

impl ImagePlatform {
    /// Reads `os/arch[/variant]` (missing parts are `linux`, `amd64`, none).
    pub fn parse(text: &str) -> ImagePlatform {
        let mut parts = text.splitn(3, '/');
        ImagePlatform {
            os: parts.next().unwrap_or("linux").to_string(),
            architecture: parts.next().unwrap_or("amd64").to_string(),
            variant: parts.next().unwrap_or("").to_string(),
        }
    }

    /// `os/arch[/variant]`.
    pub fn describe(&self) -> String {
        let mut text = format!("{}/{}", self.os, self.architecture);
        if !self.variant.is_empty() {
            text.push('/');
            text.push_str(&self.variant);
        }
        text
    }

    /// Whether an image of this platform is one for `wanted` (`os/arch[/variant]`), both read
    /// with the planner's containerd normalisation (architecture aliases such as `aarch64`, the
    /// default variants of `arm64` and `arm`); any variant matches when `wanted` names none. A
    /// platform that cannot be read is not held against the image.
    pub fn satisfies(&self, wanted: &str) -> bool {
        let (Ok(have), Ok(want)) = (
            planner::Platform::parse(&self.describe()),
            planner::Platform::parse(wanted),
        ) else {
            return true;
        };
        let names_variant = wanted.split('/').nth(2).is_some();
        have.os == want.os
            && have.arch == want.arch
            && (!names_variant || have.variant == want.variant)
    }
}

/// A stage's ARGs with their values, and which of them were set after an ENV of the same name.
///
/// BuildKit adds an ARG with a value to the stage's build environment (`dispatchArg`:
/// `d.state.AddEnv`), after the image's ENV: the later of an ENV and an ARG of one name wins
/// for expansion and for what a RUN sees, while the image's `Env` keeps the ENV.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageArgs {
    values: BTreeMap<String, String>,
    over_env: std::collections::BTreeSet<String>,
}

impl StageArgs {
    /// The value of ARG `name`, when it has one.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.values.get(name)
    }

    /// `ARG name=value` (or one given by a build argument): it now wins over an earlier ENV.
    pub fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_string(), value);
        self.over_env.insert(name.to_string());
    }

    /// `ARG name` with no value anywhere.
    pub fn unset(&mut self, name: &str) {
        self.values.remove(name);
        self.over_env.remove(name);
    }

    /// `ENV name=…`: the ENV now wins over an earlier ARG.
    pub fn env_set(&mut self, name: &str) {
        self.over_env.remove(name);
    }

    /// The ARGs a stage built on this one starts with: the same values, but the base's `Env`
    /// (`config`) is applied over them again, as BuildKit re-applies the image's ENV to a stage's
    /// state, so an ARG that won over an ENV of its name in the parent no longer does.
    pub fn inherited_under(&self, config: &ImageConfig) -> StageArgs {
        let mut args = self.clone();
        args.over_env.retain(|name| config.env_get(name).is_none());
        args
    }

    /// The variables visible to word expansion: the ARGs, then the ENV over them, then the
    /// ARGs set after an ENV of their name over that.
    pub fn scope(&self, config: &ImageConfig) -> BTreeMap<String, String> {
        let mut vars = self.values.clone();
        vars.extend(config.env_map());
        for name in &self.over_env {
            if let Some(value) = self.values.get(name) {
                vars.insert(name.clone(), value.clone());
            }
        }
        vars
    }

    /// The ARGs a RUN sees as environment: those no ENV names, and those set after the ENV of
    /// their name (which they replace), sorted.
    pub fn run_env(&self, config: &ImageConfig) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter(|(name, _)| config.env_get(name).is_none() || self.over_env.contains(*name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
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
    pub args: StageArgs,
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
    /// What changed in the stage since its last build (for the miss reasons of stages that read
    /// it); `None` when nothing did.
    pub change: Option<MissReason>,
    /// What a stage built on this one inherits for the record: image size, the first context
    /// copy and the first compiling RUN of the chain, the external image the chain starts from.
    pub lineage: Lineage,
}

/// What a stage built on another inherits for the build record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The stage image's size.
    pub image_size: Option<u64>,
    /// The stage image's layer count.
    pub layers: Option<u64>,
    /// The first COPY/ADD from the context along the chain (line).
    pub context_copy_line: Option<u32>,
    /// The first RUN that added files after a context copy along the chain (line).
    pub compile_line: Option<u32>,
    /// The external image the chain starts from: id and reference (None: scratch).
    pub root_image: Option<(String, String)>,
}

/// The name of stage `index` among `deps` and what changed in it since its last build (for the
/// record's miss reasons).
pub fn stage_of(
    deps: &HashMap<usize, Arc<StageResult>>,
    index: usize,
) -> Option<(String, Option<MissReason>)> {
    deps.get(&index)
        .map(|result| (result.name.clone(), result.change.clone()))
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
    pub args: StageArgs,
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
    /// The build record's bookkeeping.
    pub insight: StageInsight,
    /// The external image the stage's chain of bases starts from: id and reference.
    pub root_image: Option<(String, String)>,
    /// The container (holder or keeper) that holds COPY/ADD results not committed yet: a run
    /// of consecutive COPY/ADD steps is committed once, at its last step. While it is set, the
    /// stage's files are that container's, and `image` is the last committed image.
    pub pending: Option<String>,
}

impl StageState {
    /// The variables visible to word expansion (see [`StageArgs::scope`]).
    pub fn lookup_vars(&self) -> BTreeMap<String, String> {
        self.args.scope(&self.config)
    }

    /// The ARGs a RUN sees as environment (see [`StageArgs::run_env`]), sorted.
    pub fn run_args(&self) -> Vec<(String, String)> {
        self.args.run_env(&self.config)
    }

    /// Moves the stage to the key `builder` makes and keeps its named fields for the record.
    pub fn advance_key(&mut self, builder: KeyBuilder) {
        let (key, fields) = builder.finish_fields();
        self.key = key;
        self.insight.step.fields = fields;
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
        let lineage = Lineage {
            image_size: self.insight.image_size,
            layers: self.insight.layers,
            context_copy_line: self.insight.context_copy_line,
            compile_line: self.insight.compile_line,
            root_image: self.root_image.clone(),
        };
        StageResult {
            change: self.insight.first_change.clone(),
            lineage,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_match_as_containerd_normalises_them() {
        let image = |text: &str| ImagePlatform::parse(text);
        assert!(image("linux/amd64").satisfies("linux/amd64"));
        assert!(image("linux/amd64").satisfies("linux/x86_64"));
        assert!(image("linux/arm64").satisfies("linux/arm64/v8"));
        assert!(image("linux/arm64/v8").satisfies("linux/aarch64"));
        assert!(image("linux/arm/v7").satisfies("linux/arm"));
        assert!(!image("linux/arm/v6").satisfies("linux/arm/v7"));
        assert!(!image("linux/amd64").satisfies("linux/arm64"));
        assert!(!image("linux/amd64").satisfies("windows/amd64"));
        assert_eq!(image("linux/arm/v7").describe(), "linux/arm/v7");
    }
}
