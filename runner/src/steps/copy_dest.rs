//! Where a COPY or ADD writes: the destination resolved inside the image as BuildKit resolves
//! it, and the directories the copy has to create first.
//!
//! Input: the destination as written (after expansion), the stage's working directory, the
//! step's target container, what the sources are.
//! Output: a [`DestPlan`]: the real (symlink-free) destination, whether it is a directory, and
//! the missing directories, owned by the `--chown` user (root otherwise), with the mode of an
//! octal `--chmod` (as BuildKit's own tests expect; the engine's older BuildKit used 0755) or
//! 0755.
//! Invariant: writes never go through a symlink of the image: every component is resolved
//! first, so `COPY a /link/` where `/link` points to a missing directory creates that directory.

use crate::context::DestState;
use crate::engine::{Engine, EngineResult};
use crate::error::StepError;
use crate::exec::container_fs::{self, ResolveProblem, ResolvedPath};

/// The destination of one COPY/ADD step in the target container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestPlan {
    /// The real absolute path (symlinks resolved), `/` for the root.
    pub real: String,
    /// Whether sources go inside it (it is, or becomes, a directory).
    pub is_dir: bool,
    /// What exists at `real` now.
    pub state: DestState,
    /// Directories to create first, absolute, parents first.
    pub missing_dirs: Vec<String>,
}

/// Resolves the destination `dest` (absolute) in `container`, through its symlinks.
pub async fn resolve(
    engine: &Engine,
    container: &str,
    dest: &str,
) -> EngineResult<Result<ResolvedPath, StepError>> {
    Ok(container_fs::resolve_path(engine, container, dest)
        .await?
        .map_err(|problem| match problem {
            ResolveProblem::NotADirectory(path) => {
                StepError::Invalid(format!("destination {dest}: {path} is not a directory"))
            }
            ResolveProblem::TooManyLinks(path) => StepError::Invalid(format!(
                "destination {dest}: too many symlinks resolving {path}"
            )),
        }))
}

/// Plans the destination `dest` from its resolution. `hinted_dir`: the destination was written
/// with a trailing `/` (or is `.`); `sources_need_dir`: several sources, a directory source, a
/// wildcard or `--parents`, so the destination must be a directory.
pub fn plan(
    dest: &str,
    resolved: &ResolvedPath,
    hinted_dir: bool,
    sources_need_dir: bool,
) -> Result<DestPlan, StepError> {
    let state = match &resolved.stat {
        None => DestState::Missing,
        Some(stat) if stat.is_dir() => DestState::Directory,
        Some(_) => DestState::NotDirectory,
    };
    let is_dir = hinted_dir || sources_need_dir || state == DestState::Directory;
    if is_dir && state == DestState::NotDirectory {
        return Err(StepError::Invalid(format!(
            "destination {dest} is a file, but the copy needs a directory there"
        )));
    }
    let real = resolved.real();
    let mut create: Vec<String> = resolved.missing.clone();
    if !is_dir {
        create.pop();
    }
    let mut missing_dirs = Vec::new();
    let mut prefix = resolved.existing.trim_end_matches('/').to_string();
    for part in create {
        prefix = format!("{prefix}/{part}");
        missing_dirs.push(prefix.clone());
    }
    Ok(DestPlan {
        real,
        is_dir,
        state,
        missing_dirs,
    })
}

/// Creates the plan's missing directories with `mode`, owned by `owner`.
pub async fn create_missing(
    engine: &Engine,
    container: &str,
    plan: &DestPlan,
    owner: (u64, u64),
    mode: u32,
) -> EngineResult<Result<(), StepError>> {
    Ok(
        container_fs::create_directories(engine, container, &plan.missing_dirs, owner, mode)
            .await?
            .map_err(StepError::Tar),
    )
}
