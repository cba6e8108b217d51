//! `RUN`: what it executes (argv, environment, working directory, user, host name, network,
//! mounts), keyed by exactly that, and performed as an exec in the stage's keeper, as an exec in
//! a fresh container (when secrets must be written through it), or as a fresh container.
//!
//! Input: a RUN instruction, the stage state (image, config, ARGs) and the shared build context.
//! Output: the stage's new image or a [`RunnerError::StepFailed`] carrying the exit code and
//! the last lines of output.
//! Invariant: the process sees the stage's ENV, then its ARGs (those ENV does not override),
//! then the proxy build arguments (which only reach the key when declared with ARG), as
//! BuildKit passes them; nothing a mount shows and no secret reaches a commit; every container
//! and temporary mount is removed on every path.
//!
//! This module chooses the way; `execution.rs` works out what a RUN executes and its key,
//! `process.rs` runs an exec and reads its output and exit code, `wrapper.rs` writes the shell
//! scripts a RUN's argv runs under, `container.rs` runs a RUN in a fresh container with its
//! mounts.

mod container;
mod execution;
mod process;
mod wrapper;

use std::time::Instant;

use planner::plan::Instruction;

use self::container::run_in_container;
use self::execution::{execution_and_key, Execution, RunParts};
use self::process::exec_step;
use super::mounts;
use crate::error::{Result, RunnerError, StepError};
use crate::exec::cache::Key;
use crate::exec::commit::{cached_or_started, commit_step};
use crate::exec::ctx::Ctx;
use crate::exec::keeper::{self, Settled};
use crate::exec::stage_state::StageState;
use crate::record::memory::KeyField;

pub use self::execution::command_line;

/// Why a `RUN --security=insecure` without `--allow security.insecure` is refused.
pub const INSECURE_NOT_ALLOWED: &str = "RUN --security=insecure runs privileged, which needs the entitlement security.insecure: pass --allow security.insecure (BuildKit: \"entitlement security.insecure is not allowed\")";

/// The key of a RUN with no mount in the stage's current state, worked out without the engine
/// (to look a run of steps up ahead); `None` for a RUN with mounts, whose key needs the mounts
/// resolved.
pub fn predicted_key(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
) -> Option<(Key, Vec<KeyField>)> {
    let parts = RunParts::of(instruction)?;
    if !parts.mount_specs.is_empty() {
        return None;
    }
    let (_, key) = execution_and_key(ctx, state, parts, &[]);
    Some(key.finish_fields())
}

/// Performs a RUN instruction (or takes its result from the cache).
pub async fn perform(ctx: &Ctx, state: &mut StageState, instruction: &Instruction) -> Result<()> {
    let fail = state.fail_at(instruction.line);
    let Some(parts) = RunParts::of(instruction) else {
        return Err(fail(StepError::Invalid(format!(
            "{} is not a RUN instruction",
            instruction.text
        ))));
    };
    // Also a base image's ONBUILD trigger, which no check before the build could see.
    if parts.privileged() && !ctx.options.allow_insecure {
        return Err(fail(StepError::Invalid(INSECURE_NOT_ALLOWED.to_string())));
    }
    let mount_specs = parts.mount_specs;
    let mut mounts = mounts::resolve(ctx, state, mount_specs)
        .await?
        .map_err(&fail)?;
    let (mut execution, key) = execution_and_key(ctx, state, parts, &mounts.key_parts);
    // BuildKit points SSH_AUTH_SOCK at the first ssh mount unless the environment sets it (the
    // key has the target through the mount's part).
    if let Some(socket) = &mounts.ssh_auth_sock {
        if !execution
            .env
            .iter()
            .any(|kv| kv.split('=').next() == Some("SSH_AUTH_SOCK"))
        {
            execution.env.push(format!("SSH_AUTH_SOCK={socket}"));
        }
    }
    state.advance_key(key);
    if cached_or_started(ctx, state, instruction).await? {
        return Ok(());
    }
    let waiting = Instant::now();
    // `sharing=locked` caches: taken before the job slot (a RUN waiting for a cache holds
    // none), in one order (sorted), and held until the RUN's container and mounts are gone.
    let mut _locked = Vec::new();
    for volume in mounts.locked_caches() {
        let lock = ctx.cache_sharing_lock(&volume);
        let guard = match lock.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                ctx.progress.note(
                    &state.name,
                    &format!(
                        "line {}: waiting for a cache mount (sharing=locked) another step is using",
                        instruction.line
                    ),
                );
                lock.lock_owned().await
            }
        };
        _locked.push(guard);
    }
    let _permit = match &ctx.jobs {
        Some(jobs) => Some(
            jobs.clone()
                .acquire_owned()
                .await
                .map_err(|_| RunnerError::Stopping)?,
        ),
        None => None,
    };
    state.insight.step.clock.add_wait(waiting.elapsed());
    let keeper_fits = mount_specs.is_empty()
        && execution.network == ctx.options.network
        && !execution.privileged
        && execution.script.is_none();
    if state.keeper_enabled
        && keeper_fits
        && run_in_keeper(ctx, state, instruction, &execution).await?
    {
        return Ok(());
    }
    let _claims = mounts.claim_caches(ctx);
    let filling = Instant::now();
    let mut prepared = mounts::prepare(ctx, &state.name, mounts, execution.script.as_ref())
        .await?
        .map_err(&fail)?;
    state.insight.step.clock.add_transfer(filling.elapsed());
    let result = run_in_container(ctx, state, instruction, &execution, &mut prepared).await;
    mounts::release(ctx, prepared).await;
    result
}

/// Runs the RUN as an exec in the stage's keeper and commits the keeper as its result. `false`
/// when the RUN must run in a fresh container instead: the image cannot run a keeper, or
/// processes the RUN started outlived it in the keeper (another user's, which the RUN's user
/// cannot kill), so the keeper's files may hold what they wrote after the RUN; that keeper is
/// retired uncommitted, and the stage's later RUNs go to fresh containers too.
async fn run_in_keeper(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    execution: &Execution,
) -> Result<bool> {
    let Some(keeper_id) = keeper::ensure(ctx, state).await? else {
        return Ok(false);
    };
    let running = Instant::now();
    let outcome = exec_step(ctx, state, instruction, &keeper_id, execution, &[]).await;
    let settled = if outcome.is_ok() {
        keeper::settle(ctx, &keeper_id).await
    } else {
        Settled::Unknown
    };
    state.insight.step.clock.add_execute(running.elapsed());
    let report = outcome?;
    if settled == Settled::Survivors {
        keeper::retire(ctx, state);
        state.keeper_enabled = false;
        ctx.progress.note(
            &state.name,
            "processes the RUN started outlived it in the keeper (another user's, which its user cannot stop); running it again in a fresh container, where they end with it as in BuildKit",
        );
        return Ok(false);
    }
    commit_step(ctx, state, &keeper_id, instruction).await?;
    let reusable = settled == Settled::Quiet && !report.changed_outside_image;
    keeper::after_run(ctx, state, reusable).await?;
    Ok(true)
}
