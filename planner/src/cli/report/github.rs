//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` line per finding
//! with `file`, `line`, `col`, `endLine`, `endColumn` and `title`, which GitHub shows as
//! annotations on the pull request.
//!
//! Input: the file reports. Output: the command lines.
//! Invariant: values escaped as the runner expects (`%`, CR, LF; also `:` and `,` in
//! properties), so a message can never end a command early.

use std::fmt::Write;

use planner::Severity;

use super::{report_path, FileReport};

fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow commands of the reports.
pub fn render(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let file = escape_property(&report_path(&report.path));
        for diagnostic in &report.diagnostics {
            let command = match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let mut properties = format!("file={file}");
            if diagnostic.line > 0 {
                let _ = write!(
                    properties,
                    ",line={},col={},endLine={},endColumn={}",
                    diagnostic.line, diagnostic.column, diagnostic.end_line, diagnostic.end_column
                );
            }
            let title = escape_property(&format!("stageplan {}", diagnostic.code));
            let _ = writeln!(
                out,
                "::{command} {properties},title={title}::{}",
                escape_data(&diagnostic.message)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_data("50% a\nb"), "50%25 a%0Ab");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
