//! The `planner` command line: plan, check and graph a Dockerfile.
//!
//! Input: a Dockerfile path (or `-` for stdin) and options. Output: plan JSON, diagnostics
//! or graph text on stdout; diagnostics on stderr as `file:line:col: severity[Code]: message`.
//! Exit codes: 0 success, 1 the Dockerfile has errors (or, for `check`, any finding), 2 usage
//! or I/O error.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use planner::graph::{render, GraphFormat};
use planner::{Diagnostic, Options, Severity};

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
    /// Target stage to build (repeat for several); default: the last stage.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Build argument KEY=VALUE (KEY alone takes the value from the environment).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_args: Vec<String>,
    /// Target platform os/arch[/variant] (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
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
    /// Check every stage of the Dockerfile and print the diagnostics.
    Check {
        /// The Dockerfile, or - to read standard input.
        dockerfile: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
    },
    /// Print the stage graph (needed stages coloured, skipped ones grey).
    Graph {
        #[command(flatten)]
        args: PlanArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphOutput,
    },
}

fn read_dockerfile(path: &str) -> Result<(String, String)> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the Dockerfile from standard input")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read Dockerfile {path:?}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "Dockerfile {path:?} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok((path.to_string(), text))
}

fn options(args: &PlanArgs) -> Result<Options> {
    let mut build_args = BTreeMap::new();
    for pair in &args.build_args {
        match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                build_args.insert(key.to_string(), value.to_string());
            }
            Some(_) => bail!("invalid --build-arg {pair:?}: expected KEY=VALUE"),
            None => {
                if let Ok(value) = std::env::var(pair) {
                    build_args.insert(pair.clone(), value);
                }
            }
        }
    }
    Ok(Options {
        targets: args.targets.clone(),
        build_args,
        platform: args.platform.clone(),
        dockerfile: (args.dockerfile != "-").then(|| args.dockerfile.clone()),
    })
}

fn format_diagnostic(file: &str, d: &Diagnostic) -> String {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    if d.line == 0 {
        format!("{file}: {severity}[{}]: {}", d.code, d.message)
    } else {
        format!(
            "{file}:{}:{}: {severity}[{}]: {}",
            d.line, d.column, d.code, d.message
        )
    }
}

fn print_diagnostics(file: &str, diagnostics: &[Diagnostic]) {
    let mut stderr = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(stderr, "{}", format_diagnostic(file, d));
    }
}

fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => {
            let (file, text) = read_dockerfile(&args.dockerfile)?;
            let outcome = planner::plan(&text, &options(&args)?);
            print_diagnostics(&file, &outcome.diagnostics);
            match outcome.plan {
                Some(plan) => {
                    write_stdout(&(serde_json::to_string_pretty(&plan)? + "\n"))?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::from(1)),
            }
        }
        Command::Check { dockerfile, format } => {
            let (file, text) = read_dockerfile(&dockerfile)?;
            let diagnostics = planner::check(&text);
            match format {
                CheckFormat::Json => {
                    write_stdout(&(serde_json::to_string_pretty(&diagnostics)? + "\n"))?
                }
                CheckFormat::Text => {
                    let lines: String = diagnostics
                        .iter()
                        .map(|d| format_diagnostic(&file, d) + "\n")
                        .collect();
                    write_stdout(&lines)?;
                }
            }
            Ok(if diagnostics.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Graph { args, format } => {
            let (file, text) = read_dockerfile(&args.dockerfile)?;
            let outcome = planner::plan(&text, &options(&args)?);
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
