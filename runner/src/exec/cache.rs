//! The step cache: content-addressed keys stored as image tags in the engine.
//!
//! Input: the chain of what determines a step's result: the parent key, then per step named
//! fields holding what the step executes (the resolved argv, environment, working directory,
//! user, mounts; for COPY the resolved sources, destination, owner, mode and the digests of
//! what is copied), never display text.
//! Output: a sha256 key per step; `stageplan-cache:<key>` tags the image a step produced, so a
//! lookup is one image inspect (a label index would cost a scan of every image).
//! Alongside the key, the builder keeps each named field with a short digest of its value (and of
//! each item of a list) as [`KeyField`]s: the build record compares them with the last build's
//! to say which input made a step miss the cache.
//! Invariant: a key changes whenever anything the step reads changes; [`CACHE_FORMAT`] is part
//! of every key and is bumped whenever what a step produces for the same inputs changes; every
//! field is length-prefixed and named, so field boundaries cannot be confused; the recorded
//! fields never change the key.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::engine::{Deletion, Engine, EngineResult, ImageInfo};
use crate::record::memory::{KeyField, KeyPart};

/// The repository that holds the cache tags.
pub const CACHE_REPO: &str = "stageplan-cache";

/// The cache format: bump it whenever a step's behaviour changes for the same inputs (a fix
/// in how COPY sets owners, say), so images made by the old behaviour are never reused.
pub const CACHE_FORMAT: u32 = 10;

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
        KeyBuilder {
            hasher: Sha256::new(),
            fields: Vec::new(),
        }
        .text("parent", &self.0)
        .text("step", step)
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects the named fields of one step's key.
pub struct KeyBuilder {
    hasher: Sha256,
    fields: Vec<KeyField>,
}

impl KeyBuilder {
    /// Adds a named text field.
    pub fn text(mut self, name: &str, value: &str) -> KeyBuilder {
        field(&mut self.hasher, name, value);
        self.fields.push(KeyField {
            name: name.to_string(),
            digest: short_digest(value),
            parts: Vec::new(),
        });
        self
    }

    /// Adds a named list of texts (its length, then each item).
    pub fn list<S: AsRef<str>>(self, name: &str, items: &[S]) -> KeyBuilder {
        self.labelled_list(name, items, |index, _| index.to_string())
    }

    /// Adds a named list whose items the record labels with `label(index, item)` (an
    /// environment's `env:NAME`); hashed exactly as [`KeyBuilder::list`].
    pub fn labelled_list<S: AsRef<str>>(
        mut self,
        name: &str,
        items: &[S],
        label: impl Fn(usize, &str) -> String,
    ) -> KeyBuilder {
        let count = items.len().to_string();
        field(&mut self.hasher, name, &count);
        let mut whole = Sha256::new();
        let mut parts = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            field(&mut self.hasher, "", item.as_ref());
            field(&mut whole, "", item.as_ref());
            parts.push(KeyPart {
                label: label(index, item.as_ref()),
                digest: short_digest(item.as_ref()),
            });
        }
        self.fields.push(KeyField {
            name: name.to_string(),
            digest: hex::encode(&whole.finalize()[..8]),
            parts,
        });
        self
    }

    /// Attaches per-item digests to the last field without changing the key (the field's value
    /// already covers them): the files behind a context digest, the stage behind a stage key.
    pub fn detail(mut self, parts: Vec<KeyPart>) -> KeyBuilder {
        if let Some(last) = self.fields.last_mut() {
            last.parts = parts;
        }
        self
    }

    /// Adds an optional text field (absent and empty are different).
    pub fn optional(mut self, name: &str, value: Option<&str>) -> KeyBuilder {
        match value {
            Some(value) => self.text(name, value),
            None => {
                field(&mut self.hasher, &format!("{name}?"), "");
                self.fields.push(KeyField {
                    name: name.to_string(),
                    digest: "absent".to_string(),
                    parts: Vec::new(),
                });
                self
            }
        }
    }

    /// Adds a named flag.
    pub fn flag(self, name: &str, value: bool) -> KeyBuilder {
        self.text(name, if value { "true" } else { "false" })
    }

    /// The key.
    pub fn finish(self) -> Key {
        Key(hex::encode(self.hasher.finalize()))
    }

    /// The key and its named fields, for the build record.
    pub fn finish_fields(self) -> (Key, Vec<KeyField>) {
        (Key(hex::encode(self.hasher.finalize())), self.fields)
    }
}

/// The first 16 hex digits of a value's sha256: what the record keeps of a key field.
pub fn short_digest(value: &str) -> String {
    hex::encode(&Sha256::digest(value.as_bytes())[..8])
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
    /// The images whose tags a `--no-cache` build moved to new images, in the order it moved
    /// them.
    replaced: Arc<Mutex<Vec<String>>>,
}

impl Cache {
    /// A cache on `engine`; with `enabled` false, lookups always miss (stores still happen, so
    /// a `--no-cache` build refreshes the cache).
    pub fn new(engine: Engine, enabled: bool) -> Cache {
        Cache {
            engine,
            enabled,
            replaced: Arc::default(),
        }
    }

    /// Whether lookups are made (false with `--no-cache`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The image id stored for `key`, if any.
    pub async fn lookup(&self, key: &Key) -> EngineResult<Option<String>> {
        Ok(self.lookup_info(key).await?.map(|info| info.id))
    }

    /// The image stored for `key` (id, size, layers), if any.
    pub async fn lookup_info(&self, key: &Key) -> EngineResult<Option<ImageInfo>> {
        if !self.enabled {
            return Ok(None);
        }
        let reference = format!("{CACHE_REPO}:{}", key.as_str());
        self.engine.inspect_image(&reference).await
    }

    /// Records `image` as the result of `key`. With lookups off (`--no-cache`) the entry may
    /// already exist: the image it named is remembered for [`Cache::remove_replaced`].
    pub async fn store(&self, key: &Key, image: &str) -> EngineResult<()> {
        let before = match self.enabled {
            true => None,
            false => {
                let reference = format!("{CACHE_REPO}:{}", key.as_str());
                self.engine.inspect_image(&reference).await?
            }
        };
        self.engine
            .tag_image(image, CACHE_REPO, key.as_str())
            .await?;
        if let Some(before) = before.filter(|before| before.id != image) {
            if let Ok(mut replaced) = self.replaced.lock() {
                replaced.push(before.id);
            }
        }
        Ok(())
    }

    /// Deletes the images whose entries this build replaced, newest first, so that deleting
    /// the last image of an old chain also deletes its untagged parents. An image that still
    /// has a tag (a `-t` name, another entry) is left alone, since deleting an image by id
    /// takes its last tag with it; so is one a container uses or a child image needs. Returns
    /// how many images went.
    pub async fn remove_replaced(&self) -> usize {
        let replaced = match self.replaced.lock() {
            Ok(mut replaced) => std::mem::take(&mut *replaced),
            Err(_) => return 0,
        };
        let mut deleted = 0;
        for image in replaced.iter().rev() {
            let untagged = matches!(
                self.engine.inspect_image(image).await,
                Ok(Some(info)) if info.tags.is_empty()
            );
            if !untagged {
                continue;
            }
            if let Ok(Deletion::Done { deleted: ids }) = self.engine.delete_image(image).await {
                deleted += ids.len();
            }
        }
        deleted
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

    #[test]
    fn recorded_fields_name_each_input_and_never_change_the_key() {
        let root = Key::root("scratch", "");
        let plain = root
            .step("run")
            .list("env", &["A=1", "B=2"])
            .text("origin", "context:sha256:x")
            .finish();
        let (labelled, fields) = root
            .step("run")
            .labelled_list("env", &["A=1", "B=2"], |_, item| {
                format!("env:{}", item.split('=').next().unwrap_or(""))
            })
            .text("origin", "context:sha256:x")
            .detail(vec![KeyPart {
                label: "file:a.go".into(),
                digest: short_digest("1"),
            }])
            .finish_fields();
        assert_eq!(plain, labelled);
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["parent", "step", "env", "origin"]);
        assert_eq!(fields[2].parts[1].label, "env:B");
        assert_eq!(fields[2].parts[1].digest, short_digest("B=2"));
        assert_eq!(fields[3].parts[0].label, "file:a.go");
        assert_ne!(
            root.step("run")
                .list("env", &["A=1", "B=3"])
                .finish_fields()
                .1[2]
                .digest,
            fields[2].digest
        );
    }
}
