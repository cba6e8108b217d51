//! Command line: `runner PLAN.json --context DIR -t TAG ...` and `runner build DIR -f Dockerfile`.
//!
//! Input: the process arguments.
//! Output: a build through [`crate::build::build`], progress, the size summary, an exit code.
//! Invariant: the plan's `version` is checked before anything else is read from it; bad JSON
//! is reported with the JSON path of the problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use planner::Plan;

use crate::build::{build, BuildOptions};
use crate::context::BuildContext;
use crate::engine::Engine;
use crate::error::{Result, RunnerError};
use crate::progress::{Progress, ProgressMode};

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
    Build(BuildArgs),
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
    /// How many containers may run at once (default: number of CPUs).
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
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    let (plan, context_dir, dockerfile, common) = match cli.command {
        Some(CliCommand::Build(args)) => {
            let dockerfile = args
                .file
                .clone()
                .unwrap_or_else(|| args.dir.join("Dockerfile"));
            let build_args = parse_build_args(&args.common.build_args)?;
            let plan = plan_dockerfile(&dockerfile, &args.targets, &build_args)?;
            (plan, args.dir.clone(), Some(dockerfile), args.common)
        }
        None => {
            let path = cli.plan.ok_or_else(|| {
                RunnerError::Usage(
                    "give a plan file (runner PLAN.json) or use `runner build DIR`; see --help"
                        .to_string(),
                )
            })?;
            let plan = load_plan(&path)?;
            let context = cli
                .common
                .context
                .clone()
                .unwrap_or_else(|| PathBuf::from("."));
            (plan, context, cli.common.dockerfile.clone(), cli.common)
        }
    };
    let options = BuildOptions {
        no_cache: common.no_cache,
        jobs: common
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        tags: common.tags.clone(),
        build_args: parse_build_args(&common.build_args)?,
        secrets: parse_secrets(&common.secrets)?,
        isolate_runs: common.isolate_runs,
    };
    let context = BuildContext::open(&context_dir, dockerfile.as_deref())
        .map_err(|e| RunnerError::Context(e.to_string()))?;
    let engine = Engine::connect(common.engine.as_deref()).await?;
    let progress = Progress::new(common.progress);
    match build(engine, plan, Arc::new(context), options, progress.clone()).await {
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

/// Reads and checks a plan file: `version` first, then the whole document with JSON paths in
/// errors.
pub fn load_plan(path: &Path) -> Result<Plan> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| RunnerError::io("reading the plan from standard input", e))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| RunnerError::io(format!("reading plan {}", path.display()), e))?
    };
    parse_plan(&text, &path.display().to_string())
}

/// Parses plan JSON text; `origin` names it in errors.
pub fn parse_plan(text: &str, origin: &str) -> Result<Plan> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| RunnerError::Plan(format!("{origin} is not valid JSON: {e}")))?;
    match value.get("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(planner::plan::PLAN_VERSION)) => {}
        Some(other) => {
            return Err(RunnerError::Plan(format!(
                "{origin} has plan version {other}, but this runner reads version {}; re-create the plan with a matching planner",
                planner::plan::PLAN_VERSION
            )))
        }
        None => {
            return Err(RunnerError::Plan(format!(
                "{origin} has no \"version\" field; expected a plan JSON of version {} from `planner plan`",
                planner::plan::PLAN_VERSION
            )))
        }
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        RunnerError::Plan(format!("{origin}: at {path}: {}", e.into_inner()))
    })
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
    };
    let outcome = planner::plan(&text, &options);
    match outcome.plan {
        Some(plan) => Ok(plan),
        None => {
            let errors: Vec<String> = outcome
                .diagnostics
                .iter()
                .filter(|d| d.severity == planner::Severity::Error)
                .map(|d| format!("{}:{}: {}", dockerfile.display(), d.line, d.message))
                .collect();
            Err(RunnerError::Plan(errors.join("\n")))
        }
    }
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
    fn plan_errors_name_version_and_path() {
        let err = parse_plan(r#"{"version": 2}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("version 2") && err.contains("version 1"),
            "{err}"
        );
        let err = parse_plan(r#"{"targets": []}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no \"version\""), "{err}");
        let err = parse_plan(r#"{"version": 1, "targets": ["x"]}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("targets[0]"), "{err}");
        assert!(parse_plan("{", "p.json")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }

    #[test]
    fn build_args_and_secrets() {
        let args = parse_build_args(&["A=1".into(), "B=x=y".into()]).unwrap();
        assert_eq!(args["B"], "x=y");
        assert!(parse_build_args(&["=1".into()]).is_err());
        assert!(parse_secrets(&["id=x".into()]).is_err());
        assert!(parse_secrets(&["id=x,src=/nonexistent/file".into()]).is_err());
    }
}
