//! The containers COPY, ADD and WORKDIR steps write into.
//!
//! Input: the stage state (current image, keeper, reusable holder).
//! Output: a container whose filesystem equals the current image, and its bookkeeping after
//! the step (kept for the next step, or discarded).
//! Invariant: a container is only reused while its filesystem equals the stage's current image;
//! after a failed step it is discarded; its cumulative commits stay under
//! [`super::keeper::MAX_CUMULATIVE_BYTES`].

use super::ctx::{Ctx, HOLDER_ENTRYPOINT};
use super::keeper;
use super::stage_state::{LiveContainer, StageState};
use crate::engine::ContainerSpec;
use crate::error::Result;

/// The container a COPY/WORKDIR step writes into: the stage's keeper or reusable holder when
/// its filesystem equals the current image, else a new never-started holder that the stage
/// keeps for its next steps (its commits are cumulative, like a keeper's).
pub async fn target_container(ctx: &Ctx, state: &mut StageState) -> Result<String> {
    if let Some(keeper) = &state.keeper {
        if keeper.synced == state.image && state.image.is_some() {
            return Ok(keeper.id.clone());
        }
    }
    if let Some(holder) = &state.holder {
        if holder.synced == state.image {
            return Ok(holder.id.clone());
        }
    }
    drop_holder(ctx, state);
    let base_size = match &state.image {
        Some(image) => ctx.engine.inspect_image(image).await?.map_or(0, |i| i.size),
        None => 0,
    };
    let id = create_holder(ctx, state).await?;
    state.holder = Some(LiveContainer {
        id: id.clone(),
        synced: state.image.clone(),
        base_size,
    });
    Ok(id)
}

/// After a step wrote into `container` (from [`target_container`]): on success the container
/// equals the new image; on failure it is discarded.
pub async fn after_target(
    ctx: &Ctx,
    state: &mut StageState,
    container: &str,
    ok: bool,
) -> Result<()> {
    let is_keeper = state.keeper.as_ref().is_some_and(|k| k.id == container);
    if is_keeper {
        if ok {
            return keeper::after_commit(ctx, state).await;
        }
        keeper::retire(ctx, state);
        return Ok(());
    }
    let Some(holder) = state.holder.clone() else {
        return Ok(());
    };
    let size = match (&state.image, ok) {
        (Some(image), true) => ctx.engine.inspect_image(image).await?.map_or(0, |i| i.size),
        _ => 0,
    };
    if !ok || size.saturating_sub(holder.base_size) > keeper::MAX_CUMULATIVE_BYTES {
        drop_holder(ctx, state);
        return Ok(());
    }
    state.holder = Some(LiveContainer {
        synced: state.image.clone(),
        ..holder
    });
    Ok(())
}

/// Removes the stage's reusable holder, if any.
pub fn drop_holder(ctx: &Ctx, state: &mut StageState) {
    if let Some(holder) = state.holder.take() {
        ctx.reaper.remove_detached(holder.id);
    }
}

/// Creates a never-started holder container of the current image (an empty one for scratch).
pub async fn create_holder(ctx: &Ctx, state: &StageState) -> Result<String> {
    let spec = ContainerSpec {
        image: state.image.clone(),
        entrypoint: vec![HOLDER_ENTRYPOINT.to_string()],
        env: state.config.env.clone(),
        // No working directory: the engine would create a missing one (owned by root) when it
        // creates the container, before a WORKDIR step could create it owned by the USER, or
        // see that it must be committed at all.
        working_dir: None,
        user: Some(state.config.user.clone()).filter(|u| !u.is_empty()),
        network_mode: Some("none".to_string()),
        ..ContainerSpec::default()
    };
    ctx.create_container(spec).await
}
