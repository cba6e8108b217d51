//! Resolving a COPY/ADD step's sources against the build context.
//!
//! Input: a [`BuildContext`] and the step's expanded sources with `--exclude` and `--parents`.
//! Output: a [`SourceSet`]: every file, directory, symlink and special file the step copies, with
//! its host path, its name below the destination, and its metadata, in a deterministic order
//! (sources in the order written, directory contents sorted by name, parents before children).
//! Invariant: every host path in the set is inside the context root and not excluded by
//! `.dockerignore`; symlinks are followed only when named as a source, and only inside the root.

use std::path::Path;

use super::entries::{CopySources, FileMeta, SourceRoot, SourceSet};
use super::error::ContextError;
use super::root::ContextRoot;
use super::walk::{
    host_path, join, make_entry, read_dir_sorted, resolve_in_root, walk, Filters, Position,
};
use planner::patterns::{clean, contains_wildcards, go_match, MatchInfo, PatternMatcher};

pub(super) fn resolve(ctx: &ContextRoot, request: &CopySources) -> Result<SourceSet, ContextError> {
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
/// The source is taken from the context's root, as BuildKit joins it to `/`: `../x` and `/x`
/// are the context's `x`.
fn relative_source(source: &str) -> String {
    clean(&format!("/{source}"))
        .trim_start_matches('/')
        .to_string()
}

fn resolve_plain(
    ctx: &ContextRoot,
    source: &str,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let rel = relative_source(source);
    if !contains_wildcards(&rel) {
        return add_root(ctx, source, &rel, exclude, set);
    }
    for matched in glob(ctx, source, &rel)? {
        add_root(ctx, &matched, &matched, exclude, set)?;
    }
    Ok(())
}

/// The context paths that `rel` (clean, with wildcards) matches, sorted as Go's `filepath.Walk`
/// finds them; an error when the directory above the first wildcard does not exist.
fn glob(ctx: &ContextRoot, source: &str, rel: &str) -> Result<Vec<String>, ContextError> {
    let parts: Vec<&str> = rel.split('/').collect();
    let split = parts
        .iter()
        .position(|p| contains_wildcards(p))
        .unwrap_or(parts.len());
    let base_rel = parts[..split].join("/");
    let pattern = parts[split..].join("/");
    let not_found = || ContextError::NotFound {
        source_path: source.to_string(),
        root: ctx.shown.clone(),
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
    Ok(matches)
}

/// Walks `dir` like Go's `filepath.Walk` (sorted, symlinks not followed) and collects the
/// context-relative paths whose path below the wildcard base matches `pattern`; a matched
/// directory is not entered. Paths `.dockerignore` hides are not seen.
fn find_matches(
    ctx: &ContextRoot,
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
fn visible(ctx: &ContextRoot, rel: &str, is_dir: bool) -> Result<bool, ContextError> {
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
    ctx: &ContextRoot,
    written: &str,
    rel: &str,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let not_found = || ContextError::NotFound {
        source_path: written.to_string(),
        root: ctx.shown.clone(),
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
/// pattern, keeping every matched path's directories. A pivot with wildcards stands for each
/// directory it matches, and then nothing is required to match (BuildKit requires a path only
/// when neither part has a wildcard).
fn resolve_parents(
    ctx: &ContextRoot,
    source: &str,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let (pivot, pattern) = match source.split_once("/./") {
        Some((pivot, rest)) => (pivot, rest),
        None => ("", source),
    };
    let pivot_rel = relative_source(pivot);
    let pattern = relative_source(pattern);
    if pattern.is_empty() {
        return Err(ContextError::EmptyParentsPath {
            source_path: source.to_string(),
        });
    }
    if !contains_wildcards(&pivot_rel) {
        let required = !contains_wildcards(&pattern);
        return resolve_parents_at(ctx, source, &pivot_rel, &pattern, required, exclude, set);
    }
    for matched in glob(ctx, source, &pivot_rel)? {
        let is_dir = resolve_in_root(&ctx.root, &matched, true)?
            .and_then(|real| std::fs::metadata(host_path(&ctx.root, &real)).ok())
            .is_some_and(|meta| meta.is_dir());
        if is_dir {
            resolve_parents_at(ctx, source, &matched, &pattern, false, exclude, set)?;
        }
    }
    Ok(())
}

/// [`resolve_parents`] at one pivot directory; with `required`, a pattern that matches nothing
/// is an error.
fn resolve_parents_at(
    ctx: &ContextRoot,
    source: &str,
    pivot_rel: &str,
    pattern: &str,
    required: bool,
    exclude: &PatternMatcher,
    set: &mut SourceSet,
) -> Result<(), ContextError> {
    let pivot_rel = pivot_rel.to_string();
    let pattern = pattern.to_string();
    let not_found = || ContextError::NotFound {
        source_path: source.to_string(),
        root: ctx.shown.clone(),
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
    if set.entries.len() == before && required {
        return Err(not_found());
    }
    set.push_root(root, before);
    Ok(())
}
