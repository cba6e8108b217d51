//! The command line's shape: the plan form (`runner PLAN.json …`), `runner build DIR` and
//! `runner prune`, with every option and its help text (clap derive).
//!
//! Input: the process arguments, as clap parses them into these types.
//! Output: [`Cli`] and the argument structs.
//! Invariant: declarations only: nothing here reads a file, the environment or the engine; the
//! `///` comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::progress::ProgressMode;

/// Performs a stageplan plan (a multi-stage Docker build) on a Docker engine.
///
/// Exit codes: 0 built; 1 a build step failed; 2 usage, plan or engine error; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "runner", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The plan JSON (from `planner plan`), or `-` for standard input.
    pub plan: Option<PathBuf>,
    /// Build options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Plans a Dockerfile with the planner library and builds it in one step.
    Build(Box<BuildArgs>),
    /// Removes step-cache entries from the engine: by default those no stage's last build
    /// uses (as `docker builder prune` removes BuildKit's unused cache).
    Prune(PruneArgs),
}

/// `runner prune` arguments.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove every cache entry, every stage memory and every `RUN --mount=type=cache` volume
    /// no container uses, not only the entries no stage's last build uses.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only remove what was made more than DURATION ago (`24h`, `2h30m`, `90s`).
    #[arg(long = "until", value_name = "DURATION", value_parser = parse_duration)]
    pub until: Option<std::time::Duration>,
    /// Say what would be removed; remove nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Engine address (unix:///path, tcp://host:port); default: DOCKER_HOST or the local socket.
    #[arg(long = "engine")]
    pub engine: Option<String>,
}

/// A duration as `--until` takes it.
fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: give a duration such as 24h, 2h30m or 90s"))
}

/// `runner build` arguments.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context directory; `-` reads a context archive (tar, gzip, bzip2 or xz), or a
    /// Dockerfile with an empty context, from standard input (as `docker build -`).
    pub dir: PathBuf,
    /// The Dockerfile (default: DIR/Dockerfile); `-` reads it from standard input.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Target stage(s); default: the last stage.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Target platform `os/arch[/variant]` (as `docker build --platform`): `TARGETPLATFORM`,
    /// `TARGETOS`... and the platform base images must have; the runner does not emulate, so a
    /// base image the engine holds for another platform is an error.
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Build options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by both forms.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// The build context directory (plan form; default `.`).
    #[arg(long = "context")]
    pub context: Option<PathBuf>,
    /// The Dockerfile the plan came from (plan form), for `<Dockerfile>.dockerignore`.
    #[arg(long = "dockerfile")]
    pub dockerfile: Option<PathBuf>,
    /// Tag the (last) target image as NAME[:TAG]; repeatable.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// KEY=VALUE build argument (KEY alone takes the value from the environment); repeatable.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Secret for `RUN --mount=type=secret`: id=ID,src=FILE or id=ID,env=VAR (as `docker build
    /// --secret`); repeatable.
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// The network of RUN steps without `--network` of their own: `default`, `host` or `none`
    /// (as `docker build --network`).
    #[arg(long = "network", value_name = "MODE", value_parser = ["default", "host", "none"])]
    pub network: Option<String>,
    /// Grant an entitlement, as `docker buildx build --allow`: `security.insecure` lets
    /// `RUN --security=insecure` run privileged (refused without it, as BuildKit refuses it);
    /// `network.host` is granted anyway, as the engine's builder grants it. Repeatable.
    #[arg(long = "allow", value_name = "ENTITLEMENT", value_parser = ["security.insecure", "network.host"])]
    pub allow: Vec<String>,
    /// `HOST:IP` in the /etc/hosts of RUN steps (as `docker build --add-host`); repeatable.
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
    /// SSH agent for `RUN --mount=type=ssh`: ID (the agent at $SSH_AUTH_SOCK, as `default`),
    /// ID=SOCKET, or ID=KEYFILE[,KEYFILE...] (loaded into an agent of the build's own);
    /// repeatable.
    #[arg(long = "ssh", value_name = "ID[=SOCKET|KEYFILE]")]
    pub ssh: Vec<String>,
    /// How many RUN steps may run at once (default: no limit, as BuildKit).
    #[arg(long = "jobs", short = 'j')]
    pub jobs: Option<usize>,
    /// Do not use cached steps.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Run every RUN step in its own fresh container (default: consecutive RUN steps of a
    /// stage share one container, each as an exec, which is faster).
    #[arg(long = "isolate-runs")]
    pub isolate_runs: bool,
    /// Progress output.
    #[arg(long = "progress", value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// No progress output: errors, and on success the image id, as `docker build -q`
    /// (`--progress quiet`).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Engine address (unix:///path, tcp://host:port); default: DOCKER_HOST or the local socket.
    #[arg(long = "engine")]
    pub engine: Option<String>,
    /// What performs the plan: `engine` (step by step through the Engine API) or `buildkit`
    /// (as LLB on BuildKit: the engine's own, or the daemon of --buildkit-addr).
    #[arg(long = "backend", value_enum, default_value = "engine")]
    pub backend: Backend,
    /// With --backend buildkit: a standalone buildkitd, unix:///path or tcp://host:port,
    /// instead of the engine's BuildKit.
    #[arg(long = "buildkit-addr")]
    pub buildkit_addr: Option<String>,
    /// With --buildkit-addr tcp://...: mutual TLS as buildx's remote driver takes it,
    /// cacert=FILE,cert=FILE,key=FILE[,servername=NAME].
    #[arg(long = "buildkit-tls")]
    pub buildkit_tls: Option<String>,
    /// Write the build record (JSON: each step cached or ran and why, times, sizes, the critical
    /// path, the leak report) to FILE.
    #[arg(long = "record", value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Write the build report (one self-contained HTML page: the stage graph coloured by time,
    /// the critical path, cache hits and misses, sizes, the slowest steps) to FILE.
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the image id of the (last) target to FILE, as `docker build --iidfile` does: the
    /// file is removed first, so a failed build leaves none.
    #[arg(long = "iidfile", value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// `KEY=VALUE` label on the (last) target's image, over the Dockerfile's (`KEY` alone: an
    /// empty value), as `docker build --label`; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Write the (last) target's files out, as `docker build --output` does: `DIR` or
    /// `type=local,dest=DIR` (a directory: modes, times and links kept; owned by you), or
    /// `type=tar,dest=FILE` or `-` (one tar, owners kept; `-` on standard output).
    #[arg(short = 'o', long = "output", value_name = "DEST", value_parser = parse_output)]
    pub output: Option<crate::export::Output>,
}

impl CommonArgs {
    /// The progress asked for: `-q` is `--progress quiet`.
    pub fn progress_mode(&self) -> ProgressMode {
        if self.quiet {
            ProgressMode::Quiet
        } else {
            self.progress
        }
    }
}

fn parse_output(value: &str) -> Result<crate::export::Output, String> {
    crate::export::Output::parse(value)
}

/// What performs the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The runner's own executor on the Docker engine.
    Engine,
    /// BuildKit, through LLB.
    Buildkit,
}
