//! One long-lived container per stage that runs consecutive RUN steps as execs: an exec plus a
//! commit of the running container costs about a third of a fresh container's
//! create/start/wait/commit/remove (docs/engine-notes.md).
//!
//! Input: the stage state (image, config) and a RUN's argv.
//! Output: the RUN's exit code and output, the keeper's filesystem committed as the step's image.
//! Invariant: a RUN sees exactly what a fresh container would, and its commit holds exactly
//! what it would in one: the keeper is recreated whenever the stage's image changed by anything
//! but its own commit, every exec gets the step's Env, WorkingDir and User, the processes a RUN
//! leaves are killed when it exits (the exec's script, `steps/run/wrapper.rs`), a keeper that
//! still runs one of them is never committed ([`settle`]), and a RUN that changed what a commit
//! leaves out (the engine's /etc/hosts, /etc/resolv.conf and /etc/hostname, /dev, the mode or
//! owner of `/`) retires the keeper so the next RUN starts clean. Stages whose image has no
//! `/bin/sh` fall back to one container per RUN. A keeper's commits are cumulative (each holds
//! every change since the keeper started), so a keeper is also retired once those changes pass
//! [`MAX_CUMULATIVE_BYTES`].

use std::time::{Duration, Instant};

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

/// How long [`settle`] waits for killed processes to leave a keeper: a process killed with
/// SIGKILL is gone within milliseconds unless it is freeing much memory.
const SETTLE_GRACE: Duration = Duration::from_secs(2);

/// What a RUN's exec left running in the keeper, judged before its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Only the keeper's own process runs: the filesystem is the RUN's exact result.
    Quiet,
    /// Processes the RUN started still run (another user's, which the RUN's user could not
    /// kill): the filesystem may hold what they wrote after the RUN ended, so it must not be
    /// committed.
    Survivors,
    /// The keeper has no process left or the engine cannot list them: nothing the RUN started
    /// can still write (the exec killed what it could), but the keeper is not reused.
    Unknown,
}

/// Waits until the keeper `keeper_id` runs only its own process again after a RUN's exec
/// (whose script killed what the RUN left), at most [`SETTLE_GRACE`].
pub async fn settle(ctx: &Ctx, keeper_id: &str) -> Settled {
    let deadline = Instant::now() + SETTLE_GRACE;
    let mut pause = Duration::from_millis(5);
    loop {
        match ctx.engine.process_count(keeper_id).await {
            Ok(1) => return Settled::Quiet,
            // A keeper that died, or an engine that cannot tell (`docker top` needs `ps` on the
            // engine's host).
            Ok(0) | Err(_) => return Settled::Unknown,
            Ok(_) if Instant::now() >= deadline => return Settled::Survivors,
            Ok(_) => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

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

/// After a RUN committed from the keeper: the keeper goes on when `reusable` (it is
/// [`Settled::Quiet`] and the RUN changed nothing a commit leaves out), else it is retired.
pub async fn after_run(ctx: &Ctx, state: &mut StageState, reusable: bool) -> Result<()> {
    if !reusable {
        retire(ctx, state);
        return Ok(());
    }
    after_commit(ctx, state).await
}

/// After a commit of the keeper (a RUN's, judged by [`after_run`] first, or a COPY's, which
/// starts no process): the keeper now equals `state.image`, unless its cumulative changes grew
/// too big.
pub async fn after_commit(ctx: &Ctx, state: &mut StageState) -> Result<()> {
    let Some(keeper) = state.keeper.clone() else {
        return Ok(());
    };
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
