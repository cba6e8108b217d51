//! A step's result: the cache lookup before it, the commit after it, and the exact image of a
//! finished target.
//!
//! Input: the stage state (its key already advanced to the step's key), a container to commit.
//! Output: the stage's new image, recorded in the cache under the step's key.
//! Invariant: a cache hit replaces the image and nothing else; a commit always writes the
//! stage's whole config but its `Volumes` (no container is created from an image with volumes,
//! see [`super::base_image`]); a target's final image carries exactly the stage's config,
//! written as BuildKit writes it (see [`crate::image_config::image_json`]), and is itself cached
//! so a warm build returns the same image.

use std::time::{Duration, Instant, SystemTime};

use planner::plan::Instruction;

use super::ctx::Ctx;
use super::stage_state::{stage_of, StageState};
use crate::engine::HistoryItem;
use crate::error::Result;
use crate::image_config::{image_json, HistoryEntry, ImageFrame};

/// Commits `container` with the stage's config (but its volumes) as the result of the current
/// key.
pub async fn commit_step(
    ctx: &Ctx,
    state: &mut StageState,
    container: &str,
    instruction: &Instruction,
) -> Result<()> {
    commit(ctx, state, container, instruction, true).await
}

/// Commits `container` as the stage's image without storing it under the current key: an
/// intermediate image that the step's last commit (which stores) builds on, so that a build
/// stopped between the two never leaves the intermediate one cached.
pub async fn commit_intermediate(
    ctx: &Ctx,
    state: &mut StageState,
    container: &str,
    instruction: &Instruction,
) -> Result<()> {
    commit(ctx, state, container, instruction, false).await
}

async fn commit(
    ctx: &Ctx,
    state: &mut StageState,
    container: &str,
    instruction: &Instruction,
    store: bool,
) -> Result<()> {
    let committing = Instant::now();
    let comment = format!("stageplan: {}", instruction.text);
    // The stage's volumes stay in its in-memory config, for the final image: a container made
    // from this image must write to the image's filesystem, not into anonymous volumes.
    let mut config = state.config.clone();
    config.volumes.clear();
    let image = ctx.engine.commit(container, &config, &comment).await?;
    if store {
        ctx.cache.store(&state.key, &image).await?;
    }
    state.insight.step.clock.add_commit(committing.elapsed());
    if let Some(info) = ctx.engine.inspect_image(&image).await? {
        state
            .insight
            .image_now(info.size, info.diff_ids.len() as u64);
    }
    state.image = Some(image);
    state.config_dirty = false;
    state.all_cached = false;
    state.executed = true;
    Ok(())
}

/// Looks the step's key (already in `state.key`) up in the cache. On a hit the stage takes the
/// cached image, which was committed with exactly this config (the key covers it), and the step
/// shows as cached; on a miss it shows as started, with why it missed. Returns whether it was a
/// hit.
pub async fn cached_or_started(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
) -> Result<bool> {
    looked_up(ctx, state, instruction, true).await
}

/// [`cached_or_started`], showing a hit as a cached step when `show_hit` (a WORKDIR hit shows
/// as a metadata step). The record learns whether it hit, why it missed and the image size.
pub async fn looked_up(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    show_hit: bool,
) -> Result<bool> {
    let hit = ctx.cache.lookup_info(&state.key).await?;
    let miss = state.insight.looked_up(
        state.step,
        instruction,
        hit.is_some(),
        ctx.options.no_cache,
        &|index| stage_of(&state.deps, index),
    );
    if let Some(info) = hit {
        state
            .insight
            .image_now(info.size, info.diff_ids.len() as u64);
        state.image = Some(info.id);
        state.config_dirty = false;
        if show_hit {
            ctx.progress
                .step_cached(&state.name, state.step, instruction.line, &instruction.text);
        } else {
            ctx.progress.step_meta(&state.name, state.step);
        }
        return Ok(true);
    }
    ctx.rebuilding.mark(state.index);
    ctx.progress.step_started(
        &state.name,
        state.step,
        instruction.line,
        &instruction.text,
        miss.as_ref(),
    );
    Ok(false)
}

/// Gives a target stage its final image: the current filesystem with exactly the stage's
/// config (loaded as an image document that reuses the committed layers; no container, no
/// layer written).
pub async fn finish_target(ctx: &Ctx, state: &mut StageState) -> Result<()> {
    let config_json = serde_json::to_string(&state.config).unwrap_or_default();
    let epoch = ctx.plan.source_date_epoch;
    let mut key = state
        .key
        .step("final-image")
        .text("config", &config_json)
        .text("os", &state.platform.os)
        .text("architecture", &state.platform.architecture)
        .text("variant", &state.platform.variant);
    if let Some(seconds) = epoch {
        key = key.text("source-date-epoch", &seconds.to_string());
    }
    state.key = key.finish();
    state.insight.final_image_key = Some(state.key.as_str().to_string());
    if let Some(image) = ctx.cache.lookup(&state.key).await? {
        state.image = Some(image);
        state.config_dirty = false;
        return Ok(());
    }
    let (diff_ids, history) = match &state.image {
        Some(image) => {
            let info = ctx.engine.inspect_image(image).await?;
            let diff_ids = info.map(|i| i.diff_ids).unwrap_or_default();
            let mut history = ctx.engine.image_history(image).await?;
            if let Some(epoch) = epoch {
                // The base image's entries stay as they are; the build's own are dated no later
                // than the epoch (BuildKit's exporter, `patchImageConfig`).
                let inherited = match &state.root_image {
                    Some((id, _)) => ctx.engine.image_history(id).await?.len(),
                    None => 0,
                };
                for item in history.iter_mut().skip(inherited) {
                    item.created = item.created.min(epoch);
                }
            }
            let entries = history_entries(&history, diff_ids.len());
            (diff_ids, entries)
        }
        None => (Vec::new(), Vec::new()),
    };
    let created = humantime::format_rfc3339_nanos(image_time(SystemTime::now(), epoch)).to_string();
    let mut history = history;
    history.push(HistoryEntry {
        created: created.clone(),
        created_by: "stageplan: image config".to_string(),
        comment: String::new(),
        empty_layer: true,
    });
    let frame = ImageFrame {
        os: state.platform.os.clone(),
        architecture: state.platform.architecture.clone(),
        variant: state.platform.variant.clone(),
        diff_ids,
        history,
        created,
    };
    let document = image_json(&state.config, &frame);
    let image = ctx
        .engine
        .load_image(save_archive(&document, &frame.diff_ids))
        .await?;
    ctx.cache.store(&state.key, &image).await?;
    state.image = Some(image);
    state.config_dirty = false;
    state.all_cached = false;
    Ok(())
}

/// The creation time of a new image: now, or `SOURCE_DATE_EPOCH` when that is earlier.
fn image_time(now: SystemTime, epoch: Option<i64>) -> SystemTime {
    match epoch {
        // An epoch before 1970 dates the image 1970 (an image time is never earlier).
        Some(seconds) => {
            (SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64)).min(now)
        }
        None => now,
    }
}

/// History entries for an image document from the engine's view of a committed image's
/// history: an entry is a layer when it has a size, and never more layers than the image has
/// (the engine refuses a history naming more layers than the image holds).
pub(super) fn history_entries(items: &[HistoryItem], n_layers: usize) -> Vec<HistoryEntry> {
    let mut layers_left = n_layers;
    items
        .iter()
        .map(|item| {
            let layer = item.size > 0 && layers_left > 0;
            if layer {
                layers_left -= 1;
            }
            HistoryEntry {
                created: humantime::format_rfc3339(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(item.created.max(0) as u64),
                )
                .to_string(),
                created_by: item.created_by.clone(),
                comment: item.comment.clone(),
                empty_layer: !layer,
            }
        })
        .collect()
}

/// A `docker save` archive holding only the image document and a manifest naming one layer
/// file per diff id; the files themselves are left out, since the engine already has every
/// layer and loads a layer's file only when it lacks the layer.
pub(super) fn save_archive(document: &[u8], diff_ids: &[String]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(document));
    let config_name = format!("{digest}.json");
    let layers: Vec<String> = diff_ids
        .iter()
        .map(|d| format!("{}/layer.tar", d.trim_start_matches("sha256:")))
        .collect();
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": null, "Layers": layers}]);
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [
        (config_name.as_str(), document),
        ("manifest.json", &manifest),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        // Writing into a Vec cannot fail.
        let _ = builder.append_data(&mut header, name, data);
    }
    builder.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_never_names_more_layers_than_the_image_has() {
        let item = |size| HistoryItem {
            created: 0,
            created_by: "x".into(),
            comment: String::new(),
            size,
        };
        let entries = history_entries(&[item(5), item(0), item(7), item(9)], 2);
        let layers: Vec<bool> = entries.iter().map(|e| !e.empty_layer).collect();
        assert_eq!(layers, vec![true, false, true, false]);
        assert_eq!(entries[0].created, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn the_save_archive_names_the_config_by_its_digest() {
        let tar = save_archive(b"{}", &["sha256:ab".to_string()]);
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a.json",
                "manifest.json"
            ]
        );
    }
}
