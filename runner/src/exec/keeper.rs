//! One long-lived container per stage that runs consecutive RUN steps as execs: an exec plus a
//! commit of the running container costs about a third of a fresh container's
//! create/start/wait/commit/remove (docs/engine-notes.md).
//!
//! Input: the stage state (image, config) and a RUN's argv.
//! Output: the RUN's exit code and output, the keeper's filesystem committed as the step's image.
//! Invariant: a RUN sees exactly what a fresh container would: the keeper is recreated whenever
//! the stage's image changed by anything but its own commit, every exec gets the step's Env,
//! WorkingDir and User, and a RUN that leaves processes behind retires the keeper so the next
//! RUN starts clean. Stages whose image has no `/bin/sh` fall back to one container per RUN.
//! A keeper's commits are cumulative (each holds every change since the keeper started), so a
//! keeper is also retired once those changes pass [`MAX_CUMULATIVE_BYTES`].

use super::ctx::Ctx;
use super::stage_state::{LiveContainer, StageState};
use crate::engine::ContainerSpec;
use crate::error::Result;

/// The command that keeps a keeper alive without doing anything: `read` on a stdin that is
/// held open by the engine and never written.
pub const KEEP_ALIVE: &str = "read _";

/// Once a keeper's commits carry more than this many bytes on top of the image it started
/// from, it is retired: every commit of a keeper writes all its changes again, so a big change
/// must not be re-committed by every later step.
pub const MAX_CUMULATIVE_BYTES: u64 = 32 * 1024 * 1024;

/// Returns the id of a keeper whose filesystem equals the stage's current image, creating and
/// starting one when needed; `None` when the image cannot run one (no `/bin/sh`).
pub async fn ensure(ctx: &Ctx, state: &mut StageState) -> Result<Option<String>> {
    if let Some(keeper) = &state.keeper {
        if keeper.synced == state.image {
            return Ok(Some(keeper.id.clone()));
        }
    }
    retire(ctx, state);
    let Some(image) = state.image.clone() else {
        return Ok(None);
    };
    let spec = ContainerSpec {
        image: Some(image.clone()),
        entrypoint: vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            KEEP_ALIVE.to_string(),
        ],
        env: state.config.env.clone(),
        working_dir: Some(state.config.working_dir.clone()).filter(|w| !w.is_empty()),
        hostname: Some(ctx.sandbox_hostname()),
        // The build's network and hosts: the RUNs that take no network of their own run here.
        network_mode: ctx.options.network.clone(),
        extra_hosts: ctx.options.add_hosts.clone(),
        open_stdin: true,
        ..ContainerSpec::default()
    };
    let base_size = ctx
        .engine
        .inspect_image(&image)
        .await?
        .map_or(0, |info| info.size);
    let id = ctx.create_container(spec).await?;
    // A keeper that died at once (no `/bin/sh`, stdin closed) has no process left; when the
    // engine cannot list processes (`docker top` needs `ps` on the engine's host) assume it runs.
    if ctx.engine.start_container(&id).await.is_err()
        || matches!(ctx.engine.process_count(&id).await, Ok(0))
    {
        ctx.reaper.remove(&id).await;
        state.keeper_enabled = false;
        return Ok(None);
    }
    state.keeper = Some(LiveContainer {
        id: id.clone(),
        synced: Some(image),
        base_size,
    });
    Ok(Some(id))
}

/// After a committed RUN: the keeper now equals `state.image`, unless the RUN left processes
/// running, in which case the keeper is retired.
pub async fn after_commit(ctx: &Ctx, state: &mut StageState) -> Result<()> {
    let Some(keeper) = state.keeper.clone() else {
        return Ok(());
    };
    // Processes left behind (or an engine that cannot tell): start the next RUN afresh.
    if ctx
        .engine
        .process_count(&keeper.id)
        .await
        .map_or(true, |n| n > 1)
    {
        retire(ctx, state);
        return Ok(());
    }
    let size = match &state.image {
        Some(image) => ctx
            .engine
            .inspect_image(image)
            .await?
            .map_or(0, |info| info.size),
        None => 0,
    };
    if size.saturating_sub(keeper.base_size) > MAX_CUMULATIVE_BYTES {
        retire(ctx, state);
        return Ok(());
    }
    state.keeper = Some(LiveContainer {
        id: keeper.id,
        synced: state.image.clone(),
        base_size: keeper.base_size,
    });
    Ok(())
}

/// Stops and removes the stage's keeper, if any (in the background: nothing waits for it).
pub fn retire(ctx: &Ctx, state: &mut StageState) {
    if let Some(keeper) = state.keeper.take() {
        ctx.reaper.remove_detached(keeper.id);
    }
}
