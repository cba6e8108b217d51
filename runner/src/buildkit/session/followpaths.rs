//! fsutil's follow paths: the paths a build reads, with every symlink along them resolved
//! inside the directory, so the walk sends the targets too (a `COPY` of a symlinked path).
//!
//! Input: the directory and the daemon's `followpaths` (paths, wildcards in the last element).
//! Output: include patterns: the resolved paths and every symlink passed on the way, sorted,
//! without paths below another one; none when a path is the root itself.
//! Invariant: resolution stays inside the directory; a loop ends after 40 links.

use std::path::Path;

use crate::context::{clean as go_clean, contains_wildcards, go_match};

/// fsutil's `dedupePaths` on a sorted list: drops paths below an earlier one; `None` when one
/// of them is the root (no filter at all).
pub fn dedupe_paths(sorted: Vec<String>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for path in sorted {
        if path == "." {
            return None;
        }
        if let Some(last) = out.last() {
            if path.starts_with(&format!("{last}/")) {
                continue;
            }
        }
        out.push(path);
    }
    Some(out)
}

/// fsutil's `FollowLinks`: each path with the symlinks along it resolved inside `root`, the
/// resolved paths and every path leading through a symlink; sorted and deduplicated.
/// `None` means "no filter" (a path resolved to the root).
pub fn follow_links(root: &Path, paths: &[String]) -> Option<Vec<String>> {
    let mut resolved = std::collections::BTreeSet::new();
    for path in paths {
        resolve_path(root, path, &mut resolved, 0);
    }
    dedupe_paths(resolved.into_iter().collect())
}

fn resolve_path(
    root: &Path,
    path: &str,
    resolved: &mut std::collections::BTreeSet<String>,
    depth: usize,
) {
    if depth > 40 {
        return;
    }
    let mut rest = go_clean(path.trim_start_matches('/'));
    let mut current = String::from(".");
    loop {
        let (head, tail) = match rest.split_once('/') {
            Some((head, tail)) => (head.to_string(), tail.to_string()),
            None => (rest.clone(), String::new()),
        };
        current = if current == "." {
            go_clean(&head)
        } else {
            go_clean(&format!("{current}/{head}"))
        };
        let targets = read_symlink(root, &current, true);
        rest = tail;
        if (rest.is_empty() || targets.is_some()) && resolved.contains(&current) {
            return;
        }
        if let Some(targets) = targets {
            resolved.insert(current.clone());
            for target in targets {
                let next = if rest.is_empty() {
                    target
                } else {
                    format!("{target}/{rest}")
                };
                resolve_path(root, &next, resolved, depth + 1);
            }
            return;
        }
        if rest.is_empty() {
            resolved.insert(current);
            return;
        }
    }
}

/// The targets of `rel` if it is a symlink (or, with a wildcard in its last element, of every
/// matching symlink), as paths from the root.
fn read_symlink(root: &Path, rel: &str, allow_wildcard: bool) -> Option<Vec<String>> {
    let real = root.join(rel);
    let (dir, base) = match rel.rsplit_once('/') {
        Some((dir, base)) => (dir.to_string(), base.to_string()),
        None => (".".to_string(), rel.to_string()),
    };
    if allow_wildcard && contains_wildcards(&base) {
        let entries = std::fs::read_dir(root.join(&dir)).ok()?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            if go_match(&base, &name).unwrap_or(false) {
                let child = go_clean(&format!("{dir}/{name}"));
                out.extend(read_symlink(root, &child, false).unwrap_or_default());
            }
        }
        return Some(out);
    }
    let metadata = std::fs::symlink_metadata(&real).ok()?;
    if !metadata.file_type().is_symlink() {
        return None;
    }
    let link = std::fs::read_link(&real).ok()?;
    let link = go_clean(&link.to_string_lossy());
    if link.starts_with('/') {
        Some(vec![link])
    } else {
        Some(vec![go_clean(&format!("/{dir}/{link}"))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_topmost_paths() {
        let sorted = vec!["a".to_string(), "a/b".to_string(), "ab".to_string()];
        assert_eq!(
            dedupe_paths(sorted),
            Some(vec!["a".to_string(), "ab".to_string()])
        );
        assert_eq!(dedupe_paths(vec![".".to_string()]), None);
    }

    #[test]
    fn symlinks_along_a_path_are_followed_inside_the_directory() {
        let root =
            std::env::temp_dir().join(format!("stageplan-followpaths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("real/dir")).unwrap();
        std::fs::write(root.join("real/dir/file"), "x").unwrap();
        std::os::unix::fs::symlink("real/dir", root.join("link")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("absolute")).unwrap();
        std::fs::write(root.join("plain.txt"), "y").unwrap();
        let paths = |wanted: &[&str]| {
            let wanted: Vec<String> = wanted.iter().map(|p| p.to_string()).collect();
            follow_links(&root, &wanted)
        };
        assert_eq!(
            paths(&["link/file"]),
            Some(vec!["link".to_string(), "real/dir/file".to_string()])
        );
        assert_eq!(
            paths(&["absolute/dir", "plain.txt"]),
            Some(vec![
                "absolute".to_string(),
                "plain.txt".to_string(),
                "real/dir".to_string()
            ])
        );
        assert_eq!(
            paths(&["l*/file"]),
            Some(vec!["l*".to_string(), "real/dir/file".to_string()]),
            "a wildcard follows every matching link"
        );
        assert_eq!(paths(&["."]), None, "the whole directory: no filter");
        let _ = std::fs::remove_dir_all(&root);
    }
}
