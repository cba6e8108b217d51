//! The files an image adds over its base image, read from its layers: `docker save` streams the
//! image, each layer tar is hashed as it passes (its sha256 is its diff id) and listed, and the
//! layers the base does not have are merged in order (whiteouts applied).
//!
//! Input: the engine, the image id, the diff ids of the layers it adds over its base, and the
//! sizes of the context files worth recognising by content. Output: a [`Listing`]: every regular
//! file the added layers leave in the image, with its size, and a sha256 for the files whose size
//! is one of those sizes.
//! Invariant: the archive streams through a blocking thread (never held whole); only files of a
//! wanted size are hashed; a layer is used only when its bytes hash to an added diff id.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::fs::pipe;

/// A regular file the added layers leave in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedFile {
    /// Its size.
    pub size: u64,
    /// Its sha256 (hex), when its size was wanted.
    pub sha256: Option<String>,
}

/// The merged files of the added layers, by absolute path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files (and symlinks, size 0), by absolute path.
    pub files: BTreeMap<String, AddedFile>,
}

/// Why the layers could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading the `docker save` stream failed.
    #[error("cannot read the layers of image {image}: {source}")]
    Read {
        /// The image.
        image: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The blocking reader stopped.
    #[error("the layer reader stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// One layer tar: its diff id and its entries in order.
struct LayerEntries {
    diff_id: String,
    entries: Vec<LayerEntry>,
}

/// One entry of a layer, as the merge needs it.
pub(super) enum LayerEntry {
    File { path: String, file: AddedFile },
    Whiteout { path: String },
    Opaque { dir: String },
    Dir { path: String },
}

/// Lists what the layers `added` (diff ids, bottom first) of image `image` leave in it.
pub async fn added_files(
    engine: &Engine,
    image: &str,
    added: &[String],
    wanted_sizes: BTreeSet<u64>,
) -> Result<Listing, LayerError> {
    if added.is_empty() {
        return Ok(Listing::default());
    }
    let wanted_ids: BTreeSet<String> = added.iter().cloned().collect();
    let reader = pipe::blocking_reader(engine.save_image_stream(image));
    let image_name = image.to_string();
    let layers = tokio::task::spawn_blocking(move || {
        read_save_archive(reader, &wanted_ids, &wanted_sizes).map_err(|source| LayerError::Read {
            image: image_name,
            source,
        })
    })
    .await??;
    let mut by_id: BTreeMap<String, LayerEntries> =
        layers.into_iter().map(|l| (l.diff_id.clone(), l)).collect();
    let mut listing = Listing::default();
    for diff_id in added {
        if let Some(layer) = by_id.remove(diff_id) {
            apply(&mut listing, layer.entries);
        }
    }
    Ok(listing)
}

/// Reads a `docker save` archive and lists each layer tar whose diff id is wanted.
fn read_save_archive<R: Read>(
    reader: R,
    wanted_ids: &BTreeSet<String>,
    wanted_sizes: &BTreeSet<u64>,
) -> std::io::Result<Vec<LayerEntries>> {
    let mut outer = tar::Archive::new(reader);
    let mut layers = Vec::new();
    for entry in outer.entries()? {
        let entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let is_layer = name.ends_with("/layer.tar")
            || (name.starts_with("blobs/sha256/") && entry.header().entry_type().is_file());
        if !is_layer {
            continue;
        }
        let mut hashing = HashingReader {
            inner: entry,
            hasher: Sha256::new(),
        };
        let entries = list_layer(&mut hashing, wanted_sizes);
        // Whatever the listing did not read (padding, a layer that is not a tar) still counts
        // towards the digest.
        std::io::copy(&mut hashing, &mut std::io::sink())?;
        let diff_id = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
        if let (true, Ok(entries)) = (wanted_ids.contains(&diff_id), entries) {
            layers.push(LayerEntries { diff_id, entries });
        }
    }
    Ok(layers)
}

/// The entries of one layer tar (hashing the content of files of a wanted size).
fn list_layer<R: Read>(
    reader: &mut R,
    wanted_sizes: &BTreeSet<u64>,
) -> std::io::Result<Vec<LayerEntry>> {
    let mut archive = tar::Archive::new(reader);
    let mut entries = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.to_string_lossy().into_owned();
        let path = format!("/{}", raw.trim_start_matches("./").trim_end_matches('/'));
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", &path));
        if base == ".wh..wh..opq" {
            entries.push(LayerEntry::Opaque {
                dir: dir.to_string(),
            });
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            entries.push(LayerEntry::Whiteout {
                path: format!("{dir}/{hidden}"),
            });
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            entries.push(LayerEntry::Dir { path });
            continue;
        }
        let size = if kind.is_file() { entry.size() } else { 0 };
        let sha256 = if kind.is_file() && wanted_sizes.contains(&size) {
            let mut hasher = Sha256::new();
            std::io::copy(&mut entry, &mut hasher)?;
            Some(hex::encode(hasher.finalize()))
        } else {
            None
        };
        entries.push(LayerEntry::File {
            path,
            file: AddedFile { size, sha256 },
        });
    }
    Ok(entries)
}

/// Applies one layer's entries on top of the listing.
pub(super) fn apply(listing: &mut Listing, entries: Vec<LayerEntry>) {
    for entry in entries {
        match entry {
            LayerEntry::File { path, file } => {
                remove_below(listing, &path);
                listing.files.insert(path, file);
            }
            LayerEntry::Whiteout { path } => {
                listing.files.remove(&path);
                remove_below(listing, &path);
            }
            LayerEntry::Opaque { dir } => remove_below(listing, &dir),
            LayerEntry::Dir { path } => {
                // A directory replaces a file of the same name.
                listing.files.remove(&path);
            }
        }
    }
}

fn remove_below(listing: &mut Listing, dir: &str) {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    let below: Vec<String> = listing
        .files
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .map(|(path, _)| path.clone())
        .collect();
    for path in below {
        listing.files.remove(&path);
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn save(layers: &[&[u8]]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (index, bytes) in layers.iter().enumerate() {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("l{index}/layer.tar"), *bytes)
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn diff_id(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    #[test]
    fn added_layers_are_merged_with_whiteouts_and_base_layers_skipped() {
        let base = layer(&[("bin/sh", b"shell")]);
        let first = layer(&[("app/main.go", b"package main"), ("app/tmp/x", b"xx")]);
        let second = layer(&[("app/.wh.tmp", b""), ("app/bin", b"binary!")]);
        let archive = save(&[&base, &first, &second]);
        let wanted: BTreeSet<String> = [diff_id(&first), diff_id(&second)].into();
        let layers = read_save_archive(archive.as_slice(), &wanted, &[12].into()).unwrap();
        assert_eq!(layers.len(), 2);
        let mut listing = Listing::default();
        for layer in layers {
            apply(&mut listing, layer.entries);
        }
        let paths: Vec<&str> = listing.files.keys().map(String::as_str).collect();
        assert_eq!(paths, vec!["/app/bin", "/app/main.go"]);
        assert_eq!(
            listing.files["/app/main.go"].sha256.as_deref(),
            Some(hex::encode(Sha256::digest(b"package main")).as_str())
        );
        assert_eq!(listing.files["/app/bin"].sha256, None);
        assert_eq!(listing.files["/app/bin"].size, 7);
    }
}
