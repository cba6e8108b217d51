//! The `planner` command line: plan, check and graph Dockerfiles, and serve editors (`lsp`).
//!
//! Input: Dockerfile paths (or `-` for stdin) and options. Output: plan JSON, check reports or
//! graph text on stdout; diagnostics on stderr as `file:line:col: severity[Code]: message`; the
//! language server speaks JSON-RPC on stdin/stdout. The commands also read the `.dockerignore`
//! BuildKit would apply (see `cli::input`); a Dockerfile is read up to 16 MiB.
//! Exit codes: 0 success, 1 the Dockerfile has errors (for `check`: a finding at or above
//! `--failure-threshold`), 2 usage or I/O error (a Dockerfile over 16 MiB included).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use cli::check::CheckArgs;
use cli::input::{
    context_files, options, print_diagnostics, read_dockerfile, write_stdout, PlanOptions,
};
use planner::graph::{render, GraphFormat};

/// Planning is bound by allocation (a plan owns every word of the file as its own string);
/// mimalloc plans the 300-stage benchmark file in about two thirds of the system allocator's
/// time (docs/benchmarks.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "planner",
    version,
    about = "Plan multi-stage Docker builds: stage graph, targets, parallel waves, plan JSON"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The Dockerfile, or - to read standard input.
    dockerfile: String,
    #[command(flatten)]
    options: PlanOptions,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphOutput {
    Dot,
    Mermaid,
}

#[derive(Subcommand)]
enum Command {
    /// Print the plan JSON for the targets.
    Plan(PlanArgs),
    /// Check Dockerfiles (files or directories) and report the findings.
    Check(CheckArgs),
    /// Print the stage graph (needed stages coloured, skipped ones grey).
    Graph {
        #[command(flatten)]
        args: PlanArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphOutput,
    },
    /// Run the language server on standard input and output (for editors).
    Lsp,
}

/// Writes `value` as pretty JSON to standard output as it is serialized, so a large plan is
/// never held twice in memory.
fn write_json_stdout<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut stdout, value)
        .map_err(std::io::Error::from)
        .and_then(|_| stdout.write_all(b"\n"))
        .and_then(|_| stdout.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => {
            let (file, text) = read_dockerfile(&args.dockerfile)?;
            let files = context_files(&args.dockerfile, &args.options)?;
            // The plan records the Dockerfile's path (a runner finds its .dockerignore by it).
            let options = planner::Options {
                dockerfile: (args.dockerfile != "-").then(|| args.dockerfile.clone()),
                ..options(&args.options)?
            };
            let outcome = planner::plan_with_context(&text, &options, &files);
            print_diagnostics(&file, &outcome.diagnostics);
            match outcome.plan {
                Some(plan) => {
                    write_json_stdout(&plan)?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::from(1)),
            }
        }
        Command::Check(args) => cli::check::run(&args),
        Command::Graph { args, format } => {
            let (file, text) = read_dockerfile(&args.dockerfile)?;
            let files = context_files(&args.dockerfile, &args.options)?;
            let outcome = planner::plan_with_context(&text, &options(&args.options)?, &files);
            print_diagnostics(&file, &outcome.diagnostics);
            let Some(plan) = outcome.plan else {
                return Ok(ExitCode::from(1));
            };
            let format = match format {
                GraphOutput::Dot => GraphFormat::Dot,
                GraphOutput::Mermaid => GraphFormat::Mermaid,
            };
            write_stdout(&render(&plan, format))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lsp => {
            cli::lsp::serve_stdio()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("planner: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
