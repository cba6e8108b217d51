//! The image a stage's containers start from when its base image declares volumes.
//!
//! Input: the id of a stage's base image (an external image, or a stage's image).
//! Output: the id of an image with the same layers and history whose config has no `Volumes`
//! (the base's own id when it has none), kept in the step cache.
//! Invariant: no container of a build is created from an image with `Volumes`: the engine
//! would mount an anonymous volume there, a step's writes would go into the volume, and the
//! commit would leave them out (and copy the container's `Volumes` into the image). BuildKit
//! mounts no volume during a build; `VOLUME` only reaches the final image's config, which the
//! stage keeps in memory and `finish_target` writes.

use super::cache::Key;
use super::commit::{history_entries, save_archive};
use super::ctx::Ctx;
use crate::error::Result;
use crate::image_config::{image_json, HistoryEntry, ImageFrame};

/// The image to create the stage's containers from in place of `image`: `image` itself when its
/// config has no `Volumes`, else one loaded with the same layers, history and config minus
/// `Volumes` (no container, no layer written), cached under a key of `image`'s id.
pub async fn without_volumes(ctx: &Ctx, image: &str) -> Result<String> {
    let Some(info) = ctx.engine.inspect_image(image).await? else {
        // The caller named an image it has just used; the engine's error comes with its use.
        return Ok(image.to_string());
    };
    if info.config.volumes.is_empty() {
        return Ok(image.to_string());
    }
    let key = Key::root("image-without-volumes", &info.id);
    if let Some(cached) = ctx.cache.lookup(&key).await? {
        return Ok(cached);
    }
    let history = history_entries(
        &ctx.engine.image_history(&info.id).await?,
        info.diff_ids.len(),
    );
    let frame = ImageFrame {
        os: info.os,
        architecture: info.architecture,
        variant: info.variant,
        diff_ids: info.diff_ids,
        created: created_of(&history),
        history,
    };
    let mut config = info.config;
    config.volumes.clear();
    let document = image_json(&config, &frame);
    let derived = ctx
        .engine
        .load_image(save_archive(&document, &frame.diff_ids))
        .await?;
    ctx.cache.store(&key, &derived).await?;
    Ok(derived)
}

/// The creation time of the derived image: its last history entry's, so that the same base
/// always gives the same image.
fn created_of(history: &[HistoryEntry]) -> String {
    history
        .last()
        .map(|entry| entry.created.clone())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_image_is_dated_by_its_last_history_entry() {
        let entry = |created: &str| HistoryEntry {
            created: created.to_string(),
            created_by: "x".to_string(),
            comment: String::new(),
            empty_layer: true,
        };
        assert_eq!(
            created_of(&[entry("2020-01-01T00:00:00Z"), entry("2021-01-01T00:00:00Z")]),
            "2021-01-01T00:00:00Z"
        );
        assert_eq!(created_of(&[]), "1970-01-01T00:00:00Z");
    }
}
