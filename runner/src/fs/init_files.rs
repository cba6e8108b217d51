//! The image's own entries where a container's init layer shows something else
//! (docs/engine-notes.md): a holder container shows empty placeholders for `/etc/hosts`,
//! `/etc/hostname`, `/etc/resolv.conf`, a `/etc/mtab` symlink and `/.dockerenv`, and the
//! engine's own `/dev`, `/proc`, `/sys` (and an `/etc` directory), whatever the image holds
//! there.
//!
//! Input: an image as a `docker save` tar stream.
//! Output: for each watched path ([`is_watched`]), the image's own entry (header and content),
//! or nothing when the image does not have it.
//! Invariant: layers are applied bottom to top with whiteouts (`.wh.<name>`, `.wh..wh..opq`),
//! so the answer is the image's filesystem, never the placeholder; the saved image is read as
//! a stream (only watched entries are kept).

use std::collections::BTreeMap;
use std::io::Read;

use tar::{Archive, Header};

/// The files (relative to `/`) an init layer replaces with placeholders.
pub const MASKED: [&str; 5] = [
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/mtab",
    ".dockerenv",
];

/// The directories whose whole tree a container shows from the engine, not the image.
pub const ENGINE_TREES: [&str; 3] = ["dev", "proc", "sys"];

/// Whether `path` (relative to `/`) is one a holder may show differently from the image.
pub fn is_watched(path: &str) -> bool {
    MASKED.contains(&path)
        || path == "etc"
        || ENGINE_TREES.iter().any(|tree| {
            path == *tree || path.strip_prefix(tree).is_some_and(|r| r.starts_with('/'))
        })
}

/// An entry of the image: its tar header (type, mode, owner, link) and content.
#[derive(Debug, Clone)]
pub struct RealEntry {
    /// The header as stored in the layer.
    pub header: Header,
    /// The content of a regular file.
    pub data: Vec<u8>,
}

enum Change {
    Put(Box<RealEntry>),
    /// Deletes the path and everything below it.
    Delete,
    /// Deletes everything below the directory (an opaque directory).
    Clear,
}

/// The image's own entries for watched paths, from its `docker save` tar.
pub fn real_entries<R: Read>(saved: R) -> Result<BTreeMap<String, RealEntry>, String> {
    let mut manifest: Option<serde_json::Value> = None;
    let mut per_layer: BTreeMap<String, Vec<(String, Change)>> = BTreeMap::new();
    let mut outer = Archive::new(saved);
    for entry in outer.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = entry_name(&entry)?;
        if name == "manifest.json" {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
            manifest = Some(serde_json::from_slice(&data).map_err(|e| e.to_string())?);
        } else if name.ends_with(".tar") || name.starts_with("blobs/") {
            per_layer.insert(name, scan_layer(&mut entry)?);
        }
    }
    let layers: Vec<String> = manifest
        .as_ref()
        .and_then(|m| m.get(0))
        .and_then(|m| m.get("Layers"))
        .and_then(|l| l.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .ok_or("the saved image has no manifest.json layer list")?;
    let mut state: BTreeMap<String, RealEntry> = BTreeMap::new();
    for layer in layers {
        for (path, change) in per_layer.remove(&layer).unwrap_or_default() {
            let below = format!("{path}/");
            match change {
                Change::Put(entry) => {
                    state.insert(path, *entry);
                }
                Change::Delete => {
                    state.retain(|p, _| *p != path && !p.starts_with(&below));
                }
                Change::Clear => {
                    state.retain(|p, _| !p.starts_with(&below));
                }
            }
        }
    }
    Ok(state)
}

fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, String> {
    Ok(entry
        .path()
        .map_err(|e| e.to_string())?
        .to_string_lossy()
        .into_owned())
}

/// The changes one layer makes to the watched paths.
fn scan_layer<R: Read>(layer: R) -> Result<Vec<(String, Change)>, String> {
    let mut changes = Vec::new();
    let mut archive = Archive::new(layer);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let raw = entry_name(&entry)?;
        let name = raw
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name.as_str()));
        if base == ".wh..wh..opq" {
            changes.push((dir.to_string(), Change::Clear));
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let path = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            changes.push((path, Change::Delete));
            continue;
        }
        if is_watched(&name) {
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
            changes.push((name, Change::Put(Box::new(RealEntry { header, data }))));
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::{Builder, EntryType};

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = Header::new_gnu();
            header.set_entry_type(EntryType::Regular);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn applies_layers_in_order_with_whiteouts() {
        let l1 = layer(&[
            ("etc/hosts", b"REAL"),
            ("etc/hostname", b"box"),
            ("bin/x", b"x"),
        ]);
        let l2 = layer(&[("etc/.wh.hostname", b"")]);
        let manifest =
            br#"[{"Config":"c.json","RepoTags":null,"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
        let saved = layer(&[
            ("l1/layer.tar", &l1),
            ("l2/layer.tar", &l2),
            ("manifest.json", manifest),
        ]);
        let real = real_entries(saved.as_slice()).unwrap();
        assert_eq!(real["etc/hosts"].data, b"REAL");
        assert!(!real.contains_key("etc/hostname"));
        assert!(!real.contains_key("etc/resolv.conf"));
        assert!(!real.contains_key("bin/x"), "only watched paths are kept");
    }

    #[test]
    fn engine_trees_come_from_the_layers_only() {
        let l1 = layer(&[("dev/null-ish", b"x"), ("proc/keep", b"p"), ("sys/a", b"s")]);
        let l2 = layer(&[(".wh.sys", b""), ("proc/.wh..wh..opq", b"")]);
        let manifest =
            br#"[{"Config":"c.json","RepoTags":null,"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
        let saved = layer(&[
            ("l1/layer.tar", &l1),
            ("l2/layer.tar", &l2),
            ("manifest.json", manifest),
        ]);
        let real = real_entries(saved.as_slice()).unwrap();
        assert!(real.contains_key("dev/null-ish"));
        assert!(
            !real.contains_key("sys/a"),
            "a whiteout of the directory removes its tree"
        );
        assert!(
            !real.contains_key("proc/keep"),
            "an opaque directory hides lower entries"
        );
        assert!(is_watched("dev") && is_watched("etc") && is_watched("proc/1/x"));
        assert!(!is_watched("devices") && !is_watched("etc/passwd"));
    }
}
