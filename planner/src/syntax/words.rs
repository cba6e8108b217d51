//! Where words of an instruction are in the text, for editors (go to definition, references,
//! rename): the argument words of a white-space list (`FROM base AS name`), the values of a
//! `--flag=value`, and the `from=` field of a `--mount=` value.
//!
//! Input: a [`RawInstruction`] (its joined line and how it maps back to the text) and the
//! Dockerfile text. Output: byte spans into the text.
//! Invariant: a span is given only when the text it covers is exactly the word as the parser
//! read it, so replacing that text replaces the word and nothing else; a word that is quoted
//! in parts, escaped or broken across a continuation line gets `None`.

use super::split::{extract_flags_with_spans, is_re_space, split_keyword};
use super::RawInstruction;
use crate::diagnostics::Span;

/// The byte offset of `inner` within `outer`; `inner` must be a slice of `outer` (the result
/// is clamped to `outer` otherwise).
pub fn offset_in(outer: &str, inner: &str) -> usize {
    let offset = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    offset.min(outer.len())
}

/// The span of bytes `start..end` of the instruction's joined line, when the text there is
/// exactly `expected`.
fn checked(raw: &RawInstruction, text: &str, start: usize, expected: &str) -> Option<Span> {
    let text_start = raw.text_offset(start);
    let span = Span::new(text_start, text_start + expected.len());
    (text.get(span.start..span.end) == Some(expected)).then_some(span)
}

/// The spans of the argument words of a white-space-list instruction (`FROM`, `EXPOSE`),
/// aligned with `raw.args`.
pub fn argument_spans(raw: &RawInstruction, text: &str, escape: char) -> Vec<Option<Span>> {
    let line = raw.original.as_str();
    let Some(rest) = split_keyword(line).1 else {
        return Vec::new();
    };
    let (args_text, _) = extract_flags_with_spans(rest, escape, None);
    let args = args_text.trim_matches(char::is_whitespace);
    args.split(is_re_space)
        .filter(|word| !word.is_empty())
        .map(|word| checked(raw, text, offset_in(line, word), word))
        .collect()
}

/// The spans of the values of every `--name=value` flag of the instruction, in order (one
/// entry per such flag); quotes around the whole value are not part of the span.
pub fn flag_value_spans(
    raw: &RawInstruction,
    text: &str,
    escape: char,
    name: &str,
) -> Vec<Option<Span>> {
    let line = raw.original.as_str();
    let Some(rest) = split_keyword(line).1 else {
        return Vec::new();
    };
    let rest_start = offset_in(line, rest);
    let mut flag_spans = Vec::new();
    let (_, flags) = extract_flags_with_spans(rest, escape, Some(&mut flag_spans));
    let prefix = format!("--{name}=");
    flags
        .iter()
        .zip(flag_spans)
        .filter_map(|(flag, (start, end))| {
            let value = flag.strip_prefix(&prefix)?;
            let written = rest.get(start..end).unwrap_or("");
            let Some(written_value) = written.strip_prefix(&prefix) else {
                return Some(None);
            };
            let unquoted = strip_quotes(written_value);
            let value_start = start + prefix.len() + offset_in(written_value, unquoted);
            Some(checked(raw, text, rest_start + value_start, value))
        })
        .collect()
}

/// The spans of the `from=` values of every `--mount=` flag, in order (one entry per mount).
pub fn mount_from_spans(raw: &RawInstruction, text: &str, escape: char) -> Vec<Option<Span>> {
    flag_value_spans(raw, text, escape, "mount")
        .into_iter()
        .map(|value| {
            let value = value?;
            let written = text.get(value.start..value.end)?;
            let (start, end) = csv_from_field(written)?;
            let span = Span::new(value.start + start, value.start + end);
            (span.start < span.end).then_some(span)
        })
        .collect()
}

/// One pair of matching quotes around `word` removed.
fn strip_quotes(word: &str) -> &str {
    for quote in ['"', '\''] {
        if word.len() >= 2 && word.starts_with(quote) && word.ends_with(quote) {
            return &word[1..word.len() - 1];
        }
    }
    word
}

/// The byte range of the value of the last `from=` field of a CSV mount value (key compared
/// case-insensitively, as the mount parser does); `None` when there is none or when its field
/// holds an escaped quote.
fn csv_from_field(value: &str) -> Option<(usize, usize)> {
    let bytes = value.as_bytes();
    let mut found = None;
    let mut pos = 0;
    while pos <= bytes.len() {
        let (content_start, content_end, next) = if bytes.get(pos) == Some(&b'"') {
            let close = value[pos + 1..].find('"').map(|idx| pos + 1 + idx)?;
            if bytes.get(close + 1) == Some(&b'"') {
                // An escaped quote inside a quoted field: the value is not written as read.
                return None;
            }
            (pos + 1, close, close + 2)
        } else {
            let end = value[pos..].find(',').map_or(bytes.len(), |idx| pos + idx);
            (pos, end, end + 1)
        };
        let field = &value[content_start..content_end];
        if let Some((key, _)) = field.split_once('=') {
            if key.eq_ignore_ascii_case("from") {
                found = Some((content_start + key.len() + 1, content_end));
            }
        }
        pos = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    /// The texts of the spans, `-` for none.
    fn texts<'a>(text: &'a str, spans: &[Option<Span>]) -> Vec<&'a str> {
        spans
            .iter()
            .map(|span| span.map_or("-", |span| &text[span.start..span.end]))
            .collect()
    }

    #[test]
    fn from_words_across_continuations_and_comments() {
        let text =
            "FROM --platform=$BUILDPLATFORM golang:1.22 \\\n# a comment\n  AS \\\n   build\n";
        let parsed = parse(text);
        let raw = &parsed.instructions[0];
        let spans = argument_spans(raw, text, '\\');
        assert_eq!(texts(text, &spans), vec!["golang:1.22", "AS", "build"]);
        assert_eq!(spans[2].unwrap().start, text.rfind("build").unwrap());
    }

    #[test]
    fn flag_values_quoted_and_not() {
        let text = "FROM a\nCOPY --link --from=\"Build\" /a /b\nCOPY --from=b\\\nuild /a /b\nCOPY --fr\"om=x\" /a /b\n";
        let parsed = parse(text);
        let ins = &parsed.instructions;
        assert_eq!(
            texts(text, &flag_value_spans(&ins[1], text, '\\', "from")),
            vec!["Build"]
        );
        // Broken across a continuation line or quoted in parts: no span.
        assert_eq!(
            texts(text, &flag_value_spans(&ins[2], text, '\\', "from")),
            vec!["-"]
        );
        assert_eq!(
            texts(text, &flag_value_spans(&ins[3], text, '\\', "from")),
            vec!["-"]
        );
    }

    #[test]
    fn mount_from_fields() {
        let text = "FROM a\nRUN --mount=type=cache,target=/c --mount=type=bind,FROM=deps,target=/d \\\n    --mount=\"type=bind,from=tools\" --mount=type=bind,\"from=x\"\"y\" make\n";
        let parsed = parse(text);
        let spans = mount_from_spans(&parsed.instructions[1], text, '\\');
        assert_eq!(texts(text, &spans), vec!["-", "deps", "tools", "-"]);
    }

    #[test]
    fn onbuild_trigger_words_map_into_the_parent_line() {
        let text = "FROM a\nONBUILD \\\n  COPY --from=builder /a /b\n";
        let parsed = parse(text);
        let sub = parsed.instructions[1].sub.as_deref().unwrap();
        assert_eq!(
            texts(text, &flag_value_spans(sub, text, '\\', "from")),
            vec!["builder"]
        );
        assert_eq!(&text[sub.keyword_span.start..sub.keyword_span.end], "COPY");
    }
}
