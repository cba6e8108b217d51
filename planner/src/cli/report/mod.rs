//! Report formats of `planner check` for people and CI systems: text, JSON, SARIF 2.1.0,
//! checkstyle XML, GitLab Code Quality and GitHub workflow commands.
//!
//! Input: one [`FileReport`] per checked file (its name, text and the planner's diagnostics).
//! Output: the report text. Invariant: pure functions of the reports; the same findings give
//! the same bytes (fingerprints included), in file order then position order.

mod checkstyle;
mod github;
mod gitlab;
mod sarif;

use clap::ValueEnum;
use sha2::{Digest, Sha256};

use planner::Diagnostic;

use crate::cli::input::format_diagnostic;

/// The findings of one file.
pub struct FileReport {
    /// The path as given (or found under a directory); `<stdin>` for standard input.
    pub path: String,
    /// The file's text (fingerprints hash the line of each finding).
    pub text: String,
    /// The planner's diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// The output format of `planner check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// `file:line:col: severity[Code]: message` lines.
    Text,
    /// A JSON array of the planner's diagnostics, each with its `file`.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning, Azure DevOps, ...).
    Sarif,
    /// Checkstyle XML (Jenkins, reviewdog, ...).
    Checkstyle,
    /// GitLab Code Quality JSON.
    Gitlab,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

/// Renders the reports in `format`.
pub fn render(format: ReportFormat, reports: &[FileReport]) -> String {
    match format {
        ReportFormat::Text => reports
            .iter()
            .flat_map(|report| {
                report
                    .diagnostics
                    .iter()
                    .map(|d| format_diagnostic(&report.path, d) + "\n")
            })
            .collect(),
        ReportFormat::Json => json(reports),
        ReportFormat::Sarif => sarif::render(reports),
        ReportFormat::Checkstyle => checkstyle::render(reports),
        ReportFormat::Gitlab => gitlab::render(reports),
        ReportFormat::Github => github::render(reports),
    }
}

fn json(reports: &[FileReport]) -> String {
    let items: Vec<serde_json::Value> = reports
        .iter()
        .flat_map(|report| {
            report.diagnostics.iter().map(|diagnostic| {
                let mut value = serde_json::to_value(diagnostic).unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert("file".to_string(), report.path.clone().into());
                }
                value
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_default() + "\n"
}

/// The path as a report names it: `<stdin>` becomes `stdin`, `\` becomes `/`, a leading `./`
/// is dropped.
pub fn report_path(path: &str) -> String {
    if path == "<stdin>" {
        return "stdin".to_string();
    }
    let path = path.replace('\\', "/");
    path.strip_prefix("./").unwrap_or(&path).to_string()
}

/// A stable fingerprint of each finding of a report, aligned with its diagnostics: a SHA-256
/// over the path, the code, the message and the trimmed text of the finding's first line,
/// plus how many identical findings came before it. Moving the line elsewhere in the file keeps
/// the fingerprint; editing the line or the message changes it.
pub fn fingerprints(report: &FileReport) -> Vec<String> {
    let lines: Vec<&str> = report.text.lines().collect();
    let mut seen: Vec<[u8; 32]> = Vec::new();
    report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let line_text = (diagnostic.line as usize)
                .checked_sub(1)
                .and_then(|idx| lines.get(idx))
                .map_or("", |line| line.trim());
            let mut hasher = Sha256::new();
            for part in [
                report_path(&report.path).as_str(),
                diagnostic.code.as_str(),
                diagnostic.message.as_str(),
                line_text,
            ] {
                hasher.update(part.as_bytes());
                hasher.update([0]);
            }
            let key: [u8; 32] = hasher.finalize().into();
            let occurrence = seen.iter().filter(|k| **k == key).count();
            seen.push(key);
            let mut hasher = Sha256::new();
            hasher.update(key);
            hasher.update((occurrence as u64).to_le_bytes());
            hasher
                .finalize()
                .iter()
                .take(16)
                .map(|byte| format!("{byte:02x}"))
                .collect()
        })
        .collect()
}
