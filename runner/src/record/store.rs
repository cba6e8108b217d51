//! The stage memories in the engine: tiny record images, loaded with `docker load` (an image
//! config with no layer) whose labels carry the [`StageMemory`] JSON of the stages whose memory a
//! build changed (one label per stage), tagged `stageplan-record:<identity>` per stage next to
//! the step cache's `stageplan-cache:<key>` tags. One load per build, not one per stage: the
//! engine loads images one after another, about 50 ms each.
//!
//! Input: an engine, a stage identity, a memory to keep. Output: the memory of the last build
//! (absent when there is none, it cannot be read, or it has another format).
//! Invariant: a record image has no layer and no creation time, so the same memories are the same
//! image; a replaced record image is removed unless another tag still names it; reading never
//! fails a build (an unreadable record reads as none).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::memory::{StageMemory, MEMORY_FORMAT, RECORD_REPO};
use crate::engine::{Engine, EngineResult};
use crate::fs::tar as tarx;

/// The label that carries the memory JSON.
pub const MEMORY_LABEL: &str = "dev.stageplan.record";

/// The last build's memory of the stage `identity`, with the record image's id.
pub async fn load(engine: &Engine, identity: &str) -> EngineResult<Option<(String, StageMemory)>> {
    let reference = format!("{RECORD_REPO}:{identity}");
    let Some(info) = engine.inspect_image(&reference).await? else {
        return Ok(None);
    };
    let labels = &info.config.labels;
    let memory = memory_in_labels(|name| labels.get(name), identity);
    Ok(memory.map(|memory| (info.id, memory)))
}

/// Stage `identity`'s memory among a record image's labels (`label` looks one up by name):
/// its own label, else the one label of the older one-stage format; `None` when absent,
/// unreadable or of another format.
pub fn memory_in_labels<'a>(
    label: impl Fn(&str) -> Option<&'a String>,
    identity: &str,
) -> Option<StageMemory> {
    label(&memory_label(identity))
        .or_else(|| label(MEMORY_LABEL))
        .and_then(|text| serde_json::from_str::<StageMemory>(text).ok())
        .filter(|memory| memory.format == MEMORY_FORMAT)
}

/// One stage memory to keep: the stage's identity, what to remember, and the record image read
/// at the start of the build (its id and memory), if any.
pub struct Keep<'a> {
    /// The stage's identity (the record image's tag).
    pub identity: &'a str,
    /// What to remember.
    pub memory: &'a StageMemory,
    /// The record read at the start.
    pub previous: Option<&'a (String, StageMemory)>,
}

/// Keeps the memories that changed in one record image (one label per stage, one load, a tag
/// per stage) and removes the record images they replace when nothing else names them. Returns
/// the new record image's id (`None` when nothing changed).
pub async fn save_all(engine: &Engine, keeps: &[Keep<'_>]) -> EngineResult<Option<String>> {
    let changed: Vec<&Keep<'_>> = keeps
        .iter()
        .filter(|keep| keep.previous.is_none_or(|(_, known)| known != keep.memory))
        .collect();
    if changed.is_empty() {
        return Ok(None);
    }
    let labels: BTreeMap<String, String> = changed
        .iter()
        .map(|keep| {
            let text = serde_json::to_string(keep.memory).unwrap_or_default();
            (memory_label(keep.identity), text)
        })
        .collect();
    let document = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    });
    let document = serde_json::to_vec(&document).unwrap_or_default();
    let id = engine.load_image(record_archive(&document)).await?;
    let tags = changed
        .iter()
        .map(|keep| engine.tag_image(&id, RECORD_REPO, keep.identity));
    for tagged in futures_util::future::join_all(tags).await {
        tagged?;
    }
    let replaced: BTreeSet<&str> = changed
        .iter()
        .filter_map(|keep| keep.previous.map(|(old, _)| old.as_str()))
        .filter(|old| *old != id)
        .collect();
    // Refused (and left alone) while another stage's tag still names the old image.
    let removals = replaced.into_iter().map(|old| engine.remove_image(old));
    let _ = futures_util::future::join_all(removals).await;
    Ok(Some(id))
}

/// The label of stage `identity`'s memory in a record image.
fn memory_label(identity: &str) -> String {
    format!("{MEMORY_LABEL}.{identity}")
}

/// A `docker save` archive of an image with no layer: its config, named by its digest, and a
/// manifest.
fn record_archive(document: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let config_name = format!("{}.json", hex::encode(Sha256::digest(document)));
    let manifest = json!([{"Config": config_name, "RepoTags": null, "Layers": []}]);
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    // Building a tar of two small in-memory files cannot fail.
    tarx::files(
        &[
            (config_name, document.to_vec(), 0o644),
            ("manifest.json".to_string(), manifest, 0o644),
        ],
        (0, 0),
    )
    .unwrap_or_default()
}
