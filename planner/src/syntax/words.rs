//! Where words of an instruction are in the text, for editors (go to definition, references,
//! rename): the argument words of a white-space list (`FROM base AS name`), the values of a
//! `--flag=value`, and the `from=` field of a `--mount=` value.
//!
//! Input: a [`RawInstruction`] (its joined line and how it maps back to the text) and the
//! Dockerfile text. Output: byte spans into the text.
//! Invariant: a span is given only when the text it covers is exactly the word as the parser
//! read it, so replacing that text replaces the word and nothing else; a word that is quoted
//! in parts, escaped or broken across a continuation line gets `None`.

use super::split::{extract_flags_with_spans, is_re_space, offset_in, split_keyword};
use super::{Parsed, RawInstruction};
use crate::diagnostics::Span;
use crate::plan::EdgeKind;

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
    let line = &*raw.original;
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
    let line = &*raw.original;
    let Some(rest) = split_keyword(line).1 else {
        return Vec::new();
    };
    let rest_start = offset_in(line, rest);
    let mut flag_spans = Vec::new();
    let (_, flags) = extract_flags_with_spans(rest, escape, Some(&mut flag_spans));
    // `--{name}=`, matched piece by piece (no string is built for it).
    let value_of = |flag: &'_ str| -> Option<usize> {
        let value = flag
            .strip_prefix("--")?
            .strip_prefix(name)?
            .strip_prefix('=')?;
        Some(flag.len() - value.len())
    };
    flags
        .iter()
        .zip(flag_spans)
        .filter_map(|(flag, (start, end))| {
            let value = &flag[value_of(flag)?..];
            let written = rest.get(start..end).unwrap_or("");
            let Some(prefix_len) = value_of(written) else {
                return Some(None);
            };
            let written_value = &written[prefix_len..];
            let unquoted = strip_quotes(written_value);
            let value_start = start + prefix_len + offset_in(written_value, unquoted);
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

/// A place where a stage name can be written: the base of a `FROM`, the value of
/// `COPY --from=`, or the `from=` field of a `RUN --mount=` (editors complete stage names there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceSlot {
    /// Which kind of reference the word makes.
    pub kind: EdgeKind,
    /// Byte offset in the text where the word being written starts.
    pub start: usize,
}

/// The reference slot at byte `offset` of the parsed text (the offset may be just past the
/// word, where an editor's cursor is while typing), if there is one.
pub fn reference_slot(offset: usize, parsed: &Parsed) -> Option<ReferenceSlot> {
    let raw = parsed
        .instructions
        .iter()
        .find(|raw| raw.span.start <= offset && offset <= raw.span.end)?;
    let joined = joined_offset(raw, offset)?;
    // At the end of a continued line, a word that starts the next piece is not under the cursor.
    slot_in(raw, joined, parsed.escape).filter(|slot| slot.start <= offset)
}

/// The offset in the joined line of byte `offset` of the text (inverse of `text_offset` for
/// a top-level instruction); `None` inside what joining removed (an escape character ending a
/// line, the line break, a comment line between continued lines).
fn joined_offset(raw: &RawInstruction, offset: usize) -> Option<usize> {
    let pieces: Vec<(usize, usize)> = std::iter::once((0, raw.span.start))
        .chain(raw.continuations.iter().copied())
        .collect();
    let idx = pieces
        .iter()
        .rposition(|(_, text_start)| *text_start <= offset)?;
    let (joined, text_start) = pieces[idx];
    let piece_end = pieces
        .get(idx + 1)
        .map_or(raw.original.len(), |(next_joined, _)| *next_joined);
    let delta = offset - text_start;
    (joined + delta <= piece_end).then_some(joined + delta)
}

/// The slot at `joined` (an offset in the top-level joined line) of `raw`.
fn slot_in(raw: &RawInstruction, joined: usize, escape: char) -> Option<ReferenceSlot> {
    let cursor = joined.checked_sub(raw.origin)?;
    let line = &*raw.original;
    let (keyword, rest) = split_keyword(line);
    let keyword_end = offset_in(line, keyword) + keyword.len();
    if cursor <= keyword_end {
        return None;
    }
    let at = |kind, start_in_line: usize| ReferenceSlot {
        kind,
        start: raw.text_offset(start_in_line),
    };
    let command = keyword.to_ascii_lowercase();
    if command == "onbuild" {
        return raw
            .sub
            .as_deref()
            .and_then(|sub| slot_in(sub, joined, escape));
    }
    let Some(rest) = rest else {
        return (command == "from").then(|| at(EdgeKind::From, cursor));
    };
    let rest_start = offset_in(line, rest);
    let mut flag_spans = Vec::new();
    let (args_text, flags) = extract_flags_with_spans(rest, escape, Some(&mut flag_spans));
    for (flag, (start, end)) in flags.iter().zip(&flag_spans) {
        let (start, end) = (rest_start + start, rest_start + end);
        if cursor < start || cursor > end {
            continue;
        }
        let written = &line[start..end];
        if command == "copy" && flag.starts_with("--from=") && written.starts_with("--from=") {
            let value_start = start + "--from=".len();
            return (cursor >= value_start).then(|| at(EdgeKind::Copy, value_start));
        }
        if command == "run" && written.starts_with("--mount=") {
            let value_start = start + "--mount=".len();
            let field_start = line[value_start..cursor.max(value_start)]
                .rfind(',')
                .map_or(value_start, |idx| value_start + idx + 1);
            let field = &line[field_start..cursor.max(field_start)];
            let is_from = field.len() >= 5 && field[..5].eq_ignore_ascii_case("from=");
            return is_from.then(|| at(EdgeKind::Mount, field_start + 5));
        }
        return None;
    }
    if command != "from" {
        return None;
    }
    let args_start = offset_in(line, args_text);
    let args = args_text.trim_start_matches(char::is_whitespace);
    let base_start = offset_in(line, args);
    let base_end = base_start + args.find(is_re_space).unwrap_or(args.len());
    let after_flags = flag_spans
        .last()
        .map_or(args_start, |(_, end)| rest_start + end);
    if args.is_empty() {
        return (cursor > after_flags).then(|| at(EdgeKind::From, cursor));
    }
    (cursor >= base_start && cursor <= base_end).then(|| at(EdgeKind::From, base_start))
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
    fn reference_slots_where_stage_names_go() {
        let text = "FROM base AS b\nFROM \nCOPY --from=bu /a /a\nRUN --mount=type=bind,from=x,target=/t \\\n  true\nONBUILD COPY --from= /a /a\nCOPY src /dst\nFROM --platform=linux/amd64 \n";
        let parsed = parse(text);
        let slot = |needle: &str, delta: usize| {
            let offset = text.find(needle).unwrap() + delta;
            reference_slot(offset, &parsed).map(|slot| (slot.kind, &text[slot.start..offset]))
        };
        assert_eq!(slot("base", 2), Some((EdgeKind::From, "ba")));
        assert_eq!(slot("FROM \n", 5), Some((EdgeKind::From, "")));
        assert_eq!(slot("--from=bu", 9), Some((EdgeKind::Copy, "bu")));
        assert_eq!(slot("from=x", 6), Some((EdgeKind::Mount, "x")));
        assert_eq!(slot("--from= /a", 7), Some((EdgeKind::Copy, "")));
        assert_eq!(slot("linux/amd64 \n", 12), Some((EdgeKind::From, "")));
        // Not a slot: the keyword, the AS name, a path, another mount field.
        assert_eq!(slot("FROM base", 2), None);
        assert_eq!(slot("AS b", 4), None);
        assert_eq!(slot("src /dst", 2), None);
        assert_eq!(slot("target=/t", 3), None);
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
