//! `WORKDIR`: sets the working directory and creates it when the image lacks it.
//!
//! Input: the WORKDIR instruction and the stage state.
//! Output: the new working directory in the config; missing directories created (owned by the
//! current USER, mode 0755, as BuildKit does) and committed, or the unchanged image remembered
//! under the step's key.
//! Invariant: an existing directory is never touched (its mode and owner belong to the image).

use planner::plan::Instruction;

use crate::error::{Result, RunnerError};
use crate::holders::{after_target, target_container};
use crate::stage::{commit_step, resolve_owner, Ctx, StageState};
use crate::{tarx, vars};

/// `WORKDIR`: sets the working directory and creates it (owned by the current USER) when the
/// image lacks it, as BuildKit does.
pub async fn workdir(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    path: &str,
) -> Result<()> {
    let vars = state.lookup_vars();
    let expanded = vars::expand_word(path, &vars, ctx.plan.escape).map_err(|message| {
        RunnerError::Instruction {
            stage: state.name.clone(),
            line: instruction.line,
            message,
        }
    })?;
    let dir = if expanded.starts_with('/') {
        expanded
    } else {
        let base = if state.config.working_dir.is_empty() {
            "/"
        } else {
            &state.config.working_dir
        };
        format!("/{}", tarx::join_dest(base, &expanded))
    };
    let dir = format!("/{}", tarx::join_dest(&dir, ""));
    state.config_dirty |= state.config.working_dir != dir;
    state.config.working_dir = dir.clone();
    state.key = state
        .key
        .next(&["workdir", &instruction.text, &dir, &state.config.user]);
    if let Some(image) = ctx.cache.lookup(&state.key).await? {
        state.image = Some(image);
        state.config_dirty = true;
        ctx.progress.step_meta(&state.name, state.step);
        return Ok(());
    }
    ctx.progress
        .step_started(&state.name, state.step, instruction.line, &instruction.text);
    let holder = target_container(ctx, state).await?;
    let result = create_missing_dirs(ctx, state, &holder, &dir, instruction).await;
    let result = match result {
        Ok(true) => commit_step(ctx, state, &holder, instruction).await,
        Ok(false) => match state.image.clone() {
            // Nothing to create: remember the unchanged image under this key.
            Some(image) => {
                state.executed = true;
                ctx.cache.store(&state.key, &image).await
            }
            None => commit_step(ctx, state, &holder, instruction).await,
        },
        Err(e) => Err(e),
    };
    after_target(ctx, state, &holder, result.is_ok()).await?;
    result
}

/// Uploads the missing components of `dir`; returns whether anything was missing.
async fn create_missing_dirs(
    ctx: &Ctx,
    state: &StageState,
    holder: &str,
    dir: &str,
    instruction: &Instruction,
) -> Result<bool> {
    let mut missing = Vec::new();
    let mut prefix = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        prefix = format!("{prefix}/{part}");
        if missing.is_empty() {
            if let Some(stat) = ctx.engine.stat_path(holder, &prefix).await? {
                if !stat.is_dir() && !stat.is_symlink() {
                    return Err(RunnerError::Instruction {
                        stage: state.name.clone(),
                        line: instruction.line,
                        message: format!("WORKDIR {prefix} exists and is not a directory"),
                    });
                }
                continue;
            }
        }
        missing.push(prefix.trim_start_matches('/').to_string());
    }
    if missing.is_empty() {
        return Ok(false);
    }
    let owner = if state.config.user.is_empty() {
        (0, 0)
    } else {
        resolve_owner(ctx, state, holder, &state.config.user, instruction).await?
    };
    let tar = tarx::directories(&missing, owner, 0o755).map_err(|e| RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        message: e.to_string(),
    })?;
    ctx.engine.put_archive(holder, tar).await?;
    Ok(true)
}

/// The components of absolute path `dir` that do not exist in container `holder`, each relative
/// to `/`, parents first.
pub async fn missing_components(ctx: &Ctx, holder: &str, dir: &str) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    let mut prefix = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        prefix = format!("{prefix}/{part}");
        if missing.is_empty() && ctx.engine.stat_path(holder, &prefix).await?.is_some() {
            continue;
        }
        missing.push(prefix.trim_start_matches('/').to_string());
    }
    Ok(missing)
}
