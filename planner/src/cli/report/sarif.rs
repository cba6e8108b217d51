//! SARIF 2.1.0: one run of the tool `stageplan`, one rule per code found (BuildKit's check
//! names as `ruleId`s, with their documentation pages as `helpUri`), one result per finding
//! with its region in UTF-16 columns and a `partialFingerprints` entry.
//!
//! Input: the file reports. Output: the SARIF log as pretty JSON.
//! Invariant: valid against the official SARIF 2.1.0 schema (planner/tests/reports.rs checks).

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use planner::{Diagnostic, Severity};

use super::{fingerprints, report_path, FileReport};

/// Characters percent-encoded in a relative URI path (RFC 3986 keeps `/` and unreserved ones).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The key of the fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "stageplanFindingHash/v1";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The artifact URI: absolute paths as `file://` URIs, others relative to `%SRCROOT%`.
fn artifact_location(path: &str) -> Value {
    let path = report_path(path);
    let encoded = utf8_percent_encode(&path, PATH).to_string();
    if path.starts_with('/') {
        json!({ "uri": format!("file://{encoded}") })
    } else {
        json!({ "uri": encoded, "uriBaseId": "%SRCROOT%" })
    }
}

fn rule(diagnostic: &Diagnostic) -> Value {
    let info = planner::codes::describe(&diagnostic.code);
    let summary = info.map_or(diagnostic.code.as_str(), |info| info.summary);
    let is_check = info.is_some_and(|info| info.check);
    let tag = match info {
        Some(info) if info.buildkit => "buildkit-check",
        Some(info) if info.check => "stageplan-check",
        _ => "build-error",
    };
    let mut rule = json!({
        "id": diagnostic.code,
        "name": diagnostic.code,
        "shortDescription": { "text": summary },
        "defaultConfiguration": { "level": if is_check { "warning" } else { "error" } },
        "properties": { "tags": [tag] },
    });
    if let Some(url) = &diagnostic.url {
        rule["helpUri"] = url.clone().into();
        rule["help"] = json!({ "text": format!("{summary}: {url}") });
    }
    rule
}

fn result(report: &FileReport, diagnostic: &Diagnostic, rule_index: usize, hash: &str) -> Value {
    let mut physical = json!({ "artifactLocation": artifact_location(&report.path) });
    if diagnostic.line > 0 {
        physical["region"] = json!({
            "startLine": diagnostic.line,
            "startColumn": diagnostic.column_utf16.max(1),
            "endLine": diagnostic.end_line.max(diagnostic.line),
            "endColumn": diagnostic.end_column_utf16.max(1),
        });
    }
    json!({
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": level(diagnostic.severity),
        "message": { "text": diagnostic.message },
        "locations": [{ "physicalLocation": physical }],
        "partialFingerprints": { FINGERPRINT_KEY: hash },
    })
}

/// The SARIF log of the reports.
pub fn render(reports: &[FileReport]) -> String {
    let mut rules: BTreeMap<&str, &Diagnostic> = BTreeMap::new();
    for diagnostic in reports.iter().flat_map(|report| &report.diagnostics) {
        rules.entry(diagnostic.code.as_str()).or_insert(diagnostic);
    }
    let rule_index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(idx, code)| (*code, idx))
        .collect();
    let mut results = Vec::new();
    for report in reports {
        for (diagnostic, hash) in report.diagnostics.iter().zip(fingerprints(report)) {
            let index = rule_index[diagnostic.code.as_str()];
            results.push(result(report, diagnostic, index, &hash));
        }
    }
    let log = json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "stageplan",
                "fullName": "stageplan planner check",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://docs.docker.com/reference/build-checks/",
                "rules": rules.values().map(|d| rule(d)).collect::<Vec<_>>(),
            }},
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": { "%SRCROOT%": { "description": { "text": "the directory planner check ran in" } } },
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}
