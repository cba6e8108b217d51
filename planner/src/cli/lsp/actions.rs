//! Diagnostics in LSP form (with `codeDescription` links to BuildKit's rule pages) and the
//! quick fixes the planner attached to them.
//!
//! Input: the planner's diagnostics of a document. Output: LSP diagnostics and code actions.
//! Invariant: a quick fix is exactly the planner's `Diagnostic::fix`.

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeDescription, Diagnostic,
    DiagnosticSeverity, NumberOrString, Position, Range, TextEdit, Uri, WorkspaceEdit,
};

use planner::Severity;

use super::navigation::lsp_range;

/// The LSP form of a planner diagnostic; line 0 (about the options) goes on the first line.
pub fn lsp_diagnostic(diagnostic: &planner::Diagnostic) -> Diagnostic {
    let range = if diagnostic.line == 0 {
        Range::new(Position::new(0, 0), Position::new(0, 0))
    } else {
        Range::new(
            Position::new(
                diagnostic.line - 1,
                diagnostic.column_utf16.saturating_sub(1),
            ),
            Position::new(
                diagnostic.end_line.saturating_sub(1),
                diagnostic.end_column_utf16.saturating_sub(1),
            ),
        )
    };
    let severity = match diagnostic.severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
    };
    Diagnostic {
        range,
        severity: Some(severity),
        code: Some(NumberOrString::String(diagnostic.code.clone())),
        code_description: diagnostic
            .url
            .as_deref()
            .and_then(|url| url.parse::<Uri>().ok())
            .map(|href| CodeDescription { href }),
        source: Some("stageplan".to_string()),
        message: diagnostic.message.clone(),
        ..Diagnostic::default()
    }
}

fn overlaps(a: &Range, b: &Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

/// The quick fixes of the diagnostics that touch `range`.
// lsp-types keys `WorkspaceEdit::changes` by `Uri`, whose interior mutability (a parse cache)
// does not take part in hashing or equality.
#[allow(clippy::mutable_key_type)]
pub fn code_actions(
    uri: &Uri,
    diagnostics: &[planner::Diagnostic],
    range: &Range,
) -> Vec<CodeActionOrCommand> {
    let mut actions = Vec::new();
    for diagnostic in diagnostics {
        let Some(fix) = &diagnostic.fix else {
            continue;
        };
        let lsp = lsp_diagnostic(diagnostic);
        if !overlaps(&lsp.range, range) {
            continue;
        }
        let edits: Vec<TextEdit> = fix
            .edits
            .iter()
            .map(|edit| TextEdit::new(lsp_range(&edit.range), edit.new_text.clone()))
            .collect();
        let mut changes = HashMap::new();
        changes.insert(uri.clone(), edits);
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("{} ({})", fix.title, diagnostic.code),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![lsp]),
            edit: Some(WorkspaceEdit {
                changes: Some(changes),
                ..WorkspaceEdit::default()
            }),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    actions
}
