//! The opened root of a build context: its canonical path and its `.dockerignore`.
//!
//! Input: the context directory and the Dockerfile's host path.
//! Output: a [`ContextRoot`]: the symlink-free root, the compiled ignore patterns and the file
//! they came from (`<Dockerfile>.dockerignore` first, then `<root>/.dockerignore`).
//! Invariant: a malformed ignore file is an error naming its line; a missing one is no patterns.

use std::path::{Path, PathBuf};

use super::error::ContextError;
use planner::patterns::{read_ignore_file, PatternMatcher};

/// A context directory and its ignore rules.
#[derive(Debug)]
pub struct ContextRoot {
    /// The canonical (symlink-free, absolute) root.
    pub root: PathBuf,
    /// The `.dockerignore` patterns.
    pub ignore: PatternMatcher,
    /// The ignore file in effect, if any.
    pub ignore_file: Option<PathBuf>,
    /// How messages name the context: its root, or what it was made from.
    pub shown: PathBuf,
}

impl ContextRoot {
    /// Opens `root`; `dockerfile` (a host path) selects `<Dockerfile>.dockerignore` when that
    /// file exists.
    pub fn open(root: &Path, dockerfile: Option<&Path>) -> Result<ContextRoot, ContextError> {
        let root = canonical_root(root)?;
        let (ignore, ignore_file) = load_ignore(&root, dockerfile)?;
        Ok(ContextRoot {
            shown: root.clone(),
            root,
            ignore,
            ignore_file,
        })
    }
}

/// The canonical path of a context directory (an error when it is not one).
pub fn canonical_root(root: &Path) -> Result<PathBuf, ContextError> {
    let bad = |source| ContextError::BadRoot {
        path: root.to_path_buf(),
        source,
    };
    let canonical = root.canonicalize().map_err(bad)?;
    let meta = std::fs::metadata(&canonical).map_err(bad)?;
    if !meta.is_dir() {
        return Err(bad(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    Ok(canonical)
}

/// The ignore rules of a context: the patterns of `<Dockerfile>.dockerignore` when that file
/// exists next to `dockerfile`, else of `<root>/.dockerignore`, else none; with the file they
/// came from. Each pattern is checked, so a bad one is reported with its file and line.
pub fn ignore_patterns(
    root: &Path,
    dockerfile: Option<&Path>,
) -> Result<(Vec<String>, Option<PathBuf>), ContextError> {
    let mut candidates = Vec::new();
    if let Some(dockerfile) = dockerfile {
        let mut name = dockerfile.as_os_str().to_os_string();
        name.push(".dockerignore");
        candidates.push(PathBuf::from(name));
    }
    candidates.push(root.join(".dockerignore"));
    for file in candidates {
        let text = match std::fs::read(&file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ContextError::Io { path: file, source }),
        };
        let patterns = read_ignore_file(&text);
        if let Err(error) = PatternMatcher::new(&patterns) {
            return Err(ContextError::BadIgnorePattern {
                line: bad_pattern_line(&text).unwrap_or(0),
                file,
                error,
            });
        }
        return Ok((patterns, Some(file)));
    }
    Ok((Vec::new(), None))
}

/// Reads `<Dockerfile>.dockerignore` or `<root>/.dockerignore` and compiles it.
fn load_ignore(
    root: &Path,
    dockerfile: Option<&Path>,
) -> Result<(PatternMatcher, Option<PathBuf>), ContextError> {
    let (patterns, file) = ignore_patterns(root, dockerfile)?;
    let matcher =
        PatternMatcher::new(&patterns).map_err(|error| ContextError::BadIgnorePattern {
            file: file.clone().unwrap_or_default(),
            line: 0,
            error,
        })?;
    Ok((matcher, file))
}

/// The 1-based line of the first pattern in `text` that does not compile on its own.
fn bad_pattern_line(text: &str) -> Option<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().enumerate().find_map(|(index, line)| {
        let patterns = read_ignore_file(line);
        PatternMatcher::new(&patterns).err().map(|_| index + 1)
    })
}
