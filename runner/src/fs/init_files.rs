//! The real content of the files a container's init layer masks (RUNNER-NOTES P11): a holder
//! container shows empty placeholders for `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, a
//! `/etc/mtab` symlink and `/.dockerenv`, whatever the image holds there.
//!
//! Input: an image as a `docker save` tar.
//! Output: for each masked path, the image's own entry (header and content), or nothing when
//! the image does not have it.
//! Invariant: layers are applied bottom to top with whiteouts (`.wh.<name>`, `.wh..wh..opq`),
//! so the answer is the image's filesystem, never the placeholder.

use std::collections::BTreeMap;
use std::io::Read;

use tar::{Archive, Header};

/// The paths (relative to `/`) an init layer masks.
pub const MASKED: [&str; 5] = [
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/mtab",
    ".dockerenv",
];

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
    Delete,
}

/// The image's own entries for [`MASKED`] paths, from its `docker save` tar.
pub fn real_entries(saved: &[u8]) -> Result<BTreeMap<String, RealEntry>, String> {
    let mut manifest: Option<serde_json::Value> = None;
    let mut per_layer: BTreeMap<String, Vec<(String, Change)>> = BTreeMap::new();
    let mut outer = Archive::new(saved);
    for entry in outer.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        if name == "manifest.json" {
            entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
            manifest = Some(serde_json::from_slice(&data).map_err(|e| e.to_string())?);
        } else if name.ends_with(".tar") || name.starts_with("blobs/") {
            entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
            per_layer.insert(name, scan_layer(&data)?);
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
            match change {
                Change::Put(entry) => {
                    state.insert(path, *entry);
                }
                Change::Delete => {
                    state.remove(&path);
                }
            }
        }
    }
    Ok(state)
}

/// The changes one layer makes to the masked paths.
fn scan_layer(layer: &[u8]) -> Result<Vec<(String, Change)>, String> {
    let mut changes = Vec::new();
    let mut archive = Archive::new(layer);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let raw = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let name = raw
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name.as_str()));
        if base == ".wh..wh..opq" {
            // An opaque directory hides everything below it from lower layers.
            for masked in MASKED {
                if masked.rsplit_once('/').map_or("", |(d, _)| d) == dir {
                    changes.push((masked.to_string(), Change::Delete));
                }
            }
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let path = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            if MASKED.contains(&path.as_str()) || path == "etc" {
                let deleted: Vec<String> = if path == "etc" {
                    MASKED
                        .iter()
                        .filter(|m| m.starts_with("etc/"))
                        .map(|m| m.to_string())
                        .collect()
                } else {
                    vec![path]
                };
                changes.extend(deleted.into_iter().map(|p| (p, Change::Delete)));
            }
            continue;
        }
        if MASKED.contains(&name.as_str()) {
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
        let real = real_entries(&saved).unwrap();
        assert_eq!(real["etc/hosts"].data, b"REAL");
        assert!(!real.contains_key("etc/hostname"));
        assert!(!real.contains_key("etc/resolv.conf"));
    }
}
