//! The names and labels of the lasting volumes behind `RUN --mount=type=cache`, and the sweep
//! of the ones a runner that died left half filled.
//!
//! Input: the engine's cache volumes (named [`CACHE_VOLUME_PREFIX`]`<hash>`) and their labels.
//! Output: names, labels, and the removal of dead runners' unfinished fills.
//! Invariant: a cache volume is removed here only when its [`CACHE_FILLER_LABEL`] names a runner
//! that is provably dead and its [`ready_marker`] does not exist, both looked at again just
//! before the removal; a volume without the label (made by a runner from before the label), a
//! ready one, one a live runner fills and one in use are kept.

use std::collections::BTreeSet;

use crate::engine::{Engine, EngineResult};

/// The name prefix of the named volumes behind `RUN --mount=type=cache`, kept between builds.
pub const CACHE_VOLUME_PREFIX: &str = "stageplan-cache-";

/// The label on a cache volume naming the runner that made it and fills it (a name made with
/// that runner's object prefix).
pub const CACHE_FILLER_LABEL: &str = "stageplan.cache.filler";

/// The label on a cache volume's ready marker naming the cache volume.
pub const READY_FOR_LABEL: &str = "stageplan.cache.ready-for";

/// The empty volume that marks cache volume `volume` as filled. It is made once the fill is
/// complete, so a cache volume without it is being filled by another build or was left half
/// filled by a runner that died, and is never used as it is.
pub fn ready_marker(volume: &str) -> String {
    format!("{volume}-ready")
}

/// Removes the cache volumes whose filler `proves_dead` and that have no ready marker (a fill a
/// runner was killed in); returns how many. A volume the engine refuses to remove because a
/// container uses it (409) is left alone.
pub async fn sweep_dead_fills(
    engine: &Engine,
    proves_dead: impl Fn(&str) -> bool,
) -> EngineResult<usize> {
    let listed = engine.list_volumes_made(CACHE_VOLUME_PREFIX).await?;
    let names: BTreeSet<&str> = listed.iter().map(|volume| volume.name.as_str()).collect();
    let mut swept = 0;
    for volume in &listed {
        let Some(filler) = volume.labels.get(CACHE_FILLER_LABEL) else {
            continue;
        };
        if !proves_dead(filler) || names.contains(ready_marker(&volume.name).as_str()) {
            continue;
        }
        // Looked at again: since the listing, a live runner may have replaced the volume with a
        // fill of its own (another filler), or finished one (the marker exists).
        let now = engine.volume_labels(&volume.name).await?;
        if now.and_then(|labels| labels.get(CACHE_FILLER_LABEL).cloned()) != Some(filler.clone()) {
            continue;
        }
        if engine
            .volume_labels(&ready_marker(&volume.name))
            .await?
            .is_some()
        {
            continue;
        }
        match engine.remove_volume(&volume.name).await {
            Ok(()) => swept += 1,
            // A container mounts it: a runner's that is not proven dead, left alone.
            Err(e) if e.status() == Some(409) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(swept)
}
