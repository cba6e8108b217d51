//! The JSON form of an instruction (`CMD ["a", "b"]`) as BuildKit reads it: Go's
//! `json.Unmarshal` of the text into a `[]interface{}`, then every element must be a string.
//!
//! Input: the instruction's arguments, starting with `[`. Output: [`JsonArray`]: the strings
//! (slices of the text when they hold no escape), a valid array with another element, or not
//! JSON at all (BuildKit then reads the shell form).
//! Invariant: agrees with Go's decoder, not with a general JSON library: nesting up to 10,000
//! levels, a lone UTF-16 surrogate escape decodes to U+FFFD, a number beyond float64's range
//! makes the whole text not JSON (Go's `ParseFloat` fails on it), only JSON white space around
//! the value. Iterative, linear in the text, and no floating-point code (the WebAssembly build
//! stays small).

use std::borrow::Cow;

/// What the text is as a JSON array.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonArray<'t> {
    /// An array of strings.
    Strings(Vec<Cow<'t, str>>),
    /// A valid array with an element that is not a string.
    NotStrings,
    /// Not a valid JSON value (or a number out of range).
    Invalid,
}

/// Go's `maxNestingDepth` of its JSON scanner.
const MAX_DEPTH: usize = 10_000;

/// The smallest magnitude Go's `ParseFloat` refuses as out of range: halfway between the largest
/// float64 and 2^1024 (2^1024 - 2^970, which rounds to even, up to infinity), significant digits
/// without the trailing zeros; its leading digit is at 10^308.
const OVERFLOW_DIGITS: &[u8] = b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";

/// The power of ten of the leading digit of [`OVERFLOW_DIGITS`].
const OVERFLOW_EXPONENT: i64 = 308;

fn skip_space(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Reads the JSON text `text` (which starts with `[`) as Go's `json.Unmarshal` into a
/// `[]interface{}` would.
pub fn parse_array(text: &str) -> JsonArray<'_> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'[') {
        return JsonArray::Invalid;
    }
    let mut strings = Vec::new();
    let mut only_strings = true;
    let mut pos = skip_space(bytes, 1);
    if bytes.get(pos) == Some(&b']') {
        pos += 1;
    } else {
        loop {
            pos = skip_space(bytes, pos);
            if bytes.get(pos) == Some(&b'"') {
                let Some((value, end)) = string(text, pos) else {
                    return JsonArray::Invalid;
                };
                strings.push(value);
                pos = end;
            } else {
                only_strings = false;
                let Some(end) = skip_value(bytes, pos, 1) else {
                    return JsonArray::Invalid;
                };
                pos = end;
            }
            pos = skip_space(bytes, pos);
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b']') => {
                    pos += 1;
                    break;
                }
                _ => return JsonArray::Invalid,
            }
        }
    }
    if skip_space(bytes, pos) != bytes.len() {
        return JsonArray::Invalid;
    }
    if only_strings {
        JsonArray::Strings(strings)
    } else {
        JsonArray::NotStrings
    }
}

/// The end of the JSON value at `pos` (after white space), inside `depth` open containers;
/// `None` when it is not valid.
fn skip_value(bytes: &[u8], mut pos: usize, depth: usize) -> Option<usize> {
    // The open containers below the value: true for an object.
    let mut open: Vec<bool> = Vec::new();
    loop {
        pos = skip_space(bytes, pos);
        match *bytes.get(pos)? {
            container @ (b'{' | b'[') => {
                if depth + open.len() + 1 > MAX_DEPTH {
                    return None;
                }
                let is_object = container == b'{';
                open.push(is_object);
                pos = skip_space(bytes, pos + 1);
                let close = if is_object { b'}' } else { b']' };
                if bytes.get(pos) == Some(&close) {
                    open.pop();
                    pos += 1;
                } else if is_object {
                    pos = object_key(bytes, pos)?;
                    continue;
                } else {
                    continue;
                }
            }
            b'"' => pos = string_end(bytes, pos)?,
            b't' => pos = literal(bytes, pos, b"true")?,
            b'f' => pos = literal(bytes, pos, b"false")?,
            b'n' => pos = literal(bytes, pos, b"null")?,
            b'-' | b'0'..=b'9' => pos = number_end(bytes, pos)?,
            _ => return None,
        }
        // After a value: close containers until one goes on with another value.
        loop {
            let Some(&is_object) = open.last() else {
                return Some(pos);
            };
            pos = skip_space(bytes, pos);
            match *bytes.get(pos)? {
                b',' => {
                    pos += 1;
                    if is_object {
                        pos = object_key(bytes, skip_space(bytes, pos))?;
                    }
                    break;
                }
                b'}' if is_object => {
                    open.pop();
                    pos += 1;
                }
                b']' if !is_object => {
                    open.pop();
                    pos += 1;
                }
                _ => return None,
            }
        }
    }
}

/// A key and its colon at `pos`; the position after the colon.
fn object_key(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let pos = skip_space(bytes, string_end(bytes, pos)?);
    (bytes.get(pos) == Some(&b':')).then_some(pos + 1)
}

fn literal(bytes: &[u8], pos: usize, word: &[u8]) -> Option<usize> {
    bytes
        .get(pos..pos + word.len())
        .filter(|found| *found == word)
        .map(|_| pos + word.len())
}

/// The end of the string at `pos` (just past its closing quote), checking its escapes.
fn string_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut idx = pos + 1;
    loop {
        match *bytes.get(idx)? {
            b'"' => return Some(idx + 1),
            b'\\' => match *bytes.get(idx + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => idx += 2,
                b'u' => {
                    hex4(bytes, idx + 2)?;
                    idx += 6;
                }
                _ => return None,
            },
            byte if byte < 0x20 => return None,
            _ => idx += 1,
        }
    }
}

fn hex4(bytes: &[u8], pos: usize) -> Option<u32> {
    let digits = bytes.get(pos..pos + 4)?;
    digits.iter().try_fold(0u32, |acc, byte| {
        let digit = (*byte as char).to_digit(16)?;
        Some(acc * 16 + digit)
    })
}

/// The string at `pos` decoded as Go does, and the position after it.
fn string(text: &str, pos: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = text.as_bytes();
    let end = string_end(bytes, pos)?;
    let body = &text[pos + 1..end - 1];
    if !body.contains('\\') {
        return Some((Cow::Borrowed(body), end));
    }
    let body_bytes = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut idx = 0;
    while idx < body_bytes.len() {
        let Some(offset) = body[idx..].find('\\') else {
            out.push_str(&body[idx..]);
            break;
        };
        out.push_str(&body[idx..idx + offset]);
        idx += offset;
        let escape = body_bytes[idx + 1];
        idx += 2;
        let ch = match escape {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(body_bytes, idx)?;
                idx += 4;
                if (0xd800..0xe000).contains(&unit) {
                    // utf16.DecodeRune with the next `\uXXXX`, if there is one; a pair is
                    // consumed whole, anything else gives U+FFFD for this unit alone.
                    let next = (body_bytes.get(idx) == Some(&b'\\')
                        && body_bytes.get(idx + 1) == Some(&b'u'))
                    .then(|| hex4(body_bytes, idx + 2))
                    .flatten();
                    match next {
                        Some(low) if unit < 0xdc00 && (0xdc00..0xe000).contains(&low) => {
                            idx += 6;
                            char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))
                                .unwrap_or('\u{fffd}')
                        }
                        _ => '\u{fffd}',
                    }
                } else {
                    char::from_u32(unit).unwrap_or('\u{fffd}')
                }
            }
            other => other as char,
        };
        out.push(ch);
    }
    Some((Cow::Owned(out), end))
}

/// The end of the number at `pos`: JSON's grammar, and a magnitude Go's `ParseFloat` accepts.
fn number_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut idx = pos;
    if bytes.get(idx) == Some(&b'-') {
        idx += 1;
    }
    let digits_in = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_start = idx;
    let int_len = digits_in(idx);
    if int_len == 0 || (int_len > 1 && bytes[idx] == b'0') {
        return None;
    }
    idx += int_len;
    let (mut frac_start, mut frac_len) = (idx, 0);
    if bytes.get(idx) == Some(&b'.') {
        frac_start = idx + 1;
        frac_len = digits_in(frac_start);
        if frac_len == 0 {
            return None;
        }
        idx = frac_start + frac_len;
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(idx), Some(b'e' | b'E')) {
        idx += 1;
        let negative = match bytes.get(idx) {
            Some(b'-') => {
                idx += 1;
                true
            }
            Some(b'+') => {
                idx += 1;
                false
            }
            _ => false,
        };
        let exp_len = digits_in(idx);
        if exp_len == 0 {
            return None;
        }
        for byte in &bytes[idx..idx + exp_len] {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(byte - b'0'));
        }
        if negative {
            exponent = -exponent;
        }
        idx += exp_len;
    }
    let digits = bytes[int_start..int_start + int_len]
        .iter()
        .chain(&bytes[frac_start..frac_start + frac_len]);
    (!overflows(digits, int_len, exponent)).then_some(idx)
}

/// Whether the decimal `0.d1d2d3… × 10^(int_len + exponent)` (digits of the integer part,
/// then of the fraction) is at least [`OVERFLOW_DIGITS`] × 10^[`OVERFLOW_EXPONENT`].
fn overflows<'d>(
    digits: impl Iterator<Item = &'d u8> + Clone,
    int_len: usize,
    exponent: i64,
) -> bool {
    let leading_zeros = digits.clone().take_while(|d| **d == b'0').count();
    let significant: Vec<u8> = digits.skip(leading_zeros).copied().collect();
    let significant = {
        let end = significant
            .iter()
            .rposition(|d| *d != b'0')
            .map_or(0, |last| last + 1);
        &significant[..end]
    };
    if significant.is_empty() {
        return false;
    }
    // The power of ten of the leading significant digit.
    let leading = (int_len as i64 - 1 - leading_zeros as i64).saturating_add(exponent);
    match leading.cmp(&OVERFLOW_EXPONENT) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => significant >= OVERFLOW_DIGITS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(text: &str) -> Vec<String> {
        match parse_array(text) {
            JsonArray::Strings(values) => values.into_iter().map(Cow::into_owned).collect(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn arrays_of_strings_borrow_unless_escaped() {
        assert_eq!(strings("[]"), Vec::<String>::new());
        assert_eq!(strings(" [ ] ".trim_start()), Vec::<String>::new());
        assert_eq!(strings("[\"a\", \"b c\"]"), vec!["a", "b c"]);
        match parse_array("[\"plain\"]") {
            JsonArray::Strings(values) => assert!(matches!(values[0], Cow::Borrowed("plain"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            strings(r#"["a\"b", "\\", "\/", "\b\f\n\r\t", "\u00e9\u4e2d", "\ud83d\ude00"]"#),
            vec!["a\"b", "\\", "/", "\u{8}\u{c}\n\r\t", "é中", "😀"]
        );
    }

    #[test]
    fn lone_surrogates_decode_to_the_replacement_character_as_in_go() {
        assert_eq!(strings(r#"["\ud800"]"#), vec!["\u{fffd}"]);
        assert_eq!(strings(r#"["\ud800x"]"#), vec!["\u{fffd}x"]);
        assert_eq!(strings(r#"["\udc00\ud800"]"#), vec!["\u{fffd}\u{fffd}"]);
        // A high surrogate followed by a non-surrogate escape: both decoded on their own.
        assert_eq!(strings(r#"["\ud800\u0041"]"#), vec!["\u{fffd}A"]);
    }

    #[test]
    fn other_elements_and_invalid_json() {
        for text in [
            "[1]",
            "[\"a\", null]",
            "[true, false]",
            "[{\"k\": [1, {}], \"l\": \"v\"}]",
            "[[], [[]]]",
            "[-0.5e+10, 0, 1E2]",
            "[1e-400]",
        ] {
            assert_eq!(parse_array(text), JsonArray::NotStrings, "{text}");
        }
        for text in [
            "[",
            "[\"a\",]",
            "[\"a\" \"b\"]",
            "[\"a\"] x",
            "[01]",
            "[1.]",
            "[.5]",
            "[+1]",
            "[1e]",
            "[tru]",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "[\"tab\there\"]",
            "[{1: 2}]",
            "[{\"k\" 2}]",
            "[{\"k\": 2,}]",
            "[1e309]",
            "[\"a\"]\u{a0}",
        ] {
            assert_eq!(parse_array(text), JsonArray::Invalid, "{text:?}");
        }
    }

    #[test]
    fn numbers_beyond_float64_are_not_json_as_in_go() {
        assert_eq!(
            parse_array("[1.7976931348623157e308]"),
            JsonArray::NotStrings
        );
        assert_eq!(parse_array("[179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791]"), JsonArray::NotStrings);
        assert_eq!(
            parse_array("[1.7976931348623158079372897140531e308]"),
            JsonArray::Invalid
        );
        // Just below the halfway point rounds down to the largest float64.
        assert_eq!(
            parse_array("[1.797693134862315807937289714053e308]"),
            JsonArray::NotStrings
        );
        assert_eq!(parse_array("[-1.8e308]"), JsonArray::Invalid);
        assert_eq!(parse_array("[0.00000000001e319]"), JsonArray::NotStrings);
        assert_eq!(
            parse_array("[0e99999999999999999999999]"),
            JsonArray::NotStrings
        );
        assert_eq!(
            parse_array("[1e99999999999999999999999]"),
            JsonArray::Invalid
        );
    }

    #[test]
    fn nesting_is_limited_like_gos_scanner_and_never_recursive() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(parse_array(&nested(MAX_DEPTH)), JsonArray::NotStrings);
        assert_eq!(parse_array(&nested(MAX_DEPTH + 1)), JsonArray::Invalid);
        assert_eq!(parse_array(&nested(1_000_000)), JsonArray::Invalid);
    }
}
