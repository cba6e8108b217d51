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
//! ctx.save_digests("stageplan-tmp-")?;               // remembers digests for the next build
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
mod error;
mod resolve;
mod root;
#[cfg(test)]
pub(crate) mod testdir;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_archive;
mod walk;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use archive::{DestState, Destination, TarOptions, TarSummary};
pub use chmod::Chmod;
pub use digest::EntryDigest;
pub use entries::{CopySources, EntryKind, FileMeta, SourceEntry, SourceRoot, SourceSet};
pub use error::ContextError;
// The one matcher of `.dockerignore`, `--exclude` and `COPY --from` wildcards is the planner's
// (moby's patternmatcher and Go's filepath.Match), so the planner's CopyIgnoredFile check and the
// runner agree on every path.
pub use planner::patterns::{
    clean, contains_wildcards, go_match, read_ignore_file, PatternError, PatternMatcher,
};
pub use root::ignore_patterns;

use digest::DigestStore;
use root::{canonical_root, ContextRoot};

/// An opened build context: its root, its ignore rules and its file digests.
///
/// All methods take `&self` and the type is `Send + Sync`, so one `Arc<BuildContext>` can serve
/// every stage of a build; the methods do blocking file I/O.
#[derive(Debug)]
pub struct BuildContext {
    root: ContextRoot,
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

    /// Opens `root` without the digest cache between builds: for a context that exists for one
    /// build only (one read from standard input), whose cache file no later build would read;
    /// messages name it `shown`.
    pub fn open_for_one_build(
        root: &Path,
        dockerfile: Option<&Path>,
        shown: &str,
    ) -> Result<Self, ContextError> {
        let canonical = canonical_root(root)?;
        let mut context = Self::open_with_cache(&canonical, dockerfile, None)?;
        context.root.shown = PathBuf::from(shown);
        Ok(context)
    }

    /// Opens `root` with an explicit digest cache file; `None` keeps digests for this build only.
    pub fn open_with_cache(
        root: &Path,
        dockerfile: Option<&Path>,
        cache_file: Option<PathBuf>,
    ) -> Result<Self, ContextError> {
        let root = ContextRoot::open(root, dockerfile)?;
        let digests = DigestStore::load(cache_file, &root.root);
        Ok(BuildContext { root, digests })
    }

    /// The canonical (symlink-free, absolute) context root.
    pub fn root(&self) -> &Path {
        &self.root.root
    }

    /// The ignore file in effect, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.root.ignore_file.as_deref()
    }

    /// Whether `.dockerignore` excludes `rel` (slash-separated, relative to the root).
    pub fn is_ignored(&self, rel: &str) -> bool {
        self.root.ignore.is_match(&clean(rel))
    }

    /// Resolves one COPY/ADD step's context sources to the files it copies.
    pub fn resolve(&self, request: &CopySources) -> Result<SourceSet, ContextError> {
        resolve::resolve(&self.root, request)
    }

    /// A digest of everything the set would copy (names, types, modes, link targets and file
    /// contents; not mtimes or owners), as `sha256:<hex>`, for the step's cache key.
    pub fn digest(&self, set: &SourceSet) -> Result<String, ContextError> {
        digest::set_digest(&self.digests, set)
    }

    /// Every entry of the set with its type, mode and content identity (file digests are the
    /// ones [`BuildContext::digest`] computed), for the build record.
    pub fn entry_digests(&self, set: &SourceSet) -> Result<Vec<EntryDigest>, ContextError> {
        digest::entry_digests(&self.digests, set)
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

    /// Saves the digests computed or confirmed in this build to the cache file, atomically,
    /// through a temporary file whose name starts with `temp_prefix` (the runner's object
    /// prefix, so that a later runner can sweep what a killed one left in [`Self::digest_dir`]).
    pub fn save_digests(&self, temp_prefix: &str) -> Result<(), ContextError> {
        self.digests.save(temp_prefix)
    }

    /// The directory of the digest cache file, if there is one.
    pub fn digest_dir(&self) -> Option<&Path> {
        self.digests.file().and_then(Path::parent)
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
