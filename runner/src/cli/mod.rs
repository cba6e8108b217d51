//! Command line: `runner PLAN.json --context DIR -t TAG ...` and `runner build DIR -f Dockerfile`.
//!
//! Input: the process arguments.
//! Output: a build through [`crate::build::build`], progress, the size summary, an exit code.
//! Invariant: the signal handlers are installed before anything else; the plan's `version` is
//! checked before anything else is read from it, and the whole plan is checked before anything
//! runs; bad JSON is reported with the JSON path of the problem.
//!
//! This module runs `runner prune`, the engine backend's build or the BuildKit backend;
//! `args.rs` declares the arguments, `inputs.rs` reads and checks the plan and the files.

mod agents;
mod args;
mod inputs;
mod stdin_input;

use std::sync::Arc;

use planner::Plan;

use self::agents::KeyAgents;
use self::inputs::{
    parse_add_hosts, parse_build_args, parse_labels, parse_secrets, parse_ssh, read_inputs, Inputs,
};
use crate::build::build;
use crate::context::BuildContext;
use crate::engine::Engine;
use crate::error::{Result, RunnerError};
use crate::exec::ctx::BuildOptions;
use crate::progress::{Progress, ProgressMode};
use crate::prune::{prune, summary_lines, PruneOptions};
use crate::signals::{EarlySignals, Signals};

pub use self::args::{Backend, BuildArgs, Cli, CliCommand, CommonArgs, PruneArgs};
pub use self::inputs::load_plan;

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
    // The options of `runner build` or of the plan form, before anything is read, so that a
    // plan that fails to load leaves no stale `--iidfile` either.
    let common = build_args.as_ref().map_or(&cli.common, |args| &args.common);
    let tar_to_stdout = common.output.as_ref().is_some_and(|o| o.is_stdout());
    if tar_to_stdout {
        if common.progress_mode() == ProgressMode::Json {
            return Err(RunnerError::Usage(
                "--output - writes the tar to standard output, where --progress json writes too: use type=tar,dest=FILE, or another --progress".to_string(),
            ));
        }
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return Err(RunnerError::Usage(
                "--output -: standard output is a terminal; redirect it (> rootfs.tar) or use type=tar,dest=FILE".to_string(),
            ));
        }
    }
    // A tag the engine would refuse fails now, as `docker build -t` refuses it, not after the
    // whole build.
    for tag in &common.tags {
        let problem = match planner::validate_reference(tag) {
            Err(reason) => Some(reason),
            Ok(()) if tag.contains('@') => {
                Some("refusing to create a tag with a digest reference".to_string())
            }
            Ok(()) => None,
        };
        if let Some(reason) = problem {
            return Err(RunnerError::Usage(format!(
                "invalid argument {tag:?} for \"-t, --tag\": {reason}; use name[:tag] in lowercase"
            )));
        }
    }
    let finish = Finish {
        iidfile: common.iidfile.clone(),
        id_on_stdout: common.progress_mode() != ProgressMode::Json && !tar_to_stdout,
    };
    finish.clear()?;
    // `runner build` plans on the engine's platform, as BuildKit takes its worker's (a daemon
    // named by --buildkit-addr is not asked: linux/amd64 then). An engine that cannot be reached
    // is reported by the build itself, after the Dockerfile has been checked.
    let build_platform = match &build_args {
        Some(_) if common.buildkit_addr.is_none() => tokio::select! {
            platform = engine_platform(common.engine.as_deref()) => platform,
            signal = signals.recv() => return Err(RunnerError::Interrupted { signal }),
        },
        _ => None,
    };
    // Read on a blocking thread, so that a signal stops the runner also while it waits for a
    // Dockerfile or context on standard input (or a FIFO) that does not end.
    let mut reading = tokio::task::spawn_blocking(move || {
        read_inputs(build_args, cli.plan, cli.common, build_platform)
    });
    let inputs = tokio::select! {
        read = &mut reading => read.map_err(|e| RunnerError::io(
            "reading the build's inputs",
            std::io::Error::other(e.to_string()),
        ))??,
        signal = signals.recv() => {
            // A context archive being unpacked from standard input stops at its next read, and
            // its directory goes as the reading ends (a read of standard input that does not
            // end has made no directory: it is not waited for).
            if stdin_input::stop() {
                let _ = tokio::time::timeout(STOP_GRACE, reading).await;
            }
            return Err(RunnerError::Interrupted { signal });
        }
    };
    check_entitlements(&inputs.plan, &inputs.common.allow)?;
    if inputs.common.backend == Backend::Buildkit {
        let image = run_buildkit(inputs, &mut signals).await?;
        return finish.image(&image);
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
        agents: _agents,
        stdin_context: _stdin_context,
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
            finish.image(&outcome.image)
        }
        Err(e) => {
            progress.build_done(false, None, &[]);
            Err(e)
        }
    }
}

/// How long a signal waits for the reading of the build's inputs to end.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What a successful build leaves besides its image: the id on standard output (unless the
/// progress is JSON, which carries it, or the output is a tar there) and in the `--iidfile`.
struct Finish {
    iidfile: Option<std::path::PathBuf>,
    /// Whether standard output is free for the id (not JSON events, not a tar).
    id_on_stdout: bool,
}

impl Finish {
    /// Removes an earlier `--iidfile`, so that a failed build leaves no stale id (as
    /// `docker build` does).
    fn clear(&self) -> Result<()> {
        let Some(path) = &self.iidfile else {
            return Ok(());
        };
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RunnerError::io(
                format!("removing the old --iidfile {}", path.display()),
                e,
            )),
            _ => Ok(()),
        }
    }

    /// Prints the image id and writes the `--iidfile` (the id alone, no newline, as
    /// `docker build` writes it); the exit code of a successful build.
    fn image(&self, image: &str) -> Result<i32> {
        if self.id_on_stdout && !image.is_empty() {
            // A reader that went away (`| head`) is no reason to fail a finished build.
            crate::progress::stdout_line(image);
        }
        if let Some(path) = self.iidfile.as_ref() {
            if image.is_empty() {
                // A standalone BuildKit's exporter may report no id: nothing true to write.
                crate::progress::stderr_line(format_args!(
                    "warning: the build reported no image id; --iidfile {} was not written",
                    path.display()
                ));
                return Ok(0);
            }
            std::fs::write(path, image).map_err(|e| {
                RunnerError::io(format!("writing the --iidfile {}", path.display()), e)
            })?;
        }
        Ok(0)
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
        crate::progress::stdout_line(line);
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
    /// The agents `--ssh` key files were loaded into, stopped when the build ends.
    agents: KeyAgents,
    /// The context read from standard input, removed when the build ends.
    stdin_context: Option<stdin_input::StdinContext>,
}

/// Refuses a plan whose needed stages have a `RUN --security=insecure` unless `--allow
/// security.insecure` grants it, as BuildKit refuses it ("entitlement security.insecure is not
/// allowed"), before anything is built (a base image's ONBUILD trigger is refused when it runs).
fn check_entitlements(plan: &Plan, allow: &[String]) -> Result<()> {
    if allows_insecure(allow) {
        return Ok(());
    }
    for stage in plan.stages.iter().filter(|stage| stage.needed) {
        for instruction in &stage.instructions {
            if let planner::plan::Op::Run {
                security: Some(security),
                ..
            } = &instruction.op
            {
                if security == "insecure" {
                    return Err(RunnerError::Instruction {
                        stage: stage.display_name.clone(),
                        line: instruction.line,
                        source: crate::error::StepError::Invalid(
                            crate::steps::run::INSECURE_NOT_ALLOWED.to_string(),
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Whether `--allow` grants `security.insecure`.
fn allows_insecure(allow: &[String]) -> bool {
    allow.iter().any(|a| a == "security.insecure")
}

/// The engine's platform, or `None` when it cannot be asked.
async fn engine_platform(engine: Option<&str>) -> Option<String> {
    let engine = Engine::connect(engine).await.ok()?;
    engine.platform().await.ok()
}

/// Opens the context and connects to the engine.
async fn prepare(inputs: Inputs) -> Result<Prepared> {
    let Inputs {
        plan,
        context_dir,
        dockerfile,
        common,
        stdin_context,
        platform,
    } = inputs;
    let (agents, ssh) =
        KeyAgents::start(parse_ssh(&common.ssh, std::env::var_os("SSH_AUTH_SOCK"))?)?;
    let options = BuildOptions {
        no_cache: common.no_cache,
        jobs: common.jobs,
        tags: common.tags.clone(),
        build_args: parse_build_args(&common.build_args)?,
        secrets: parse_secrets(&common.secrets)?,
        ssh,
        network: common.network.clone().filter(|n| n != "default"),
        add_hosts: parse_add_hosts(&common.add_hosts)?,
        isolate_runs: common.isolate_runs,
        allow_insecure: allows_insecure(&common.allow),
        record_file: common.record.clone(),
        report_file: common.report.clone(),
        output: common.output.clone(),
        labels: parse_labels(&common.labels)?,
        platform,
    };
    let context = if let Some(stdin_context) = &stdin_context {
        BuildContext::open_for_one_build(
            &context_dir,
            dockerfile.as_deref(),
            stdin_context.shown(),
        )?
    } else {
        BuildContext::open(&context_dir, dockerfile.as_deref())?
    };
    let engine = Engine::connect(common.engine.as_deref())
        .await
        .map_err(|(host, source)| RunnerError::Connect { host, source })?;
    Ok(Prepared {
        plan,
        context,
        options,
        engine,
        progress: Progress::new(common.progress_mode()),
        agents,
        stdin_context,
    })
}

/// Performs the plan with the BuildKit backend.
#[cfg(feature = "buildkit")]
async fn run_buildkit(inputs: Inputs, signals: &mut Signals) -> Result<String> {
    let common = &inputs.common;
    if common.record.is_some() || common.report.is_some() {
        return Err(RunnerError::Usage(
            "--record and --report describe the engine backend's steps; drop them with --backend buildkit, or use --backend engine".to_string(),
        ));
    }
    if common.output.is_some() && !common.tags.is_empty() {
        return Err(RunnerError::Usage(
            "with --backend buildkit, --output exports the files instead of an image (as docker build --output does), so there is nothing to tag: drop -t, or use --backend engine for both".to_string(),
        ));
    }
    if !common.ssh.is_empty() {
        return Err(RunnerError::Usage(
            "--ssh forwards the agent through the engine backend; drop --backend buildkit (optional ssh mounts build there without an agent, as in BuildKit)".to_string(),
        ));
    }
    if common.jobs.is_some() || common.isolate_runs {
        crate::progress::stderr_line("warning: --jobs and --isolate-runs apply to the engine backend; BuildKit schedules its own steps");
    }
    let request = crate::buildkit::command::Request {
        plan: inputs.plan,
        context_dir: inputs.context_dir,
        dockerfile: inputs.dockerfile,
        tags: common.tags.clone(),
        build_args: parse_build_args(&common.build_args)?,
        labels: parse_labels(&common.labels)?,
        secrets: parse_secrets(&common.secrets)?,
        no_cache: common.no_cache,
        output: common.output.clone(),
        network: common.network.clone().filter(|n| n != "default"),
        add_hosts: parse_add_hosts(&common.add_hosts)?,
        engine: common.engine.clone(),
        buildkit_addr: common.buildkit_addr.clone(),
        buildkit_tls: common.buildkit_tls.clone(),
        progress: common.progress_mode(),
    };
    Ok(crate::buildkit::command::run(request, signals).await?)
}

/// Without the `buildkit` feature there is no BuildKit backend to run.
#[cfg(not(feature = "buildkit"))]
async fn run_buildkit(_inputs: Inputs, _signals: &mut Signals) -> Result<String> {
    Err(RunnerError::Usage(
        "this runner was built without the `buildkit` feature: rebuild it with default features, or use --backend engine".to_string(),
    ))
}
