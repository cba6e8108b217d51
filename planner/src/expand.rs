//! Word processing and variable expansion with BuildKit's shell-lexer rules
//! (frontend/dockerfile/shell/lex.go): quotes, the escape character, `$name`, `${name}`,
//! `${name:-w}`, `${name-w}`, `${name:+w}`, `${name+w}`, `${name:?m}`, `${name?m}`,
//! `${name#p}`, `${name##p}`, `${name%p}`, `${name%%p}`, `${name/p/r}` and `${name//p/r}`.
//!
//! Input: a word (or a line of words), variables through [`Lookup`], the escape character.
//! Output: the processed word(s), or an [`ExpandError`] with BuildKit's message.
//! Invariant: never panics; unknown variables expand to the empty string (or stay verbatim
//! with [`Lexer::skip_unset`]), and the names looked up are recorded for diagnostics.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::values::go_quote;

/// Where variables come from.
pub trait Lookup {
    /// The value of `name`, or `None` when it is not defined.
    fn lookup(&self, name: &str) -> Option<String>;
}

impl Lookup for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<S: std::hash::BuildHasher> Lookup for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// A lookup that knows no variables.
pub struct NoVars;

impl Lookup for NoVars {
    fn lookup(&self, _name: &str) -> Option<String> {
        None
    }
}

/// An expansion error, worded as BuildKit words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    /// The message, e.g. `failed to process "${A": syntax error: missing '}'`.
    pub message: String,
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExpandError {}

impl ExpandError {
    /// The error as BuildKit's lexer returns it for a whole word: `failed to process "<word>": `
    /// before the message (`shell.Lex.process`), so the user sees which word broke.
    fn of_word(self, word: &str) -> ExpandError {
        ExpandError {
            message: format!("failed to process {}: {}", go_quote(word), self.message),
        }
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, ExpandError> {
    Err(ExpandError {
        message: message.into(),
    })
}

/// Expands one word: quotes removed, variables replaced, no splitting (BuildKit `ProcessWord`).
pub fn expand_word(word: &str, vars: &dyn Lookup, escape: char) -> Result<String, ExpandError> {
    Lexer::new(escape)
        .process_word(word, vars)
        .map(|result| result.word.into_owned())
}

/// Expands a line into words, splitting on unquoted white space (BuildKit `ProcessWords`).
pub fn expand_words(
    text: &str,
    vars: &dyn Lookup,
    escape: char,
) -> Result<Vec<String>, ExpandError> {
    Lexer::new(escape).process_words(text, vars)
}

/// The result of processing one word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded<'w> {
    /// The processed word (the word itself when it has nothing to process).
    pub word: Cow<'w, str>,
    /// Names that were looked up and found.
    pub matched: BTreeSet<String>,
    /// Names that were looked up and not found.
    pub unmatched: BTreeSet<String>,
}

/// The shell lexer with BuildKit's switches.
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Leave references to unset variables as written.
    pub skip_unset: bool,
    /// Treat quotes as ordinary characters (BuildKit's `SkipProcessQuotes`, used for heredoc
    /// bodies).
    pub skip_quotes: bool,
}

impl Lexer {
    /// A lexer with the given escape character and every switch off.
    pub fn new(escape: char) -> Lexer {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
            skip_quotes: false,
        }
    }

    /// The lexer of a heredoc body whose delimiter is unquoted (`COPY <<EOF`): BuildKit expands
    /// it with escape `\` whatever the file's escape directive, quotes being ordinary
    /// characters (`SkipProcessQuotes`).
    pub fn heredoc() -> Lexer {
        Lexer {
            skip_quotes: true,
            ..Lexer::new('\\')
        }
    }

    /// Whether `text` holds nothing the lexer changes: no `$`, quote or escape character (and,
    /// when splitting, no `<`, whose `<<` keeps the white space after it in the word).
    fn is_plain(&self, text: &str, splitting: bool) -> bool {
        let is_special = |ch: char| {
            matches!(ch, '$' | '\'' | '"') || ch == self.escape || (splitting && ch == '<')
        };
        if self.escape.is_ascii() {
            // Every byte of a multi-byte character is 0x80 or more, so testing bytes sees the
            // same special characters, without decoding.
            !text.bytes().any(|byte| is_special(char::from(byte)))
        } else {
            !text.chars().any(is_special)
        }
    }

    /// Processes one word (no splitting), recording the variables used.
    pub fn process_word<'w>(
        &self,
        word: &'w str,
        vars: &dyn Lookup,
    ) -> Result<Expanded<'w>, ExpandError> {
        if self.is_plain(word, false) {
            return Ok(Expanded {
                word: Cow::Borrowed(word),
                ..Expanded::default()
            });
        }
        let mut state = State::new(self, word, vars);
        let (result, _) = state
            .process_stop_on(None, self.raw_escapes)
            .map_err(|e| e.of_word(word))?;
        Ok(Expanded {
            word: Cow::Owned(result),
            matched: state.matched,
            unmatched: state.unmatched,
        })
    }

    /// Processes a line into words.
    pub fn process_words(&self, text: &str, vars: &dyn Lookup) -> Result<Vec<String>, ExpandError> {
        if self.is_plain(text, true) {
            return Ok(text.split_whitespace().map(str::to_string).collect());
        }
        let mut state = State::new(self, text, vars);
        state.split = true;
        let (_, words) = state
            .process_stop_on(None, self.raw_escapes)
            .map_err(|e| e.of_word(text))?;
        Ok(words)
    }
}

struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
    /// False when only the whole result is wanted (one word): nothing is collected.
    active: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if !self.active {
            return;
        }
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        if !self.active {
            return;
        }
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, text: &str) {
        if !self.active {
            return;
        }
        for ch in text.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, text: &str) {
        if !self.active {
            return;
        }
        self.buf.push_str(text);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

struct State<'a> {
    lexer: &'a Lexer,
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    vars: &'a dyn Lookup,
    raw_escapes: bool,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
    depth: usize,
    /// Whether the outermost level splits the result into words (`process_words`).
    split: bool,
}

/// Nesting bound for `${a:-${b:-...}}`, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

impl<'a> State<'a> {
    fn new(lexer: &'a Lexer, text: &'a str, vars: &'a dyn Lookup) -> State<'a> {
        State {
            lexer,
            text,
            pos: 0,
            vars,
            raw_escapes: lexer.raw_escapes,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
            depth: 0,
            split: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if let Some(ch) = ch {
            self.pos += ch.len_utf8();
        }
        ch
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("syntax error: substitutions nested too deeply");
        }
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let out = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        out
    }

    fn process_stop_on_inner(
        &mut self,
        stop: Option<char>,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut result = String::new();
        let mut words = Words {
            buf: String::new(),
            words: Vec::new(),
            in_word: false,
            active: self.split && stop.is_none(),
        };
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                return Ok((result, words.finish()));
            }
            let special = match ch {
                '$' => Some(self.process_dollar()?),
                '<' => Some(self.process_possible_heredoc()),
                '\'' if !self.lexer.skip_quotes => Some(self.process_single_quote()?),
                '"' if !self.lexer.skip_quotes => Some(self.process_double_quote()?),
                _ => None,
            };
            if let Some(text) = special {
                result.push_str(&text);
                if ch == '$' {
                    words.add_string(&text);
                } else {
                    words.add_raw_string(&text);
                }
                continue;
            }
            let mut ch = self.next().unwrap_or_default();
            if ch == self.lexer.escape {
                if self.raw_escapes {
                    words.add_raw_char(ch);
                    result.push(ch);
                }
                match self.next() {
                    None => break,
                    Some(escaped) => ch = escaped,
                }
                words.add_raw_char(ch);
            } else {
                words.add_char(ch);
            }
            result.push(ch);
        }
        if let Some(stop) = stop {
            return err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Result<String, ExpandError> {
        let mut result = String::new();
        let quote = self.next().unwrap_or('\'');
        if self.lexer.raw_quotes {
            result.push(quote);
        }
        loop {
            match self.next() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching single-quote",
                    )
                }
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(ch) => result.push(ch),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, ExpandError> {
        let mut result = String::new();
        let quote = self.next().unwrap_or('"');
        if self.lexer.raw_quotes {
            result.push(quote);
        }
        loop {
            match self.peek() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching double-quote",
                    )
                }
                Some('"') => {
                    self.next();
                    if self.lexer.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lexer.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(next)
                                if next == '"' || next == '$' || next == self.lexer.escape =>
                            {
                                ch = next;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut result = "<<".to_string();
        while let Some(ch @ ('\t' | '\r' | ' ')) = self.peek() {
            result.push(ch);
            self.next();
        }
        result
    }

    fn get_var(&mut self, name: &str) -> Option<String> {
        match self.vars.lookup(name) {
            Some(value) => {
                self.matched.insert(name.to_string());
                Some(value)
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(digit) = self.peek().filter(char::is_ascii_digit) {
                    name.push(digit);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }

    fn process_dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get_var(&name) {
                Some(value) => value,
                None if self.lexer.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return err("syntax error: missing '}'"),
            Some('{' | '}' | ':') => return err("syntax error: bad substitution"),
            Some(_) => {}
        }
        let name = self.process_name();
        let Some(mut ch) = self.next() else {
            return err("syntax error: missing '}'");
        };
        let mut modifier = ch.to_string();
        match ch {
            '}' => Ok(match self.get_var(&name) {
                Some(value) => value,
                None if self.lexer.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let null_is_unset = ch == ':';
                if null_is_unset {
                    match self.next() {
                        Some(next) => {
                            ch = next;
                            modifier.push(next);
                        }
                        None => return err("syntax error: missing '}'"),
                    }
                }
                let raw = ch == '#' || ch == '%';
                if null_is_unset && raw {
                    return err(format!("unsupported modifier ({modifier}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((word, _)) => word,
                    Err(e) if self.peek().is_none() && !e.message.contains("nested") => {
                        return err("syntax error: missing '}'")
                    }
                    Err(e) => return Err(e),
                };
                let value = self.get_var(&name);
                if self.lexer.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                let empty = value
                    .as_deref()
                    .is_none_or(|v| null_is_unset && v.is_empty());
                match ch {
                    '-' => Ok(if empty {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    '+' => Ok(if empty { String::new() } else { word }),
                    '?' => match value {
                        None => err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be unset"
                            } else {
                                &word
                            }
                        )),
                        Some(v) if null_is_unset && v.is_empty() => err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be empty"
                            } else {
                                &word
                            }
                        )),
                        Some(v) => Ok(v),
                    },
                    '#' | '%' => {
                        let (pattern, greedy) = match word.strip_prefix(ch) {
                            Some(rest) => (rest.to_string(), true),
                            None => (word, false),
                        };
                        let value = value.unwrap_or_default();
                        let glob = Glob::parse(&pattern)?;
                        Ok(if ch == '#' {
                            glob.trim_prefix(&value, greedy)
                        } else {
                            glob.trim_suffix(&value, greedy)
                        })
                    }
                    _ => err(format!("unsupported modifier ({modifier}) in substitution")),
                }
            }
            '/' => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((pattern, _)) => pattern,
                    Err(_) if self.peek().is_none() => {
                        return err("syntax error: missing '/' in ${}")
                    }
                    Err(e) => return Err(e),
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((replacement, _)) => replacement,
                    Err(_) if self.peek().is_none() => return err("syntax error: missing '}'"),
                    Err(e) => return Err(e),
                };
                let value = self.get_var(&name);
                let Some(value) = value else {
                    if self.lexer.skip_unset {
                        return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                    }
                    return Ok(String::new());
                };
                let glob = Glob::parse(&pattern)?;
                Ok(glob.replace(&value, &replacement, replace_all))
            }
            _ => err(format!("unsupported modifier ({modifier}) in substitution")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GlobToken {
    Star,
    Any,
    Literal(char),
}

/// A shell pattern (`*`, `?`, `\*`, `\?`, `\\`) as BuildKit converts it to a regexp; like
/// Go's `.`, neither wildcard matches a newline.
struct Glob {
    tokens: Vec<GlobToken>,
}

impl Glob {
    fn parse(pattern: &str) -> Result<Glob, ExpandError> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(ch) = chars.next() {
            match ch {
                '*' => tokens.push(GlobToken::Star),
                '?' => tokens.push(GlobToken::Any),
                '\\' => {
                    if matches!(chars.peek(), Some('}' | '/')) {
                        continue;
                    }
                    match chars.next() {
                        Some(escaped @ ('*' | '?' | '\\')) => {
                            tokens.push(GlobToken::Literal(escaped))
                        }
                        other => {
                            let shown = other.map(String::from).unwrap_or_default();
                            return err(format!("invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'"));
                        }
                    }
                }
                other => tokens.push(GlobToken::Literal(other)),
            }
        }
        Ok(Glob { tokens })
    }

    /// Whether the tokens match exactly `text`.
    fn matches(&self, text: &[char]) -> bool {
        // Classic two-pointer wildcard matching with backtracking to the last star.
        let (mut t, mut p) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(GlobToken::Star) => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(GlobToken::Any) if text[t] != '\n' => {
                    t += 1;
                    p += 1;
                    continue;
                }
                Some(GlobToken::Literal(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((star_p, star_t)) if text[star_t] != '\n' => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                _ => return false,
            }
        }
        self.tokens[p..]
            .iter()
            .all(|token| *token == GlobToken::Star)
    }

    fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let lengths: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new((0..=chars.len()).rev())
        } else {
            Box::new(0..=chars.len())
        };
        for len in lengths {
            if self.matches(&chars[..len]) {
                return chars[len..].iter().collect();
            }
        }
        value.to_string()
    }

    fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let starts: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new(0..=chars.len())
        } else {
            Box::new((0..=chars.len()).rev())
        };
        for start in starts {
            if self.matches(&chars[start..]) {
                return chars[..start].iter().collect();
            }
        }
        value.to_string()
    }

    /// The longest match starting at `start`, as an end index.
    fn longest_at(&self, chars: &[char], start: usize) -> Option<usize> {
        (start..=chars.len())
            .rev()
            .find(|end| self.matches(&chars[start..*end]))
    }

    fn replace(&self, value: &str, replacement: &str, all: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut pos = 0;
        let mut last_match_end: Option<usize> = None;
        while pos <= chars.len() {
            match self.longest_at(&chars, pos) {
                Some(end) if !(end == pos && last_match_end == Some(pos)) => {
                    out.push_str(replacement);
                    last_match_end = Some(end);
                    if !all {
                        out.extend(&chars[end..]);
                        return out;
                    }
                    if end == pos {
                        if let Some(ch) = chars.get(pos) {
                            out.push(*ch);
                        }
                        pos += 1;
                    } else {
                        pos = end;
                    }
                }
                _ => {
                    if let Some(ch) = chars.get(pos) {
                        out.push(*ch);
                    }
                    pos += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn heredoc_bodies_expand_variables_but_keep_quotes() {
        let env = vars(&[("A", "1")]);
        let body = |text: &str| {
            Lexer::heredoc()
                .process_word(text, &env)
                .map(|e| e.word.into_owned())
                .map_err(|e| e.message)
        };
        assert_eq!(
            body("x='$A' \"${A}\" \\$A $B ${C:-${A}} cost: 5$\n").unwrap(),
            "x='1' \"1\" $A  1 cost: 5$\n"
        );
        assert_eq!(body("\\\n").unwrap(), "\n");
        assert_eq!(body("\\\\\n").unwrap(), "\\\n");
        assert!(body("${NOPE:?is required}").is_err());
    }

    fn word(text: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
        expand_word(text, env, '\\').map_err(|e| e.message)
    }

    #[test]
    fn expansion_operators_match_buildkit() {
        let env = vars(&[("a", "hello.tar.gz"), ("e", ""), ("v", "1.22")]);
        let cases = [
            ("$a", "hello.tar.gz"),
            ("${a}", "hello.tar.gz"),
            ("x${nope}y", "xy"),
            ("${nope:-def}", "def"),
            ("${e:-def}", "def"),
            ("${e-def}", ""),
            ("${nope-def}", "def"),
            ("${a:+set}", "set"),
            ("${e:+set}", ""),
            ("${e+set}", "set"),
            ("${a#*.}", "tar.gz"),
            ("${a##*.}", "gz"),
            ("${a%.*}", "hello.tar"),
            ("${a%%.*}", "hello"),
            ("${a/l/L}", "heLlo.tar.gz"),
            ("${a//l/L}", "heLLo.tar.gz"),
            ("${v/./-}", "1-22"),
            ("golang:${v:-1.21}-alpine", "golang:1.22-alpine"),
            ("'$a'", "$a"),
            ("\"$a\"", "hello.tar.gz"),
            ("\\$a", "$a"),
            ("${nope:-${v}}", "1.22"),
            ("$", "$"),
            ("a$", "a$"),
        ];
        for (input, expected) in cases {
            assert_eq!(word(input, &env).as_deref(), Ok(expected), "input {input}");
        }
    }

    #[test]
    fn expansion_errors_use_buildkit_wording() {
        let env = vars(&[("e", "")]);
        // The whole word is named first, as BuildKit's `Lex.process` wraps every error.
        assert_eq!(
            word("${a", &env).unwrap_err(),
            "failed to process \"${a\": syntax error: missing '}'"
        );
        for (input, message) in [
            ("${}", "syntax error: bad substitution"),
            ("${a:#x}", "unsupported modifier (:#) in substitution"),
            ("${a?}", "a: is not allowed to be unset"),
            ("${e:?must be set}", "e: must be set"),
            ("${a b}", "unsupported modifier ( ) in substitution"),
        ] {
            assert_eq!(
                word(input, &env).unwrap_err(),
                format!("failed to process \"{input}\": {message}")
            );
        }
        assert_eq!(
            expand_words("ok \"${a\tb\"", &env, '\\')
                .unwrap_err()
                .message,
            "failed to process \"ok \\\"${a\\tb\\\"\": unsupported modifier (\t) in substitution"
        );
    }

    #[test]
    fn words_split_on_unquoted_space_and_expanded_values() {
        let env = vars(&[("two", "a b")]);
        let words = expand_words("x 'y z' $two", &env, '\\').unwrap();
        assert_eq!(words, vec!["x", "y z", "a", "b"]);
    }

    #[test]
    fn records_unmatched_names() {
        let out = Lexer::new('\\')
            .process_word("${A}-${B:-x}", &vars(&[("A", "1")]))
            .unwrap();
        assert_eq!(out.word, "1-x");
        assert!(out.unmatched.contains("B") && out.matched.contains("A"));
    }

    #[test]
    fn backtick_escape() {
        assert_eq!(expand_word("`$a", &vars(&[("a", "1")]), '`').unwrap(), "$a");
    }
}
