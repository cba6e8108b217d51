//! GitLab Code Quality (the Code Climate issue subset GitLab reads): a JSON array of issues
//! with `description`, `check_name`, `fingerprint`, `severity` and `location.path`/`lines.begin`.
//!
//! Input: the file reports. Output: the JSON array.
//! Invariant: fingerprints are unique per finding and stable across runs.

use serde_json::{json, Value};

use planner::Severity;

use super::{fingerprints, report_path, FileReport};

/// GitLab's severities: errors stop the build, checks are style and correctness warnings.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "blocker",
        Severity::Warning => "major",
        Severity::Info => "info",
    }
}

/// The Code Quality report of the reports.
pub fn render(reports: &[FileReport]) -> String {
    let mut issues: Vec<Value> = Vec::new();
    for report in reports {
        for (diagnostic, hash) in report.diagnostics.iter().zip(fingerprints(report)) {
            let check = planner::codes::describe(&diagnostic.code).is_some_and(|i| i.check);
            issues.push(json!({
                "type": "issue",
                "description": format!("{}: {}", diagnostic.code, diagnostic.message),
                "check_name": diagnostic.code,
                "categories": [if check { "Style" } else { "Bug Risk" }],
                "fingerprint": hash,
                "severity": severity(diagnostic.severity),
                "location": {
                    "path": report_path(&report.path),
                    "lines": { "begin": diagnostic.line.max(1) },
                },
            }));
        }
    }
    serde_json::to_string_pretty(&issues).unwrap_or_default() + "\n"
}
