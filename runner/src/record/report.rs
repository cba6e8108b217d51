//! The build report: one self-contained HTML page (no network, opens from `file://`) that draws
//! the record on the stage graph with the playground's graph module.
//!
//! Input: a [`BuildRecord`]. Output: the page's HTML text: the record as JSON in a
//! `<script type="application/json">` element and the page script (the web build's bundle of
//! `web/src/report/`, committed as `runner/assets/report-page.js`).
//! Invariant: the runner needs no Node at run time; the committed bundle equals what the web
//! build makes from the sources (`npm --prefix web test` checks); nothing in the record can end
//! the script element early (`<` is written as `\u003c` in the JSON).

use super::types::BuildRecord;

/// The report page's script and styles (built by `web/scripts/build-report.mjs`).
pub const PAGE_SCRIPT: &str = include_str!("../../assets/report-page.js");

/// The report page for `record`.
pub fn html(record: &BuildRecord) -> String {
    let json = serde_json::to_string(record)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    let target = record
        .plan
        .targets
        .last()
        .and_then(|t| record.plan.stages.get(*t))
        .map(|s| s.display_name.as_str())
        .unwrap_or("build");
    let title = escape_html(&format!(
        "build report: {target}{}",
        record
            .plan
            .dockerfile
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    ));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n</head>\n<body>\n<noscript>This report draws the build on its stage graph with JavaScript; the record itself is in this file as JSON.</noscript>\n<script id=\"stageplan-record\" type=\"application/json\">{json}</script>\n<script>{PAGE_SCRIPT}</script>\n</body>\n</html>\n"
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_script_cannot_end_its_element_and_needs_no_network() {
        assert!(
            PAGE_SCRIPT.len() > 1000,
            "runner/assets/report-page.js is missing; run `npm --prefix web run build:report`"
        );
        assert!(!PAGE_SCRIPT.to_ascii_lowercase().contains("</script"));
        for remote in ["http://", "https://", "//cdn", "@import"] {
            assert!(
                !PAGE_SCRIPT.contains(&format!("src=\"{remote}"))
                    && !PAGE_SCRIPT.contains(&format!("url({remote}")),
                "the page must not load anything from the network ({remote})"
            );
        }
    }

    #[test]
    fn the_record_is_embedded_without_breaking_out_of_its_element() {
        let plan = planner::plan(
            "FROM scratch AS a\nLABEL x=\"</script><b>\"\n",
            &planner::Options::default(),
        )
        .plan
        .expect("plan");
        let record = BuildRecord {
            version: 1,
            runner: "0".into(),
            started: "2024-01-01T00:00:00Z".into(),
            ok: true,
            error: None,
            no_cache: false,
            plan,
            image: None,
            total_ms: 0,
            stages: Vec::new(),
            critical_path: Vec::new(),
            leaks: Vec::new(),
            biggest_dirs: Vec::new(),
            added_bytes: None,
            leak_report_ms: None,
        };
        let page = html(&record);
        let start = page
            .find("type=\"application/json\">")
            .expect("record element")
            + 24;
        let end = start + page[start..].find("</script>").expect("end");
        let embedded: BuildRecord =
            serde_json::from_str(&page[start..end]).expect("the embedded record parses");
        assert_eq!(embedded, record);
        assert!(page.contains("<title>build report: a</title>"));
    }
}
