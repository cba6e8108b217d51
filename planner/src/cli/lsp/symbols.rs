//! The document outline (one symbol per stage: name or index, base, needed or skipped for the
//! chosen targets, wave) and the code lenses on each stage's `FROM` line ("builds N stages",
//! "copy plan JSON").
//!
//! Input: a document's text and analysis. Output: LSP document symbols and code lenses.
//! Invariant: stage facts come from the outline; the text is only used to turn plan columns
//! (Unicode scalars) into UTF-16 columns and to measure the last line of a stage.

use lsp_types::{CodeLens, Command, DocumentSymbol, Position, Range, SymbolKind, Uri};
use serde_json::json;

use planner::plan::Stage;
use planner::Outline;

use super::documents::{Document, Lines};
use super::navigation::definition_range;

/// The command of the "builds N stages" lens (the server shows the plan's waves).
pub const SHOW_BUILD: &str = "stageplan.showBuild";
/// The command of the "copy plan JSON" lens (the server returns the plan JSON; clients put it
/// on the clipboard).
pub const COPY_PLAN_JSON: &str = "stageplan.copyPlanJson";

/// The UTF-16 column where a stage's `FROM` starts.
pub fn from_column(stage: &Stage, text: &str, lines: &Lines) -> u32 {
    lines.utf16_column(text, stage.location.line, stage.location.column)
}

fn stage_range(stage: &Stage, text: &str, lines: &Lines) -> Range {
    let last_line = stage
        .instructions
        .iter()
        .filter(|instr| instr.onbuild_from.is_none())
        .map(|instr| instr.end_line)
        .chain([stage.location.end_line])
        .max()
        .unwrap_or(stage.location.line);
    let end_character = lines.line(text, last_line - 1).encode_utf16().count() as u32;
    Range {
        start: Position::new(stage.location.line - 1, from_column(stage, text, lines)),
        end: Position::new(last_line - 1, end_character),
    }
}

fn detail(outline: &Outline, stage: &Stage) -> String {
    let wave = outline
        .waves
        .iter()
        .position(|wave| wave.contains(&stage.index));
    let state = match (stage.needed, wave) {
        (true, Some(wave)) => format!("needed, wave {}", wave + 1),
        (true, None) => "needed".to_string(),
        (false, _) => "skipped".to_string(),
    };
    format!("FROM {} · {state}", stage.base_text)
}

/// One symbol per stage, in file order.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out; it is `None`.
pub fn document_symbols(document: &Document) -> Vec<DocumentSymbol> {
    let (text, outline, lines) = (
        &document.text,
        &document.analysis.outline,
        &document.analysis.lines,
    );
    outline
        .stages
        .iter()
        .map(|stage| {
            let range = stage_range(stage, text, lines);
            let mut selection_range = definition_range(stage, from_column(stage, text, lines));
            if selection_range.start < range.start || selection_range.end > range.end {
                selection_range = Range {
                    start: range.start,
                    end: range.start,
                };
            }
            DocumentSymbol {
                name: stage
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("stage {}", stage.index)),
                detail: Some(detail(outline, stage)),
                kind: SymbolKind::CLASS,
                tags: None,
                deprecated: None,
                range,
                selection_range,
                children: None,
            }
        })
        .collect()
}

/// The lenses on the `FROM` line of every stage that can be a target (named stages and the
/// last stage).
pub fn code_lenses(uri: &Uri, document: &Document) -> Vec<CodeLens> {
    let (text, outline, lines) = (
        &document.text,
        &document.analysis.outline,
        &document.analysis.lines,
    );
    let last = outline.stages.len().saturating_sub(1);
    let mut lenses = Vec::new();
    for stage in &outline.stages {
        if stage.name.is_none() && stage.index != last {
            continue;
        }
        let start = Position::new(stage.location.line - 1, from_column(stage, text, lines));
        let range = Range { start, end: start };
        let targets: Vec<String> = stage.name.iter().cloned().collect();
        let n_stages = outline.stage_needs[stage.index].len();
        let arguments = Some(vec![json!(uri.as_str()), json!(targets)]);
        lenses.push(CodeLens {
            range,
            command: Some(Command::new(
                format!(
                    "builds {n_stages} stage{}",
                    if n_stages == 1 { "" } else { "s" }
                ),
                SHOW_BUILD.to_string(),
                arguments.clone(),
            )),
            data: None,
        });
        lenses.push(CodeLens {
            range,
            command: Some(Command::new(
                "copy plan JSON".to_string(),
                COPY_PLAN_JSON.to_string(),
                arguments,
            )),
            data: None,
        });
    }
    lenses
}
