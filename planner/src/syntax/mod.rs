//! The Dockerfile syntax layer, following BuildKit's parser (frontend/dockerfile/parser):
//! parser directives, the escape character, line continuation (with comment and blank lines
//! inside), comments, heredocs (`<<-`, quoted delimiters, several per line), leading
//! `--flags`, JSON and shell forms, a UTF-8 BOM and CRLF line ends.
//!
//! Input: Dockerfile text. Output: [`Parsed`]: directives and raw instructions with line
//! numbers and byte spans, or the first syntax error (BuildKit stops there too).
//! Invariant: the only module that knows Dockerfile lexing; never panics on any input.

mod directives;
mod dump;
pub mod split;
pub mod words;

use crate::diagnostics::Span;
use crate::expand::{Lexer, NoVars};

pub use directives::Directive;
pub use dump::dump_json;
use split::JsonForm;

/// The longest physical line BuildKit's scanner accepts, newline included.
const MAX_LINE: usize = 64 * 1024;

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The parser directives at the top (`syntax`, `escape`, `check`), in order.
    pub directives: Vec<Directive>,
    /// The escape character in force.
    pub escape: char,
    /// The instructions that parsed, in order. An instruction that fails to parse is left
    /// out and parsing goes on after it (for editors); an error that ends the file (an
    /// unterminated heredoc, an overlong line, a bad directive) leaves the rest out.
    pub instructions: Vec<RawInstruction>,
    /// The first syntax error; BuildKit rejects the file with it, so consumers that follow
    /// BuildKit look at nothing else when it is set.
    pub error: Option<SyntaxError>,
    /// Lines of blank continuation lines (BuildKit's `NoEmptyContinuation`), with the
    /// instruction's span.
    pub empty_continuations: Vec<Span>,
}

/// A syntax error with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The message in BuildKit's words.
    pub message: String,
    /// 1-based line where the failing instruction starts.
    pub line: u32,
    /// 1-based line where it ends.
    pub end_line: u32,
    /// Byte span of the failing instruction (or line).
    pub span: Span,
}

/// A here-document as the parser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeredoc {
    /// The delimiter, quotes removed.
    pub name: String,
    /// The body lines, each with its line end, before `<<-` tab stripping.
    pub content: String,
    /// False when any part of the delimiter was quoted.
    pub expand: bool,
    /// `<<-`: strip leading tabs.
    pub chomp: bool,
    /// The file descriptor before `<<` (0 when none).
    pub fd: u32,
}

/// One instruction as BuildKit's parser produces it (a `parser.Node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawInstruction {
    /// The keyword as written (`from`, `FROM`, `From`).
    pub keyword: String,
    /// Leading `--flag[=value]` words, quotes processed.
    pub flags: Vec<String>,
    /// The argument words (BuildKit's node arguments): for `ENV`/`LABEL` triples of key,
    /// value and `"="` (or `""` for the legacy form); for `ONBUILD` the trigger keyword
    /// followed by its arguments; for `HEALTHCHECK` the type followed by the command.
    pub args: Vec<String>,
    /// Whether the arguments were a JSON array.
    pub json: bool,
    /// The joined line (continuations joined, comments dropped).
    pub original: String,
    /// 1-based first line.
    pub start_line: u32,
    /// 1-based last line (heredoc bodies included).
    pub end_line: u32,
    /// The heredocs, in order.
    pub heredocs: Vec<RawHeredoc>,
    /// For `ONBUILD`: the trigger instruction.
    pub sub: Option<Box<RawInstruction>>,
    /// Comment lines directly above the instruction (for doc comments).
    pub comments: Vec<String>,
    /// Bytes from the keyword to the end of the last line.
    pub span: Span,
    /// Bytes of the keyword.
    pub keyword_span: Span,
    /// Where `original` sits in the instruction's joined line: 0, or for an `ONBUILD` trigger
    /// the offset of the trigger's keyword.
    pub origin: usize,
    /// For each continuation line of the instruction, where its piece of the joined line
    /// starts: (byte offset in the joined line, byte offset in the text). The first piece
    /// starts at `span.start`. Maps words back to the text (see [`words`]).
    pub continuations: Vec<(usize, usize)>,
}

impl RawInstruction {
    /// The byte offset in the text of byte `offset` of `original`.
    pub fn text_offset(&self, offset: usize) -> usize {
        let joined = self.origin + offset;
        match self
            .continuations
            .iter()
            .rev()
            .find(|(piece_start, _)| *piece_start <= joined)
        {
            Some((piece_start, text_start)) => text_start + (joined - piece_start),
            None => self.span.start + joined,
        }
    }

    /// The keyword lower-cased.
    pub fn command(&self) -> String {
        self.keyword.to_ascii_lowercase()
    }

    fn can_contain_heredoc(&self) -> bool {
        let node = match &self.sub {
            Some(sub) if self.keyword.eq_ignore_ascii_case("onbuild") => sub.as_ref(),
            _ => self,
        };
        ["run", "copy", "add"]
            .iter()
            .any(|k| node.keyword.eq_ignore_ascii_case(k))
            && !node.json
    }
}

/// One physical line: its byte offset and text (line end included).
struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn physical_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::with_capacity(text.bytes().filter(|b| *b == b'\n').count() + 1);
    let mut start = 0;
    for (idx, byte) in text.bytes().enumerate() {
        if byte == b'\n' {
            lines.push(Line {
                start,
                text: &text[start..=idx],
            });
            start = idx + 1;
        }
    }
    if start < text.len() {
        lines.push(Line {
            start,
            text: &text[start..],
        });
    }
    lines
}

fn trim_newline(text: &str) -> &str {
    text.trim_end_matches(['\r', '\n'])
}

fn is_comment(text: &str) -> bool {
    text.trim_start_matches(char::is_whitespace)
        .starts_with('#')
}

/// BuildKit's continuation test: the escape char last (spaces and tabs may follow), and not
/// preceded by another escape char. Returns the line without it, and whether the line ends.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(without) = trimmed.strip_suffix(escape) {
        if without.is_empty() || !without.ends_with(escape) {
            return (without, false);
        }
    }
    (line, true)
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Parsed {
    Parser::new(text).run()
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    next: usize,
    escape: char,
    directive_parser: directives::DirectiveParser,
    parsed: Parsed,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        let lines = physical_lines(text);
        let instructions: Vec<RawInstruction> = Vec::with_capacity(lines.len() / 2 + 1);
        Parser {
            lines,
            next: 0,
            escape: '\\',
            directive_parser: directives::DirectiveParser::default(),
            parsed: Parsed {
                escape: '\\',
                instructions,
                ..Parsed::default()
            },
        }
    }

    fn line_span(&self, idx: usize) -> Span {
        let line = &self.lines[idx.min(self.lines.len().saturating_sub(1))];
        Span::new(line.start, line.start + trim_newline(line.text).len())
    }

    /// The next physical line, or an error when it is longer than BuildKit's scanner accepts.
    fn scan(&mut self) -> Option<Result<usize, SyntaxError>> {
        let idx = self.next;
        let line = self.lines.get(idx)?;
        self.next += 1;
        if line.text.len() > MAX_LINE {
            return Some(Err(SyntaxError {
                message: format!(
                    "dockerfile line greater than max allowed size of {}",
                    MAX_LINE - 1
                ),
                line: idx as u32 + 1,
                end_line: idx as u32 + 1,
                span: self.line_span(idx),
            }));
        }
        Some(Ok(idx))
    }

    /// An error that ends the file (the first error recorded stays the file's error).
    fn fail(&mut self, message: String, first: usize, last: usize) -> Parsed {
        self.recover(message, first, last);
        self.finish()
    }

    /// An instruction that does not parse: the first such error is the file's error (BuildKit
    /// stops there), and parsing goes on after the instruction so that editors still see the
    /// instructions that follow it.
    fn recover(&mut self, message: String, first: usize, last: usize) {
        if self.parsed.error.is_none() {
            let span = Span::new(self.line_span(first).start, self.line_span(last).end);
            self.parsed.error = Some(SyntaxError {
                message,
                line: first as u32 + 1,
                end_line: last as u32 + 1,
                span,
            });
        }
    }

    fn finish(&mut self) -> Parsed {
        self.parsed.escape = self.escape;
        std::mem::take(&mut self.parsed)
    }

    fn run(mut self) -> Parsed {
        let mut comments: Vec<String> = Vec::new();
        while let Some(scanned) = self.scan() {
            let idx = match scanned {
                Ok(idx) => idx,
                Err(e) => {
                    self.parsed.error.get_or_insert(e);
                    return self.finish();
                }
            };
            let mut raw = self.lines[idx].text;
            let mut raw_start = self.lines[idx].start;
            if idx == 0 {
                if let Some(rest) = raw.strip_prefix('\u{feff}') {
                    raw = rest;
                    raw_start += '\u{feff}'.len_utf8();
                }
            }
            if is_comment(raw) {
                let comment = raw.get(1..).unwrap_or("").trim();
                if comment.is_empty() {
                    comments.clear();
                } else {
                    comments.push(comment.to_string());
                }
            }
            let no_newline = trim_newline(raw);
            let content = no_newline.trim_start_matches(char::is_whitespace);
            let content_start = raw_start + (no_newline.len() - content.len());
            match self.directive_parser.parse_line(content, idx as u32 + 1) {
                Err(message) => return self.fail(message, idx, idx),
                Ok(Some(directive)) => {
                    comments.pop();
                    if directive.name == "escape" {
                        match directive.value.as_str() {
                            "\\" => self.escape = '\\',
                            "`" => self.escape = '`',
                            other => {
                                let message = format!(
                                    "invalid escape token '{other}' does not match ` or \\"
                                );
                                return self.fail(message, idx, idx);
                            }
                        }
                    }
                    self.parsed.directives.push(directive);
                }
                Ok(None) => {}
            }
            let content = if is_comment(content) { "" } else { content };
            let (first, mut ended) = trim_continuation(content, self.escape);
            if ended && first.is_empty() {
                continue;
            }
            let mut line = first.to_string();
            let mut continuations = Vec::new();
            let mut last_idx = idx;
            let mut empty_continuation = false;
            while !ended {
                let Some(scanned) = self.scan() else { break };
                let cidx = match scanned {
                    Ok(cidx) => cidx,
                    Err(e) => {
                        self.parsed.error.get_or_insert(e);
                        return self.finish();
                    }
                };
                last_idx = cidx;
                let ctext = trim_newline(self.lines[cidx].text);
                if is_comment(ctext) {
                    continue;
                }
                if ctext.trim_start_matches(char::is_whitespace).is_empty() {
                    empty_continuation = true;
                    continue;
                }
                let (piece, piece_ended) = trim_continuation(ctext, self.escape);
                continuations.push((line.len(), self.lines[cidx].start));
                line.push_str(piece);
                ended = piece_ended;
            }
            let start_span = Span::new(content_start, content_start);
            let mut node = match self.node_from_line(line, std::mem::take(&mut comments)) {
                Ok(node) => node,
                Err(message) => {
                    self.recover(message, idx, last_idx);
                    continue;
                }
            };
            if node.can_contain_heredoc() && node.original.contains("<<") {
                match heredocs_from_line(&node.original) {
                    Err(message) => {
                        self.recover(message, idx, last_idx);
                        continue;
                    }
                    Ok(heredocs) => {
                        for mut heredoc in heredocs {
                            let mut terminated = false;
                            while let Some(scanned) = self.scan() {
                                let hidx = match scanned {
                                    Ok(hidx) => hidx,
                                    Err(e) => {
                                        self.parsed.error.get_or_insert(e);
                                        return self.finish();
                                    }
                                };
                                last_idx = hidx;
                                let body_line = self.lines[hidx].text;
                                let mut candidate = trim_newline(body_line);
                                if heredoc.chomp {
                                    candidate = candidate.trim_start_matches('\t');
                                }
                                if candidate == heredoc.name {
                                    terminated = true;
                                    break;
                                }
                                heredoc.content.push_str(body_line);
                            }
                            if !terminated {
                                return self.fail(
                                    "unterminated heredoc".to_string(),
                                    idx,
                                    last_idx,
                                );
                            }
                            node.heredocs.push(heredoc);
                        }
                    }
                }
            }
            node.start_line = idx as u32 + 1;
            node.end_line = last_idx as u32 + 1;
            let keyword_len = node.keyword.len();
            node.keyword_span = Span::new(start_span.start, start_span.start + keyword_len);
            node.span = Span::new(
                start_span.start,
                self.line_span(last_idx).end.max(start_span.start),
            );
            if let Some(sub) = node.sub.as_deref_mut() {
                sub.span = node.span;
                sub.continuations = continuations.clone();
                let keyword_start = sub.text_offset(0);
                sub.keyword_span = Span::new(keyword_start, keyword_start + sub.keyword.len());
            }
            node.continuations = continuations;
            if empty_continuation {
                self.parsed.empty_continuations.push(node.span);
            }
            self.parsed.instructions.push(node);
        }
        if self.parsed.instructions.is_empty() && self.parsed.error.is_none() {
            let last = self.lines.len().saturating_sub(1);
            let line = self.lines.len();
            self.parsed.error = Some(SyntaxError {
                message: "file with no instructions".to_string(),
                line: line as u32,
                end_line: line as u32,
                span: if self.lines.is_empty() {
                    Span::default()
                } else {
                    self.line_span(last)
                },
            });
        }
        self.finish()
    }

    /// BuildKit `newNodeFromLine`: keyword, flags and the per-instruction argument form.
    fn node_from_line(
        &self,
        line: String,
        comments: Vec<String>,
    ) -> Result<RawInstruction, String> {
        let (keyword, rest) = split::split_keyword(&line);
        let (args_text, flags) = match rest {
            Some(rest) => split::extract_flags(rest, self.escape),
            None => ("", Vec::new()),
        };
        let rest = args_text.trim_matches(char::is_whitespace);
        let command = keyword.to_ascii_lowercase();
        let mut node = RawInstruction {
            keyword: keyword.to_string(),
            flags,
            args: Vec::new(),
            json: false,
            original: String::new(),
            start_line: 0,
            end_line: 0,
            heredocs: Vec::new(),
            sub: None,
            comments,
            span: Span::default(),
            keyword_span: Span::default(),
            origin: 0,
            continuations: Vec::new(),
        };
        match command.as_str() {
            "add" | "copy" | "volume" => match split::parse_json(rest) {
                JsonForm::Array(args) => {
                    node.args = args;
                    node.json = true;
                }
                JsonForm::NotStrings => return Err(split::NOT_STRING_ARRAY.to_string()),
                JsonForm::NotJson => node.args = whitespace_list(rest),
            },
            "arg" => node.args = split::parse_words(rest, self.escape),
            "cmd" | "entrypoint" | "run" | "shell" => {
                (node.args, node.json) = Self::maybe_json(rest)?
            }
            "env" | "label" => {
                let keyword = if command == "env" { "ENV" } else { "LABEL" };
                for (key, value, has_equals) in split::parse_name_val(rest, keyword, self.escape)? {
                    node.args.push(key);
                    node.args.push(value);
                    node.args.push(if has_equals {
                        "=".to_string()
                    } else {
                        String::new()
                    });
                }
            }
            "expose" | "from" => node.args = whitespace_list(rest),
            "healthcheck" => {
                let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
                if sep > 0 {
                    let (cmd, json) =
                        Self::maybe_json(rest[sep..].trim_start_matches(char::is_whitespace))?;
                    node.args.push(rest[..sep].to_string());
                    node.args.extend(cmd);
                    node.json = json;
                }
            }
            "maintainer" | "stopsignal" | "user" | "workdir" => {
                if !rest.is_empty() {
                    node.args.push(rest.to_string());
                }
            }
            "onbuild" => {
                if !rest.is_empty() {
                    let mut sub = self.node_from_line(rest.to_string(), Vec::new())?;
                    // `rest` is a slice of `line`: its offset is where the trigger starts.
                    sub.origin = words::offset_in(&line, rest);
                    node.args.push(sub.keyword.clone());
                    node.args.extend(sub.args.iter().cloned());
                    node.json = false;
                    node.sub = Some(Box::new(sub));
                }
            }
            // Unknown keywords keep one empty argument, as BuildKit's `parseIgnore` does; they
            // are rejected when instructions are typed.
            _ => node.args.push(String::new()),
        }
        node.original = line;
        Ok(node)
    }

    /// BuildKit `parseMaybeJSON`: the JSON array, or the whole rest as one shell-form word.
    fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
        if rest.is_empty() {
            return Ok((Vec::new(), false));
        }
        match split::parse_json(rest) {
            JsonForm::Array(args) => Ok((args, true)),
            JsonForm::NotStrings => Err(split::NOT_STRING_ARRAY.to_string()),
            JsonForm::NotJson => Ok((vec![rest.to_string()], false)),
        }
    }
}

fn whitespace_list(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        split::split_whitespace_re(rest)
    }
}

/// BuildKit `ParseHeredoc`: `[fd]<<[-]WORD` as one word; `None` when `word` is not a heredoc.
pub fn parse_heredoc_word(word: &str) -> Result<Option<RawHeredoc>, String> {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\u{0c}', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = word[..digits].parse::<u32>().unwrap_or(0);
    let mut lexer = Lexer::new('\\');
    lexer.skip_unset = true;
    let words = lexer.process_words(rest, &NoVars).map_err(|e| e.message)?;
    if words.len() != 1 {
        return Ok(None);
    }
    lexer.raw_quotes = true;
    let raw_words = lexer.process_words(rest, &NoVars).map_err(|e| e.message)?;
    if raw_words.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = quotes(&words[0]) == quotes(&raw_words[0]);
    Ok(Some(RawHeredoc {
        name: words[0].clone(),
        content: String::new(),
        expand,
        chomp,
        fd,
    }))
}

/// BuildKit `heredocsFromLine`: every heredoc word of a joined line, in order.
fn heredocs_from_line(line: &str) -> Result<Vec<RawHeredoc>, String> {
    let mut lexer = Lexer::new('\\');
    lexer.raw_quotes = true;
    lexer.raw_escapes = true;
    lexer.skip_unset = true;
    let words = lexer.process_words(line, &NoVars).unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = parse_heredoc_word(&word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// Removes leading tabs from every line (`<<-` heredocs).
pub fn chomp_heredoc(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    for line in content.split_inclusive('\n') {
        out.push_str(line.trim_start_matches('\t'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_comments_blank_lines_and_heredocs() {
        let text = "\u{feff}# syntax=docker/dockerfile:1\r\nFROM alpine AS b\r\nRUN echo a \\\n# inner comment\n\n  && echo b\nCOPY <<EOF <<-\"TWO\" /dst/\nhello $x\nEOF\n\tbody\n\tTWO\nRUN [\"a\", \"b\"]\n";
        let parsed = parse(text);
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        assert_eq!(parsed.directives.len(), 1);
        let ins = &parsed.instructions;
        assert_eq!(ins.len(), 4);
        assert_eq!(
            (ins[1].keyword.as_str(), ins[1].start_line, ins[1].end_line),
            ("RUN", 3, 6)
        );
        assert_eq!(ins[1].args, vec!["echo a   && echo b"]);
        assert_eq!(parsed.empty_continuations.len(), 1);
        let heredocs = &ins[2].heredocs;
        assert_eq!(heredocs.len(), 2);
        assert_eq!(
            (
                heredocs[0].name.as_str(),
                heredocs[0].content.as_str(),
                heredocs[0].expand
            ),
            ("EOF", "hello $x\n", true)
        );
        assert_eq!(
            (
                heredocs[1].name.as_str(),
                heredocs[1].chomp,
                heredocs[1].expand
            ),
            ("TWO", true, false)
        );
        assert_eq!(ins[2].end_line, 11);
        assert!(ins[3].json);
        assert_eq!(
            &text[ins[0].keyword_span.start..ins[0].keyword_span.end],
            "FROM"
        );
    }

    #[test]
    fn errors_match_buildkit() {
        assert_eq!(
            parse("# just a comment\n").error.unwrap().message,
            "file with no instructions"
        );
        let e = parse("FROM a\nRUN <<EOF\nx\n").error.unwrap();
        assert_eq!((e.message.as_str(), e.line), ("unterminated heredoc", 2));
        let e = parse("FROM a\nCMD [\"a\", 1]\n").error.unwrap();
        assert_eq!(e.message, split::NOT_STRING_ARRAY);
        assert_eq!(
            parse("# escape=x\nFROM a").error.unwrap().message,
            "invalid escape token 'x' does not match ` or \\"
        );
    }

    #[test]
    fn backtick_escape_continues_lines() {
        let parsed = parse("# escape=`\nFROM a\nRUN dir `\n  c:\\\n");
        assert_eq!(parsed.escape, '`');
        assert_eq!(parsed.instructions[1].args, vec!["dir   c:\\"]);
    }
}
