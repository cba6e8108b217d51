//! `.dockerignore` files and the pattern matcher BuildKit applies to build-context paths
//! (github.com/moby/patternmatcher and its `ignorefile.ReadAll`): the one implementation of
//! those semantics in stageplan, for `.dockerignore`, `COPY --exclude` and `COPY --parents`
//! patterns alike.
//!
//! Input: the text of a `.dockerignore` file ([`read_ignore_file`]), or a list of patterns.
//! Output: a [`PatternMatcher`] that answers "is this slash-separated path matched?", trying its
//! parent directories too ([`PatternMatcher::is_match`], moby's `MatchesOrParentMatches`) or
//! taking the parent's results from a directory walk ([`PatternMatcher::matches`], moby's
//! `MatchesUsingParentResults`).
//! Invariant: moby's semantics, with no I/O: comments only at column 0, white space trimmed,
//! patterns cleaned (`filepath.Clean`) and a leading `/` dropped, `**` crossing directories, `!`
//! exceptions, the last matching pattern wins, a directory's match covers everything below it.
//! Matching simulates all positions at once, so it takes O(pattern × path) time on any input
//! and never backtracks.
//!
//! moby compiles a pattern into a Go regular expression; the same language is matched here
//! directly, with Go's regexp syntax for what can end up in it: a `\` escapes the next character
//! (`\*`, `\[`, `\\`); `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`) and POSIX classes (`[[:alpha:]]`)
//! are character classes, `\A`, `\z`, `\b`, `\B` and an unescaped `^` are anchors, and a `*` or
//! `?` inside brackets becomes moby's `[^/]*` or `[^/]` there, as in moby. A pattern Go's regexp
//! would not compile makes moby fail when the pattern is first used, and so it does here
//! ([`PatternMatcher::try_is_match`]); octal, hex and `\p{...}` escapes are refused that way
//! too, where Go would accept them (no real `.dockerignore` uses them).

mod gomatch;

pub use gomatch::{check_pattern, clean, contains_wildcards, dir, go_match, BadPattern};

/// A pattern that cannot be used; names the pattern and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A line consisting of `!` alone.
    #[error("illegal exclusion pattern \"!\": an exception needs a path after the '!'")]
    LoneExclamation,
    /// Go's `filepath.Match` rejects the pattern (an unclosed `[`, a trailing `\`, ...), or it
    /// uses a regular-expression escape that has no meaning here.
    #[error("syntax error in pattern {pattern:?}: check the '[...]' classes and '\\' escapes")]
    BadSyntax {
        /// The pattern as cleaned.
        pattern: String,
    },
}

/// Reads the patterns of a `.dockerignore` file like `ignorefile.ReadAll`: a UTF-8 BOM is
/// dropped, lines starting with `#` are comments, white space is trimmed, empty lines are
/// skipped, and each pattern (after an optional `!`) is cleaned with a leading `/` removed.
pub fn read_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        patterns.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    patterns
}

/// How one compiled pattern is tested against a path (moby's `matchType`).
#[derive(Debug, Clone)]
enum Kind {
    /// The path equals the cleaned pattern.
    Exact,
    /// The path starts with this text (pattern `foo/**`).
    Prefix(String),
    /// The path ends with this text, or equals it without its leading `/` (pattern `**/foo`).
    Suffix(String),
    /// Anything with a wildcard or escape, matched as a whole path.
    Wildcard(Vec<Token>),
    /// A pattern whose regular expression Go would not compile (`a[z-a]`, `a\é`): moby
    /// accepts it in `New` and fails when it is first used.
    Broken,
}

/// One pattern of a matcher.
#[derive(Debug, Clone)]
struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    /// Exact, prefix and suffix patterns: a string comparison.
    fn matches_plain(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            Kind::Wildcard(_) | Kind::Broken => false,
        }
    }

    /// Whether `path` matches, or else one of its parent directories; `None` for a broken
    /// pattern. A wildcard pattern is matched against the path and all the parents in one pass
    /// when they are prefixes of it.
    fn matches_or_parent(&self, path: &str, parents: &Parents) -> Option<bool> {
        let base = parents.base.as_deref().unwrap_or(path);
        match &self.kind {
            Kind::Broken => None,
            Kind::Wildcard(tokens) => {
                if parents.base.is_none() {
                    let (whole, parent) = match_tokens(tokens, path, &parents.ends);
                    return Some(whole || parent);
                }
                let whole = match_tokens(tokens, path, &[]).0;
                Some(whole || match_tokens(tokens, base, &parents.ends).1)
            }
            _ => Some(
                self.matches_plain(path)
                    || parents
                        .ends
                        .iter()
                        .any(|end| self.matches_plain(&base[..*end])),
            ),
        }
    }
}

/// The parent directories moby tries for a path: `base[..end]` for each of `ends`, where
/// `base` is the path itself (`None`) or, for an unclean path, its cleaned directory.
struct Parents {
    base: Option<String>,
    ends: Vec<usize>,
}

/// Per-pattern results for a directory, handed to its children so that a pattern matching a
/// directory also matches everything below it (moby's `MatchInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// An ordered list of patterns with `!` exceptions, as used for `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    /// Compiles `patterns` (already read from a file, or as given on a COPY flag) like moby's
    /// `patternmatcher.New`: each is trimmed and cleaned, an empty one is skipped, a leading
    /// `!` makes an exception, and the syntax is checked with Go's `filepath.Match`.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut matcher = PatternMatcher::default();
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let mut text = clean(trimmed);
            let exclusion = text.starts_with('!');
            if exclusion {
                if text.len() == 1 {
                    return Err(PatternError::LoneExclamation);
                }
                text.remove(0);
                matcher.exclusions = true;
            }
            if check_pattern(&text).is_err() {
                return Err(PatternError::BadSyntax { pattern: text });
            }
            let kind = compile(&text);
            matcher.patterns.push(Pattern {
                cleaned: text,
                exclusion,
                kind,
            });
        }
        Ok(matcher)
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when some pattern is a `!` exception (moby's `Exclusions`), so an excluded directory
    /// must still be walked.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// The patterns as cleaned, each with whether it is a `!` exception (moby's `Patterns`,
    /// `String` and `Exclusion`).
    pub fn patterns(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        self.patterns
            .iter()
            .map(|pattern| (pattern.cleaned.as_str(), pattern.exclusion))
    }

    /// moby's `MatchesUsingParentResults`: whether `path` (slash-separated, clean) is matched,
    /// given the results of its parent directory. With `parent == None` every parent directory
    /// of `path` is tried as well (`MatchesOrParentMatches`). A broken pattern (one Go's regexp
    /// refuses) matches nothing here; [`PatternMatcher::try_is_match`] reports it.
    pub fn matches(&self, path: &str, parent: Option<&MatchInfo>) -> (bool, MatchInfo) {
        let (matched, info, _) = self.evaluate(path, parent);
        (matched, info)
    }

    /// Whether `path` is matched, trying its parent directories too (moby's
    /// `MatchesOrParentMatches`).
    pub fn is_match(&self, path: &str) -> bool {
        self.matches(path, None).0
    }

    /// moby's `MatchesOrParentMatches` with its error: `Err` when a pattern that has to be
    /// evaluated for `path` is one Go's regexp would not compile (moby then stops there).
    pub fn try_is_match(&self, path: &str) -> Result<bool, PatternError> {
        let (matched, _, broken) = self.evaluate(path, None);
        match broken {
            Some(index) => Err(PatternError::BadSyntax {
                pattern: self.patterns[index].cleaned.clone(),
            }),
            None => Ok(matched),
        }
    }

    /// The match, the per-pattern results, and the first broken pattern evaluated (where moby
    /// returns its error).
    fn evaluate(&self, path: &str, parent: Option<&MatchInfo>) -> (bool, MatchInfo, Option<usize>) {
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let parent_flags = parent
            .map(|p| p.parent_matched.as_slice())
            .filter(|flags| flags.len() == self.patterns.len());
        // The parent directories moby tries (none when the parent's results are given).
        let parents = if parent_flags.is_none() {
            parent_dirs(path)
        } else {
            Parents {
                base: None,
                ends: Vec::new(),
            }
        };
        let mut matched = false;
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent_flags.is_some_and(|flags| flags[index]);
            if !hit {
                if pattern.exclusion != matched {
                    continue;
                }
                match pattern.matches_or_parent(path, &parents) {
                    None => return (false, info, Some(index)),
                    Some(found) => hit = found,
                }
            }
            info.parent_matched[index] = hit;
            if hit {
                matched = !pattern.exclusion;
            }
        }
        (matched, info, None)
    }
}

/// The parent directories moby tries for `path`: `strings.Split(filepath.Dir(path), "/")` joined
/// back one element at a time (`a`, `a/b` for `a/b/c`; `` and `/` for `/c`), none when the
/// directory is `.`. For a clean path each is a prefix of it.
fn parent_dirs(path: &str) -> Parents {
    let parent = dir(path);
    if parent == "." {
        return Parents {
            base: None,
            ends: Vec::new(),
        };
    }
    let mut ends: Vec<usize> = parent.match_indices('/').map(|(at, _)| at).collect();
    ends.push(parent.len());
    Parents {
        base: (!path.starts_with(parent.as_str())).then_some(parent),
        ends,
    }
}

/// The characters one position of a pattern accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CharSet {
    /// One literal character.
    Literal(char),
    /// Anything but a newline (the regular expression `.`, from `**`).
    NotNewline,
    /// A bracket expression, `\d`, `\w`, `\s` or a negation: inclusive ranges.
    Class {
        /// `[^...]`, `\D`, ...
        negated: bool,
        /// Inclusive character ranges.
        ranges: Vec<(char, char)>,
    },
}

impl CharSet {
    fn contains(&self, ch: char) -> bool {
        match self {
            CharSet::Literal(want) => ch == *want,
            CharSet::NotNewline => ch != '\n',
            CharSet::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| *lo <= ch && ch <= *hi) != *negated
            }
        }
    }
}

/// One element of a compiled wildcard pattern: the parts of the regular expression moby builds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One character of a set, or (`star`) any run of them.
    Chars {
        /// The accepted characters.
        set: CharSet,
        /// Followed by `*`: zero or more.
        star: bool,
    },
    /// `(.*/)?` (from `**` before more pattern): nothing, or anything without a newline that
    /// ends in `/`.
    AnyDirs,
    /// `^` or `\A`: only at the start of the path.
    Start,
    /// `\z`: only at the end of the path.
    End,
    /// `\b` (or, negated, `\B`): only where an ASCII word character meets a non-word one.
    WordBoundary {
        /// `\B`.
        negated: bool,
    },
}

fn is_word_char(ch: Option<&char>) -> bool {
    ch.is_some_and(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
}

/// Matches `path` against a token list by simulating the automaton over all positions at once:
/// `reach[q]` says the tokens so far can end at character `q`. Every token is one pass over the
/// path, so the cost is O(tokens × path) on any input. Returns whether the whole path matches
/// and whether one of the prefixes `path[..end]` for `prefixes` (byte lengths) does.
fn match_tokens(tokens: &[Token], path: &str, prefixes: &[usize]) -> (bool, bool) {
    let chars: Vec<char> = path.chars().collect();
    let n = chars.len();
    // A prefix ends at character `q`: after the simulation `reach[q]` says whether it matches,
    // unless a token looks at where the text ends (`\z`, `\b`), which needs a pass of its own.
    let looks_ahead = tokens
        .iter()
        .any(|t| matches!(t, Token::End | Token::WordBoundary { .. }));
    if looks_ahead {
        let whole = simulate(tokens, &chars)[n];
        let prefix = prefixes.iter().any(|end| {
            let prefix: Vec<char> = path[..*end].chars().collect();
            simulate(tokens, &prefix)[prefix.len()]
        });
        return (whole, prefix);
    }
    let reach = simulate(tokens, &chars);
    let prefix = char_positions(path, prefixes).any(|q| reach[q]);
    (reach[n], prefix)
}

/// The character positions of the byte offsets `ends` (ascending) in `text`, in one pass.
fn char_positions<'t>(text: &'t str, ends: &'t [usize]) -> impl Iterator<Item = usize> + 't {
    let mut chars_before = 0;
    let mut bytes_seen = 0;
    ends.iter().map(move |end| {
        chars_before += text[bytes_seen..*end].chars().count();
        bytes_seen = *end;
        chars_before
    })
}

/// The simulation: after all tokens, `reach[q]` says the pattern matches `chars[..q]` exactly.
fn simulate(tokens: &[Token], chars: &[char]) -> Vec<bool> {
    let n = chars.len();
    let mut reach = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    reach[0] = true;
    for token in tokens {
        next.iter_mut().for_each(|slot| *slot = false);
        match token {
            Token::Chars { set, star: false } => {
                for q in 0..n {
                    next[q + 1] = reach[q] && set.contains(chars[q]);
                }
            }
            Token::Chars { set, star: true } => {
                next[0] = reach[0];
                for q in 1..=n {
                    next[q] = reach[q] || (next[q - 1] && set.contains(chars[q - 1]));
                }
            }
            Token::AnyDirs => {
                // `open`: some reached position gets here through `.*` (no newline).
                let mut open = reach[0];
                next[0] = reach[0];
                for q in 1..=n {
                    next[q] = reach[q] || (open && chars[q - 1] == '/');
                    open = reach[q] || (open && chars[q - 1] != '\n');
                }
            }
            Token::Start => next[0] = reach[0],
            Token::End => next[n] = reach[n],
            Token::WordBoundary { negated } => {
                for q in 0..=n {
                    let boundary = is_word_char(q.checked_sub(1).and_then(|p| chars.get(p)))
                        != is_word_char(chars.get(q));
                    next[q] = reach[q] && boundary != *negated;
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
    }
    reach
}

/// moby's `shouldEscape`: characters escaped in its regular expression.
fn moby_escapes(ch: char) -> bool {
    matches!(ch, '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$')
}

/// Compiles one cleaned pattern the way moby's `Pattern.compile` does: the match type, and for
/// a wildcard pattern the regular expression it builds, read back into tokens.
fn compile(pattern: &str) -> Kind {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut regex = String::with_capacity(pattern.len() * 2);
    let mut detected = Detected::Exact;
    let mut i = 0;
    let mut position = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        regex.push_str(".*");
                        detected = Detected::Regexp;
                    }
                } else {
                    regex.push_str("(.*/)?");
                    detected = Detected::Regexp;
                }
                if position == 0 {
                    detected = Detected::Suffix;
                }
            } else {
                regex.push_str("[^/]*");
                detected = Detected::Regexp;
            }
        } else if ch == '?' {
            regex.push_str("[^/]");
            detected = Detected::Regexp;
        } else if moby_escapes(ch) {
            regex.push('\\');
            regex.push(ch);
        } else if ch == '\\' {
            regex.push('\\');
            if let Some(&next) = chars.get(i) {
                i += 1;
                regex.push(next);
                detected = Detected::Regexp;
            }
        } else {
            if ch == '[' || ch == ']' {
                detected = Detected::Regexp;
            }
            regex.push(ch);
        }
        position += 1;
    }
    match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_string()),
        Detected::Regexp => match parse_regex(&regex) {
            Some(tokens) => Kind::Wildcard(tokens),
            None => Kind::Broken,
        },
    }
}

/// Reads the regular expressions moby builds (anchored with `^...$` around `regex`) into
/// tokens, with Go's syntax for what can appear in them; `None` where Go's regexp would refuse
/// the expression or it uses something this matcher does not take.
fn parse_regex(regex: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = regex.chars().collect();
    let mut tokens = vec![Token::Start];
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if chars[i..].starts_with(&['(', '.', '*', '/', ')', '?']) {
            tokens.push(Token::AnyDirs);
            i += 6;
            continue;
        }
        i += 1;
        let set = match ch {
            '[' => {
                let (set, after) = parse_class(&chars, i)?;
                i = after;
                set
            }
            '.' => CharSet::NotNewline,
            '^' => {
                tokens.push(Token::Start);
                continue;
            }
            '*' => {
                // A repetition applies to the character set just before it.
                match tokens.last_mut() {
                    Some(Token::Chars { star, .. }) if !*star => *star = true,
                    _ => return None,
                }
                continue;
            }
            '\\' => {
                let escaped = *chars.get(i)?;
                i += 1;
                match escaped {
                    'A' => {
                        tokens.push(Token::Start);
                        continue;
                    }
                    'z' => {
                        tokens.push(Token::End);
                        continue;
                    }
                    'b' | 'B' => {
                        tokens.push(Token::WordBoundary {
                            negated: escaped == 'B',
                        });
                        continue;
                    }
                    _ => match perl_class(escaped) {
                        Some(set) => set,
                        None => CharSet::Literal(escaped_char(escaped)?),
                    },
                }
            }
            '(' | ')' | '|' | '+' | '?' | '{' | '}' | '$' => return None,
            other => CharSet::Literal(other),
        };
        tokens.push(Token::Chars { set, star: false });
    }
    Some(tokens)
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const PERL_SPACE: &[(char, char)] = &[('\t', '\n'), ('\u{0c}', '\r'), (' ', ' ')];

/// Go's Perl classes `\d`, `\w`, `\s` and their upper-case negations (ASCII only).
fn perl_class(ch: char) -> Option<CharSet> {
    let (ranges, negated) = match ch {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        'w' => (WORD, false),
        'W' => (WORD, true),
        's' => (PERL_SPACE, false),
        'S' => (PERL_SPACE, true),
        _ => return None,
    };
    Some(CharSet::Class {
        negated,
        ranges: ranges.to_vec(),
    })
}

/// Go's POSIX classes (`[:alpha:]`, ...; ASCII only).
fn posix_class(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\u{7f}')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\u{1f}'), ('\u{7f}', '\u{7f}')],
        "digit" => DIGIT,
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => WORD,
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// The character an escape stands for, as Go's regexp reads it: ASCII punctuation stands for
/// itself, `\t` `\n` `\r` `\f` `\v` `\a` for control characters. Octal and hex escapes and
/// escaped letters, digits or non-ASCII characters are refused.
fn escaped_char(ch: char) -> Option<char> {
    match ch {
        't' => Some('\t'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        'f' => Some('\u{0c}'),
        'v' => Some('\u{0b}'),
        'a' => Some('\u{07}'),
        _ if ch.is_ascii() && !ch.is_ascii_alphanumeric() => Some(ch),
        _ => None,
    }
}

/// Go's `parseClass` for a bracket expression starting just after its `[`: an optional `^`,
/// a `]` taken literally in first place, POSIX classes, Perl escapes, characters and ranges.
/// Returns the set and the index just after the closing `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(CharSet, usize)> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut first = true;
    loop {
        let ch = *chars.get(i)?;
        if ch == ']' && !first {
            return Some((CharSet::Class { negated, ranges }, i + 1));
        }
        first = false;
        if ch == '[' && chars.get(i + 1) == Some(&':') {
            let rest: String = chars[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let name = &rest[..end];
                let (name, negated_group) = match name.strip_prefix('^') {
                    Some(name) => (name, true),
                    None => (name, false),
                };
                let group = posix_class(name)?;
                ranges.extend(if negated_group {
                    complement(group)
                } else {
                    group.to_vec()
                });
                i += 2 + name.chars().count() + usize::from(negated_group) + 2;
                continue;
            }
        }
        if ch == '\\' {
            if let Some(CharSet::Class {
                negated: negated_group,
                ranges: group,
            }) = chars.get(i + 1).and_then(|c| perl_class(*c))
            {
                ranges.extend(if negated_group {
                    complement(&group)
                } else {
                    group
                });
                i += 2;
                continue;
            }
        }
        let (lo, after) = class_char(chars, i)?;
        i = after;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let (end, after) = class_char(chars, i + 1)?;
            if end < lo {
                return None;
            }
            hi = end;
            i = after;
        }
        ranges.push((lo, hi));
    }
}

/// One possibly escaped character of a bracket expression.
fn class_char(chars: &[char], i: usize) -> Option<(char, usize)> {
    match *chars.get(i)? {
        '\\' => Some((escaped_char(*chars.get(i + 1)?)?, i + 2)),
        other => Some((other, i + 1)),
    }
}

/// The ranges of every character not in `ranges` (sorted, non-overlapping input).
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in ranges {
        let (lo, hi) = (*lo as u32, *hi as u32);
        if lo > next {
            push_range(&mut out, next, lo - 1);
        }
        next = next.max(hi + 1);
    }
    push_range(&mut out, next, char::MAX as u32);
    out
}

/// Adds `lo..=hi` as char ranges, skipping the surrogate gap.
fn push_range(out: &mut Vec<(char, char)>, lo: u32, hi: u32) {
    let pieces = [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)];
    for (lo, hi) in pieces {
        if lo <= hi {
            if let (Some(lo), Some(hi)) = (char::from_u32(lo), char::from_u32(hi)) {
                out.push((lo, hi));
            }
        }
    }
}

#[cfg(test)]
mod tests;
