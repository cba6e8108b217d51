//! Splitting one joined instruction line the way BuildKit's parser does
//! (parser/split_command.go and line_parsers.go): keyword, leading `--flags`, and the
//! per-instruction argument forms (JSON arrays, white-space lists, `key=value` pairs).
//!
//! Input: the joined line. Output: keyword, flags and argument words.
//! Invariant: never panics; quoting is processed exactly as BuildKit does at this stage
//! (quotes are kept in words; later expansion removes them).

/// Characters of Go's `reWhitespace` (`[\t\v\f\r ]`).
pub fn is_re_space(ch: char) -> bool {
    matches!(ch, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

/// Splits `text` on runs of `[\t\v\f\r ]` (Go `reWhitespace.Split(text, -1)`).
pub fn split_whitespace_re(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if is_re_space(ch) {
            out.push(std::mem::take(&mut current));
            while chars.peek().is_some_and(|c| is_re_space(*c)) {
                chars.next();
            }
        } else {
            current.push(ch);
        }
    }
    out.push(current);
    out
}

/// Splits into the keyword and the rest (Go `reWhitespace.Split(strings.TrimSpace(line), 2)`).
pub fn split_keyword(line: &str) -> (&str, Option<&str>) {
    let trimmed = line.trim_matches(char::is_whitespace);
    match trimmed.char_indices().find(|(_, ch)| is_re_space(*ch)) {
        None => (trimmed, None),
        Some((idx, _)) => {
            let rest = trimmed[idx..].trim_start_matches(is_re_space);
            (&trimmed[..idx], Some(rest))
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
/// a non-ASCII byte in a flag is taken as a Latin-1 character.
pub fn extract_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    extract_flags_with_spans(line, escape, None)
}

/// [`extract_flags`], also recording in `spans` the byte range in `line` of each flag word as
/// written (quotes included), aligned with the returned flags.
pub fn extract_flags_with_spans<'a>(
    line: &'a str,
    escape: char,
    mut spans: Option<&mut Vec<(usize, usize)>>,
) -> (&'a str, Vec<String>) {
    let trimmed = line.trim_start_matches(char::is_whitespace);
    if !trimmed.starts_with("--") {
        // No flags (the common case): nothing to split.
        return (trimmed, Vec::new());
    }
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let bytes = line.as_bytes();
    // The escape character is ASCII (`\` or `` ` ``); anything else never matches a byte.
    let escape = u8::try_from(u32::from(escape)).unwrap_or(0);
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    let mut word_start = 0;
    loop {
        let at_end = pos >= bytes.len();
        let mut ch = bytes.get(pos).copied().unwrap_or(0);
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_go_byte_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (line.get(pos..).unwrap_or(""), words);
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
                if let Some(spans) = spans.as_deref_mut() {
                    spans.push((word_start, bytes.len()));
                }
            }
            break;
        }
        if phase == Phase::Word {
            if is_go_byte_space(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (line.get(pos..).unwrap_or(""), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    if let Some(spans) = spans.as_deref_mut() {
                        spans.push((word_start, pos));
                    }
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == escape {
                if pos + 1 == bytes.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = bytes[pos];
            }
            word.push(char::from(ch));
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == escape {
            if pos + 1 == bytes.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = bytes[pos];
        }
        word.push(char::from(ch));
        pos += 1;
    }
    ("", words)
}

/// BuildKit `parseWords`: splits on white space, keeping quotes and escapes in the words.
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut idx = 0;
    loop {
        let at_end = idx >= chars.len();
        let mut ch = chars.get(idx).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                idx += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                idx += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if idx + 1 == chars.len() {
                    idx += 1;
                    continue;
                }
                word.push(ch);
                idx += 1;
                ch = chars[idx];
            }
            word.push(ch);
            idx += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if idx + 1 == chars.len() {
                phase = Phase::Word;
                idx += 1;
                continue;
            }
            idx += 1;
            word.push(ch);
            ch = chars[idx];
        }
        word.push(ch);
        idx += 1;
    }
    words
}

/// The outcome of trying the JSON form.
pub enum JsonForm {
    /// A JSON array of strings.
    Array(Vec<String>),
    /// Not JSON (parse as shell form).
    NotJson,
    /// Valid JSON array with a non-string element: an error.
    NotStrings,
}

/// BuildKit `parseJSON`: a whole-value JSON array of strings.
pub fn parse_json(rest: &str) -> JsonForm {
    let trimmed = rest.trim_start_matches(char::is_whitespace);
    if !trimmed.starts_with('[') {
        return JsonForm::NotJson;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
        Err(_) => JsonForm::NotJson,
        Ok(values) => {
            let mut out = Vec::with_capacity(values.len());
            for value in values {
                match value {
                    serde_json::Value::String(s) => out.push(s),
                    _ => return JsonForm::NotStrings,
                }
            }
            JsonForm::Array(out)
        }
    }
}

/// The error text for a JSON array with non-string elements.
pub const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// `ENV`/`LABEL` pairs (BuildKit `parseNameVal`): `(key, value, has '=')` triples.
pub fn parse_name_val(
    rest: &str,
    keyword: &str,
    escape: char,
) -> Result<Vec<(String, String, bool)>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let parts: Vec<&str> = {
            let trimmed = rest;
            match trimmed.char_indices().find(|(_, c)| is_re_space(*c)) {
                None => vec![trimmed],
                Some((idx, _)) => vec![
                    &trimmed[..idx],
                    trimmed[idx..].trim_start_matches(is_re_space),
                ],
            }
        };
        if parts.len() < 2 {
            return Err(format!("{keyword} must have two arguments"));
        }
        return Ok(vec![(parts[0].to_string(), parts[1].to_string(), false)]);
    }
    let mut out = Vec::new();
    for word in words {
        match word.split_once('=') {
            None => {
                return Err(format!(
                    "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
                ))
            }
            Some((key, value)) => out.push((key.to_string(), value.to_string(), true)),
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
        assert_eq!(
            pairs,
            vec![("PATH".to_string(), "/usr/bin  /bin".to_string(), false)]
        );
    }
}
