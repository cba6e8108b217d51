//! Checkstyle XML: `<checkstyle>` with one `<file>` per checked file and one `<error>` per
//! finding (`source` = `stageplan.<Code>`).
//!
//! Input: the file reports. Output: the XML document.
//! Invariant: well-formed XML 1.0: attribute values escaped, characters XML forbids replaced.

use std::fmt::Write;

use planner::Severity;

use super::{report_path, FileReport};

/// An XML attribute value: markup characters escaped, line breaks and tabs as character
/// references, characters not allowed in XML 1.0 replaced by U+FFFD.
fn attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            other => out.push(other),
        }
    }
    out
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// The checkstyle document of the reports.
pub fn render(reports: &[FileReport]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">\n");
    for report in reports {
        let _ = writeln!(
            out,
            "  <file name=\"{}\">",
            attribute(&report_path(&report.path))
        );
        for diagnostic in &report.diagnostics {
            let _ = writeln!(
                out,
                "    <error line=\"{}\" column=\"{}\" severity=\"{}\" message=\"{}\" source=\"stageplan.{}\"/>",
                diagnostic.line,
                diagnostic.column,
                severity(diagnostic.severity),
                attribute(&diagnostic.message),
                attribute(&diagnostic.code)
            );
        }
        out.push_str("  </file>\n");
    }
    out.push_str("</checkstyle>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(
            attribute("a<b & \"c\"\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&#10;\u{fffd}"
        );
    }
}
