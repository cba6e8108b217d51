//! Where the plan says stage names and stage references are written (`name_range`,
//! `base_range`, `Edge::range`, `Edge::written`): the text an editor would replace to rename a
//! stage, checked against the Dockerfile text, with UTF-16 columns for non-ASCII lines.

use planner::plan::{EdgeKind, Stage, TextRange};
use planner::Options;

/// The text a range covers (lines are 1-based, columns 1-based Unicode scalars).
fn covered(text: &str, range: &TextRange) -> String {
    assert_eq!(range.line, range.end_line, "words do not span lines");
    let line = text.lines().nth(range.line as usize - 1).unwrap();
    line.chars()
        .skip(range.column as usize - 1)
        .take((range.end_column - range.column) as usize)
        .collect()
}

fn stages(text: &str) -> Vec<Stage> {
    let outcome = planner::plan(text, &Options::default());
    outcome
        .plan
        .unwrap_or_else(|| panic!("no plan: {:#?}", outcome.diagnostics))
        .stages
}

/// Every reference of the file as `(kind, written, covered text, line)`.
fn references(text: &str) -> Vec<(EdgeKind, String, String, u32)> {
    stages(text)
        .iter()
        .flat_map(|stage| stage.edges.clone())
        .filter_map(|edge| {
            let range = edge.range?;
            Some((
                edge.kind,
                edge.written.unwrap(),
                covered(text, &range),
                range.line,
            ))
        })
        .collect()
}

#[test]
fn names_bases_and_references_point_at_their_words() {
    let text = "ARG BASE=golang\nFROM ${BASE}:1.22 AS Build\nRUN go build\nFROM --platform=linux/arm64 build AS test\nFROM alpine AS prod\nCOPY --link --from=\"Build\" /a /a\nCOPY --from=0 /b /b\nRUN --mount=type=cache,target=/c \\\n    --mount=type=bind,from=test,target=/t true\n";
    let stages = stages(text);
    let names: Vec<String> = stages
        .iter()
        .map(|stage| covered(text, stage.name_range.as_ref().unwrap()))
        .collect();
    assert_eq!(names, vec!["Build", "test", "prod"]);
    let bases: Vec<String> = stages
        .iter()
        .map(|stage| covered(text, stage.base_range.as_ref().unwrap()))
        .collect();
    assert_eq!(bases, vec!["${BASE}:1.22", "build", "alpine"]);
    let want = [
        (EdgeKind::From, "${BASE}:1.22", "${BASE}:1.22", 2),
        (EdgeKind::From, "build", "build", 4),
        (EdgeKind::From, "alpine", "alpine", 5),
        (EdgeKind::Copy, "Build", "Build", 6),
        (EdgeKind::Copy, "0", "0", 7),
        (EdgeKind::Mount, "test", "test", 9),
    ];
    let want: Vec<(EdgeKind, String, String, u32)> = want
        .iter()
        .map(|(kind, written, text, line)| (*kind, written.to_string(), text.to_string(), *line))
        .collect();
    assert_eq!(references(text), want);
}

#[test]
fn utf16_columns_count_code_units() {
    let text = "FROM alpine AS a\nFROM alpine\nCOPY --chown=😀 --from=a /x /x\n";
    let copy = stages(text)[1].edges[1].clone();
    let range = copy.range.unwrap();
    assert_eq!((range.column, range.end_column), (23, 24));
    assert_eq!((range.column_utf16, range.end_column_utf16), (24, 25));
}

#[test]
fn onbuild_references_point_into_the_parent() {
    let text = "FROM alpine AS tools\nFROM alpine AS base\nONBUILD COPY --from=tools /t /t\nFROM base AS app\n";
    let app = &stages(text)[2];
    let onbuild = app.edges.iter().find(|edge| edge.onbuild).unwrap();
    let range = onbuild.range.unwrap();
    assert_eq!(
        (range.line, covered(text, &range)),
        (3, "tools".to_string())
    );
}

#[test]
fn words_not_written_as_read_have_no_range() {
    // Broken across a continuation line; a mount without from= that uses a stage called
    // scratch (BuildKit's rule) names nothing.
    let text = "FROM alpine AS scratch\nFROM alpine AS b\nCOPY --from=scr\\\natch /a /a\nRUN --mount=type=bind,target=/m true\n";
    let stage = &stages(text)[1];
    let copy = &stage.edges[1];
    assert_eq!(copy.written.as_deref(), Some("scratch"));
    assert!(copy.range.is_none());
    let mount = &stage.edges[2];
    assert_eq!(
        (mount.kind, mount.written.as_deref()),
        (EdgeKind::Mount, None)
    );
    assert!(mount.range.is_none());
}

#[test]
fn the_outline_of_a_broken_file_has_ranges_too() {
    let text = "FROM alpine AS base\nRUNN x\nFROM base AS app\nCOPY --from=base /a /a\n";
    let outline = planner::outline(text, &Options::default());
    assert!(!outline.complete);
    let app = &outline.stages[1];
    assert_eq!(covered(text, app.name_range.as_ref().unwrap()), "app");
    let ranges: Vec<(u32, String)> = app
        .edges
        .iter()
        .map(|edge| {
            let range = edge.range.unwrap();
            (range.line, covered(text, &range))
        })
        .collect();
    assert_eq!(
        ranges,
        vec![(3, "base".to_string()), (4, "base".to_string())]
    );
}
