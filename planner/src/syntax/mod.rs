//! The Dockerfile syntax layer, following BuildKit's parser (frontend/dockerfile/parser):
//! parser directives, the escape character, line continuation (with comment and blank lines
//! inside), comments, heredocs (`<<-`, quoted delimiters, several per line), leading
//! `--flags`, JSON and shell forms, a UTF-8 BOM and CRLF line ends.
//!
//! Input: Dockerfile text. Output: [`Parsed`]: directives and raw instructions with line
//! numbers and byte spans, or the first syntax error (BuildKit stops there too).
//! Invariant: the only module that knows Dockerfile lexing; never panics on any input. Words
//! borrow from the text ([`Cow::Borrowed`]) unless the parser had to build them (a line joined
//! from continuation lines, a quoted flag, an escaped JSON string).

mod directives;
pub mod dump;
mod json;
pub mod split;
pub mod words;

use std::borrow::Cow;

use crate::diagnostics::Span;
use crate::expand::{Lexer, NoVars};

pub use directives::Directive;
use split::JsonForm;

/// The longest physical line BuildKit's scanner accepts, newline included.
const MAX_LINE: usize = 64 * 1024;

/// A parsed Dockerfile; the words borrow from the text it was parsed from.
#[derive(Debug, Clone, Default)]
pub struct Parsed<'a> {
    /// The parser directives at the top (`syntax`, `escape`, `check`), in order.
    pub directives: Vec<Directive>,
    /// The escape character in force.
    pub escape: char,
    /// The instructions that parsed, in order. An instruction that fails to parse is left
    /// out and parsing goes on after it (for editors); an error that ends the file (an
    /// unterminated heredoc, an overlong line, a bad directive) leaves the rest out.
    pub instructions: Vec<RawInstruction<'a>>,
    /// The first syntax error; BuildKit rejects the file with it, so consumers that follow
    /// BuildKit look at nothing else when it is set.
    pub error: Option<SyntaxError>,
    /// Instructions with blank lines inside their continuation (BuildKit's
    /// `NoEmptyContinuation`): the span of the instruction's last line, where BuildKit reports it.
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
pub struct RawHeredoc<'a> {
    /// The delimiter, quotes removed.
    pub name: String,
    /// The body lines, each with its line end, before `<<-` tab stripping (a slice of the text).
    pub content: Cow<'a, str>,
    /// False when any part of the delimiter was quoted.
    pub expand: bool,
    /// `<<-`: strip leading tabs.
    pub chomp: bool,
    /// The file descriptor before `<<` (0 when none).
    pub fd: u32,
}

/// One instruction as BuildKit's parser produces it (a `parser.Node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawInstruction<'a> {
    /// The keyword as written (`from`, `FROM`, `From`).
    pub keyword: Cow<'a, str>,
    /// The keyword's command.
    pub command: Command,
    /// Leading `--flag[=value]` words, quotes processed.
    pub flags: Vec<Cow<'a, str>>,
    /// The argument words (BuildKit's node arguments): for `ENV`/`LABEL` triples of key,
    /// value and `"="` (or `""` for the legacy form); for `ONBUILD` the trigger keyword
    /// followed by its arguments; for `HEALTHCHECK` the type followed by the command.
    pub args: Vec<Cow<'a, str>>,
    /// Whether the arguments were a JSON array.
    pub json: bool,
    /// The joined line (continuations joined, comments dropped).
    pub original: Cow<'a, str>,
    /// 1-based first line.
    pub start_line: u32,
    /// 1-based last line (heredoc bodies included).
    pub end_line: u32,
    /// The heredocs, in order.
    pub heredocs: Vec<RawHeredoc<'a>>,
    /// For `ONBUILD`: the trigger instruction.
    pub sub: Option<Box<RawInstruction<'a>>>,
    /// Comment lines directly above the instruction (for doc comments and `# check=`).
    pub comments: Vec<&'a str>,
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

/// An instruction keyword BuildKit knows, or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `ADD`.
    Add,
    /// `ARG`.
    Arg,
    /// `CMD`.
    Cmd,
    /// `COPY`.
    Copy,
    /// `ENTRYPOINT`.
    Entrypoint,
    /// `ENV`.
    Env,
    /// `EXPOSE`.
    Expose,
    /// `FROM`.
    From,
    /// `HEALTHCHECK`.
    Healthcheck,
    /// `LABEL`.
    Label,
    /// `MAINTAINER`.
    Maintainer,
    /// `ONBUILD`.
    Onbuild,
    /// `RUN`.
    Run,
    /// `SHELL`.
    Shell,
    /// `STOPSIGNAL`.
    Stopsignal,
    /// `USER`.
    User,
    /// `VOLUME`.
    Volume,
    /// `WORKDIR`.
    Workdir,
    /// Anything else.
    Unknown,
}

/// Packs up to 16 ASCII bytes, lower-cased, into an integer (a keyword compare in one step).
const fn pack_lower(bytes: &[u8]) -> u128 {
    let mut packed = 0u128;
    let mut idx = 0;
    while idx < bytes.len() {
        packed = (packed << 8) | bytes[idx].to_ascii_lowercase() as u128;
        idx += 1;
    }
    packed
}

impl Command {
    /// The command of a keyword, compared case-insensitively without allocating.
    pub fn of(keyword: &str) -> Command {
        const ADD: u128 = pack_lower(b"add");
        const ARG: u128 = pack_lower(b"arg");
        const CMD: u128 = pack_lower(b"cmd");
        const COPY: u128 = pack_lower(b"copy");
        const ENTRYPOINT: u128 = pack_lower(b"entrypoint");
        const ENV: u128 = pack_lower(b"env");
        const EXPOSE: u128 = pack_lower(b"expose");
        const FROM: u128 = pack_lower(b"from");
        const HEALTHCHECK: u128 = pack_lower(b"healthcheck");
        const LABEL: u128 = pack_lower(b"label");
        const MAINTAINER: u128 = pack_lower(b"maintainer");
        const ONBUILD: u128 = pack_lower(b"onbuild");
        const RUN: u128 = pack_lower(b"run");
        const SHELL: u128 = pack_lower(b"shell");
        const STOPSIGNAL: u128 = pack_lower(b"stopsignal");
        const USER: u128 = pack_lower(b"user");
        const VOLUME: u128 = pack_lower(b"volume");
        const WORKDIR: u128 = pack_lower(b"workdir");
        let bytes = keyword.as_bytes();
        // Keywords are 3 to 11 ASCII letters; a zero byte would pack like a shorter word.
        if !(3..=11).contains(&bytes.len()) {
            return Command::Unknown;
        }
        let mut packed = 0u128;
        for byte in bytes {
            if !byte.is_ascii_alphabetic() {
                return Command::Unknown;
            }
            packed = (packed << 8) | u128::from(byte | 0x20);
        }
        match packed {
            ADD => Command::Add,
            ARG => Command::Arg,
            CMD => Command::Cmd,
            COPY => Command::Copy,
            ENTRYPOINT => Command::Entrypoint,
            ENV => Command::Env,
            EXPOSE => Command::Expose,
            FROM => Command::From,
            HEALTHCHECK => Command::Healthcheck,
            LABEL => Command::Label,
            MAINTAINER => Command::Maintainer,
            ONBUILD => Command::Onbuild,
            RUN => Command::Run,
            SHELL => Command::Shell,
            STOPSIGNAL => Command::Stopsignal,
            USER => Command::User,
            VOLUME => Command::Volume,
            WORKDIR => Command::Workdir,
            _ => Command::Unknown,
        }
    }
}

impl<'a> RawInstruction<'a> {
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

    fn can_contain_heredoc(&self) -> bool {
        let node = match &self.sub {
            Some(sub) if self.command == Command::Onbuild => sub.as_ref(),
            _ => self,
        };
        matches!(node.command, Command::Run | Command::Copy | Command::Add) && !node.json
    }
}

/// A piece of `base` as a `Cow` that lives as long as `base`'s borrowed text: a slice of it
/// when `base` borrows from the Dockerfile and `piece` lies inside it, else an owned copy.
#[inline]
fn lift<'a>(base: &Cow<'a, str>, piece: Cow<'_, str>) -> Cow<'a, str> {
    if let (Cow::Borrowed(text), Cow::Borrowed(slice)) = (base, &piece) {
        let text_start = text.as_ptr() as usize;
        let slice_start = slice.as_ptr() as usize;
        if slice_start >= text_start && slice_start + slice.len() <= text_start + text.len() {
            let offset = slice_start - text_start;
            if let Some(found) = text.get(offset..offset + slice.len()) {
                return Cow::Borrowed(found);
            }
        }
    }
    Cow::Owned(piece.into_owned())
}

/// One physical line: its 0-based index, byte offset and text (line end included).
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    idx: usize,
    start: usize,
    text: &'a str,
}

fn trim_newline(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &text[..end]
}

fn is_comment(text: &str) -> bool {
    split::trim_start_space(text).starts_with('#')
}

/// BuildKit's continuation test: the escape char last (spaces and tabs may follow), and not
/// preceded by another escape char. Returns the line without it, and whether the line ends.
/// The escape character is `\\` or `` ` `` (ASCII; see the `escape` directive), so the test
/// is on bytes.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let Ok(escape) = u8::try_from(escape) else {
        return (line, true);
    };
    let bytes = line.as_bytes();
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end > 0 && bytes[end - 1] == escape && escape.is_ascii() {
        let without = end - 1;
        if without == 0 || bytes[without - 1] != escape {
            return (&line[..without], false);
        }
    }
    (line, true)
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Parsed<'_> {
    let mut instructions = Instructions::new(text);
    // About one instruction per two lines (and per 24 bytes or more) in real files: saves the
    // regrowth copies without reserving much for a file of blank lines.
    let n_lines = text.bytes().filter(|byte| *byte == b'\n').count();
    let mut parsed = Parsed {
        instructions: Vec::with_capacity((n_lines / 2).min(text.len() / 24) + 1),
        ..Parsed::default()
    };
    for item in instructions.by_ref() {
        match item {
            Ok(node) => parsed.instructions.push(node),
            Err(error) => {
                parsed.error.get_or_insert(error);
            }
        }
    }
    parsed.directives = std::mem::take(&mut instructions.parser.directives);
    parsed.escape = instructions.parser.escape;
    parsed.empty_continuations = std::mem::take(&mut instructions.parser.empty_continuations);
    parsed
}

/// The instructions of a Dockerfile one at a time, so a caller can type each and let it go
/// (the planner never holds the whole raw syntax tree). An error that ends the file (an
/// overlong line, a bad directive, an unterminated heredoc, no instruction) is the last item; an
/// instruction that does not parse is an error item and the stream goes on after it (editors
/// read on; BuildKit, and so the planner, stops at the first error item). The directives, escape character and empty continuations are complete
/// once the stream has ended (the directives and escape already after the first item).
pub struct Instructions<'a> {
    parser: Parser<'a>,
}

impl<'a> Instructions<'a> {
    /// Starts reading `text`.
    pub fn new(text: &'a str) -> Instructions<'a> {
        Instructions {
            parser: Parser::new(text),
        }
    }

    /// The parser directives read so far.
    pub fn directives(&self) -> &[Directive] {
        &self.parser.directives
    }

    /// The escape character in force.
    pub fn escape(&self) -> char {
        self.parser.escape
    }

    /// The last lines of instructions with blank continuation lines (see
    /// [`Parsed::empty_continuations`]), found so far.
    pub fn empty_continuations(&self) -> &[Span] {
        &self.parser.empty_continuations
    }
}

impl<'a> Iterator for Instructions<'a> {
    type Item = Result<RawInstruction<'a>, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.parser.next_instruction()
    }
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next physical line.
    pos: usize,
    /// 0-based index of the next physical line.
    next_idx: usize,
    escape: char,
    directive_parser: directives::DirectiveParser,
    directives: Vec<Directive>,
    empty_continuations: Vec<Span>,
    /// Comment lines since the last instruction.
    comments: Vec<&'a str>,
    /// The continuation pieces of the instruction being read, with their lines' offsets
    /// (kept between instructions so that joining allocates the joined line only).
    pieces: Vec<(&'a str, usize)>,
    /// The last physical line read.
    last_line: Option<Line<'a>>,
    n_instructions: usize,
    /// An instruction failed to parse (so the file is not one "with no instructions").
    recovered: bool,
    /// An error ended the input (nothing more is read).
    done: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            pos: 0,
            next_idx: 0,
            escape: '\\',
            directive_parser: directives::DirectiveParser::default(),
            directives: Vec::new(),
            empty_continuations: Vec::new(),
            comments: Vec::new(),
            pieces: Vec::new(),
            last_line: None,
            n_instructions: 0,
            recovered: false,
            done: false,
        }
    }

    fn line_span(line: Line) -> Span {
        Span::new(line.start, line.start + trim_newline(line.text).len())
    }

    /// The next physical line, or an error when it is longer than BuildKit's scanner accepts.
    fn scan(&mut self) -> Option<Result<Line<'a>, SyntaxError>> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let len = memchr::memchr(b'\n', rest.as_bytes()).map_or(rest.len(), |newline| newline + 1);
        let line = Line {
            idx: self.next_idx,
            start: self.pos,
            text: &rest[..len],
        };
        self.pos += len;
        self.next_idx += 1;
        if len > MAX_LINE {
            let line_no = line.idx as u32 + 1;
            return Some(Err(SyntaxError {
                message: format!(
                    "dockerfile line greater than max allowed size of {}",
                    MAX_LINE - 1
                ),
                line: line_no,
                end_line: line_no,
                span: Self::line_span(line),
            }));
        }
        Some(Ok(line))
    }

    /// An error over the lines `first..=last`.
    fn error_over(message: String, first: Line, last: Line) -> SyntaxError {
        SyntaxError {
            message,
            line: first.idx as u32 + 1,
            end_line: last.idx as u32 + 1,
            span: Span::new(Self::line_span(first).start, Self::line_span(last).end),
        }
    }

    /// Ends the input with an error over the lines `first..=last`.
    fn fail(
        &mut self,
        message: String,
        first: Line,
        last: Line,
    ) -> Option<Result<RawInstruction<'a>, SyntaxError>> {
        self.fail_with(Self::error_over(message, first, last))
    }

    fn fail_with(&mut self, error: SyntaxError) -> Option<Result<RawInstruction<'a>, SyntaxError>> {
        self.done = true;
        Some(Err(error))
    }

    /// Reads up to the end of the next instruction.
    fn next_instruction(&mut self) -> Option<Result<RawInstruction<'a>, SyntaxError>> {
        if self.done {
            return None;
        }
        while let Some(scanned) = self.scan() {
            let first = match scanned {
                Ok(line) => line,
                Err(e) => return self.fail_with(e),
            };
            self.last_line = Some(first);
            let mut raw = first.text;
            let mut raw_start = first.start;
            if first.idx == 0 {
                if let Some(rest) = raw.strip_prefix('\u{feff}') {
                    raw = rest;
                    raw_start += '\u{feff}'.len_utf8();
                }
            }
            if is_comment(raw) {
                let comment = raw.get(1..).unwrap_or("").trim();
                if comment.is_empty() {
                    self.comments.clear();
                } else {
                    self.comments.push(comment);
                }
            }
            let no_newline = trim_newline(raw);
            let content = split::trim_start_space(no_newline);
            let content_start = raw_start + (no_newline.len() - content.len());
            match self
                .directive_parser
                .parse_line(content, first.idx as u32 + 1)
            {
                Err(message) => return self.fail(message, first, first),
                Ok(Some(directive)) => {
                    self.comments.pop();
                    if directive.name == "escape" {
                        match directive.value.as_str() {
                            "\\" => self.escape = '\\',
                            "`" => self.escape = '`',
                            other => {
                                let message = format!(
                                    "invalid escape token '{other}' does not match ` or \\"
                                );
                                return self.fail(message, first, first);
                            }
                        }
                    }
                    self.directives.push(directive);
                }
                Ok(None) => {}
            }
            let content = if is_comment(content) { "" } else { content };
            let (first_piece, mut ended) = trim_continuation(content, self.escape);
            if ended && first_piece.is_empty() {
                continue;
            }
            self.pieces.clear();
            let mut last = first;
            let mut empty_continuation = false;
            while !ended {
                let Some(scanned) = self.scan() else { break };
                let line = match scanned {
                    Ok(line) => line,
                    Err(e) => return self.fail_with(e),
                };
                last = line;
                self.last_line = Some(line);
                let ctext = trim_newline(line.text);
                if is_comment(ctext) {
                    continue;
                }
                if split::trim_start_space(ctext).is_empty() {
                    empty_continuation = true;
                    continue;
                }
                let (piece, piece_ended) = trim_continuation(ctext, self.escape);
                self.pieces.push((piece, line.start));
                ended = piece_ended;
            }
            let mut continuations = Vec::with_capacity(self.pieces.len());
            let line: Cow<'a, str> = if self.pieces.is_empty() {
                Cow::Borrowed(first_piece)
            } else {
                let joined_len = self
                    .pieces
                    .iter()
                    .map(|(piece, _)| piece.len())
                    .sum::<usize>();
                let mut joined = String::with_capacity(first_piece.len() + joined_len);
                joined.push_str(first_piece);
                for (piece, line_start) in &self.pieces {
                    continuations.push((joined.len(), *line_start));
                    joined.push_str(piece);
                }
                Cow::Owned(joined)
            };
            let instruction_end = last;
            let comments = std::mem::take(&mut self.comments);
            let mut node = match self.node_from_line(line, comments) {
                Ok(node) => node,
                Err(message) => {
                    self.recovered = true;
                    return Some(Err(Self::error_over(message, first, last)));
                }
            };
            if node.can_contain_heredoc() && node.original.contains("<<") {
                match heredocs_from_line(&node.original) {
                    Err(message) => {
                        self.recovered = true;
                        return Some(Err(Self::error_over(message, first, last)));
                    }
                    Ok(heredocs) => {
                        for mut heredoc in heredocs {
                            let mut terminated = false;
                            let body_start = self.pos;
                            let mut body_end = self.pos;
                            while let Some(scanned) = self.scan() {
                                let body_line = match scanned {
                                    Ok(line) => line,
                                    Err(e) => return self.fail_with(e),
                                };
                                last = body_line;
                                self.last_line = Some(body_line);
                                let mut candidate = trim_newline(body_line.text);
                                if heredoc.chomp {
                                    candidate = candidate.trim_start_matches('\t');
                                }
                                if candidate == heredoc.name {
                                    terminated = true;
                                    break;
                                }
                                body_end = body_line.start + body_line.text.len();
                            }
                            if !terminated {
                                return self.fail("unterminated heredoc".to_string(), first, last);
                            }
                            heredoc.content = Cow::Borrowed(&self.text[body_start..body_end]);
                            node.heredocs.push(heredoc);
                        }
                    }
                }
            }
            node.start_line = first.idx as u32 + 1;
            node.end_line = last.idx as u32 + 1;
            node.keyword_span = Span::new(content_start, content_start + node.keyword.len());
            node.span = Span::new(content_start, Self::line_span(last).end.max(content_start));
            if let Some(sub) = node.sub.as_deref_mut() {
                sub.span = node.span;
                sub.continuations.clone_from(&continuations);
                let keyword_start = sub.text_offset(0);
                sub.keyword_span = Span::new(keyword_start, keyword_start + sub.keyword.len());
            }
            node.continuations = continuations;
            if empty_continuation {
                // BuildKit reports it at the instruction's last line (before any heredoc body).
                self.empty_continuations
                    .push(Self::line_span(instruction_end));
            }
            self.n_instructions += 1;
            return Some(Ok(node));
        }
        if self.n_instructions == 0 && !self.recovered {
            let line = self.next_idx as u32;
            let span = self.last_line.map_or(Span::default(), Self::line_span);
            return self.fail_with(SyntaxError {
                message: "file with no instructions".to_string(),
                line,
                end_line: line,
                span,
            });
        }
        self.done = true;
        None
    }

    /// BuildKit `newNodeFromLine`: keyword, flags and the per-instruction argument form.
    fn node_from_line(
        &self,
        line: Cow<'a, str>,
        comments: Vec<&'a str>,
    ) -> Result<RawInstruction<'a>, String> {
        let (keyword, rest) = split::split_keyword(&line);
        let (args_text, flags) = match rest {
            Some(rest) => split::extract_flags(rest, self.escape),
            None => ("", Vec::new()),
        };
        let rest = split::trim_space(args_text);
        let command = Command::of(keyword);
        let mut node = RawInstruction {
            keyword: lift(&line, Cow::Borrowed(keyword)),
            command,
            flags: flags.into_iter().map(|flag| lift(&line, flag)).collect(),
            args: Vec::new(),
            json: false,
            original: Cow::Borrowed(""),
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
        let word = |piece: &str| lift(&line, Cow::Borrowed(piece));
        match command {
            Command::Add | Command::Copy | Command::Volume => match split::parse_json(rest) {
                JsonForm::Array(args) => {
                    node.args = args.into_iter().map(|arg| lift(&line, arg)).collect();
                    node.json = true;
                }
                JsonForm::NotStrings => return Err(split::NOT_STRING_ARRAY.to_string()),
                JsonForm::NotJson => node.args = whitespace_list(rest, &word),
            },
            Command::Arg => {
                node.args = split::parse_words(rest, self.escape)
                    .into_iter()
                    .map(word)
                    .collect();
            }
            Command::Cmd | Command::Entrypoint | Command::Run | Command::Shell => {
                (node.args, node.json) = Self::maybe_json(rest, &line)?
            }
            Command::Env | Command::Label => {
                let keyword = if command == Command::Env {
                    "ENV"
                } else {
                    "LABEL"
                };
                let pairs = split::parse_name_val(rest, keyword, self.escape)?;
                node.args.reserve(pairs.len() * 3);
                for (key, value, has_equals) in pairs {
                    node.args.push(word(key));
                    node.args.push(word(value));
                    node.args
                        .push(Cow::Borrowed(if has_equals { "=" } else { "" }));
                }
            }
            Command::Expose | Command::From => node.args = whitespace_list(rest, &word),
            Command::Healthcheck => {
                let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
                if sep > 0 {
                    let (cmd, json) =
                        Self::maybe_json(split::trim_start_space(&rest[sep..]), &line)?;
                    node.args.push(word(&rest[..sep]));
                    node.args.extend(cmd);
                    node.json = json;
                }
            }
            Command::Maintainer | Command::Stopsignal | Command::User | Command::Workdir => {
                if !rest.is_empty() {
                    node.args.push(word(rest));
                }
            }
            Command::Onbuild => {
                if !rest.is_empty() {
                    let mut sub = self.node_from_line(word(rest), Vec::new())?;
                    // `rest` is a slice of `line`: its offset is where the trigger starts.
                    sub.origin = split::offset_in(&line, rest);
                    node.args.push(sub.keyword.clone());
                    node.args.extend(sub.args.iter().cloned());
                    node.json = false;
                    node.sub = Some(Box::new(sub));
                }
            }
            // Unknown keywords keep one empty argument, as BuildKit's `parseIgnore` does; they
            // are rejected when instructions are typed.
            Command::Unknown => node.args.push(Cow::Borrowed("")),
        }
        node.original = line;
        Ok(node)
    }

    /// BuildKit `parseMaybeJSON`: the JSON array, or the whole rest as one shell-form word.
    fn maybe_json(rest: &str, line: &Cow<'a, str>) -> Result<(Vec<Cow<'a, str>>, bool), String> {
        if rest.is_empty() {
            return Ok((Vec::new(), false));
        }
        match split::parse_json(rest) {
            JsonForm::Array(args) => {
                Ok((args.into_iter().map(|arg| lift(line, arg)).collect(), true))
            }
            JsonForm::NotStrings => Err(split::NOT_STRING_ARRAY.to_string()),
            JsonForm::NotJson => Ok((vec![lift(line, Cow::Borrowed(rest))], false)),
        }
    }
}

fn whitespace_list<'a>(rest: &str, word: &dyn Fn(&str) -> Cow<'a, str>) -> Vec<Cow<'a, str>> {
    if rest.is_empty() {
        Vec::new()
    } else {
        let mut words = Vec::with_capacity(4);
        words.extend(split::split_whitespace_re(rest).map(word));
        words
    }
}

/// BuildKit `ParseHeredoc`: `[fd]<<[-]WORD` as one word; `None` when `word` is not a heredoc.
pub fn parse_heredoc_word(word: &str) -> Result<Option<RawHeredoc<'static>>, String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
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
        content: Cow::Borrowed(""),
        expand,
        chomp,
        fd,
    }))
}

/// BuildKit `heredocsFromLine`: every heredoc word of a joined line, in order.
fn heredocs_from_line(line: &str) -> Result<Vec<RawHeredoc<'static>>, String> {
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
            (ins[1].keyword.as_ref(), ins[1].start_line, ins[1].end_line),
            ("RUN", 3, 6)
        );
        assert_eq!(ins[1].args, vec!["echo a   && echo b"]);
        assert_eq!(parsed.empty_continuations.len(), 1);
        // Reported at the instruction's last line ("  && echo b", line 6).
        let empty = parsed.empty_continuations[0];
        assert_eq!(&text[empty.start..empty.end], "  && echo b");
        let heredocs = &ins[2].heredocs;
        assert_eq!(heredocs.len(), 2);
        assert_eq!(
            (
                heredocs[0].name.as_str(),
                heredocs[0].content.as_ref(),
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
