//! Diagnostics: stable codes, severities, and byte spans turned into 1-based line/column
//! positions (Unicode scalar values and UTF-16 code units).
//!
//! Input: a byte span into the Dockerfile text. Output: a serializable [`Diagnostic`].
//! Invariant: positions never point past the text; converting a span never panics.

use std::cell::Cell;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How serious a diagnostic is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The build cannot proceed; no plan is produced.
    Error,
    /// A problem BuildKit's checks report (or a likely mistake); the plan is still valid.
    Warning,
    /// Informational.
    Info,
}

/// A message about a place in the Dockerfile (or about the options, with line 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diagnostic {
    /// Error, warning or info.
    pub severity: Severity,
    /// A stable code: a BuildKit check name (`StageNameCasing`) or a planner error code
    /// (`UnknownTarget`, `ParseError`, ...).
    pub code: String,
    /// Lower-case message without trailing period, ending with the fix where there is one.
    pub message: String,
    /// 1-based line; 0 when the diagnostic is about the options (an unknown `--target`).
    pub line: u32,
    /// 1-based column in Unicode scalar values; 0 with line 0.
    pub column: u32,
    /// 1-based line of the end of the range.
    pub end_line: u32,
    /// 1-based column just past the end of the range.
    pub end_column: u32,
    /// `column` counted in UTF-16 code units, for browser editors.
    pub column_utf16: u32,
    /// `end_column` counted in UTF-16 code units.
    pub end_column_utf16: u32,
    /// Documentation of the rule, for BuildKit checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An edit that resolves the finding, for the checks that have an obvious one (editors
    /// offer it as a quick fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// Where a word is in the Dockerfile, for editors: 1-based lines, columns in Unicode scalar
/// values and in UTF-16 code units (the unit of LSP and browser editors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextRange {
    /// 1-based line of the first character.
    pub line: u32,
    /// 1-based column (in Unicode scalar values) of the first character.
    pub column: u32,
    /// 1-based line of the end.
    pub end_line: u32,
    /// 1-based column just past the last character.
    pub end_column: u32,
    /// `column` in UTF-16 code units.
    pub column_utf16: u32,
    /// `end_column` in UTF-16 code units.
    pub end_column_utf16: u32,
}

/// A fix of a diagnostic: text edits applied together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// What the fix does, for a menu (`Lower-case the stage name`).
    pub title: String,
    /// The edits, not overlapping, in text order.
    pub edits: Vec<TextEdit>,
}

/// Replace the text of `range` with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextEdit {
    /// The text replaced.
    pub range: TextRange,
    /// The new text.
    pub new_text: String,
}

impl Diagnostic {
    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A half-open byte range into the Dockerfile text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (swapped if given backwards).
    pub fn new(start: usize, end: usize) -> Span {
        if end < start {
            Span {
                start: end,
                end: start,
            }
        } else {
            Span { start, end }
        }
    }
}

/// A position in three encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column in Unicode scalar values.
    pub column: u32,
    /// 1-based column in UTF-16 code units.
    pub column_utf16: u32,
}

/// Maps byte offsets of one text to line/column positions.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    /// The 0-based line of the last position asked for: positions are mostly asked for in
    /// text order, so the next one is usually on that line or the next.
    last_line: Cell<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes the line starts of `text` (`\n` ends a line; a preceding `\r` belongs to it).
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|idx| idx + 1));
        LineIndex {
            text,
            line_starts,
            last_line: Cell::new(0),
        }
    }

    /// The 0-based line holding byte `offset` (a char boundary within the text).
    fn line_of(&self, offset: usize) -> usize {
        let starts_line = |line_idx: usize| match self.line_starts.get(line_idx..) {
            Some([start, next, ..]) => *start <= offset && offset < *next,
            Some([start]) => *start <= offset,
            _ => false,
        };
        let hint = self.last_line.get();
        let line_idx = if starts_line(hint) {
            hint
        } else if starts_line(hint + 1) {
            hint + 1
        } else {
            match self.line_starts.binary_search(&offset) {
                Ok(idx) => idx,
                Err(idx) => idx - 1,
            }
        };
        self.last_line.set(line_idx);
        line_idx
    }

    /// The position of byte `offset` (clamped to the text, moved back to a char boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_idx = self.line_of(offset);
        let prefix = &self.text[self.line_starts[line_idx]..offset];
        let (column, column_utf16) = if prefix.is_ascii() {
            (prefix.len(), prefix.len())
        } else {
            let utf16 = prefix.chars().map(char::len_utf16).sum();
            (prefix.chars().count(), utf16)
        };
        Position {
            line: line_idx as u32 + 1,
            column: column as u32 + 1,
            column_utf16: utf16_column(column_utf16),
        }
    }

    /// The byte offset where 1-based `line` starts (the text's end past the last line).
    pub fn line_start(&self, line: u32) -> usize {
        let idx = (line.max(1) - 1) as usize;
        self.line_starts
            .get(idx)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The [`TextRange`] of `span`.
    pub fn range(&self, span: Span) -> TextRange {
        let start = self.position(span.start);
        let end = self.position(span.end);
        TextRange {
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            column_utf16: start.column_utf16,
            end_column_utf16: end.column_utf16,
        }
    }

    /// Builds a diagnostic over `span`.
    pub fn diagnostic(
        &self,
        severity: Severity,
        code: &str,
        message: String,
        span: Span,
    ) -> Diagnostic {
        let start = self.position(span.start);
        let end = self.position(span.end);
        Diagnostic {
            severity,
            code: code.to_string(),
            message,
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            column_utf16: start.column_utf16,
            end_column_utf16: end.column_utf16,
            url: None,
            fix: None,
        }
    }
}

fn utf16_column(units: usize) -> u32 {
    units as u32 + 1
}

/// A diagnostic with no place in the file (about the options), at line 0.
pub fn option_diagnostic(severity: Severity, code: &str, message: String) -> Diagnostic {
    Diagnostic {
        severity,
        code: code.to_string(),
        message,
        line: 0,
        column: 0,
        end_line: 0,
        end_column: 0,
        column_utf16: 0,
        end_column_utf16: 0,
        url: None,
        fix: None,
    }
}

/// Sorts diagnostics by position, then severity and code, for deterministic output.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.line, a.column, a.severity, &a.code, &a.message)
            .cmp(&(b.line, b.column, b.severity, &b.code, &b.message))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_scalars_and_utf16_units() {
        let text = "FROM a\nRUN é😀x\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        let pos = index.position(x);
        assert_eq!((pos.line, pos.column, pos.column_utf16), (2, 7, 8));
        // Inside a multi-byte char: moved back to its start.
        let pos = index.position(text.find('😀').unwrap() + 1);
        assert_eq!((pos.line, pos.column), (2, 6));
        assert_eq!(index.position(10_000).line, 3);
    }

    #[test]
    fn positions_do_not_depend_on_the_order_they_are_asked_in() {
        let text = "FROM a\n\nRUN x \\\n  y\n\n\nCOPY a b\nlast";
        let expected_line = |offset: usize| text[..offset].matches('\n').count() as u32 + 1;
        let offsets: Vec<usize> = (0..=text.len()).collect();
        let index = LineIndex::new(text);
        let orders = [
            offsets.clone(),
            offsets.iter().rev().copied().collect(),
            offsets
                .iter()
                .map(|offset| offset * 7 % (text.len() + 1))
                .collect(),
        ];
        for order in orders {
            for offset in order {
                assert_eq!(
                    index.position(offset).line,
                    expected_line(offset),
                    "{offset}"
                );
            }
        }
    }
}
