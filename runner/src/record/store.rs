//! The stage memories in the engine: one tiny record image per stage, loaded with `docker load`
//! (an image config with no layer) whose label carries the [`StageMemory`] JSON, tagged
//! `stageplan-record:<identity>` next to the step cache's `stageplan-cache:<key>` tags.
//!
//! Input: an engine, a stage identity, a memory to keep. Output: the memory of the last build
//! (absent when there is none, it cannot be read, or it has another format).
//! Invariant: a record image has no layer and no creation time, so the same memory is the same
//! image; a replaced record image is removed unless another tag still names it; reading never
//! fails a build (an unreadable record reads as none).

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
    let memory = info
        .config
        .labels
        .get(MEMORY_LABEL)
        .and_then(|text| serde_json::from_str::<StageMemory>(text).ok())
        .filter(|memory| memory.format == MEMORY_FORMAT);
    Ok(memory.map(|memory| (info.id, memory)))
}

/// Keeps `memory` as the stage's record (unless it equals `previous`) and returns the record
/// image's id; the previous record image is removed when nothing else names it.
pub async fn save(
    engine: &Engine,
    identity: &str,
    memory: &StageMemory,
    previous: Option<&(String, StageMemory)>,
) -> EngineResult<String> {
    if let Some((id, known)) = previous {
        if known == memory {
            return Ok(id.clone());
        }
    }
    let text = serde_json::to_string(memory).unwrap_or_default();
    let document = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {MEMORY_LABEL: text}},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    });
    let document = serde_json::to_vec(&document).unwrap_or_default();
    let id = engine.load_image(record_archive(&document)).await?;
    engine.tag_image(&id, RECORD_REPO, identity).await?;
    if let Some((old, _)) = previous {
        if *old != id {
            // Refused (and left alone) when another stage's record is the same image.
            let _ = engine.remove_image(old).await;
        }
    }
    Ok(id)
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
