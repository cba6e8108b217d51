//! `.dockerignore` files and the pattern matcher the engines apply to build-context paths.
//!
//! Input: the text of a `.dockerignore` file, or a list of patterns (`COPY --exclude`,
//! `COPY --parents` includes). Output: a [`PatternMatcher`] that answers "is this slash-separated
//! relative path matched?", walking parents first. Invariant: the semantics of
//! github.com/moby/patternmatcher and its `ignorefile.ReadAll`: comments only at column 0,
//! whitespace trimmed, leading `/` and `./` cleaned away, `**` crossing directories, `!`
//! exceptions, the last matching pattern wins, and a path is matched when it or any parent
//! directory is.

use super::gomatch::{check_pattern, clean};

/// A pattern that cannot be used; names the pattern and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A line consisting of `!` alone.
    #[error("illegal exclusion pattern \"!\": an exception needs a path after the '!'")]
    LoneExclamation,
    /// Go's `filepath.Match` rejects the pattern (an unclosed `[`, a trailing `\`, ...).
    #[error("syntax error in pattern {pattern:?}: check the '[...]' classes and '\\' escapes")]
    BadSyntax {
        /// The pattern as cleaned.
        pattern: String,
    },
}

/// Reads the patterns of a `.dockerignore` file like `ignorefile.ReadAll`: a UTF-8 BOM is
/// dropped, lines starting with `#` are comments, whitespace is trimmed, empty lines are
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

/// How one compiled pattern is tested against a path.
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
}

/// One pattern of a matcher.
#[derive(Debug, Clone)]
struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            Kind::Wildcard(tokens) => match_tokens(tokens, path),
        }
    }
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
    /// Compiles `patterns` (already read from a file, or as given on a COPY flag).
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
            let kind = compile(&text).ok_or_else(|| PatternError::BadSyntax {
                pattern: text.clone(),
            })?;
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

    /// True when some pattern is a `!` exception, so an excluded directory must still be walked.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// The `!` exception patterns, cleaned and without the `!`, in order (moby's
    /// `Pattern.String()` of each exclusion).
    pub fn exclusion_patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns
            .iter()
            .filter(|pattern| pattern.exclusion)
            .map(|pattern| pattern.cleaned.as_str())
    }

    /// moby's `MatchesUsingParentResults`: whether `path` (slash-separated, relative, clean) is
    /// matched, given the results of its parent directory. With `parent == None` every parent
    /// directory of `path` is tried as well (`MatchesOrParentMatches`).
    pub fn matches(&self, path: &str, parent: Option<&MatchInfo>) -> (bool, MatchInfo) {
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let parent_flags = parent
            .map(|p| p.parent_matched.as_slice())
            .filter(|flags| flags.len() == self.patterns.len());
        let mut matched = false;
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent_flags.is_some_and(|flags| flags[index]);
            if !hit {
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(path);
                if !hit && parent_flags.is_none() {
                    hit = ancestors(path).any(|dir| pattern.matches(dir));
                }
            }
            info.parent_matched[index] = hit;
            if hit {
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }

    /// Whether `path` is matched, trying its parent directories too.
    pub fn is_match(&self, path: &str) -> bool {
        self.matches(path, None).0
    }
}

/// The proper ancestors of a relative path, shortest first: `a/b/c` gives `a`, `a/b`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(at, _)| &path[..at])
}

/// One element of a compiled wildcard pattern (moby turns these into a regular expression; the
/// same language is matched here directly).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One literal character.
    Literal(char),
    /// `?`: one character other than `/`.
    AnyButSlash,
    /// `*`: any run of characters other than `/`.
    StarButSlash,
    /// `**` followed by more pattern: nothing, or anything ending in `/` (`(.*/)?`).
    AnyDirs,
    /// `**` ending a pattern that already has a wildcard: anything (`.*`).
    AnyRest,
    /// `[...]`: one character in (or, negated, not in) the ranges; unlike `?` it can match `/`.
    Class {
        /// `[^...]`.
        negated: bool,
        /// Inclusive character ranges.
        ranges: Vec<(char, char)>,
    },
}

/// Matches `path` against a token list by simulating the automaton over all positions at once,
/// so the cost is linear in the path length times the pattern length.
fn match_tokens(tokens: &[Token], path: &str) -> bool {
    let chars: Vec<char> = path.chars().collect();
    let n = chars.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        for pos in 0..=n {
            if !reach[pos] {
                continue;
            }
            match token {
                Token::Literal(ch) => {
                    if pos < n && chars[pos] == *ch {
                        next[pos + 1] = true;
                    }
                }
                Token::AnyButSlash => {
                    if pos < n && chars[pos] != '/' {
                        next[pos + 1] = true;
                    }
                }
                Token::Class { negated, ranges } => {
                    if pos < n {
                        let inside = ranges
                            .iter()
                            .any(|(lo, hi)| *lo <= chars[pos] && chars[pos] <= *hi);
                        if inside != *negated {
                            next[pos + 1] = true;
                        }
                    }
                }
                Token::StarButSlash => {
                    next[pos] = true;
                    let mut q = pos;
                    while q < n && chars[q] != '/' {
                        q += 1;
                        next[q] = true;
                    }
                }
                Token::AnyDirs => {
                    next[pos] = true;
                    for q in pos..n {
                        if chars[q] == '/' {
                            next[q + 1] = true;
                        }
                    }
                }
                Token::AnyRest => {
                    next[pos] = true;
                    let mut q = pos;
                    while q < n && chars[q] != '\n' {
                        q += 1;
                        next[q] = true;
                    }
                }
            }
        }
        reach = next;
    }
    reach[n]
}

/// Parses the inside of a `[...]` class starting just after the `[`; returns the token and the
/// index just after the closing `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(Token, usize)> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut lo = *chars.get(i)?;
        i += 1;
        if lo == ']' && !first {
            return Some((Token::Class { negated, ranges }, i));
        }
        first = false;
        if lo == '\\' {
            lo = *chars.get(i)?;
            i += 1;
        }
        let mut hi = lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            hi = chars[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *chars.get(i)?;
                i += 1;
            }
        }
        ranges.push((lo, hi));
    }
}

/// Compiles one cleaned pattern the way moby's `Pattern.compile` does.
fn compile(pattern: &str) -> Option<Kind> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut kind = 0u8; // 0 exact, 1 prefix, 2 suffix, 3 wildcard
    let mut i = 0;
    let mut position = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' && chars.get(i) == Some(&'*') {
            i += 1;
            if chars.get(i) == Some(&'/') {
                i += 1;
            }
            if i == chars.len() {
                if kind == 0 {
                    kind = 1;
                } else {
                    tokens.push(Token::AnyRest);
                    kind = 3;
                }
            } else {
                tokens.push(Token::AnyDirs);
                kind = 3;
            }
            if position == 0 {
                kind = 2;
            }
        } else if ch == '*' {
            tokens.push(Token::StarButSlash);
            kind = 3;
        } else if ch == '?' {
            tokens.push(Token::AnyButSlash);
            kind = 3;
        } else if ch == '\\' {
            match chars.get(i) {
                Some(next) => {
                    tokens.push(Token::Literal(*next));
                    i += 1;
                    kind = 3;
                }
                None => tokens.push(Token::Literal('\\')),
            }
        } else if ch == '[' {
            let (class, after) = parse_class(&chars, i)?;
            tokens.push(class);
            i = after;
            kind = 3;
        } else {
            if ch == ']' {
                kind = 3;
            }
            tokens.push(Token::Literal(ch));
        }
        position += 1;
    }
    Some(match kind {
        0 => Kind::Exact,
        1 => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        2 => Kind::Suffix(pattern[2..].to_string()),
        _ => Kind::Wildcard(tokens),
    })
}

#[cfg(test)]
mod tests {
    use super::{read_ignore_file, PatternError, PatternMatcher};

    fn matcher(patterns: &[&str]) -> PatternMatcher {
        PatternMatcher::new(patterns).expect("valid patterns")
    }

    #[test]
    fn reads_ignore_files_like_moby() {
        let text = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        assert_eq!(
            read_ignore_file(text),
            vec![
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!"
            ]
        );
        assert_eq!(
            read_ignore_file("\u{feff}./x/../y/\n  # not a comment"),
            vec!["y", "# not a comment"]
        );
    }

    /// Rows from moby/patternmatcher's TestMatches (Unix).
    #[test]
    fn matches_like_moby() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
        ];
        for (pattern, path, want) in cases {
            let got = matcher(&[pattern]).matches(path, None).0;
            assert_eq!(got, *want, "pattern {pattern:?} path {path:?}");
        }
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let m = matcher(&["docs", "!docs/README.md", "*.md"]);
        assert!(m.is_match("docs/guide.txt"));
        assert!(
            !m.is_match("docs/README.md"),
            "'*' does not cross '/', so *.md misses it"
        );
        assert!(m.is_match("top.md"));
        let m = matcher(&["docs", "!docs/README.md", "**/*.md"]);
        assert!(
            m.is_match("docs/README.md"),
            "the later **/*.md re-excludes it"
        );
        assert!(!m.is_match("src/main.go"));
        let m = matcher(&["*.md", "!README.md"]);
        assert!(!m.is_match("README.md"));
        assert!(m.is_match("CHANGES.md"));
        assert!(m.has_exclusions());
    }

    #[test]
    fn parent_directories_match_their_contents() {
        let m = matcher(&["build"]);
        assert!(m.is_match("build"));
        assert!(m.is_match("build/out/x.o"));
        assert!(!m.is_match("src/build.rs"));
        // The walker passes parent results down instead of re-checking parents.
        let (dir_hit, info) = m.matches("build", None);
        assert!(dir_hit);
        assert!(m.matches("build/x", Some(&info)).0);
    }

    #[test]
    fn leading_slash_and_dot_are_cleaned() {
        let patterns = read_ignore_file("/secret.txt\n./tmp/\n");
        let m = PatternMatcher::new(&patterns).expect("valid");
        assert!(m.is_match("secret.txt"));
        assert!(m.is_match("tmp/a"));
        assert!(
            !m.is_match("x/secret.txt"),
            "patterns are anchored at the context root"
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        assert_eq!(
            PatternMatcher::new(&["!"]).unwrap_err(),
            PatternError::LoneExclamation
        );
        assert!(matches!(
            PatternMatcher::new(&["a[b"]).unwrap_err(),
            PatternError::BadSyntax { .. }
        ));
        assert!(matches!(
            PatternMatcher::new(&["[]a]"]).unwrap_err(),
            PatternError::BadSyntax { .. }
        ));
    }
}
