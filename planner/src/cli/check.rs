//! `planner check`: checks Dockerfiles (files and directories) with the planner's `check` and
//! writes one report in the chosen format.
//!
//! Input: paths, planning options, `--format`, `--failure-threshold`. Output: the report on
//! stdout. Exit codes: 1 when any finding is at or above the threshold, else 0; 2 for usage
//! and I/O errors (nothing is reported then).
//! Invariant: the findings are exactly `planner::check_with_context` per file (with the
//! `.dockerignore` BuildKit would apply to it); formats only render.

use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;

use planner::Severity;

use crate::cli::files::dockerfiles;
use crate::cli::input::{context_files, options, read_dockerfile, write_stdout, PlanOptions};
use crate::cli::report::{render, FileReport, ReportFormat};

/// The lowest severity that fails the check (hadolint's `--failure-threshold`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Threshold {
    /// Only errors fail.
    Error,
    /// Errors and warnings fail.
    Warning,
    /// Any finding fails.
    Info,
    /// Nothing fails (report only).
    None,
}

impl Threshold {
    /// Whether a finding of `severity` fails the check.
    pub fn fails(self, severity: Severity) -> bool {
        match self {
            Threshold::Error => severity == Severity::Error,
            Threshold::Warning => severity != Severity::Info,
            Threshold::Info => true,
            Threshold::None => false,
        }
    }
}

/// The arguments of `planner check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// Dockerfiles or directories (searched recursively for Dockerfile, *.Dockerfile,
    /// Dockerfile.*); - reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "info")]
    pub failure_threshold: Threshold,
    #[command(flatten)]
    pub options: PlanOptions,
}

/// Runs the check and prints the report.
pub fn run(args: &CheckArgs) -> Result<ExitCode> {
    let options = options(&args.options)?;
    let mut reports = Vec::new();
    for path in dockerfiles(&args.paths)? {
        let (name, text) = read_dockerfile(&path)?;
        let files = context_files(&path, &args.options)?;
        let diagnostics = planner::check_with_context(&text, &options, &files);
        reports.push(FileReport {
            path: name,
            text,
            diagnostics,
        });
    }
    write_stdout(&render(args.format, &reports))?;
    let failed = reports
        .iter()
        .flat_map(|report| &report.diagnostics)
        .any(|diagnostic| args.failure_threshold.fails(diagnostic.severity));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
