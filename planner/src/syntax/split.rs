//! Splitting one joined instruction line the way BuildKit's parser does
//! (parser/split_command.go and line_parsers.go): keyword, leading `--flags`, and the
//! per-instruction argument forms (JSON arrays, white-space lists, `key=value` pairs).
//!
//! Input: the joined line. Output: keyword, flags and argument words.
//! Invariant: never panics; quoting is processed exactly as BuildKit does at this stage
//! (quotes are kept in words; later expansion removes them).

use std::borrow::Cow;

use super::json::{self, JsonArray};

/// `text` without leading white space (`char::is_whitespace`), checking ASCII bytes first.
#[inline]
pub fn trim_start_space(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => idx += 1,
            byte if byte.is_ascii() => return &text[idx..],
            _ => return text[idx..].trim_start_matches(char::is_whitespace),
        }
    }
    ""
}

/// `text` without trailing white space (`char::is_whitespace`), checking ASCII bytes first.
#[inline]
pub fn trim_end_space(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 {
        match bytes[end - 1] {
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => end -= 1,
            byte if byte.is_ascii() => return &text[..end],
            _ => return text[..end].trim_end_matches(char::is_whitespace),
        }
    }
    ""
}

/// `text` without white space at either end.
#[inline]
pub fn trim_space(text: &str) -> &str {
    trim_end_space(trim_start_space(text))
}

/// The byte offset of `inner` within `outer`; `inner` must be a slice of `outer` (the result
/// is clamped to `outer` otherwise).
pub fn offset_in(outer: &str, inner: &str) -> usize {
    let offset = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    offset.min(outer.len())
}

/// Characters of Go's `reWhitespace` (`[\t\v\f\r ]`).
pub fn is_re_space(ch: char) -> bool {
    matches!(ch, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

fn is_re_space_byte(byte: u8) -> bool {
    matches!(byte, b'\t' | 0x0b | 0x0c | b'\r' | b' ')
}

/// Splits `text` on runs of `[\t\v\f\r ]` (Go `reWhitespace.Split(text, -1)`): the pieces are
/// slices of `text`, an empty first or last piece included.
pub fn split_whitespace_re(text: &str) -> SplitWhitespaceRe<'_> {
    SplitWhitespaceRe {
        text,
        pos: 0,
        done: false,
    }
}

/// The pieces of [`split_whitespace_re`].
pub struct SplitWhitespaceRe<'t> {
    text: &'t str,
    pos: usize,
    done: bool,
}

impl<'t> Iterator for SplitWhitespaceRe<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        if self.done {
            return None;
        }
        let bytes = self.text.as_bytes();
        let rest = &bytes[self.pos..];
        match rest.iter().position(|byte| is_re_space_byte(*byte)) {
            None => {
                self.done = true;
                Some(&self.text[self.pos..])
            }
            Some(offset) => {
                let piece = &self.text[self.pos..self.pos + offset];
                let mut next = self.pos + offset;
                while next < bytes.len() && is_re_space_byte(bytes[next]) {
                    next += 1;
                }
                self.pos = next;
                Some(piece)
            }
        }
    }
}

/// Splits into the keyword and the rest (Go `reWhitespace.Split(strings.TrimSpace(line), 2)`).
pub fn split_keyword(line: &str) -> (&str, Option<&str>) {
    let trimmed = trim_space(line);
    let bytes = trimmed.as_bytes();
    match bytes.iter().position(|byte| is_re_space_byte(*byte)) {
        None => (trimmed, None),
        Some(idx) => {
            let mut rest = idx;
            while rest < bytes.len() && is_re_space_byte(bytes[rest]) {
                rest += 1;
            }
            (&trimmed[..idx], Some(&trimmed[rest..]))
        }
    }
}

/// Go's `unicode.IsSpace` applied to a single byte, as BuildKit's flag extraction does
/// (`rune(line[pos])`): the ASCII spaces plus 0x85 and 0xA0.
fn is_go_byte_space(byte: u8) -> bool {
    matches!(
        byte,
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0
    )
}

/// Extracts leading `--flag[=value]` words (BuildKit `extractBuilderFlags`): returns the rest of
/// the line and the flags with quotes and escapes processed. Like BuildKit it walks bytes, so
/// a non-ASCII byte in a flag is taken as a Latin-1 character. A flag with nothing to process
/// is a slice of `line`.
pub fn extract_flags(line: &str, escape: char) -> (&str, Vec<Cow<'_, str>>) {
    extract_flags_with_spans(line, escape, None)
}

/// [`extract_flags`], also recording in `spans` the byte range in `line` of each flag word as
/// written (quotes included), aligned with the returned flags.
pub fn extract_flags_with_spans<'a>(
    line: &'a str,
    escape: char,
    mut spans: Option<&mut Vec<(usize, usize)>>,
) -> (&'a str, Vec<Cow<'a, str>>) {
    let trimmed = trim_start_space(line);
    if !trimmed.starts_with("--") {
        // No flags (the common case): nothing to split.
        return (trimmed, Vec::new());
    }
    let bytes = line.as_bytes();
    // The escape character is ASCII (`\` or `` ` ``); anything else never matches a byte.
    let escape = u8::try_from(u32::from(escape)).unwrap_or(0);
    let mut words = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_go_byte_space(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            return ("", words);
        }
        if bytes[pos] != b'-' || bytes.get(pos + 1) != Some(&b'-') {
            return (line.get(pos..).unwrap_or(""), words);
        }
        // A word with no quote, escape or non-ASCII byte is the slice up to the next space.
        let mut end = pos;
        while end < bytes.len() && !is_go_byte_space(bytes[end]) {
            let byte = bytes[end];
            if byte == b'\'' || byte == b'"' || byte == escape || !byte.is_ascii() {
                break;
            }
            end += 1;
        }
        let simple = end >= bytes.len() || is_go_byte_space(bytes[end]);
        let (word, blank_ok, word_end) = match line.get(pos..end).filter(|_| simple) {
            Some(slice) => (Cow::Borrowed(slice), false, end),
            None => processed_flag_word(line, pos, escape),
        };
        if word == "--" {
            let rest = if word_end < bytes.len() {
                line.get(word_end..).unwrap_or("")
            } else {
                ""
            };
            return (rest, words);
        }
        if blank_ok || !word.is_empty() {
            words.push(word);
            if let Some(spans) = spans.as_deref_mut() {
                spans.push((pos, word_end));
            }
        }
        pos = word_end;
    }
}

/// One flag word that needs processing, read from `start` with BuildKit's state machine (quotes
/// may hold spaces, the escape character takes the next byte, bytes are Latin-1 characters).
/// Returns the word, whether it may be blank (it had quotes), and where it ends (the space
/// after it, or the end of the line).
fn processed_flag_word(line: &str, start: usize, escape: u8) -> (Cow<'_, str>, bool, usize) {
    let bytes = line.as_bytes();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<u8> = None;
    let mut pos = start;
    while pos < bytes.len() {
        let byte = bytes[pos];
        match quote {
            None => {
                if is_go_byte_space(byte) {
                    break;
                }
                if byte == b'\'' || byte == b'"' {
                    quote = Some(byte);
                    blank_ok = true;
                    pos += 1;
                    continue;
                }
                if byte == escape {
                    if pos + 1 == bytes.len() {
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                }
            }
            Some(open) => {
                if byte == open {
                    quote = None;
                    pos += 1;
                    continue;
                }
                if byte == escape {
                    if pos + 1 == bytes.len() {
                        quote = None;
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                }
            }
        }
        word.push(char::from(bytes[pos]));
        pos += 1;
    }
    (Cow::Owned(word), blank_ok, pos)
}

/// BuildKit `parseWords`: splits on white space, keeping quotes and escapes in the words. Every
/// word is a slice of `rest` (the processing only decides where words end).
pub fn parse_words(rest: &str, escape: char) -> Vec<&str> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    // The word is `rest[word_start..word_end]`: everything kept is contiguous.
    let mut word_start = 0;
    let mut word_end = 0;
    let mut chars = rest.char_indices().peekable();
    loop {
        let Some(&(idx, ch)) = chars.peek() else {
            if phase != Phase::Spaces && (blank_ok || word_end > word_start) {
                words.push(&rest[word_start..word_end]);
            }
            break;
        };
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                chars.next();
                continue;
            }
            phase = Phase::Word;
            word_start = idx;
            word_end = idx;
        }
        chars.next();
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || word_end > word_start {
                    words.push(&rest[word_start..word_end]);
                }
                blank_ok = false;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                match chars.next() {
                    // A trailing escape character is dropped.
                    None => continue,
                    Some((next_idx, next)) => {
                        word_end = next_idx + next.len_utf8();
                        continue;
                    }
                }
            }
            word_end = idx + ch.len_utf8();
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            match chars.next() {
                None => {
                    phase = Phase::Word;
                    continue;
                }
                Some((next_idx, next)) => {
                    word_end = next_idx + next.len_utf8();
                    continue;
                }
            }
        }
        word_end = idx + ch.len_utf8();
    }
    words
}

/// The outcome of trying the JSON form.
pub enum JsonForm<'l> {
    /// A JSON array of strings (slices of the text when they hold no escapes).
    Array(Vec<Cow<'l, str>>),
    /// Not JSON (parse as shell form).
    NotJson,
    /// Valid JSON array with a non-string element: an error.
    NotStrings,
}

/// BuildKit `parseJSON`: a whole-value JSON array of strings.
pub fn parse_json(rest: &str) -> JsonForm<'_> {
    let trimmed = trim_start_space(rest);
    if !trimmed.starts_with('[') {
        return JsonForm::NotJson;
    }
    match json::parse_array(trimmed) {
        JsonArray::Strings(values) => JsonForm::Array(values),
        JsonArray::NotStrings => JsonForm::NotStrings,
        JsonArray::Invalid => JsonForm::NotJson,
    }
}

/// The error text for a JSON array with non-string elements.
pub const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// One `ENV`/`LABEL` pair: key, value, and whether it was written with `=`.
pub type NameValue<'l> = (&'l str, &'l str, bool);

/// `ENV`/`LABEL` pairs (BuildKit `parseNameVal`): `(key, value, has '=')` triples, slices of
/// `rest`.
pub fn parse_name_val<'l>(
    rest: &'l str,
    keyword: &str,
    escape: char,
) -> Result<Vec<NameValue<'l>>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        return match rest.char_indices().find(|(_, c)| is_re_space(*c)) {
            None => Err(format!("{keyword} must have two arguments")),
            Some((idx, _)) => Ok(vec![(
                &rest[..idx],
                rest[idx..].trim_start_matches(is_re_space),
                false,
            )]),
        };
    }
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        match word.split_once('=') {
            None => {
                return Err(format!(
                    "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
                ))
            }
            Some((key, value)) => out.push((key, value, true)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_leading_double_dash_words() {
        let (rest, flags) = extract_flags("--from=build --chown=\"a b\" src dst", '\\');
        assert_eq!(flags, vec!["--from=build", "--chown=a b"]);
        assert_eq!(rest, "src dst");
        let (rest, flags) = extract_flags("--link -- --notaflag x", '\\');
        assert_eq!(flags, vec!["--link"]);
        assert_eq!(rest, " --notaflag x");
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words("a=\"b c\" d='e f' g\\ h", '\\'),
            vec!["a=\"b c\"", "d='e f'", "g\\ h"]
        );
    }

    #[test]
    fn legacy_env_form() {
        let pairs = parse_name_val("PATH /usr/bin  /bin", "ENV", '\\').unwrap();
        assert_eq!(pairs, vec![("PATH", "/usr/bin  /bin", false)]);
    }
}
