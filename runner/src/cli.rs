//! Command line: `runner PLAN.json --context DIR -t TAG ...` and `runner build DIR -f Dockerfile`.
//!
//! Input: the process arguments.
//! Output: a build through [`crate::build::build`], progress, the size summary, an exit code.
//! Invariant: the signal handlers are installed before anything else; the plan's `version` is
//! checked before anything else is read from it, and the whole plan is checked before anything
//! runs; bad JSON is reported with the JSON path of the problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use planner::Plan;

use crate::build::build;
use crate::context::BuildContext;
use crate::engine::Engine;
use crate::error::{Result, RunnerError};
use crate::exec::ctx::BuildOptions;
use crate::plan_check;
use crate::progress::{Progress, ProgressMode};
use crate::prune::{prune, summary_lines, PruneOptions};
use crate::signals::{EarlySignals, Signals};

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
    /// The build context directory.
    pub dir: PathBuf,
    /// The Dockerfile (default: DIR/Dockerfile).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Target stage(s); default: the last stage.
    #[arg(long = "target")]
    pub targets: Vec<String>,
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
    /// Secret for `RUN --mount=type=secret`: id=ID,src=FILE; repeatable.
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
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
}

/// What performs the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The runner's own executor on the Docker engine.
    Engine,
    /// BuildKit, through LLB.
    Buildkit,
}

/// Runs the command line; returns the process exit code. `early` holds the signals that came
/// before the runtime existed.
pub async fn run(cli: Cli, early: EarlySignals) -> Result<i32> {
    // Installed first, so a signal at any point stops the runner the same clean way.
    let mut signals = Signals::install(early)
        .map_err(|e| RunnerError::io("installing the signal handlers", e))?;
    let build_args = match cli.command {
        Some(CliCommand::Prune(args)) => {
            return tokio::select! {
                result = run_prune(&args) => result,
                signal = signals.recv() => Err(RunnerError::Interrupted { signal }),
            };
        }
        Some(CliCommand::Build(args)) => Some(*args),
        None => None,
    };
    let inputs = read_inputs(build_args, cli.plan, cli.common)?;
    if inputs.common.backend == Backend::Buildkit {
        return run_buildkit(inputs, &mut signals).await;
    }
    let prepared = tokio::select! {
        result = prepare(inputs) => result?,
        signal = signals.recv() => return Err(RunnerError::Interrupted { signal }),
    };
    let Prepared {
        plan,
        context,
        options,
        engine,
        progress,
    } = prepared;
    match build(
        engine,
        plan,
        Arc::new(context),
        options,
        progress.clone(),
        &mut signals,
    )
    .await
    {
        Ok(outcome) => {
            progress.build_done(true, Some(&outcome.image), &outcome.summary);
            if progress.mode() != ProgressMode::Json {
                println!("{}", outcome.image);
            }
            Ok(0)
        }
        Err(e) => {
            progress.build_done(false, None, &[]);
            Err(e)
        }
    }
}

/// `runner prune`: prints what went and what stayed.
async fn run_prune(args: &PruneArgs) -> Result<i32> {
    let engine = Engine::connect(args.engine.as_deref())
        .await
        .map_err(|(host, source)| RunnerError::Connect { host, source })?;
    let options = PruneOptions {
        all: args.all,
        until: args.until,
        dry_run: args.dry_run,
    };
    let summary = prune(&engine, &options, std::time::SystemTime::now()).await?;
    for line in summary_lines(&summary, args.dry_run) {
        println!("{line}");
    }
    Ok(0)
}

/// What a build starts from.
struct Prepared {
    plan: Plan,
    context: BuildContext,
    options: BuildOptions,
    engine: Engine,
    progress: Progress,
}

/// The checked plan and where its files are.
struct Inputs {
    plan: Plan,
    context_dir: PathBuf,
    dockerfile: Option<PathBuf>,
    common: CommonArgs,
}

/// Plans or reads the plan.
fn read_inputs(
    build_args: Option<BuildArgs>,
    plan_file: Option<PathBuf>,
    common: CommonArgs,
) -> Result<Inputs> {
    let (plan, context_dir, dockerfile, common) = match build_args {
        Some(args) => {
            let dockerfile = match &args.file {
                Some(file) => file.clone(),
                None => default_dockerfile(&args.dir)?,
            };
            let build_args = parse_build_args(&args.common.build_args)?;
            let plan = plan_dockerfile(&dockerfile, &args.targets, &build_args)?;
            (plan, args.dir.clone(), Some(dockerfile), args.common)
        }
        None => {
            let path = plan_file.ok_or_else(|| {
                RunnerError::Usage(
                    "give a plan file (runner PLAN.json) or use `runner build DIR`; see --help"
                        .to_string(),
                )
            })?;
            let plan = load_plan(&path)?;
            let context = common.context.clone().unwrap_or_else(|| PathBuf::from("."));
            let dockerfile = match &common.dockerfile {
                Some(file) => Some(file.clone()),
                None => plan_dockerfile_path(&plan, &context),
            };
            (plan, context, dockerfile, common)
        }
    };
    Ok(Inputs {
        plan,
        context_dir,
        dockerfile,
        common,
    })
}

/// Opens the context and connects to the engine.
async fn prepare(inputs: Inputs) -> Result<Prepared> {
    let Inputs {
        plan,
        context_dir,
        dockerfile,
        common,
    } = inputs;
    let options = BuildOptions {
        no_cache: common.no_cache,
        jobs: common.jobs,
        tags: common.tags.clone(),
        build_args: parse_build_args(&common.build_args)?,
        secrets: parse_secrets(&common.secrets)?,
        isolate_runs: common.isolate_runs,
        record_file: common.record.clone(),
        report_file: common.report.clone(),
    };
    let context = BuildContext::open(&context_dir, dockerfile.as_deref())?;
    let engine = Engine::connect(common.engine.as_deref())
        .await
        .map_err(|(host, source)| RunnerError::Connect { host, source })?;
    Ok(Prepared {
        plan,
        context,
        options,
        engine,
        progress: Progress::new(common.progress),
    })
}

/// Performs the plan with the BuildKit backend.
#[cfg(feature = "buildkit")]
async fn run_buildkit(inputs: Inputs, signals: &mut Signals) -> Result<i32> {
    let common = &inputs.common;
    if common.record.is_some() || common.report.is_some() {
        return Err(RunnerError::Usage(
            "--record and --report describe the engine backend's steps; drop them with --backend buildkit, or use --backend engine".to_string(),
        ));
    }
    if common.jobs.is_some() || common.isolate_runs {
        eprintln!("warning: --jobs and --isolate-runs apply to the engine backend; BuildKit schedules its own steps");
    }
    let request = crate::buildkit::command::Request {
        plan: inputs.plan,
        context_dir: inputs.context_dir,
        dockerfile: inputs.dockerfile,
        tags: common.tags.clone(),
        build_args: parse_build_args(&common.build_args)?,
        secrets: parse_secrets(&common.secrets)?,
        no_cache: common.no_cache,
        engine: common.engine.clone(),
        buildkit_addr: common.buildkit_addr.clone(),
        buildkit_tls: common.buildkit_tls.clone(),
        progress: common.progress,
    };
    Ok(crate::buildkit::command::run(request, signals).await?)
}

/// Without the `buildkit` feature there is no BuildKit backend to run.
#[cfg(not(feature = "buildkit"))]
async fn run_buildkit(_inputs: Inputs, _signals: &mut Signals) -> Result<i32> {
    Err(RunnerError::Usage(
        "this runner was built without the `buildkit` feature: rebuild it with default features, or use --backend engine".to_string(),
    ))
}

/// The Dockerfile of `runner build DIR` without `-f`: `DIR/Dockerfile`, else `DIR/dockerfile`
/// (as docker looks for it).
fn default_dockerfile(dir: &Path) -> Result<PathBuf> {
    let upper = dir.join("Dockerfile");
    if upper.exists() {
        return Ok(upper);
    }
    let lower = dir.join("dockerfile");
    if lower.exists() {
        return Ok(lower);
    }
    Err(RunnerError::Usage(format!(
        "no Dockerfile in {}: add one, or name it with -f FILE",
        dir.display()
    )))
}

/// The Dockerfile a plan names, found relative to the working directory or the context; warns
/// when the plan names one that cannot be found (its `.dockerignore` is then not applied).
fn plan_dockerfile_path(plan: &Plan, context: &Path) -> Option<PathBuf> {
    let recorded = plan.dockerfile.as_ref()?;
    let path = PathBuf::from(recorded);
    let candidates = if path.is_absolute() {
        vec![path.clone()]
    } else {
        vec![path.clone(), context.join(&path)]
    };
    match candidates.into_iter().find(|p| p.is_file()) {
        Some(found) => Some(found),
        None => {
            eprintln!(
                "warning: the plan was made from {recorded}, which is not found here; its .dockerignore is not applied (pass --dockerfile FILE)"
            );
            None
        }
    }
}

/// Reads and checks a plan file (`-` for standard input).
pub fn load_plan(path: &Path) -> Result<Plan> {
    let (text, origin) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| RunnerError::io("reading the plan from standard input", e))?;
        (text, "<stdin>".to_string())
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunnerError::io(format!("reading plan {}", path.display()), e))?;
        (text, path.display().to_string())
    };
    plan_check::parse(&text).map_err(|source| RunnerError::Plan { origin, source })
}

/// Plans a Dockerfile with the planner library.
fn plan_dockerfile(
    dockerfile: &Path,
    targets: &[String],
    build_args: &BTreeMap<String, String>,
) -> Result<Plan> {
    let text = std::fs::read_to_string(dockerfile)
        .map_err(|e| RunnerError::io(format!("reading {}", dockerfile.display()), e))?;
    let options = planner::Options {
        targets: targets.to_vec(),
        build_args: build_args.clone(),
        platform: None,
        dockerfile: Some(dockerfile.display().to_string()),
    };
    let outcome = planner::plan(&text, &options);
    let file = dockerfile.display().to_string();
    let plan = outcome.plan.ok_or_else(|| RunnerError::Dockerfile {
        errors: outcome
            .diagnostics
            .iter()
            .filter(|d| d.severity == planner::Severity::Error)
            .map(|d| format!("{file}:{}:{}: {}", d.line, d.column, d.message))
            .collect::<Vec<_>>()
            .join("\n"),
        file: file.clone(),
    })?;
    plan_check::check(&plan).map_err(|source| RunnerError::Plan {
        origin: file,
        source,
    })?;
    Ok(plan)
}

fn parse_build_args(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for arg in args {
        match arg.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                map.insert(k.to_string(), v.to_string());
            }
            None if !arg.is_empty() => {
                if let Ok(value) = std::env::var(arg) {
                    map.insert(arg.clone(), value);
                }
            }
            _ => {
                return Err(RunnerError::Usage(format!(
                    "--build-arg {arg:?}: use KEY=VALUE"
                )))
            }
        }
    }
    Ok(map)
}

fn parse_secrets(specs: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut map = BTreeMap::new();
    for spec in specs {
        let mut id = None;
        let mut src = None;
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("type", "file")) => {}
                _ => {
                    return Err(RunnerError::Usage(format!(
                        "--secret {spec:?}: use id=ID,src=FILE"
                    )))
                }
            }
        }
        let id = id.ok_or_else(|| RunnerError::Usage(format!("--secret {spec:?} has no id=")))?;
        let src =
            src.ok_or_else(|| RunnerError::Usage(format!("--secret {spec:?} has no src=FILE")))?;
        if !src.is_file() {
            return Err(RunnerError::Usage(format!(
                "--secret {id}: {} is not a readable file",
                src.display()
            )));
        }
        map.insert(id, src);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_and_secrets() {
        let args = parse_build_args(&["A=1".into(), "B=x=y".into()]).unwrap();
        assert_eq!(args["B"], "x=y");
        assert!(parse_build_args(&["=1".into()]).is_err());
        assert!(parse_secrets(&["id=x".into()]).is_err());
        assert!(parse_secrets(&["id=x,src=/nonexistent/file".into()]).is_err());
    }
}
