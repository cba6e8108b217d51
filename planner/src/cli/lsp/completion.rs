//! Completion of stage names where a stage can be named: after `FROM `, in `--from=` and in a
//! mount's `from=`.
//!
//! Input: a document and a cursor position. Output: completion items that replace the word
//! being typed.
//! Invariant: the planner says whether the cursor is in such a place
//! (`planner::stage_reference_slot`) and which stages exist; only stages defined before the
//! current one are offered (BuildKit resolves `FROM` to earlier stages, and a later stage
//! fails as a forward reference).

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Position, Range, TextEdit,
};

use planner::plan::EdgeKind;

use super::documents::Document;
use super::hover::display_name;

/// The completion items at `position`.
pub fn complete(document: &Document, position: Position) -> Vec<CompletionItem> {
    let (text, analysis) = (&document.text, &document.analysis);
    let offset = analysis
        .lines
        .offset(text, position.line, position.character);
    let Some(slot) = planner::stage_reference_slot(text, offset) else {
        return Vec::new();
    };
    let (line, character) = analysis.lines.position(text, slot.start);
    let replace = Range {
        start: Position::new(line, character),
        end: position,
    };
    let cursor_line = position.line + 1;
    // The stage the cursor is in: the last one whose FROM starts on an earlier line (for a
    // FROM being written, the stages before it).
    let current = analysis
        .outline
        .stages
        .iter()
        .rposition(|stage| stage.location.line <= cursor_line);
    let before: Vec<&planner::plan::Stage> = analysis
        .outline
        .stages
        .iter()
        .filter(|stage| match slot.kind {
            EdgeKind::From => stage.location.line < cursor_line,
            _ => current.is_some_and(|current| stage.index < current),
        })
        .collect();
    let mut items = Vec::new();
    for stage in before {
        let (label, sort) = match (&stage.name, slot.kind) {
            (Some(name), _) => (name.clone(), format!("0{:05}", stage.index)),
            // An unnamed stage can be copied from by its index.
            (None, EdgeKind::Copy) => (stage.index.to_string(), format!("1{:05}", stage.index)),
            (None, _) => continue,
        };
        items.push(CompletionItem {
            label: label.clone(),
            kind: Some(CompletionItemKind::MODULE),
            detail: Some(format!(
                "stage {} (index {}): FROM {}",
                display_name(stage),
                stage.index,
                stage.base_text
            )),
            sort_text: Some(sort),
            filter_text: Some(label.clone()),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(replace, label))),
            ..CompletionItem::default()
        });
    }
    items
}
