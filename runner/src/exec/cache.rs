//! The step cache: content-addressed keys stored as image tags in the engine.
//!
//! Input: the chain of what determines a step's result: the parent key, then per step named
//! fields holding what the step executes (the resolved argv, environment, working directory,
//! user, mounts; for COPY the resolved sources, destination, owner, mode and the digests of
//! what is copied), never display text.
//! Output: a sha256 key per step; `stageplan-cache:<key>` tags the image a step produced, so a
//! lookup is one image inspect (a label index would cost a scan of every image).
//! Invariant: a key changes whenever anything the step reads changes; [`CACHE_FORMAT`] is part
//! of every key and is bumped whenever what a step produces for the same inputs changes; every
//! field is length-prefixed and named, so field boundaries cannot be confused.

use sha2::{Digest, Sha256};

use crate::engine::{Engine, EngineResult};

/// The repository that holds the cache tags.
pub const CACHE_REPO: &str = "stageplan-cache";

/// The cache format: bump it whenever a step's behaviour changes for the same inputs (a fix
/// in how COPY sets owners, say), so images made by the old behaviour are never reused.
pub const CACHE_FORMAT: u32 = 3;

/// A step key: 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// The key of a stage's starting point: `kind` is `image`, `scratch` or `stage`, `value`
    /// the image id or the parent stage's final key.
    pub fn root(kind: &str, value: &str) -> Key {
        let mut hasher = Sha256::new();
        field(&mut hasher, "format", &CACHE_FORMAT.to_string());
        field(&mut hasher, kind, value);
        Key(hex::encode(hasher.finalize()))
    }

    /// Starts the key of the next step after `self`; `step` names its kind (`run`, `copy`...).
    pub fn step(&self, step: &str) -> KeyBuilder {
        let mut hasher = Sha256::new();
        field(&mut hasher, "parent", &self.0);
        field(&mut hasher, "step", step);
        KeyBuilder { hasher }
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects the named fields of one step's key.
pub struct KeyBuilder {
    hasher: Sha256,
}

impl KeyBuilder {
    /// Adds a named text field.
    pub fn text(mut self, name: &str, value: &str) -> KeyBuilder {
        field(&mut self.hasher, name, value);
        self
    }

    /// Adds a named list of texts (its length, then each item).
    pub fn list<S: AsRef<str>>(mut self, name: &str, items: &[S]) -> KeyBuilder {
        field(&mut self.hasher, name, &items.len().to_string());
        for item in items {
            field(&mut self.hasher, "", item.as_ref());
        }
        self
    }

    /// Adds an optional text field (absent and empty are different).
    pub fn optional(mut self, name: &str, value: Option<&str>) -> KeyBuilder {
        match value {
            Some(value) => field(&mut self.hasher, name, value),
            None => field(&mut self.hasher, &format!("{name}?"), ""),
        }
        self
    }

    /// Adds a named flag.
    pub fn flag(self, name: &str, value: bool) -> KeyBuilder {
        self.text(name, if value { "true" } else { "false" })
    }

    /// The key.
    pub fn finish(self) -> Key {
        Key(hex::encode(self.hasher.finalize()))
    }
}

fn field(hasher: &mut Sha256, name: &str, value: &str) {
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    hasher.update((value.len() as u64).to_le_bytes());
    hasher.update(value.as_bytes());
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

    /// Whether lookups are made (false with `--no-cache`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The image id stored for `key`, if any.
    pub async fn lookup(&self, key: &Key) -> EngineResult<Option<String>> {
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
    pub async fn store(&self, key: &Key, image: &str) -> EngineResult<()> {
        self.engine.tag_image(image, CACHE_REPO, key.as_str()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_keep_fields_apart() {
        let root = Key::root("scratch", "");
        assert_eq!(root.as_str().len(), 64);
        let ab_c = root.step("run").text("a", "ab").text("b", "c").finish();
        let a_bc = root.step("run").text("a", "a").text("b", "bc").finish();
        assert_ne!(ab_c, a_bc);
        assert_eq!(
            root.step("run").list("argv", &["x", "y"]).finish(),
            Key::root("scratch", "")
                .step("run")
                .list("argv", &["x", "y"])
                .finish()
        );
        assert_ne!(
            root.step("run").list("argv", &["x y"]).finish(),
            root.step("run").list("argv", &["x", "y"]).finish()
        );
        assert_ne!(
            root.step("run").optional("user", None).finish(),
            root.step("run").optional("user", Some("")).finish()
        );
        assert_ne!(root.step("run").finish(), root.step("copy").finish());
        assert_ne!(
            root.step("run").finish(),
            Key::root("image", "sha256:1").step("run").finish()
        );
    }
}
