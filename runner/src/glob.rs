//! Shell-style wildcard matching for COPY sources and `--exclude` patterns.
//!
//! Input: a pattern (`*`, `?`, `[...]`, and `**` for any number of directories in paths) and a name.
//! Output: whether it matches.
//! Invariant: pure; `*` and `?` never match `/`.

/// Whether `text` contains a wildcard character.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Matches one path component against a pattern.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| match_from(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                return n.first() == Some(&'[') && match_from(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let class = &p[1..close];
            let (negate, class) = match class.first() {
                Some('!') | Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && match_from(&p[close + 1..], &n[1..])
        }
        Some(&c) => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

/// Matches a `/`-separated path against a pattern whose `**` components match any number of
/// directories; a pattern also matches everything below a matched directory.
pub fn matches_path(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let path: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match_components(&pattern, &path)
}

fn match_components(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.first() {
        // Everything below a matched directory is matched too.
        None => true,
        Some(&"**") => (0..=path.len()).any(|skip| match_components(&pattern[1..], &path[skip..])),
        Some(first) => {
            !path.is_empty()
                && matches(first, path[0])
                && match_components(&pattern[1..], &path[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_and_path_matching() {
        assert!(matches("*.txt", "a.txt"));
        assert!(!matches("*.txt", "a.md"));
        assert!(matches("f?le[0-9]", "file7"));
        assert!(!matches("f[!i]le", "file"));
        assert!(matches_path("**/*.log", "a/b/c.log"));
        assert!(matches_path("*.log", "x.log"));
        assert!(matches_path("build", "build/out/x"));
        assert!(!matches_path("*.log", "a/x.log"));
        assert!(has_wildcard("src/*.rs"));
    }
}
