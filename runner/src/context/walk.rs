//! Walking a source directory and resolving paths inside the context root.
//!
//! Input: a directory below the context root with the `.dockerignore`, `--exclude` and
//! `--parents` matchers and their parent results. Output: [`SourceEntry`]s, parents before
//! children, sorted by name; the real (symlink-free) relative path of a source.
//! Invariant: nothing outside the root is read; symlinks inside a walked directory are never
//! followed; an excluded directory is entered only when a `!` exception could bring something back.

use std::collections::VecDeque;
use std::fs::Metadata;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::entries::{EntryKind, FileMeta, SourceEntry};
use super::error::ContextError;
use planner::patterns::{MatchInfo, PatternMatcher};

/// Symlinks followed in a row before giving up (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// What the walk applies to every path below a source.
pub(super) struct Filters<'a> {
    pub(super) ignore: &'a PatternMatcher,
    pub(super) exclude: &'a PatternMatcher,
    /// `--parents` include pattern and the literal directory prefix it can match under.
    pub(super) include: Option<(&'a PatternMatcher, Vec<String>)>,
}

/// Where the walk is: one directory below a source.
#[derive(Clone)]
pub(super) struct Position {
    pub(super) host: PathBuf,
    pub(super) rel: String,
    pub(super) name: String,
    pub(super) ignore_info: Option<MatchInfo>,
    pub(super) exclude_info: Option<MatchInfo>,
    pub(super) include_info: Option<MatchInfo>,
}

/// Lists the children of `at` and appends the included ones, each directory before its
/// contents. A directory that is itself excluded is still entered when an exception (`!`) could
/// bring back something inside it; it is then added only when something inside it is.
pub(super) fn walk(
    filters: &Filters,
    at: &Position,
    out: &mut Vec<SourceEntry>,
) -> Result<(), ContextError> {
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

pub(super) fn make_entry(
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
    } else if file_type.is_socket() {
        EntryKind::Socket
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

/// Directory entries sorted by name with their `lstat` metadata; named pipes are skipped
/// (BuildKit does not copy them from a directory).
pub(super) fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, Metadata)>, ContextError> {
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
        if meta.file_type().is_fifo() {
            continue;
        }
        children.push((item.file_name().to_string_lossy().into_owned(), meta));
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(children)
}

/// Resolves `rel` inside `root`, following symlinks in every component (and in the last one
/// when `follow_last`), and returns the real path relative to the root, or `None` when some
/// component does not exist.
///
/// The root is the `/` of the resolution, as BuildKit resolves a context path (continuity's
/// `RootPath`): `..` at the root stays at the root, and a symlink's absolute target is taken
/// from the root (`/data/x` is the context's `data/x`, not the host's), so no path or link
/// leads outside the context.
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
                resolved.pop();
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
        let target = target.to_string_lossy();
        if target.starts_with('/') {
            resolved.clear();
        }
        for step in target.split('/').rev() {
            pending.push_front(step.to_string());
        }
    }
    Ok(Some(resolved.join("/")))
}

pub(super) fn host_path(root: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

pub(super) fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}
