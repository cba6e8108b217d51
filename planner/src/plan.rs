//! Plan JSON v1: the wire types that the planner emits and the runner, the playground and the
//! editor preview consume, and the [`Outcome`] of planning (the plan beside the diagnostics).
//!
//! Input: nothing (these are plain data types). Output: serde/schemars derives.
//! Invariant: these are the only serialized types of the crate; maps are `BTreeMap` so the
//! JSON is deterministic; there are no floats. Adding an optional field keeps `version` 1;
//! removing, renaming or changing the meaning of a field bumps it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
pub use crate::diagnostics::TextRange;

/// The plan format version this crate writes and reads.
pub const PLAN_VERSION: u32 = 1;

/// A complete, executable plan for a multi-stage build of one Dockerfile.
///
/// It carries everything a runner needs except the build context's files: every
/// instruction of every stage, parsed, plus which stages the chosen targets need and in
/// which parallel order to build them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Format version; always 1 for this schema.
    pub version: u32,
    /// Indices (into `stages`) of the target stages, in the order they were requested.
    /// With no `--target`, the last stage of the file.
    pub targets: Vec<usize>,
    /// Every stage of the Dockerfile in file order, needed or not.
    pub stages: Vec<Stage>,
    /// Sorted, unique external image references used by the needed stages
    /// (`FROM`, `COPY --from`, `RUN --mount from=`), as written after ARG expansion.
    pub images: Vec<String>,
    /// The needed stages grouped for parallel execution. A stage's wave is one more than
    /// the deepest wave among its dependencies (0 when it has none); each wave is sorted
    /// by stage index.
    pub waves: Vec<Vec<usize>>,
    /// The build arguments the plan was made with (`--build-arg KEY=VALUE`), as given.
    pub build_args: BTreeMap<String, String>,
    /// The target platform, `os/arch[/variant]` (default `linux/amd64`).
    pub platform: String,
    /// The global ARGs (declared before the first `FROM`) in file order, with the value
    /// each resolved to (a build argument wins over the default). A stage's `ARG NAME`
    /// without a default takes its value from here.
    #[serde(default)]
    pub global_args: Vec<GlobalArg>,
    /// The predefined ARGs (`BUILDPLATFORM`, `TARGETOS`, `TARGETSTAGE`, ...) and their values
    /// for this plan; a stage sees one only after declaring it with `ARG`.
    #[serde(default)]
    pub predefined_args: BTreeMap<String, String>,
    /// The escape character of the file (`\\` or `` ` ``, from `# escape=`); needed to expand
    /// the plan's unexpanded words with [`crate::expand`].
    #[serde(default = "default_escape")]
    pub escape: char,
    /// The parser directives at the top of the file (`syntax`, `escape`, `check`).
    #[serde(default)]
    pub directives: BTreeMap<String, String>,
    /// Warnings and infos about the Dockerfile (a plan is only produced without errors).
    pub diagnostics: Vec<Diagnostic>,
    /// The path of the Dockerfile the plan was made from, as given to the planner (the CLI
    /// records its argument); null when unknown (standard input, or the library called without
    /// one). A runner finds `<Dockerfile>.dockerignore` next to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// `SOURCE_DATE_EPOCH` in seconds, when the build argument (or a global ARG's value) is a
    /// number: the image and its new history entries are dated with it, as in BuildKit. Absent
    /// when unset, or when it names a source (`context`, a stage) resolved at build time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
}

fn default_escape() -> char {
    '\\'
}

/// A global ARG and the value it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobalArg {
    /// The ARG's name as written.
    pub name: String,
    /// The resolved value: the build argument if given, else the expanded default; null
    /// when the ARG has neither (it is then undefined).
    pub value: Option<String>,
    /// 1-based line of the `ARG` instruction.
    pub line: u32,
}

/// One build stage: a `FROM` line and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// 0-based position of the stage in the file; `COPY --from=<index>` refers to it.
    pub index: usize,
    /// The stage name from `FROM ... AS name`, lower-cased; null for an unnamed stage.
    pub name: Option<String>,
    /// The label progress output and errors use for the stage: its name, or `stage-<index>`
    /// for an unnamed stage (BuildKit's progress label).
    #[serde(default)]
    pub display_name: String,
    /// Whether a build of the targets needs this stage.
    pub needed: bool,
    /// What the stage starts from.
    pub base: Source,
    /// The base word of the `FROM` line as written, before ARG expansion.
    pub base_text: String,
    /// `FROM --platform=` after ARG expansion, if given.
    pub platform: Option<String>,
    /// Sorted, unique indices of the stages this stage depends on, over all edge kinds.
    pub depends_on: Vec<usize>,
    /// Every dependency edge of the stage (on stages, images and scratch) in instruction order.
    pub edges: Vec<Edge>,
    /// Where the `FROM` instruction is in the Dockerfile.
    pub location: Location,
    /// Where the stage name after `AS` is written; absent for an unnamed stage or when the
    /// name is broken across a continuation line. For editors (definitions, rename).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_range: Option<TextRange>,
    /// Where the base word of the `FROM` line is written (as in `base_text`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_range: Option<TextRange>,
    /// The stage's instructions in execution order, the `FROM` excluded. ONBUILD triggers
    /// of a parent stage come first, marked with `onbuild_from`.
    pub instructions: Vec<Instruction>,
}

/// What a `FROM`, a `COPY --from` or a `RUN --mount from=` refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// Another stage of the same Dockerfile, by index.
    Stage {
        /// Index of the stage in `stages`.
        stage: usize,
    },
    /// An external image, referenced as written after ARG expansion (e.g. `golang:1.22`).
    Image {
        /// The image reference.
        image: String,
    },
    /// The empty filesystem (`scratch`).
    Scratch,
}

/// The kind of a dependency edge, following dockerfilegraph's conventions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `FROM <stage|image>`: drawn solid.
    From,
    /// `COPY --from=`: drawn dashed.
    Copy,
    /// `RUN --mount=...,from=`: drawn dotted.
    Mount,
}

/// One dependency of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// How the dependency arises.
    pub kind: EdgeKind,
    /// What the stage depends on.
    pub source: Source,
    /// True when the edge comes from an ONBUILD trigger of the parent stage.
    pub onbuild: bool,
    /// 1-based line of the instruction that creates the edge.
    pub line: u32,
    /// The reference as written: the `FROM` base before ARG expansion, the `--from=` value or
    /// the mount's `from=` value. Absent for a mount without `from=` that uses a stage called
    /// `scratch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// Where `written` is in the Dockerfile (for an ONBUILD edge: in the parent's `ONBUILD`
    /// line), when known: absent when the word is quoted in parts, escaped or broken across
    /// a continuation line. Replacing this range replaces exactly the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<TextRange>,
}

/// A position range in the Dockerfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// 1-based first line.
    pub line: u32,
    /// 1-based column (in Unicode scalar values) of the first character.
    pub column: u32,
    /// 1-based last line.
    pub end_line: u32,
    /// 1-based column just past the last character.
    pub end_column: u32,
}

/// One parsed instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Instruction {
    /// 1-based line of the keyword.
    pub line: u32,
    /// 1-based last line, heredoc bodies included.
    pub end_line: u32,
    /// The instruction as written (continuation lines joined, comments dropped, heredoc bodies
    /// left out); used for progress output and as part of cache keys.
    pub text: String,
    /// For an ONBUILD trigger prepended from the parent stage: that stage's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onbuild_from: Option<usize>,
    /// The typed operation.
    #[serde(flatten)]
    pub op: Op,
}

/// The operation of an instruction. Words are kept as written (quotes included) and are
/// expanded by the runner with the stage's environment, because the base image's `ENV`
/// is only known at build time; `planner::expand` does that expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// `RUN`.
    Run {
        /// Shell or exec form.
        command: Command,
        /// `--mount=` options, in order.
        mounts: Vec<Mount>,
        /// `--network=` if given (`default`, `none`, `host`).
        network: Option<String>,
        /// `--security=` if given (`sandbox`, `insecure`).
        security: Option<String>,
        /// Heredoc bodies named on the command line, in order.
        heredocs: Vec<Heredoc>,
    },
    /// `COPY`.
    Copy(CopySpec),
    /// `ADD`.
    Add(CopySpec),
    /// `ENV key=value ...`.
    Env {
        /// The pairs, values unexpanded and still quoted as written.
        pairs: Vec<KeyValue>,
    },
    /// `ARG name[=default] ...` inside a stage.
    Arg {
        /// The declared arguments.
        args: Vec<ArgDecl>,
    },
    /// `LABEL key=value ...`.
    Label {
        /// The pairs, unexpanded.
        pairs: Vec<KeyValue>,
    },
    /// `WORKDIR path`.
    Workdir {
        /// The path, unexpanded.
        path: String,
    },
    /// `USER user[:group]`.
    User {
        /// The user, unexpanded.
        user: String,
    },
    /// `EXPOSE port[/proto] ...`.
    Expose {
        /// The ports, unexpanded.
        ports: Vec<String>,
    },
    /// `CMD`.
    Cmd {
        /// Shell or exec form.
        command: Command,
    },
    /// `ENTRYPOINT`.
    Entrypoint {
        /// Shell or exec form.
        command: Command,
    },
    /// `SHELL ["exe", "arg"]`.
    Shell {
        /// The new shell and its arguments.
        shell: Vec<String>,
    },
    /// `VOLUME`.
    Volume {
        /// The paths, unexpanded.
        paths: Vec<String>,
    },
    /// `STOPSIGNAL`.
    Stopsignal {
        /// The signal, unexpanded.
        signal: String,
    },
    /// `HEALTHCHECK`.
    Healthcheck {
        /// `NONE` disables the base image's check; otherwise the command.
        test: HealthTest,
        /// `--interval=` as written.
        interval: Option<String>,
        /// `--timeout=` as written.
        timeout: Option<String>,
        /// `--start-period=` as written.
        start_period: Option<String>,
        /// `--start-interval=` as written.
        start_interval: Option<String>,
        /// `--retries=` as written.
        retries: Option<String>,
    },
    /// `ONBUILD <instruction>`: recorded in the image config for children built later.
    Onbuild {
        /// The trigger instruction as written.
        trigger: String,
    },
    /// `MAINTAINER name` (deprecated; sets the image author).
    Maintainer {
        /// The author.
        name: String,
    },
}

/// The fields shared by `COPY` and `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopySpec {
    /// Source paths and URLs, unexpanded, in order. Heredoc sources are not listed here but
    /// in `heredocs`; they are copied after these, as BuildKit does.
    pub sources: Vec<String>,
    /// Destination path, unexpanded.
    pub dest: String,
    /// `COPY --from=` resolved (stage, image or scratch); null to copy from the context.
    pub from: Option<Source>,
    /// `--chown=` as written.
    pub chown: Option<String>,
    /// `--chmod=` as written.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents` (COPY only).
    pub parents: bool,
    /// `--exclude=` patterns, in order.
    pub exclude: Vec<String>,
    /// `--checksum=` (ADD only).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only).
    pub keep_git_dir: bool,
    /// `--unpack=` (ADD only); null means the default (unpack local archives).
    pub unpack: Option<bool>,
    /// Heredoc bodies used as sources, in order.
    pub heredocs: Vec<Heredoc>,
}

/// Shell form (run by the stage's `SHELL`, default `/bin/sh -c`) or exec form (JSON array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "form", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// The text handed to the shell, continuation lines joined.
    Shell {
        /// The script.
        script: String,
    },
    /// The argument vector of the JSON form.
    Exec {
        /// The arguments.
        args: Vec<String>,
    },
}

/// The command of a `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "form", rename_all = "snake_case", deny_unknown_fields)]
pub enum HealthTest {
    /// `HEALTHCHECK NONE`.
    None,
    /// `HEALTHCHECK CMD script` (run as `CMD-SHELL`).
    Shell {
        /// The script.
        script: String,
    },
    /// `HEALTHCHECK CMD ["exe", ...]`.
    Exec {
        /// The arguments.
        args: Vec<String>,
    },
}

/// A `key=value` pair of `ENV` or `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// The key, unexpanded.
    pub key: String,
    /// The value, unexpanded (quotes as written).
    pub value: String,
}

/// One name of an `ARG` instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgDecl {
    /// The name.
    pub name: String,
    /// The default, unexpanded; null when none is given.
    pub default: Option<String>,
}

/// A here-document attached to `RUN`, `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heredoc {
    /// The delimiter word, quotes removed (`EOF`).
    pub name: String,
    /// The body, every line ending in a newline; with `<<-` leading tabs are already removed.
    pub body: String,
    /// Whether variables in the body are expanded (false when the delimiter was quoted).
    pub expand: bool,
    /// The file descriptor before `<<` (as in `3<<EOF`), if any.
    pub fd: Option<u32>,
}

/// One `RUN --mount=` option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// `type=`: `bind` (default), `cache`, `tmpfs`, `secret` or `ssh`; a value with a variable is
    /// kept as written (the runner expands it with the stage's ARG and ENV).
    #[serde(rename = "type")]
    pub mount_type: String,
    /// `from=` resolved; for a cache mount without `from=`, the stage called `scratch` when
    /// there is one (BuildKit starts such a cache from it); null for the build context (bind) or
    /// an empty directory (cache).
    pub from: Option<Source>,
    /// `source=`/`src=`, unexpanded.
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`, unexpanded.
    pub target: Option<String>,
    /// Other options (`id`, `sharing`, `ro`, `rw`, `required`, `mode`, `uid`, `gid`, `size`,
    /// `env`) with their values as written; a bare key has the value `true`.
    pub options: BTreeMap<String, String>,
}

/// The result of planning: a plan when the file has no errors, and every diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The plan; null when there are errors.
    pub plan: Option<Plan>,
    /// Errors, warnings and infos, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}
