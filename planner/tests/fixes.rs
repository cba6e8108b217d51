//! Quick fixes: applying a diagnostic's `fix` to the text makes that finding go away and adds
//! no new one (the fix keeps the instruction's meaning), for every check that has a fix.

use planner::diagnostics::{Fix, TextRange};

/// The byte offset of a 1-based line and scalar column.
fn offset(text: &str, line: u32, column: u32) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line as usize - 1)
        .map(str::len)
        .sum();
    let rest = &text[line_start..];
    line_start
        + rest
            .char_indices()
            .nth(column as usize - 1)
            .map_or(rest.len(), |(idx, _)| idx)
}

fn apply(text: &str, fix: &Fix) -> String {
    let mut out = text.to_string();
    let mut edits = fix.edits.clone();
    edits.sort_by_key(|edit| std::cmp::Reverse((edit.range.line, edit.range.column)));
    for edit in edits {
        let TextRange {
            line,
            column,
            end_line,
            end_column,
            ..
        } = edit.range;
        let (start, end) = (
            offset(&out, line, column),
            offset(&out, end_line, end_column),
        );
        out.replace_range(start..end, &edit.new_text);
    }
    out
}

fn codes(text: &str) -> Vec<String> {
    planner::check(text).into_iter().map(|d| d.code).collect()
}

/// Applies the fix of the first `code` finding; returns the fixed text.
fn fixed(text: &str, code: &str) -> String {
    let diagnostic = planner::check(text)
        .into_iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} in {text:?}"));
    let fix = diagnostic
        .fix
        .unwrap_or_else(|| panic!("{code} has no fix"));
    apply(text, &fix)
}

#[test]
fn each_fix_removes_its_finding() {
    let cases = [
        ("StageNameCasing", "FROM alpine AS Build\nFROM build\nCOPY --from=Build /a /a\n", "FROM alpine AS build\nFROM build\nCOPY --from=Build /a /a\n"),
        ("FromAsCasing", "FROM alpine as base\nRUN true\n", "FROM alpine AS base\nRUN true\n"),
        ("FromAsCasing", "from alpine AS base\nrun true\n", "from alpine as base\nrun true\n"),
        ("ConsistentInstructionCasing", "FROM alpine\nRUN a\nrun b\nCOPY a b\n", "FROM alpine\nRUN a\nRUN b\nCOPY a b\n"),
        ("MaintainerDeprecated", "FROM alpine\nMAINTAINER Jo \"J\" <jo@example.com>\n", "FROM alpine\nLABEL org.opencontainers.image.authors=\"Jo \\\"J\\\" <jo@example.com>\"\n"),
        ("LegacyKeyValueFormat", "FROM alpine\nENV GREETING hello world\n", "FROM alpine\nENV GREETING=\"hello world\"\n"),
        ("LegacyKeyValueFormat", "FROM alpine\nLABEL \\\n  version 1.0\n", "FROM alpine\nLABEL version=1.0\n"),
        ("JSONArgsRecommended", "FROM alpine\nCMD nginx -g daemon=off\n", "FROM alpine\nCMD [\"nginx\", \"-g\", \"daemon=off\"]\n"),
    ];
    for (code, text, want) in cases {
        let got = fixed(text, code);
        assert_eq!(got, want, "{code}");
        assert!(
            codes(&got).is_empty(),
            "{code}: {got:?} still reports {:?}",
            codes(&got)
        );
    }
}

#[test]
fn fixes_keep_the_meaning() {
    // The environment and labels planned before and after the fix are the same words.
    let text = "FROM alpine\nENV A /usr/bin:$PATH\nLABEL b \"x y\"\nENV C one two\n";
    let mut current = text.to_string();
    while planner::check(&current).iter().any(|d| d.fix.is_some()) {
        current = fixed(&current, "LegacyKeyValueFormat");
    }
    let plan = planner::plan(&current, &planner::Options::default())
        .plan
        .unwrap();
    let words: Vec<String> = plan.stages[0]
        .instructions
        .iter()
        .map(|instr| serde_json::to_string(&instr.op).unwrap())
        .collect();
    assert_eq!(
        words,
        vec![
            r#"{"kind":"env","pairs":[{"key":"A","value":"/usr/bin:$PATH"}]}"#,
            r#"{"kind":"label","pairs":[{"key":"b","value":"\"x y\""}]}"#,
            r#"{"kind":"env","pairs":[{"key":"C","value":"\"one two\""}]}"#,
        ]
    );
}

#[test]
fn no_fix_where_meaning_could_change() {
    for (code, text) in [
        (
            "JSONArgsRecommended",
            "FROM alpine\nCMD echo $HOME && true\n",
        ),
        ("LegacyKeyValueFormat", "FROM alpine\nENV A a \"b c\" d\n"),
    ] {
        let diagnostic = planner::check(text)
            .into_iter()
            .find(|d| d.code == code)
            .unwrap();
        assert!(diagnostic.fix.is_none(), "{code}");
    }
}
