//! Resolving a COPY/ADD step's sources against the build context.
//!
//! Input: a [`BuildContext`] and the step's expanded sources with `--exclude` and `--parents`.
//! Output: a [`SourceSet`]: every file, directory, symlink and special file the step copies, with
//! its host path, its name below the destination, and its metadata, in a deterministic order
//! (sources in the order written, directory contents sorted by name, parents before children).
//! Invariant: every host path in the set is inside the context root and not excluded by
//! `.dockerignore`; symlinks are followed only when named as a source, and only inside the root.

use std::collections::VecDeque;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::gomatch::{clean, contains_wildcards, go_match};
use super::patterns::{MatchInfo, PatternMatcher};
use super::{BuildContext, ContextError};

/// Symlinks followed in a row before giving up (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// The context part of one COPY/ADD step, after ARG/ENV expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySources {
    /// The sources as written (relative to the context; may hold wildcards or `parent/./rest`).
    pub sources: Vec<String>,
    /// `--exclude` patterns (not expanded, as BuildKit does).
    pub excludes: Vec<String>,
    /// `--parents`: keep each source's path relative to the context root or pivot.
    pub parents: bool,
}

/// The type of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, kept as a link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

/// The metadata of an entry that ends up in the tar stream or the digest cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission and special bits (`mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes (files only).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nsec: i64,
    /// Inode number.
    pub ino: u64,
    /// Device of the filesystem holding it.
    pub dev: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Device number, for device files.
    pub rdev: u64,
}

impl FileMeta {
    fn of(meta: &Metadata) -> Self {
        FileMeta {
            mode: meta.mode() & 0o7777,
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ino: meta.ino(),
            dev: meta.dev(),
            nlink: meta.nlink(),
            rdev: meta.rdev(),
        }
    }
}

/// One thing a COPY step writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Slash-separated name below the destination directory (for a file named as a source: its
    /// base name, which the destination may replace; see `root_file`).
    pub name: String,
    /// Path relative to the context root.
    pub rel: String,
    /// Absolute host path.
    pub path: PathBuf,
    /// File type.
    pub kind: EntryKind,
    /// Metadata from `lstat`.
    pub meta: FileMeta,
    /// The target of a symlink, as stored.
    pub link_target: Option<String>,
    /// True for a non-directory named directly as a source (or matched by a wildcard): copied
    /// to the destination itself when that is not a directory.
    pub root_file: bool,
    /// Index into [`SourceSet::roots`] of the source this entry comes from.
    pub root: usize,
}

/// One source after wildcard expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRoot {
    /// The source relative to the context root, before symlinks are followed.
    pub rel: String,
    /// The same after following symlinks.
    pub real: String,
    /// Absolute host path (of `real`).
    pub path: PathBuf,
    /// Whether it is a directory (its contents are copied).
    pub is_dir: bool,
    /// Its metadata (followed).
    pub meta: FileMeta,
}

/// Everything one COPY step copies from the context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSet {
    /// The entries, parents before children.
    pub entries: Vec<SourceEntry>,
    /// The sources after wildcard expansion, in order (for `--parents`: the pivot directories).
    pub roots: Vec<SourceRoot>,
    /// Whether the set was built with `--parents` (the destination is then always a directory).
    pub parents: bool,
}

impl SourceSet {
    /// How many sources (after wildcard expansion) contributed.
    pub fn n_roots(&self) -> usize {
        self.roots.len()
    }

    /// Whether any source is a directory (its contents go into the destination).
    pub fn has_dir_root(&self) -> bool {
        self.roots.iter().any(|root| root.is_dir)
    }

    /// Adds a root and gives every entry appended since `first_entry` its index.
    fn push_root(&mut self, root: SourceRoot, first_entry: usize) {
        let index = self.roots.len();
        for entry in &mut self.entries[first_entry..] {
            entry.root = index;
        }
        self.roots.push(root);
    }
}

/// What the walk applies to every path below a source.
struct Filters<'a> {
    ignore: &'a PatternMatcher,
    exclude: &'a PatternMatcher,
    /// `--parents` include pattern and the literal directory prefix it can match under.
    include: Option<(&'a PatternMatcher, Vec<String>)>,
}

/// Where the walk is: one directory below a source.
#[derive(Clone)]
struct Position {
    host: PathBuf,
    rel: String,
    name: String,
    ignore_info: Option<MatchInfo>,
    exclude_info: Option<MatchInfo>,
    include_info: Option<MatchInfo>,
}

pub(super) fn resolve(
    ctx: &BuildContext,
    request: &CopySources,
) -> Result<SourceSet, ContextError> {
    let exclude = compile_patterns(&request.excludes)?;
    let mut set = SourceSet {
        parents: request.parents,
        ..SourceSet::default()
    };
    for source in &request.sources {
        if request.parents {
            resolve_parents(ctx, source, &exclude, &mut set)?;
        } else {
            resolve_plain(ctx, source, &exclude, &mut set)?;
        }
    }
    Ok(set)
}

fn compile_patterns(patterns: &[String]) -> Result<PatternMatcher, ContextError> {
    PatternMatcher::new(patterns).map_err(|error| {
        let pattern = patterns
            .iter()
            .find(|p| PatternMatcher::new(&[p.as_str()]).is_err())
            .cloned()
            .unwrap_or_default();
        ContextError::BadCopyPattern { pattern, error }
    })
}

/// Turns a written source into a clean path relative to the root (`""` for the root itself).
fn relative_source(source: &str) -> Result<String, ContextError> {
    let cleaned = clean(source.trim_start_matches('/'));
    if cleaned == ".." || cleaned.starts_with("../") {
        return Err(ContextError::OutsideContext {
            source_path: source.to_string(),
        });
    }
    Ok(if cleaned == "." {
        String::new()
    } else {
        cleaned
    })
}

fn resolve_plain(
    ctx: &BuildContext,
    source: &str,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let rel = relative_source(source)?;
    if !contains_wildcards(&rel) {
        return add_root(ctx, source, &rel, exclude, set);
    }
    let parts: Vec<&str> = rel.split('/').collect();
    let split = parts
        .iter()
        .position(|p| contains_wildcards(p))
        .unwrap_or(parts.len());
    let base_rel = parts[..split].join("/");
    let pattern = parts[split..].join("/");
    let not_found = || ContextError::NotFound {
        source_path: source.to_string(),
        root: ctx.root.clone(),
    };
    let base = resolve_in_root(&ctx.root, &base_rel, true)?.ok_or_else(not_found)?;
    let base_host = host_path(&ctx.root, &base);
    if !std::fs::metadata(&base_host)
        .map(|m| m.is_dir())
        .unwrap_or(false)
    {
        return Err(not_found());
    }
    // Each `/` in a match comes from a literal `/` or a character class in the pattern.
    let max_depth = pattern.matches('/').count() + pattern.matches('[').count() + 1;
    let mut matches = Vec::new();
    find_matches(
        ctx,
        &base_host,
        &base,
        "",
        &pattern,
        max_depth,
        &mut matches,
    )?;
    for matched in matches {
        add_root(ctx, &matched, &matched, exclude, set)?;
    }
    Ok(())
}

/// Walks `dir` like Go's `filepath.Walk` (sorted, symlinks not followed) and collects the
/// context-relative paths whose path below the wildcard base matches `pattern`; a matched
/// directory is not entered. Paths `.dockerignore` hides are not seen.
fn find_matches(
    ctx: &BuildContext,
    dir: &Path,
    dir_rel: &str,
    below: &str,
    pattern: &str,
    depth_left: usize,
    out: &mut Vec<String>,
) -> Result<(), ContextError> {
    if depth_left == 0 {
        return Ok(());
    }
    for (name, meta) in read_dir_sorted(dir)? {
        let rel = join(dir_rel, &name);
        let below_rel = join(below, &name);
        let is_dir = meta.is_dir();
        if !visible(ctx, &rel, is_dir)? {
            continue;
        }
        if go_match(pattern, &below_rel).unwrap_or(false) {
            out.push(rel);
        } else if is_dir {
            find_matches(
                ctx,
                &dir.join(&name),
                &rel,
                &below_rel,
                pattern,
                depth_left - 1,
                out,
            )?;
        }
    }
    Ok(())
}

/// Whether a path exists in the context as the engines would receive it: not ignored, or an
/// ignored directory that still holds an excepted (`!`) path.
fn visible(ctx: &BuildContext, rel: &str, is_dir: bool) -> Result<bool, ContextError> {
    let (ignored, info) = chain_info(&ctx.ignore, rel);
    if !ignored {
        return Ok(true);
    }
    if !is_dir || !ctx.ignore.has_exclusions() {
        return Ok(false);
    }
    let none = PatternMatcher::default();
    let filters = Filters {
        ignore: &ctx.ignore,
        exclude: &none,
        include: None,
    };
    let position = Position {
        host: host_path(&ctx.root, rel),
        rel: rel.to_string(),
        name: String::new(),
        ignore_info: info,
        exclude_info: None,
        include_info: None,
    };
    let mut found = Vec::new();
    walk(&filters, &position, &mut found)?;
    Ok(!found.is_empty())
}

/// The ignore result of `rel` computed through its parent chain, as the context walker does.
fn chain_info(matcher: &PatternMatcher, rel: &str) -> (bool, Option<MatchInfo>) {
    if rel.is_empty() || matcher.is_empty() {
        return (false, None);
    }
    let mut info: Option<MatchInfo> = None;
    let mut matched = false;
    let mut prefix = String::new();
    for part in rel.split('/') {
        prefix = join(&prefix, part);
        let (hit, next) = matcher.matches(&prefix, info.as_ref());
        matched = hit;
        info = Some(next);
    }
    (matched, info)
}

/// Adds one source (after wildcard expansion): a directory's contents or a single entry.
fn add_root(
    ctx: &BuildContext,
    written: &str,
    rel: &str,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let not_found = || ContextError::NotFound {
        source_path: written.to_string(),
        root: ctx.root.clone(),
    };
    let real = resolve_in_root(&ctx.root, rel, true)?.ok_or_else(not_found)?;
    let host = host_path(&ctx.root, &real);
    let meta = match std::fs::symlink_metadata(&host) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(source) => return Err(ContextError::Io { path: host, source }),
    };
    let (ignored, ignore_info) = chain_info(&ctx.ignore, &real);
    let ignored_error = || ContextError::Ignored {
        source_path: written.to_string(),
        ignore_file: ctx.ignore_file.clone().unwrap_or_default(),
    };
    let root = SourceRoot {
        rel: rel.to_string(),
        real: real.clone(),
        path: host.clone(),
        is_dir: meta.is_dir(),
        meta: FileMeta::of(&meta),
    };
    let before = set.entries.len();
    if !meta.is_dir() {
        if ignored {
            return Err(ignored_error());
        }
        let base = rel.rsplit('/').next().unwrap_or(rel).to_string();
        let mut entry = make_entry(&host, &real, base, &meta)?;
        entry.root_file = true;
        set.entries.push(entry);
        set.push_root(root, before);
        return Ok(());
    }
    if ignored && !ctx.ignore.has_exclusions() {
        return Err(ignored_error());
    }
    let filters = Filters {
        ignore: &ctx.ignore,
        exclude,
        include: None,
    };
    let position = Position {
        host,
        rel: real,
        name: String::new(),
        ignore_info,
        exclude_info: None,
        include_info: None,
    };
    walk(&filters, &position, &mut set.entries)?;
    if ignored && set.entries.len() == before {
        return Err(ignored_error());
    }
    set.push_root(root, before);
    Ok(())
}

/// `COPY --parents`: the pivot directory is walked with the rest of the source as an include
/// pattern, keeping every matched path's directories.
fn resolve_parents(
    ctx: &BuildContext,
    source: &str,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let (pivot, pattern) = match source.split_once("/./") {
        Some((pivot, rest)) => (pivot, rest),
        None => ("", source),
    };
    let pivot_rel = relative_source(pivot)?;
    let pattern = clean(&format!("/{pattern}"))
        .trim_start_matches('/')
        .to_string();
    if pattern.is_empty() || pattern == ".." || pattern.starts_with("../") {
        return Err(ContextError::OutsideContext {
            source_path: source.to_string(),
        });
    }
    let not_found = || ContextError::NotFound {
        source_path: source.to_string(),
        root: ctx.root.clone(),
    };
    let pivot_real = resolve_in_root(&ctx.root, &pivot_rel, true)?.ok_or_else(not_found)?;
    let pivot_host = host_path(&ctx.root, &pivot_real);
    let pivot_meta = match std::fs::metadata(&pivot_host) {
        Ok(meta) if meta.is_dir() => meta,
        _ => return Err(not_found()),
    };
    let root = SourceRoot {
        rel: pivot_rel.clone(),
        real: pivot_real.clone(),
        path: pivot_host.clone(),
        is_dir: true,
        meta: FileMeta::of(&pivot_meta),
    };
    let include = compile_patterns(std::slice::from_ref(&pattern))?;
    let literal_prefix: Vec<String> = pattern
        .split('/')
        .take_while(|part| !contains_wildcards(part))
        .map(str::to_string)
        .collect();
    let filters = Filters {
        ignore: &ctx.ignore,
        exclude,
        include: Some((&include, literal_prefix)),
    };
    let (_, ignore_info) = chain_info(&ctx.ignore, &pivot_real);
    let position = Position {
        host: pivot_host,
        rel: pivot_real,
        name: String::new(),
        ignore_info,
        exclude_info: None,
        include_info: None,
    };
    let before = set.entries.len();
    walk(&filters, &position, &mut set.entries)?;
    if set.entries.len() == before && !contains_wildcards(&pattern) {
        return Err(not_found());
    }
    set.push_root(root, before);
    Ok(())
}

/// Lists the children of `at` and appends the included ones, each directory before its
/// contents. A directory that is itself excluded is still entered when an exception (`!`) could
/// bring back something inside it; it is then added only when something inside it is.
fn walk(filters: &Filters, at: &Position, out: &mut Vec<SourceEntry>) -> Result<(), ContextError> {
    for (file_name, meta) in read_dir_sorted(&at.host)? {
        let rel = join(&at.rel, &file_name);
        let name = join(&at.name, &file_name);
        let is_dir = meta.is_dir();
        let (ignored, ignore_info) = filters.ignore.matches(&rel, at.ignore_info.as_ref());
        let (excluded, exclude_info) = filters.exclude.matches(&name, at.exclude_info.as_ref());
        let (included, include_info) = match &filters.include {
            Some((include, _)) => {
                let (hit, info) = include.matches(&name, at.include_info.as_ref());
                (hit, Some(info))
            }
            None => (true, None),
        };
        let copied = included && !ignored && !excluded;
        if !is_dir {
            if copied {
                out.push(make_entry(&at.host.join(&file_name), &rel, name, &meta)?);
            }
            continue;
        }
        let blocked = (ignored && !filters.ignore.has_exclusions())
            || (excluded && !filters.exclude.has_exclusions());
        if blocked {
            continue;
        }
        if !included && !could_include(filters, &name) {
            continue;
        }
        let child = Position {
            host: at.host.join(&file_name),
            rel: rel.clone(),
            name: name.clone(),
            ignore_info: Some(ignore_info),
            exclude_info: Some(exclude_info),
            include_info,
        };
        let mut inner = Vec::new();
        walk(filters, &child, &mut inner)?;
        if copied || !inner.is_empty() {
            out.push(make_entry(&child.host, &rel, name, &meta)?);
            out.append(&mut inner);
        }
    }
    Ok(())
}

/// Whether an include pattern could match something below directory `name`: its literal
/// leading directories must agree with `name` as far as both go.
fn could_include(filters: &Filters, name: &str) -> bool {
    match &filters.include {
        None => true,
        Some((_, prefix)) => name
            .split('/')
            .zip(prefix.iter())
            .all(|(have, want)| have == want),
    }
}

fn make_entry(
    host: &Path,
    rel: &str,
    name: String,
    meta: &Metadata,
) -> Result<SourceEntry, ContextError> {
    let file_name = rel.rsplit('/').next().unwrap_or(rel);
    if file_name.starts_with(".wh.") {
        return Err(ContextError::WhiteoutName {
            path: rel.to_string(),
        });
    }
    let file_type = meta.file_type();
    let kind = if file_type.is_dir() {
        EntryKind::Dir
    } else if file_type.is_symlink() {
        EntryKind::Symlink
    } else if file_type.is_fifo() {
        EntryKind::Fifo
    } else if file_type.is_char_device() {
        EntryKind::CharDevice
    } else if file_type.is_block_device() {
        EntryKind::BlockDevice
    } else {
        EntryKind::File
    };
    let link_target = if kind == EntryKind::Symlink {
        let target = std::fs::read_link(host).map_err(|source| ContextError::Io {
            path: host.to_path_buf(),
            source,
        })?;
        Some(target.to_string_lossy().into_owned())
    } else {
        None
    };
    Ok(SourceEntry {
        name,
        rel: rel.to_string(),
        path: host.to_path_buf(),
        kind,
        meta: FileMeta::of(meta),
        link_target,
        root_file: false,
        root: 0,
    })
}

/// Directory entries sorted by name with their `lstat` metadata; sockets are skipped (the
/// engines do not send them either).
fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, Metadata)>, ContextError> {
    let io_err = |source| ContextError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut children = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io_err)? {
        let item = item.map_err(io_err)?;
        let meta = std::fs::symlink_metadata(item.path()).map_err(|source| ContextError::Io {
            path: item.path(),
            source,
        })?;
        if meta.file_type().is_socket() {
            continue;
        }
        children.push((item.file_name().to_string_lossy().into_owned(), meta));
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(children)
}

/// Resolves `rel` inside `root`, following symlinks in every component (and in the last one
/// when `follow_last`), and returns the real path relative to the root, or `None` when some
/// component does not exist. A symlink that leads outside the root is an error.
pub(super) fn resolve_in_root(
    root: &Path,
    rel: &str,
    follow_last: bool,
) -> Result<Option<String>, ContextError> {
    let mut pending: VecDeque<String> = rel.split('/').map(str::to_string).collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                if resolved.pop().is_none() {
                    return Err(ContextError::OutsideContext {
                        source_path: rel.to_string(),
                    });
                }
                continue;
            }
            _ => {}
        }
        let candidate = join(&resolved.join("/"), &part);
        let host = host_path(root, &candidate);
        let meta = match std::fs::symlink_metadata(&host) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) if err.raw_os_error() == Some(20) => return Ok(None), // ENOTDIR
            Err(source) => return Err(ContextError::Io { path: host, source }),
        };
        let last = pending.is_empty();
        if !meta.file_type().is_symlink() || (last && !follow_last) {
            resolved.push(part);
            continue;
        }
        hops += 1;
        if hops > MAX_SYMLINK_HOPS {
            return Err(ContextError::SymlinkLoop {
                path: rel.to_string(),
            });
        }
        let target = std::fs::read_link(&host).map_err(|source| ContextError::Io {
            path: host.clone(),
            source,
        })?;
        let target_text = target.to_string_lossy().into_owned();
        let outside = || ContextError::SymlinkOutside {
            link: candidate.clone(),
            target: target_text.clone(),
        };
        let relative_target = if target.is_absolute() {
            let inside = target.strip_prefix(root).map_err(|_| outside())?;
            resolved.clear();
            inside.to_string_lossy().into_owned()
        } else {
            target_text.clone()
        };
        // A relative target climbing above the root is outside, even if it comes back in.
        let mut depth = resolved.len() as isize;
        for step in relative_target.split('/') {
            match step {
                "" | "." => {}
                ".." => depth -= 1,
                _ => depth += 1,
            }
            if depth < 0 {
                return Err(outside());
            }
        }
        for step in relative_target.split('/').rev() {
            pending.push_front(step.to_string());
        }
    }
    Ok(Some(resolved.join("/")))
}

fn host_path(root: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}
