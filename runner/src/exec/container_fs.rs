//! Reading a step's target container: user and group names, and paths resolved through
//! symlinks the way BuildKit resolves a COPY destination (inside the image's root).
//!
//! Input: a container (holder or keeper) whose filesystem is the stage's current image.
//! Output: numeric owners for `--chown`/`USER`, [`ResolvedPath`]s, absolute paths for a stage's
//! working directory, and the one write a step makes before its own: missing directories.
//! Invariant: nothing here writes to the container but [`create_directories`].

use crate::engine::{Engine, EngineResult, PathStat};
use crate::fs::tar::{self, TarError};
use crate::fs::users;

/// Reads a small file of a container as text; empty when it does not exist.
pub async fn read_text(engine: &Engine, container: &str, path: &str) -> EngineResult<String> {
    let archive = engine.get_archive(container, path).await?;
    Ok(archive
        .and_then(|bytes| tar::first_file(&bytes).ok().flatten())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default())
}

/// Resolves a `user[:group]` spec against the container's `/etc/passwd` and `/etc/group`
/// (an unknown name falls back as in BuildKit, and is named in [`users::Owner::unknown`]).
pub async fn resolve_owner(
    engine: &Engine,
    container: &str,
    spec: &str,
) -> EngineResult<users::Owner> {
    let (passwd, group) = if users::needs_lookup(spec) {
        (
            read_text(engine, container, "/etc/passwd").await?,
            read_text(engine, container, "/etc/group").await?,
        )
    } else {
        (String::new(), String::new())
    };
    Ok(users::resolve(spec, &passwd, &group))
}

/// The absolute, clean path of `path` for a stage whose working directory is `workdir`
/// (relative paths are joined to it).
pub fn absolute(workdir: &str, path: &str) -> String {
    let base = if workdir.is_empty() { "/" } else { workdir };
    let joined = if path.starts_with('/') {
        tar::join_dest(path, "")
    } else {
        tar::join_dest(base, path)
    };
    format!("/{joined}")
}

/// Creates directories (absolute paths, parents first) with `owner` and `mode`.
pub async fn create_directories(
    engine: &Engine,
    container: &str,
    paths: &[String],
    owner: (u64, u64),
    mode: u32,
) -> EngineResult<Result<(), TarError>> {
    if paths.is_empty() {
        return Ok(Ok(()));
    }
    let relative: Vec<String> = paths
        .iter()
        .map(|p| p.trim_start_matches('/').to_string())
        .collect();
    let archive = match tar::directories(&relative, owner, mode) {
        Ok(archive) => archive,
        Err(e) => return Ok(Err(e)),
    };
    engine.put_archive_bytes(container, "/", archive).await?;
    Ok(Ok(()))
}

/// An absolute path of the container, resolved through symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// The real path of the deepest component that exists (`/` at least).
    pub existing: String,
    /// What the whole path is, when it exists (never a symlink: links are followed).
    pub stat: Option<PathStat>,
    /// The components below `existing` that do not exist yet, in order.
    pub missing: Vec<String>,
}

impl ResolvedPath {
    /// The real path the whole path names (`existing` joined with `missing`).
    pub fn real(&self) -> String {
        let mut path = self.existing.trim_end_matches('/').to_string();
        for part in &self.missing {
            path.push('/');
            path.push_str(part);
        }
        if path.is_empty() {
            "/".to_string()
        } else {
            path
        }
    }
}

/// Why a path cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveProblem {
    /// A component that must be a directory is a file.
    NotADirectory(String),
    /// Symlinks nest too deep (a loop).
    TooManyLinks(String),
}

/// Resolves absolute `path` in `container` component by component, following every symlink
/// (BuildKit resolves a COPY destination the same way, scoped to the image's root).
pub async fn resolve_path(
    engine: &Engine,
    container: &str,
    path: &str,
) -> EngineResult<Result<ResolvedPath, ResolveProblem>> {
    let mut pending: Vec<String> = components(path).into_iter().rev().collect();
    let mut current = String::from("/");
    let mut current_stat: Option<PathStat> = None;
    let mut links = 0;
    while let Some(part) = pending.pop() {
        let candidate = join(&current, &part);
        match engine.stat_path(container, &candidate).await? {
            None => {
                let mut missing = vec![part];
                missing.extend(pending.into_iter().rev());
                return Ok(Ok(ResolvedPath {
                    existing: current,
                    stat: None,
                    missing,
                }));
            }
            Some(stat) if stat.is_symlink() => {
                links += 1;
                if links > 40 {
                    return Ok(Err(ResolveProblem::TooManyLinks(path.to_string())));
                }
                // The engine resolves the whole link inside the root; walk its result again,
                // since parts of it may not exist yet.
                for target_part in components(&stat.link_target).into_iter().rev() {
                    pending.push(target_part);
                }
                current = String::from("/");
                current_stat = None;
            }
            Some(stat) => {
                if !stat.is_dir() && !pending.is_empty() {
                    return Ok(Err(ResolveProblem::NotADirectory(candidate)));
                }
                current = candidate;
                current_stat = Some(stat);
            }
        }
    }
    Ok(Ok(ResolvedPath {
        existing: current,
        stat: current_stat.or(Some(PathStat {
            name: "/".to_string(),
            size: 0,
            mode: 1 << 31,
            link_target: String::new(),
        })),
        missing: Vec::new(),
    }))
}

fn components(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other.to_string()),
        }
    }
    parts
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_working_directory() {
        assert_eq!(absolute("/app", "bin/"), "/app/bin");
        assert_eq!(absolute("", "x"), "/x");
        assert_eq!(absolute("/app", "/abs/./y"), "/abs/y");
        assert_eq!(absolute("/app", "."), "/app");
    }

    #[test]
    fn components_are_clean_and_real_paths_join() {
        assert_eq!(components("/a/./b/../c/"), vec!["a", "c"]);
        assert_eq!(components("/.."), Vec::<String>::new());
        let resolved = ResolvedPath {
            existing: "/tmp".into(),
            stat: None,
            missing: vec!["x".into(), "y".into()],
        };
        assert_eq!(resolved.real(), "/tmp/x/y");
        let root = ResolvedPath {
            existing: "/".into(),
            stat: None,
            missing: vec![],
        };
        assert_eq!(root.real(), "/");
    }
}
