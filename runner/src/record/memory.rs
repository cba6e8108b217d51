//! What the engine remembers of the last build of each stage, for the next build's cache-miss
//! reasons: per step the instruction, its key and the named inputs of the key (short digests),
//! and the stage's starting point.
//!
//! Input: the stage's identity (the context directory's name, the Dockerfile's name, the stage's
//! display name) and what a build of it computed. Output: [`StageMemory`] and its engine tag
//! `stageplan-record:<identity>` (see `store`).
//! Invariant: nothing volatile (no times) is remembered, so a warm build that changes nothing
//! remembers byte-identical JSON and the engine keeps the same record image; no host path is
//! part of the identity, so another machine using the same engine finds the same record.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::types::{DirSize, Leak};

/// The memory format; a memory of another format is ignored (the next build reads as a first
/// build).
pub const MEMORY_FORMAT: u32 = 1;

/// The repository of the record images.
pub const RECORD_REPO: &str = "stageplan-record";

/// The last build of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMemory {
    /// [`MEMORY_FORMAT`].
    pub format: u32,
    /// The stage's starting point.
    pub root: RootMemory,
    /// Its keyed steps (RUN, COPY, ADD, WORKDIR), by step number.
    pub steps: Vec<StepMemory>,
    /// The cache key of its final image, when it was a target (`runner prune` keeps that entry
    /// with the steps'; absent in memories written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_image_key: Option<String>,
    /// The layer analysis of the stage's final image, when it is a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<LayerAnalysis>,
}

/// Where a stage started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootMemory {
    /// The runner's cache format (`CACHE_FORMAT`).
    pub cache_format: u32,
    /// `image`, `stage` or `scratch`.
    pub kind: String,
    /// The base image id, or the parent stage's final key.
    pub value: String,
    /// The base image reference as the plan writes it, for an image base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// One keyed step of the last build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMemory {
    /// 1-based step number within the stage.
    pub step: usize,
    /// The instruction as written.
    pub text: String,
    /// Its cache key.
    pub key: String,
    /// The named inputs of the key.
    pub fields: Vec<KeyField>,
    /// Bytes the step added, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_added: Option<i64>,
}

/// What the layers of a final image hold, remembered by image id so an unchanged image is not
/// read again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerAnalysis {
    /// The analysed image id.
    pub image: String,
    /// The base image id it was compared with (empty for scratch).
    pub base: String,
    /// The context-file leak found in it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_leak: Option<Leak>,
    /// The biggest directories it adds.
    pub biggest_dirs: Vec<DirSize>,
    /// Bytes it adds over the base.
    pub added_bytes: u64,
}

/// One named input of a step's cache key as the engine-side memory keeps it: a short digest of
/// its value, and for lists (environment, copied files) one digest per item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyField {
    /// The field's name (`argv`, `env`, `origin` ...).
    pub name: String,
    /// The first 16 hex digits of the value's sha256.
    pub digest: String,
    /// Per-item digests (`env:NAME`, `arg:NAME`, `file:path` ...), in key order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<KeyPart>,
}

/// One item of a list-valued key field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPart {
    /// What the item is (`env:PATH`, `arg:VERSION`, `file:src/app.go`, `stage:1`, `3`).
    pub label: String,
    /// The first 16 hex digits of the item's sha256.
    pub digest: String,
}

impl StageMemory {
    /// The remembered step with number `step`.
    pub fn step(&self, step: usize) -> Option<&StepMemory> {
        self.steps.iter().find(|s| s.step == step)
    }
}

/// The identity of a stage across builds and machines: the context directory's name, the
/// Dockerfile's file name and the stage's display name, hashed into 32 hex digits.
pub fn stage_identity(context_root: &Path, dockerfile: Option<&str>, stage: &str) -> String {
    let context_name = context_root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dockerfile_name = dockerfile
        .map(|d| {
            Path::new(d)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| "Dockerfile".to_string());
    let mut hasher = Sha256::new();
    for part in [context_name.as_str(), dockerfile_name.as_str(), stage] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_ignore_where_the_context_lives_but_not_its_name() {
        let here = stage_identity(Path::new("/home/a/app"), Some("Dockerfile"), "builder");
        let there = stage_identity(Path::new("/srv/ci/app"), Some("./Dockerfile"), "builder");
        assert_eq!(here, there);
        assert_eq!(here.len(), 32);
        assert_ne!(
            here,
            stage_identity(Path::new("/srv/ci/app"), Some("Dockerfile"), "final")
        );
        assert_ne!(
            here,
            stage_identity(Path::new("/srv/ci/web"), Some("Dockerfile"), "builder")
        );
        assert_ne!(
            here,
            stage_identity(Path::new("/srv/ci/app"), Some("prod.Dockerfile"), "builder")
        );
    }
}
