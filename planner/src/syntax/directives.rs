//! Parser directives (`# syntax=`, `# escape=`, `# check=`), following BuildKit's
//! parser/directives.go: only at the very top, a first non-directive line ends them, and a
//! repeated directive is an error.
//!
//! Input: one line at a time (line end and leading white space removed).
//! Output: the directive on that line, if any.
//! Invariant: once a line is not a directive, no later line is one.

/// One parser directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The key, lower-cased (`syntax`, `escape`, `check`).
    pub name: String,
    /// The value, trimmed.
    pub value: String,
    /// 1-based line.
    pub line: u32,
}

/// Tracks directive parsing across lines.
#[derive(Debug, Default)]
pub struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

fn is_go_space(ch: char) -> bool {
    matches!(ch, '\t' | '\n' | '\u{0c}' | '\r' | ' ')
}

/// Matches `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` and returns key and value.
fn match_directive(text: &str) -> Option<(&str, &str)> {
    let key_len = text
        .char_indices()
        .take_while(|(idx, ch)| {
            if *idx == 0 {
                ch.is_ascii_alphabetic()
            } else {
                ch.is_ascii_alphanumeric()
            }
        })
        .count();
    if key_len == 0 {
        return None;
    }
    let key = &text[..key_len];
    let rest = text[key_len..].trim_start_matches(is_go_space);
    let rest = rest.strip_prefix('=')?;
    if rest.is_empty() || rest.contains('\n') {
        return None;
    }
    let value = rest
        .trim_start_matches(is_go_space)
        .trim_end_matches(is_go_space);
    if value.is_empty() {
        // `(.+?)` must take one character: with only white space after `=`, the regexp's
        // value is the last white-space character.
        let last_len = rest.chars().last().map_or(0, char::len_utf8);
        return Some((key, &rest[rest.len() - last_len..]));
    }
    Some((key, value))
}

impl DirectiveParser {
    /// Looks at one line; `Err` carries BuildKit's message for a repeated directive.
    pub fn parse_line(&mut self, line: &str, line_no: u32) -> Result<Option<Directive>, String> {
        if self.done {
            return Ok(None);
        }
        let Some(after_hash) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(None);
        };
        let after_hash = after_hash.trim_start_matches(char::is_whitespace);
        let Some((key, value)) = match_directive(after_hash) else {
            self.done = true;
            return Ok(None);
        };
        let name = key.to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        Ok(Some(Directive {
            name,
            value: value.to_string(),
            line: line_no,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_stop_at_first_other_line() {
        let mut parser = DirectiveParser::default();
        assert_eq!(
            parser
                .parse_line("# syntax = docker/dockerfile:1 ", 1)
                .unwrap()
                .unwrap()
                .value,
            "docker/dockerfile:1"
        );
        assert_eq!(
            parser.parse_line("#Escape=`", 2).unwrap().unwrap().name,
            "escape"
        );
        assert!(parser.parse_line("# a comment", 3).unwrap().is_none());
        assert!(parser.parse_line("# check=skip=all", 4).unwrap().is_none());
    }

    #[test]
    fn blank_value_is_the_last_space() {
        let mut parser = DirectiveParser::default();
        assert_eq!(
            parser.parse_line("#escape = ", 1).unwrap().unwrap().value,
            " "
        );
    }

    #[test]
    fn repeated_directive_is_an_error() {
        let mut parser = DirectiveParser::default();
        parser.parse_line("# escape=\\", 1).unwrap();
        assert_eq!(
            parser.parse_line("# escape=`", 2).unwrap_err(),
            "only one escape parser directive can be used"
        );
    }
}
