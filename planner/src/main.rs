//! The `planner` command line: plan, check and graph Dockerfiles, and serve editors (`lsp`).
//!
//! Input: Dockerfile paths (or `-` for stdin) and options. Output: plan JSON, check reports or
//! graph text on stdout; diagnostics on stderr as `file:line:col: severity[Code]: message`; the
//! language server speaks JSON-RPC on stdin/stdout.
//! Exit codes: 0 success, 1 the Dockerfile has errors (for `check`: a finding at or above
//! `--failure-threshold`), 2 usage or I/O error.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use cli::check::CheckArgs;
use cli::input::{options, print_diagnostics, read_dockerfile, write_stdout, PlanOptions};
use planner::graph::{render, GraphFormat};

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

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => {
            let (file, text) = read_dockerfile(&args.dockerfile)?;
            // The plan records the Dockerfile's path (a runner finds its .dockerignore by it).
            let options = planner::Options {
                dockerfile: (args.dockerfile != "-").then(|| args.dockerfile.clone()),
                ..options(&args.options)?
            };
            let outcome = planner::plan(&text, &options);
            print_diagnostics(&file, &outcome.diagnostics);
            match outcome.plan {
                Some(plan) => {
                    write_stdout(&(serde_json::to_string_pretty(&plan)? + "\n"))?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::from(1)),
            }
        }
        Command::Check(args) => cli::check::run(&args),
        Command::Graph { args, format } => {
            let (file, text) = read_dockerfile(&args.dockerfile)?;
            let outcome = planner::plan(&text, &options(&args.options)?);
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
