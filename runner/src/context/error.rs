//! The build context's error type.
//!
//! Input: failures while opening, resolving, digesting or archiving context files.
//! Output: [`ContextError`]; every variant names the path (or pattern) and says what to do.
//! Invariant: leaf module: the other context modules use it, it uses none of them but the
//! pattern error type.

use std::path::PathBuf;

use planner::patterns::PatternError;

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
    /// A file changed between the moment the build listed it and the moment it read it: its
    /// digest and the copy could disagree, so the step is not performed (nor cached).
    #[error("{path:?} in the build context changed while the build was reading it (its inode, size or times differ from when it was listed); retry the build once it stops changing")]
    ChangedDuringBuild {
        /// The host path.
        path: PathBuf,
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
    /// A `--parents` source with nothing after its `/./` pivot.
    #[error("COPY --parents source {source_path:?} names nothing after its \"/./\": write the path to copy after it")]
    EmptyParentsPath {
        /// The source as written in the instruction.
        source_path: String,
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
