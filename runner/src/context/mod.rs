//! The build context: what COPY and ADD may read from the directory given as `--context`.
//!
//! Input: the context directory, the Dockerfile's path (for `<Dockerfile>.dockerignore`), and per
//! COPY step its expanded sources, `--exclude` patterns and `--parents` flag. Output: the resolved
//! [`SourceSet`], a content digest of that set for cache keys, and a tar stream laid out for
//! `PUT /containers/{id}/archive?path=/`. Invariant: nothing outside the context root is ever
//! read: a source path or a symlink that leads outside it is an error naming the path, and a
//! file excluded by `.dockerignore` is never read or sent.
//!
//! # How the executor uses it
//!
//! ```text
//! let ctx = Arc::new(BuildContext::open(&context_dir, Some(&dockerfile))?);   // once per build
//! // per COPY/ADD step from the context (blocking I/O: call it inside spawn_blocking):
//! let set = ctx.resolve(&CopySources { sources, excludes, parents })?;
//! let key_part = ctx.digest(&set)?;                  // "sha256:…", feeds the step's cache key
//! // on a cache miss: HEAD-stat the destination in the target image, then
//! let dest = Destination { path: "/app/".into(), state: DestState::Missing };
//! ctx.write_tar(&set, &dest, &TarOptions { owner: Some((0, 0)), chmod: None }, &mut body)?;
//! // at the end of the build (also after a failure):
//! ctx.save_digests()?;                               // remembers digests for the next build
//! ```
//!
//! # Rules it follows (BuildKit's, unless noted)
//!
//! * `.dockerignore`: `<Dockerfile>.dockerignore` next to the Dockerfile wins over
//!   `<context>/.dockerignore`; patterns with moby/patternmatcher semantics ([`PatternMatcher`]).
//!   The Dockerfile and `.dockerignore` are read by the runner whatever the patterns say, but a
//!   COPY does not copy them when they are excluded (Docker's documented behaviour).
//! * Sources: relative to the context root (a leading `/` is allowed); `..` that leaves the root
//!   is an error (BuildKit silently clamps it, the classic builder errors). Wildcards follow Go's
//!   `filepath.Match` on the path below the last wildcard-free directory; a matched directory is
//!   not searched further; a wildcard that matches nothing contributes nothing. A directory
//!   source copies its contents. A symlink named as a source (or matched by a wildcard) is
//!   followed, inside the context only; symlinks inside copied directories stay symlinks.
//! * `--exclude` patterns match paths relative to each source directory; `--parents` keeps the
//!   path relative to the context root, or to the pivot given as `parent/./rest`.
//! * Tar entries: context mode, mtime and hard links kept; owner 0:0 unless `--chown` (resolved
//!   to numbers by the caller); `--chmod` (octal or symbolic) applied to files and directories;
//!   a missing destination directory is created 0755 (or the octal `--chmod`). Names starting
//!   with `.wh.` are refused (the engine would read them as whiteouts).
//! * Digests: sha256 per file, computed at most once per build and remembered between builds
//!   in a cache file keyed by (path, size, mtime, inode) so an unchanged context is not re-read.

mod archive;
mod chmod;
mod digest;
mod entries;
mod gomatch;
mod patterns;
mod resolve;
#[cfg(test)]
mod testdir;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_archive;
mod walk;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use archive::{DestState, Destination, TarOptions, TarSummary};
pub use chmod::Chmod;
pub use entries::{CopySources, EntryKind, FileMeta, SourceEntry, SourceRoot, SourceSet};
pub use gomatch::{clean, contains_wildcards, go_match};
pub use patterns::{read_ignore_file, PatternError, PatternMatcher};

use digest::DigestStore;

/// Everything that can go wrong while reading the build context; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context directory itself cannot be used.
    #[error("build context {path:?} is not a readable directory: {source}")]
    BadRoot {
        /// The directory given as the context.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading a file of the context failed.
    #[error("cannot read {path:?} in the build context: {source}")]
    Io {
        /// The host path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `.dockerignore` pattern is malformed.
    #[error("{file:?} line {line}: {error}")]
    BadIgnorePattern {
        /// The ignore file.
        file: PathBuf,
        /// 1-based line number of the pattern.
        line: usize,
        /// What is wrong with it.
        error: PatternError,
    },
    /// A `COPY --exclude` or `--parents` pattern is malformed.
    #[error("COPY pattern {pattern:?}: {error}")]
    BadCopyPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        error: PatternError,
    },
    /// A source does not exist in the context.
    #[error("COPY source {source_path:?} not found in the build context {root:?}: check the path (sources are relative to the context, not to the Dockerfile)")]
    NotFound {
        /// The source as written in the instruction.
        source_path: String,
        /// The context root.
        root: PathBuf,
    },
    /// A source exists but `.dockerignore` excludes it.
    #[error("COPY source {source_path:?} is excluded by {ignore_file:?}: remove it from there or add an exception with '!'")]
    Ignored {
        /// The source as written in the instruction.
        source_path: String,
        /// The ignore file that excludes it.
        ignore_file: PathBuf,
    },
    /// A source path climbs out of the context with `..`.
    #[error("COPY source {source_path:?} is outside the build context: sources must stay inside the context directory")]
    OutsideContext {
        /// The source as written in the instruction.
        source_path: String,
    },
    /// Following a symlink would leave the context.
    #[error("symlink {link:?} in the build context points outside it (to {target:?}): copy the target into the context instead")]
    SymlinkOutside {
        /// The link, relative to the context root.
        link: String,
        /// Its target as stored in the link.
        target: String,
    },
    /// Too many symlinks in a row (a loop).
    #[error("too many levels of symlinks resolving {path:?} in the build context")]
    SymlinkLoop {
        /// The path being resolved, relative to the context root.
        path: String,
    },
    /// A name the engine would take for an overlay whiteout.
    #[error("cannot copy {path:?}: names starting with \".wh.\" are reserved for layer whiteouts; rename the file")]
    WhiteoutName {
        /// The offending path, relative to the context root.
        path: String,
    },
    /// Several sources, or a directory, to a destination that is not a directory.
    #[error("COPY destination {dest:?} must be a directory ending in '/' when copying {what}")]
    DestNotDirectory {
        /// The destination as given.
        dest: String,
        /// What is being copied ("3 sources", "a directory").
        what: String,
    },
    /// A `--chmod` value that is neither octal nor symbolic.
    #[error("invalid --chmod value {value:?}: use octal (0755) or symbolic (u+x,go-w) notation")]
    BadChmod {
        /// The value as written.
        value: String,
    },
    /// The digest cache file could not be written.
    #[error("cannot save the context digest cache {path:?}: {source}")]
    CacheWrite {
        /// The cache file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// An opened build context: its root, its ignore rules and its file digests.
///
/// All methods take `&self` and the type is `Send + Sync`, so one `Arc<BuildContext>` can serve
/// every stage of a build; the methods do blocking file I/O.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    ignore: PatternMatcher,
    ignore_file: Option<PathBuf>,
    digests: DigestStore,
}

impl BuildContext {
    /// Opens `root` with the digest cache at [`default_cache_file`]. `dockerfile` (a host path)
    /// selects `<Dockerfile>.dockerignore` when that file exists.
    pub fn open(root: &Path, dockerfile: Option<&Path>) -> Result<Self, ContextError> {
        let canonical = canonical_root(root)?;
        let cache = default_cache_file(&canonical);
        Self::open_with_cache(&canonical, dockerfile, cache)
    }

    /// Opens `root` with an explicit digest cache file; `None` keeps digests for this build only.
    pub fn open_with_cache(
        root: &Path,
        dockerfile: Option<&Path>,
        cache_file: Option<PathBuf>,
    ) -> Result<Self, ContextError> {
        let root = canonical_root(root)?;
        let (ignore, ignore_file) = load_ignore(&root, dockerfile)?;
        let digests = DigestStore::load(cache_file, &root);
        Ok(BuildContext {
            root,
            ignore,
            ignore_file,
            digests,
        })
    }

    /// The canonical (symlink-free, absolute) context root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in effect, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// Whether `.dockerignore` excludes `rel` (slash-separated, relative to the root).
    pub fn is_ignored(&self, rel: &str) -> bool {
        self.ignore.is_match(&gomatch::clean(rel))
    }

    /// Resolves one COPY/ADD step's context sources to the files it copies.
    pub fn resolve(&self, request: &CopySources) -> Result<SourceSet, ContextError> {
        resolve::resolve(self, request)
    }

    /// A digest of everything the set would copy (names, types, modes, link targets and file
    /// contents; not mtimes or owners), as `sha256:<hex>`, for the step's cache key.
    pub fn digest(&self, set: &SourceSet) -> Result<String, ContextError> {
        digest::set_digest(&self.digests, set)
    }

    /// Writes the tar stream that puts the set at `dest` when uploaded at `/`.
    pub fn write_tar<W: Write>(
        &self,
        set: &SourceSet,
        dest: &Destination,
        options: &TarOptions,
        out: W,
    ) -> Result<TarSummary, ContextError> {
        archive::write_tar(set, dest, options, out)
    }

    /// Saves the digests computed or confirmed in this build to the cache file, atomically.
    pub fn save_digests(&self) -> Result<(), ContextError> {
        self.digests.save()
    }
}

/// The digest cache file for a context root: `$XDG_CACHE_HOME/stageplan/context/<hash>.json`,
/// else `$HOME/.cache/stageplan/context/<hash>.json`; `None` when neither variable is set.
pub fn default_cache_file(root: &Path) -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    let name = digest::root_key(root);
    Some(
        base.join("stageplan")
            .join("context")
            .join(format!("{name}.json")),
    )
}

fn canonical_root(root: &Path) -> Result<PathBuf, ContextError> {
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
