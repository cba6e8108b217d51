//! Stage names under the cursor and where they are used: go to definition, find references,
//! rename (`AS` names, `FROM`, `--from=` and mount `from=` words; an index reference such as
//! `COPY --from=0` is left alone).
//!
//! Input: a document's analysis (the planner's outline with name and reference ranges) and an
//! LSP position. Output: LSP ranges and edits.
//! Invariant: every place comes from the planner's `name_range` and `Edge::range`; the text is
//! never searched.

use lsp_types::{Position, Range, TextEdit};

use planner::plan::{Edge, Source, Stage, TextRange};
use planner::Outline;

/// What is at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// The name after `AS` of stage `stage`.
    StageName { stage: usize },
    /// A reference word (FROM base, `--from=`, mount `from=`) in stage `in_stage`, edge
    /// `edge` of that stage.
    Reference { in_stage: usize, edge: usize },
}

/// The LSP range of a planner range (1-based lines, UTF-16 columns).
pub fn lsp_range(range: &TextRange) -> Range {
    Range {
        start: Position::new(
            range.line.saturating_sub(1),
            range.column_utf16.saturating_sub(1),
        ),
        end: Position::new(
            range.end_line.saturating_sub(1),
            range.end_column_utf16.saturating_sub(1),
        ),
    }
}

fn contains(range: &TextRange, position: Position) -> bool {
    let range = lsp_range(range);
    range.start <= position && position <= range.end
}

/// What is at `position`.
pub fn at(outline: &Outline, position: Position) -> Option<At> {
    for stage in &outline.stages {
        if stage
            .name_range
            .as_ref()
            .is_some_and(|r| contains(r, position))
        {
            return Some(At::StageName { stage: stage.index });
        }
        for (edge_idx, edge) in stage.edges.iter().enumerate() {
            if edge.range.as_ref().is_some_and(|r| contains(r, position)) {
                return Some(At::Reference {
                    in_stage: stage.index,
                    edge: edge_idx,
                });
            }
        }
    }
    None
}

/// The edge an [`At::Reference`] names.
pub fn edge(outline: &Outline, in_stage: usize, edge: usize) -> Option<&Edge> {
    outline.stages.get(in_stage)?.edges.get(edge)
}

/// The stage that what is at the position names (a definition or a reference to a stage).
pub fn stage_of(outline: &Outline, at: &At) -> Option<usize> {
    match at {
        At::StageName { stage } => Some(*stage),
        At::Reference {
            in_stage,
            edge: idx,
        } => match edge(outline, *in_stage, *idx)?.source {
            Source::Stage { stage } => Some(stage),
            _ => None,
        },
    }
}

/// Where a stage is defined: its name, or the start of its `FROM` line when unnamed.
pub fn definition_range(stage: &Stage, utf16_column: u32) -> Range {
    match &stage.name_range {
        Some(range) => lsp_range(range),
        None => {
            let start = Position::new(stage.location.line.saturating_sub(1), utf16_column);
            Range { start, end: start }
        }
    }
}

/// Every written reference to `stage` (each place once, in file order).
pub fn references(outline: &Outline, stage: usize) -> Vec<(Range, &Edge)> {
    let mut found: Vec<(Range, &Edge)> = Vec::new();
    for other in &outline.stages {
        for edge in &other.edges {
            if edge.source != (Source::Stage { stage }) {
                continue;
            }
            let Some(range) = &edge.range else {
                continue;
            };
            let range = lsp_range(range);
            if !found.iter().any(|(known, _)| *known == range) {
                found.push((range, edge));
            }
        }
    }
    found.sort_by_key(|(range, _)| (range.start.line, range.start.character));
    found
}

/// Whether a reference names the stage (rather than giving its index or an expression).
fn written_as_name(edge: &Edge, name: &str) -> bool {
    edge.written
        .as_deref()
        .is_some_and(|written| written.eq_ignore_ascii_case(name))
}

/// The range to rename at `at`, when it is a stage name or a reference by that name.
pub fn rename_range(outline: &Outline, at: &At) -> Option<Range> {
    let stage = &outline.stages[stage_of(outline, at)?];
    let name = stage.name.as_deref()?;
    match at {
        At::StageName { .. } => stage.name_range.as_ref().map(lsp_range),
        At::Reference {
            in_stage,
            edge: idx,
        } => {
            let edge = edge(outline, *in_stage, *idx)?;
            written_as_name(edge, name)
                .then(|| edge.range.as_ref().map(lsp_range))
                .flatten()
        }
    }
}

/// The edits that rename `stage` to `new_name` (written lower-case, as BuildKit stores names):
/// its `AS` name and every reference that names it. Index references and references through
/// ARG expressions are left alone.
pub fn rename_edits(
    outline: &Outline,
    stage: usize,
    new_name: &str,
) -> Result<Vec<TextEdit>, String> {
    if !planner::is_valid_stage_name(new_name) {
        return Err(format!(
            "invalid stage name {new_name:?}: use a letter, then letters, digits, '-', '_' or '.'"
        ));
    }
    let target = &outline.stages[stage];
    let (Some(name), Some(name_range)) = (target.name.as_deref(), &target.name_range) else {
        return Err(format!(
            "stage {} has no name to rename; add one with FROM ... AS name",
            target.index
        ));
    };
    let new_text = new_name.to_lowercase();
    let mut edits = vec![TextEdit::new(lsp_range(name_range), new_text.clone())];
    for (range, edge) in references(outline, stage) {
        if written_as_name(edge, name) {
            edits.push(TextEdit::new(range, new_text.clone()));
        }
    }
    Ok(edits)
}
