//! Go's `path/filepath` helpers that BuildKit and the engines apply to build-context paths,
//! ported for Unix (`Match`, `Clean`, `Dir`) plus BuildKit's `containsWildcards`.
//!
//! Input: a pattern and a slash-separated path. Output: whether Go's `filepath.Match` would
//! match, or that the pattern is malformed (`ErrBadPattern`); Go's lexical `filepath.Clean`
//! and `filepath.Dir`. Invariant: byte-for-byte the same answers as Go on Unix, including its
//! quirks (`*` and `?` never match `/`, but a character class can; `\` escapes the next byte);
//! matching never backtracks more than one star at a time (Go's algorithm), so it is
//! O(pattern × name).

/// Go's `filepath.ErrBadPattern`: the pattern is not a valid `filepath.Match` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

/// Reports whether `name` matches the shell pattern `pattern` with Go's `filepath.Match` rules.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'outer: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it holds a `/`.
            return Ok(!name.contains(&b'/'));
        }
        let (tail, ok) = match_chunk(chunk, name)?;
        if ok && (tail.is_empty() || !pattern.is_empty()) {
            name = tail;
            continue;
        }
        if star {
            // Retry the chunk one byte further on, never skipping a `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (tail, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !tail.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = tail;
                    continue 'outer;
                }
                i += 1;
            }
        }
        // Before answering "no match", check that the rest of the pattern is well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Checks a pattern's syntax the way the engines do: `filepath.Match(pattern, ".")`.
pub fn check_pattern(pattern: &str) -> Result<(), BadPattern> {
    go_match(pattern, ".").map(|_| ())
}

/// Reports whether `name` holds a `filepath.Match` meta character (`*`, `?`, `[`) that is not
/// escaped with `\`.
pub fn contains_wildcards(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Go's `filepath.Dir` on Unix: everything before the last `/`, cleaned; `.` when there is no
/// `/` (so `Dir("/a")` is `/` and `Dir("a/b")` is `a`).
pub fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(slash) => clean(&path[..=slash]),
        None => ".".to_string(),
    }
}

/// Go's `filepath.Clean` on Unix: the shortest path equivalent to `path` by lexical processing
/// (`.` removed, `..` resolved where possible, repeated `/` collapsed, trailing `/` dropped,
/// `""` becomes `"."`).
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Splits off the leading stars and the next chunk of pattern up to the next unbracketed `*`.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let Some(b'*') = pattern.first() {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches one star-free chunk against the start of `s`; returns the rest of `s` and whether
/// it matched. Keeps parsing after a failure so that a malformed chunk is always reported.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<(&'a [u8], bool), BadPattern> {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut rune = 0u32;
                if !failed {
                    let (r, n) = decode_rune(s);
                    rune = r;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut n_ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && n_ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= rune && rune <= hi {
                        matched = true;
                    }
                    n_ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            first => {
                if first == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// Reads one possibly escaped character of a character class.
fn get_esc(mut chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BadPattern);
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (rune, n) = decode_rune(chunk);
    if rune == 0xFFFD && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((rune, rest))
}

/// Go's `utf8.DecodeRune`: the first code point and its width; `(0xFFFD, 1)` for a bad byte.
fn decode_rune(bytes: &[u8]) -> (u32, usize) {
    for width in 1..=bytes.len().min(4) {
        if let Ok(text) = std::str::from_utf8(&bytes[..width]) {
            if let Some(ch) = text.chars().next() {
                return (ch as u32, width);
            }
        }
    }
    (0xFFFD, 1)
}

#[cfg(test)]
mod tests {
    use super::{check_pattern, clean, contains_wildcards, dir, go_match, BadPattern};

    #[test]
    fn dir_like_go() {
        for (input, want) in [
            ("a/b/c", "a/b"),
            ("a", "."),
            ("/a", "/"),
            ("/", "/"),
            ("a//b", "a"),
            ("", "."),
        ] {
            assert_eq!(dir(input), want, "Dir({input:?})");
        }
    }

    #[test]
    fn stars_never_backtrack_exponentially() {
        // Go's algorithm retries only the last star, so this is linear work per chunk.
        let name = "a".repeat(50_000);
        assert_eq!(go_match("a*a*a*a*a*a*a*a*b", &name), Ok(false));
        assert_eq!(go_match("a*a*a*a*a*a*a*a*a", &name), Ok(true));
    }

    /// Cases from Go's `path/filepath` match tests (Unix rows).
    #[test]
    fn matches_like_go() {
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("[x-]", "-", Err(BadPattern)),
            ("[x-]", "z", Err(BadPattern)),
            ("[-x]", "x", Err(BadPattern)),
            ("[-x]", "-", Err(BadPattern)),
            ("[-x]", "a", Err(BadPattern)),
            ("\\", "a", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
            // A character class is the one construct that can match a separator.
            ("a[^x]b", "a/b", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                go_match(pattern, name),
                *want,
                "Match({pattern:?}, {name:?})"
            );
        }
    }

    #[test]
    fn checks_syntax_against_dot() {
        assert_eq!(check_pattern("*.go"), Ok(()));
        assert_eq!(check_pattern("[a-"), Err(BadPattern));
        assert_eq!(check_pattern("x\\"), Err(BadPattern));
    }

    #[test]
    fn detects_unescaped_wildcards() {
        assert!(contains_wildcards("src/*.go"));
        assert!(contains_wildcards("a?"));
        assert!(contains_wildcards("[ab]"));
        assert!(!contains_wildcards("plain/file.txt"));
        assert!(!contains_wildcards("a\\*b"));
    }

    #[test]
    fn cleans_like_go() {
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/def/", "/abc/def"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("/../abc", "/abc"),
            ("abc/./../def", "def"),
            ("./abc/def", "abc/def"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "Clean({input:?})");
        }
    }
}
