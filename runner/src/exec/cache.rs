//! The step cache: content-addressed keys stored as image tags in the engine.
//!
//! Input: the chain of what determines a step's result (parent key, the instruction as planned,
//! resolved values, digests of context files, source stage keys).
//! Output: a sha256 key per step; `stageplan-cache:<key>` tags the image a step produced, so a
//! lookup is one image inspect (RUNNER-NOTES P14: a label index is O(images)).
//! Invariant: a key changes whenever anything the step reads changes; tagging is atomic in the
//! engine, so concurrent runs of the same step at worst leave a duplicate untagged image.

use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::Result;

/// The repository that holds the cache tags.
pub const CACHE_REPO: &str = "stageplan-cache";

/// A step key: 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// The key of a stage's starting point (`image:<id>`, `scratch`, `stage:<key>`).
    pub fn root(description: &str) -> Key {
        Key::from_parts(&[
            concat!("stageplan-runner-", env!("CARGO_PKG_VERSION")),
            description,
        ])
    }

    /// The key of the next step after `self`, determined by `parts` (each length-prefixed, so
    /// part boundaries cannot be confused).
    pub fn next(&self, parts: &[&str]) -> Key {
        let mut all = vec![self.0.as_str()];
        all.extend_from_slice(parts);
        Key::from_parts(&all)
    }

    fn from_parts(parts: &[&str]) -> Key {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Key(hex::encode(hasher.finalize()))
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Cache lookups and stores against one engine.
#[derive(Clone)]
pub struct Cache {
    engine: Engine,
    enabled: bool,
}

impl Cache {
    /// A cache on `engine`; with `enabled` false, lookups always miss (stores still happen, so
    /// a `--no-cache` build refreshes the cache).
    pub fn new(engine: Engine, enabled: bool) -> Cache {
        Cache { engine, enabled }
    }

    /// The image id stored for `key`, if any.
    pub async fn lookup(&self, key: &Key) -> Result<Option<String>> {
        if !self.enabled {
            return Ok(None);
        }
        let reference = format!("{CACHE_REPO}:{}", key.as_str());
        Ok(self
            .engine
            .inspect_image(&reference)
            .await?
            .map(|info| info.id))
    }

    /// Records `image` as the result of `key`.
    pub async fn store(&self, key: &Key, image: &str) -> Result<()> {
        self.engine.tag_image(image, CACHE_REPO, key.as_str()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_separate_parts() {
        let root = Key::root("scratch");
        assert_eq!(root.as_str().len(), 64);
        assert_ne!(root.next(&["ab", "c"]), root.next(&["a", "bc"]));
        assert_eq!(root.next(&["x"]), Key::root("scratch").next(&["x"]));
        assert_ne!(root.next(&["x"]), Key::root("image:sha256:1").next(&["x"]));
    }
}
