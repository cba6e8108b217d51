//! `WORKDIR`: sets the working directory and creates it when the image lacks it.
//!
//! Input: the WORKDIR instruction and the stage state.
//! Output: the new working directory in the config (an absolute path kept as written, a
//! relative one joined to the current directory, as BuildKit stores it); missing directories
//! created 0755 and owned by the current USER (resolved in the image's `/etc/passwd`), and
//! committed under the step's own key; or the unchanged image remembered under that key.
//! Invariant: an existing directory is never touched (its mode and owner belong to the image).

use planner::plan::Instruction;

use crate::error::{Result, RunnerError, StepError};
use crate::exec::commit::{commit_step, looked_up};
use crate::exec::container_fs::{self, ResolveProblem};
use crate::exec::ctx::Ctx;
use crate::exec::holders::{after_target, target_container};
use crate::exec::stage_state::StageState;
use crate::fs::tar;

/// The working directory BuildKit stores for `WORKDIR path` after `current`.
pub fn working_dir(current: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if current.is_empty() { "/" } else { current };
    format!("/{}", tar::join_dest(base, path))
}

/// Sets the stage's working directory for `WORKDIR path` and advances its key; returns the
/// directory to create (absolute, clean). Touches no container (also used to predict keys).
pub fn prepare(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    path: &str,
) -> Result<String> {
    let expanded = ctx
        .expand(path, &state.lookup_vars())
        .map_err(state.fail_at(instruction.line))?;
    let stored = working_dir(&state.config.working_dir, &expanded);
    let dir = format!("/{}", tar::join_dest(&stored, ""));
    state.config.working_dir = stored;
    state.config_dirty = true;
    let key = state
        .key
        .step("workdir")
        .text("dir", &dir)
        .text("user", &state.config.user);
    state.advance_key(key);
    Ok(dir)
}

/// Performs `WORKDIR path`. Directories it creates are committed at once; with `defer`, a
/// pending run of earlier steps it made nothing for stays pending: the next COPY/ADD/WORKDIR of
/// the stage continues in the same container ([`StageState::pending`]).
pub async fn perform(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    path: &str,
    defer: bool,
) -> Result<()> {
    let dir = prepare(ctx, state, instruction, path)?;
    // A hit shows as a metadata step; a miss shows as started, with why it missed.
    if looked_up(ctx, state, instruction, false).await? {
        if let Some(container) = state.pending.take() {
            after_target(ctx, state, &container, false).await?;
        }
        return Ok(());
    }
    let pending = state.pending.take();
    let had_pending = pending.is_some();
    let holder = match pending {
        Some(container) => container,
        None => target_container(ctx, state).await?,
    };
    let result = async {
        let created = create_missing(ctx, state, &holder, &dir, instruction).await?;
        state.executed = true;
        // Directories it made are committed now, under its own key: a later build whose next
        // COPY changes then finds this step in the cache instead of making them again (as
        // BuildKit keeps a WORKDIR cached). Only a run it made nothing for stays pending.
        if !created && had_pending && defer {
            state.all_cached = false;
            return Ok(true);
        }
        match (created || had_pending, state.image.clone()) {
            // Nothing to create: remember the unchanged image under this key.
            (false, Some(image)) => {
                state.insight.step.size_added = Some(0);
                ctx.cache.store(&state.key, &image).await?;
                Ok(false)
            }
            _ => commit_step(ctx, state, &holder, instruction)
                .await
                .map(|_| false),
        }
    }
    .await;
    match result {
        Ok(true) => {
            state.pending = Some(holder);
            Ok(())
        }
        Ok(false) => after_target(ctx, state, &holder, true).await,
        Err(e) => {
            after_target(ctx, state, &holder, false).await?;
            Err(e)
        }
    }
}

/// Creates the missing components of `dir` (owned by the USER); returns whether any was missing.
async fn create_missing(
    ctx: &Ctx,
    state: &StageState,
    holder: &str,
    dir: &str,
    instruction: &Instruction,
) -> Result<bool> {
    let fail = |message: String| RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        source: StepError::Invalid(message),
    };
    let resolved = match container_fs::resolve_path(&ctx.engine, holder, dir).await? {
        Ok(resolved) => resolved,
        Err(ResolveProblem::NotADirectory(path)) => {
            return Err(fail(format!(
                "WORKDIR {dir}: {path} exists and is not a directory"
            )))
        }
        Err(ResolveProblem::TooManyLinks(path)) => {
            return Err(fail(format!(
                "WORKDIR {dir}: too many symlinks resolving {path}"
            )))
        }
    };
    if let Some(stat) = &resolved.stat {
        if !stat.is_dir() {
            return Err(fail(format!("WORKDIR {dir} exists and is not a directory")));
        }
    }
    if resolved.missing.is_empty() {
        return Ok(false);
    }
    let owner = if state.config.user.is_empty() {
        (0, 0)
    } else {
        let owner = container_fs::resolve_owner(&ctx.engine, holder, &state.config.user).await?;
        for unknown in &owner.unknown {
            ctx.progress.note(
                &state.name,
                &format!("warning: WORKDIR as USER {}: {unknown}", state.config.user),
            );
        }
        owner.ids
    };
    let mut paths = Vec::new();
    let mut prefix = resolved.existing.trim_end_matches('/').to_string();
    for part in &resolved.missing {
        prefix = format!("{prefix}/{part}");
        paths.push(prefix.clone());
    }
    container_fs::create_directories(&ctx.engine, holder, &paths, owner, 0o755)
        .await?
        .map_err(|e| fail(e.to_string()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_kept_and_relative_ones_joined() {
        assert_eq!(working_dir("/", "/root/"), "/root/");
        assert_eq!(working_dir("/root/", "sub/"), "/root/sub");
        assert_eq!(working_dir("", "a/../b"), "/b");
        assert_eq!(working_dir("/x", "/x/../y/"), "/x/../y/");
    }
}
