//! Build record JSON v1: the wire types `runner --record FILE` writes, `--progress json` events
//! carry and the report page, the playground and the editor preview read.
//!
//! Input: nothing (plain data). Output: serde/schemars derives; `runner/schema/build-record.schema.json`
//! is generated from [`BuildRecord`] (a test keeps it fresh) and the web's TypeScript types from
//! that schema.
//! Invariant: times are whole milliseconds since the build started and sizes whole bytes (no
//! floats); maps are `BTreeMap`s; adding an optional field keeps [`RECORD_VERSION`], removing,
//! renaming or changing the meaning of a field bumps it.

use planner::Plan;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The record format version this runner writes.
pub const RECORD_VERSION: u32 = 1;

/// What one build did: the plan it performed, every step (cached or ran, why, how long, how
/// many bytes), every stage, the critical path and the leak report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildRecord {
    /// Format version; 1 for this schema.
    pub version: u32,
    /// The runner's version (`CARGO_PKG_VERSION`).
    pub runner: String,
    /// When the build started, RFC 3339 UTC.
    pub started: String,
    /// Whether the build succeeded; a failed build's record holds the steps that finished.
    pub ok: bool,
    /// The error that stopped the build, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `--no-cache` was given.
    pub no_cache: bool,
    /// The plan the runner performed (plan JSON v1).
    pub plan: Plan,
    /// The last target's image id; null when the build failed.
    pub image: Option<String>,
    /// Wall time of the build until the target was tagged (the leak report comes after), ms.
    pub total_ms: u64,
    /// The needed stages that ran (or started), in plan order.
    pub stages: Vec<StageRecord>,
    /// The chain of steps that decided the wall time, first to last.
    pub critical_path: Vec<PathStep>,
    /// What ships in the target image that should not: empty when clean (or when the build
    /// failed before the analysis).
    pub leaks: Vec<Leak>,
    /// The directories the final image adds over its base image, biggest first (top 10).
    pub biggest_dirs: Vec<DirSize>,
    /// Bytes the final image adds over its base image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_bytes: Option<u64>,
    /// How long the leak report took after the build (reading the final image's layers; near 0
    /// when the last build's analysis of the same image was reused), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak_report_ms: Option<u64>,
}

/// One needed stage as it was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRecord {
    /// The stage's index in the plan.
    pub index: usize,
    /// The stage's display name (from the plan).
    pub name: String,
    /// Whether the stage is a target of the build.
    pub target: bool,
    /// When the stage started (its base was ready), ms since the build started.
    pub start_ms: u64,
    /// When the stage finished, ms since the build started; null when it did not finish.
    pub end_ms: Option<u64>,
    /// Its image id; null for an empty filesystem or a stage that did not finish.
    pub image: Option<String>,
    /// Its image size in bytes.
    pub size: Option<u64>,
    /// Its layer count.
    pub layers: Option<u64>,
    /// Whether every step came from the cache.
    pub cached: bool,
    /// Why the stage differs from its last build (the first changed input among its steps);
    /// null when nothing changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<MissReason>,
    /// Its steps, in order (ONBUILD triggers of an image base first).
    pub steps: Vec<StepRecord>,
}

/// How a step was satisfied.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Found in the step cache: nothing ran.
    Cached,
    /// Executed (the cache missed): see the step's `miss`.
    Ran,
    /// A metadata instruction (ENV, LABEL, CMD ...) folded into the image config.
    Config,
    /// Started but did not finish (the build failed or was stopped there).
    Failed,
}

/// One instruction of a stage as it was performed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    /// The stage's index in the plan.
    pub stage: usize,
    /// 1-based step number within the stage (progress output's `#N`).
    pub step: usize,
    /// 1-based Dockerfile line of the instruction.
    pub line: u32,
    /// The instruction as written.
    pub text: String,
    /// Cached, ran, config or failed.
    pub status: StepStatus,
    /// Why the cache missed; set when `status` is `ran`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss: Option<MissReason>,
    /// The miss reason as one short phrase (`app.go changed`), as progress output shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss_text: Option<String>,
    /// The step's cache key (64 hex digits); null for config steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// When the step started (before waiting for the stages it reads), ms since the build started.
    pub start_ms: u64,
    /// When the step finished, ms since the build started.
    pub end_ms: u64,
    /// Where the step's wall time went.
    pub times: StepTimes,
    /// Bytes the step added to the stage's image (negative when it removed more than it added);
    /// null for config steps and when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_added: Option<i64>,
    /// Stages whose result the step waited for (`COPY --from`, `RUN --mount from=`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waited_for: Vec<usize>,
}

/// A step's wall time, split. `wait_ms + prepare_ms + transfer_ms + execute_ms + commit_ms` is at
/// most `total_ms`; the rest is the runner's own bookkeeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepTimes {
    /// The whole step, ms.
    pub total_ms: u64,
    /// Waiting for the stages it reads, or for a `--jobs` slot, ms.
    pub wait_ms: u64,
    /// Resolving sources, hashing context files, the cache lookup and containers, ms.
    pub prepare_ms: u64,
    /// Moving files into the container (COPY/ADD archives, mount contents), ms.
    pub transfer_ms: u64,
    /// The RUN process, ms.
    pub execute_ms: u64,
    /// Committing the result (and recording it in the cache), ms.
    pub commit_ms: u64,
}

/// How a context file differs from the last build.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    /// New since the last build.
    Added,
    /// Gone since the last build.
    Removed,
    /// Different content, mode or type.
    Changed,
}

/// Why a step's cache key differs from the last build of the same stage and step: the first
/// input of the key that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MissReason {
    /// No earlier build of this stage and step is recorded in the engine.
    FirstBuild,
    /// `--no-cache`.
    NoCache,
    /// A file of the build context the step copies.
    ContextFile {
        /// Its path relative to the context.
        path: String,
        /// Added, removed or changed.
        change: FileChange,
        /// How many more context files of the step differ.
        more: usize,
    },
    /// A build argument the step sees.
    BuildArg {
        /// Its name.
        name: String,
    },
    /// An environment variable (`ENV`) the step sees.
    Env {
        /// Its name.
        name: String,
    },
    /// The stage's base image resolved to another image.
    BaseImage {
        /// The reference now (`golang:1.22`).
        image: String,
        /// The reference of the last build, when it was another one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_image: Option<String>,
    },
    /// The image a `COPY --from=<image>` reads resolved to another image.
    SourceImage {
        /// The reference.
        image: String,
    },
    /// A stage this step builds on or reads from changed.
    Stage {
        /// The stage's index.
        stage: usize,
        /// Its display name.
        name: String,
        /// What changed in it, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Box<MissReason>>,
    },
    /// An earlier step of the same stage changed.
    EarlierStep {
        /// The first changed earlier step (1-based).
        step: usize,
        /// Its Dockerfile line.
        line: u32,
        /// What changed in it.
        cause: Box<MissReason>,
    },
    /// The instruction itself, or what it inherits from the stage (WORKDIR, USER, SHELL).
    Instruction {
        /// The key field that differs (`text`, `workdir`, `user`, `argv`, `dest`, ...).
        field: String,
    },
    /// A downloaded `ADD <url>` source.
    Download {
        /// The URL's file name.
        name: String,
    },
    /// A `RUN --mount` source or option.
    Mount,
    /// The key is the one of the last build, but its cache entry is gone from the engine.
    CacheEvicted,
    /// The step is unchanged, but a run of consecutive COPY/ADD/WORKDIR steps is committed
    /// and cached once, under its last step: the run missed, so this step ran with it.
    CommittedWithRun {
        /// The run's last step (1-based), which commits it.
        step: usize,
        /// Its Dockerfile line.
        line: u32,
    },
    /// This runner's cache format differs from the last build's (a runner upgrade).
    CacheFormat,
}

/// One step of the critical path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathStep {
    /// The stage's index.
    pub stage: usize,
    /// The step (1-based) within the stage.
    pub step: usize,
}

/// What kind of leak a warning reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LeakKind {
    /// Files that came from the build context ship in the target image.
    ContextFiles,
    /// The target is based on a stage or image the Dockerfile also builds in: its toolchain ships.
    BuilderBase,
}

/// A leak warning about a target image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Leak {
    /// The kind of leak.
    pub kind: LeakKind,
    /// The target stage's index.
    pub stage: usize,
    /// One line for people, ending with what to do.
    pub message: String,
    /// The Dockerfile line the warning points at.
    pub line: u32,
    /// Paths in the image (context files), at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// How many paths there are in all.
    #[serde(default)]
    pub count: usize,
    /// Bytes they hold.
    #[serde(default)]
    pub bytes: u64,
}

/// A directory and the bytes the final image adds under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirSize {
    /// Absolute path in the image.
    pub path: String,
    /// Bytes of the files added under it.
    pub bytes: u64,
    /// How many files.
    pub files: u64,
}
