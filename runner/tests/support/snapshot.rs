//! Image snapshots: every file of an image (from `docker export`) and its exact config (from
//! the Engine API), and the differences between two snapshots.
//!
//! Input: an engine address and an image reference.
//! Output: [`FileEntry`] per path (type, mode with setuid/setgid/sticky, owner, link target,
//! sha256 of the content, PAX `SCHILY.xattr.*` records) and the JSON of `.Config`,
//! `.Architecture` and `.Os` exactly as the engine stores them.
//! Invariant: nothing is normalised except mtimes (never read) and hard links (compared by the
//! content of their target); null, `[]` and `{}` in the config stay distinct.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use sha2::{Digest, Sha256};

use super::{docker_at, engine_get, prefix};

/// One file of an image, as compared between builders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `f` regular, `d` directory, `l` symlink, `c`/`b` device, `p` fifo (hard links are `f`).
    pub kind: char,
    /// Permission bits with setuid, setgid and sticky (`0o7777` mask).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Link target (symlinks only).
    pub link: String,
    /// sha256 of the content (regular files and hard links).
    pub digest: String,
    /// Extended attributes (`SCHILY.xattr.<name>` PAX records), values in hex.
    pub xattrs: BTreeMap<String, String>,
}

impl std::fmt::Display for FileEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:04o} {}:{}",
            self.kind, self.mode, self.uid, self.gid
        )?;
        if !self.link.is_empty() {
            write!(f, " -> {}", self.link)?;
        }
        if !self.digest.is_empty() {
            write!(f, " sha256:{}", &self.digest[..12])?;
        }
        for (key, value) in &self.xattrs {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// Every file of `image` (via `docker create` + `docker export`) by path without a leading
/// `/`; the contents of regular files are kept in `contents` by path when it is given.
pub fn filesystem_with_contents(
    host: Option<&str>,
    image: &str,
    mut contents: Option<&mut BTreeMap<String, Vec<u8>>>,
) -> BTreeMap<String, FileEntry> {
    let name = format!(
        "{}-export-{}",
        prefix(),
        hex::encode(&Sha256::digest(image.as_bytes())[..6])
    );
    let _ = docker_at(host, &["rm", "-f", "-v", &name]);
    let created = docker_at(host, &["create", "--name", &name, image, "/nonexistent"]);
    assert!(
        created.status.success(),
        "docker create {image}: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let exported = docker_at(host, &["export", &name]);
    let _ = docker_at(host, &["rm", "-f", "-v", &name]);
    assert!(
        exported.status.success(),
        "docker export {image}: {}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let mut files = BTreeMap::new();
    let mut digests: BTreeMap<String, String> = BTreeMap::new();
    let mut hard_links = Vec::new();
    let mut archive = tar::Archive::new(exported.stdout.as_slice());
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry
            .path()
            .expect("path")
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let mut xattrs = BTreeMap::new();
        if let Ok(Some(extensions)) = entry.pax_extensions() {
            for extension in extensions.flatten() {
                if let Some(name) = extension
                    .key()
                    .ok()
                    .and_then(|k| k.strip_prefix("SCHILY.xattr."))
                {
                    xattrs.insert(name.to_string(), hex::encode(extension.value_bytes()));
                }
            }
        }
        let header = entry.header().clone();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Char => 'c',
            tar::EntryType::Block => 'b',
            tar::EntryType::Fifo => 'p',
            _ => 'f',
        };
        let link = entry
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut digest = String::new();
        if kind == 'f' {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            digest = hex::encode(Sha256::digest(&data));
            digests.insert(path.clone(), digest.clone());
            if let Some(contents) = contents.as_deref_mut() {
                contents.insert(path.clone(), data);
            }
        }
        if kind == 'h' {
            hard_links.push((path.clone(), link.trim_end_matches('/').to_string()));
        }
        files.insert(
            path,
            FileEntry {
                kind: if kind == 'h' { 'f' } else { kind },
                mode: header.mode().unwrap_or(0) & 0o7777,
                uid: header.uid().unwrap_or(0),
                gid: header.gid().unwrap_or(0),
                link: if kind == 'l' { link } else { String::new() },
                digest,
                xattrs,
            },
        );
    }
    for (path, target) in hard_links {
        let digest = digests.get(&target).cloned().unwrap_or_default();
        if let Some(contents) = contents.as_deref_mut() {
            if let Some(data) = contents.get(&target).cloned() {
                contents.insert(path.clone(), data);
            }
        }
        if let Some(entry) = files.get_mut(&path) {
            entry.digest = digest;
        }
    }
    files
}

/// Every file of `image` by path (no leading `/`).
pub fn filesystem(host: Option<&str>, image: &str) -> BTreeMap<String, FileEntry> {
    filesystem_with_contents(host, image, None)
}

/// `{"Config": …, "Architecture": …, "Os": …}` of `image`, exactly as the engine stores them.
pub fn image_config(host: Option<&str>, image: &str) -> serde_json::Value {
    let inspect = engine_get(host, &format!("/images/{image}/json"))
        .unwrap_or_else(|e| panic!("inspect {image}: {e}"));
    serde_json::json!({
        "Config": inspect["Config"],
        "Architecture": inspect["Architecture"],
        "Os": inspect["Os"],
    })
}

/// Every difference in files and config between image `ours` (the runner's) and `theirs`
/// (BuildKit's), one line each; empty when they are identical.
pub fn differences(host: Option<&str>, ours: &str, theirs: &str) -> Vec<String> {
    let (fs_ours, fs_theirs) = (filesystem(host, ours), filesystem(host, theirs));
    let mut problems = file_differences(&fs_ours, &fs_theirs);
    problems.extend(config_differences(
        &image_config(host, ours),
        &image_config(host, theirs),
    ));
    problems
}

/// The paths whose entries differ, one line each (`/path: runner …, buildkit …`).
pub fn file_differences(
    ours: &BTreeMap<String, FileEntry>,
    theirs: &BTreeMap<String, FileEntry>,
) -> Vec<String> {
    let paths: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let show = |entry: Option<&FileEntry>| entry.map_or("absent".to_string(), |e| e.to_string());
    paths
        .into_iter()
        .filter(|path| ours.get(*path) != theirs.get(*path))
        .map(|path| {
            format!(
                "/{path}: runner {}, buildkit {}",
                show(ours.get(path)),
                show(theirs.get(path))
            )
        })
        .collect()
}

/// The config fields that differ, compared exactly (a missing field, null, `[]` and `{}` are
/// four different values).
pub fn config_differences(ours: &serde_json::Value, theirs: &serde_json::Value) -> Vec<String> {
    let mut problems = Vec::new();
    for top in ["Architecture", "Os"] {
        if ours[top] != theirs[top] {
            problems.push(format!(
                "{top}: runner {}, buildkit {}",
                ours[top], theirs[top]
            ));
        }
    }
    let empty = serde_json::Map::new();
    let ours = ours["Config"].as_object().unwrap_or(&empty);
    let theirs = theirs["Config"].as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for key in keys {
        let (a, b) = (ours.get(key), theirs.get(key));
        if a != b {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("missing".to_string(), |v| v.to_string());
            problems.push(format!(
                "Config.{key}: runner {}, buildkit {}",
                show(a),
                show(b)
            ));
        }
    }
    problems
}
