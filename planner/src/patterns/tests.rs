//! Tests of the pattern matcher: rows from moby/patternmatcher's own tests, cases checked
//! against moby's code compiled with Go, and hostile patterns that must stay fast.

use super::{read_ignore_file, PatternError, PatternMatcher};

fn matcher(patterns: &[&str]) -> PatternMatcher {
    PatternMatcher::new(patterns).expect("valid patterns")
}

#[test]
fn reads_ignore_files_like_moby() {
    let text =
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
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

/// Cases where moby's regular expression does something a plain glob reader would not; every
/// expected answer was produced by moby's patternmatcher code compiled with Go.
#[test]
fn matches_what_mobys_regular_expression_matches() {
    let cases: &[(&[&str], &str, bool)] = &[
        // `*` and `?` inside brackets become `[^/]*` and `[^/]` there: `[*]` reads `[[^/]*]`.
        (&["[*]"], "]", true),
        (&["[*]"], "a]", false),
        (&["[*]"], "*", false),
        (&["a[?]b"], "a[]b", true),
        (&["a[?]b"], "a?b", false),
        // An unescaped `^` anchors at the start once the pattern is a regular expression.
        (&["^*.txt"], "x.txt", true),
        (&["a^b*"], "a^bc", false),
        // Go's Perl and POSIX classes and word boundaries.
        (&["\\d*"], "123", true),
        (&["\\d*"], "12a", true),
        (&["\\d*"], "a12", false),
        (&["[[:digit:]]x"], "5x", true),
        (&["[\\d]"], "7", true),
        (&["[^\\w]"], "-", true),
        (&["x\\bb"], "xb", false),
        (&["\\Bb*"], "ab", false),
        // `.*` (from `**`) does not cross a newline; a suffix match is a plain comparison.
        (&["a/**/b"], "a/x/y/b", true),
        (&["a/**/b"], "a/x\ny/b", false),
        (&["**/x"], "a\nb/x", true),
        // A root-level absolute path has the parents "" and "/".
        (&["*"], "/foo", true),
        (&["foo"], "/foo", false),
        // An unclean path's parents come from its cleaned directory (`b`, `b/x`).
        (&["*"], "b///x/xb", true),
        (&["*.md", "!docs"], "x", false),
        (
            &["docs", "!docs/README.md", "**/*.md"],
            "docs/README.md",
            true,
        ),
    ];
    for (patterns, path, want) in cases {
        assert_eq!(
            matcher(patterns).try_is_match(path),
            Ok(*want),
            "patterns {patterns:?} path {path:?}"
        );
    }
}

#[test]
fn a_pattern_go_cannot_compile_fails_when_used() {
    // filepath.Match accepts `[z-a]`; Go's regexp refuses the reversed range.
    let m = matcher(&["a[z-a]"]);
    assert!(matches!(
        m.try_is_match("ab"),
        Err(PatternError::BadSyntax { .. })
    ));
    assert!(!m.is_match("ab"));
    // Patterns after a match that are not evaluated do not fail.
    assert_eq!(matcher(&["x", "!y", "a[z-a]"]).try_is_match("x"), Ok(true));
}

#[test]
fn hostile_patterns_finish_with_the_right_answer() {
    // A backtracking matcher takes exponential time on these; this one is linear in the name.
    let name = "a".repeat(5_000);
    let m = matcher(&["a*a*a*a*a*a*a*a*b"]);
    assert!(!m.is_match(&name));
    assert!(m.is_match(&format!("{name}b")));
    // 200 stars are 100 `**`: each `(.*/)?`, so only a whole path component "b" matches (Go
    // says the same); 201 leave one `[^/]*` at the end.
    let stars = "*".repeat(200);
    let m = matcher(&[format!("{stars}b").as_str()]);
    assert!(!m.is_match(&format!("{name}b")));
    assert!(m.is_match(&format!("{name}/b")));
    let m = matcher(&[format!("{stars}*b").as_str()]);
    assert!(m.is_match(&format!("{name}b")));
    // Every parent directory of a deep path is tried in the same pass.
    let m = matcher(&["**/a*a*a*a*a*a*c/**"]);
    let deep = format!("{}/x", vec!["aaaaaaaaaa"; 1_000].join("/"));
    assert!(!m.is_match(&deep));
    assert!(m.is_match(&deep.replacen("aaaaaaaaaa", "aaaaaaaaac", 1)));
}

#[test]
fn escapes_are_literal_characters() {
    assert!(matcher(&["a\\*b"]).is_match("a*b"));
    assert!(!matcher(&["a\\*b"]).is_match("axb"));
    assert!(matcher(&["\\[x\\]"]).is_match("[x]"));
    assert!(matcher(&["a\\?"]).is_match("a?"));
    assert!(!matcher(&["a\\?"]).is_match("ab"));
    assert!(matcher(&["a\\\\"]).is_match("a\\"));
}

#[test]
fn lists_patterns_and_exclusions() {
    // `New` cleans patterns but keeps a leading `/` (only the ignore-file reader drops it).
    let m = matcher(&["/a/../b", "!c/"]);
    let listed: Vec<(&str, bool)> = m.patterns().collect();
    assert_eq!(listed, vec![("/b", false), ("c", true)]);
    assert!(m.has_exclusions());
}
