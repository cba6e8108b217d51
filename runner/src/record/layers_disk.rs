//! The layer listing read from the engine's own disk: on a local engine with the `overlay2`
//! driver each layer is a directory, so the files an image adds are listed with a walk and a
//! `stat` per entry instead of streaming the whole image through `docker save`.
//!
//! Input: the engine's data directory, the image's diff ids (bottom first), where its added
//! layers start, and the sizes worth hashing. Output: the same [`Listing`] the `docker save`
//! reader makes, or `None` when a layer cannot be found or proven (the caller then streams).
//! Invariant: a layer directory is used only when the engine's layer database names it for the
//! layer's chain id and records exactly the expected diff id; entries are visited in the order
//! the engine's archiver writes them (names sorted, depth first), so hard links, whiteouts (a
//! character device 0/0) and opaque directories (`trusted.overlay.opaque=y`) come out as the
//! layer tar has them; nothing is written.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::layers::{apply, AddedFile, LayerEntry, Listing};

/// Lists what layers `diff_ids[added_from..]` leave in the image, from the directories of
/// the engine whose data directory is `root`; `None` when any layer is not there as expected.
pub fn added_files_on_disk(
    root: &Path,
    diff_ids: &[String],
    added_from: usize,
    wanted_sizes: &BTreeSet<u64>,
) -> Option<Listing> {
    let dirs = layer_dirs(root, diff_ids)?;
    let mut listing = Listing::default();
    for dir in dirs.iter().skip(added_from) {
        let mut entries = Vec::new();
        let mut seen_inodes = BTreeSet::new();
        walk(dir, "", wanted_sizes, &mut seen_inodes, &mut entries).ok()?;
        apply(&mut listing, entries);
    }
    Some(listing)
}

/// The `diff` directory of every layer, bottom first, proven by the layer database.
fn layer_dirs(root: &Path, diff_ids: &[String]) -> Option<Vec<PathBuf>> {
    let database = root.join("image/overlay2/layerdb/sha256");
    let mut chain = String::new();
    let mut dirs = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        chain = match chain.is_empty() {
            true => diff_id.clone(),
            false => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{chain} {diff_id}")))
            ),
        };
        let layer = database.join(chain.strip_prefix("sha256:")?);
        let recorded = fs::read_to_string(layer.join("diff")).ok()?;
        if recorded.trim() != diff_id {
            return None;
        }
        let cache_id = fs::read_to_string(layer.join("cache-id")).ok()?;
        let cache_id = cache_id.trim();
        if cache_id.is_empty() || cache_id.contains('/') || cache_id.contains("..") {
            return None;
        }
        let dir = root.join("overlay2").join(cache_id).join("diff");
        if !fs::symlink_metadata(&dir).ok()?.is_dir() {
            return None;
        }
        dirs.push(dir);
    }
    Some(dirs)
}

/// Visits `dir` (image path `prefix`) as the engine's archiver does: names sorted, each
/// directory before its contents.
fn walk(
    dir: &Path,
    prefix: &str,
    wanted_sizes: &BTreeSet<u64>,
    seen_inodes: &mut BTreeSet<(u64, u64)>,
    entries: &mut Vec<LayerEntry>,
) -> std::io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let host = dir.join(&name);
        let path = format!("{prefix}/{}", name.to_string_lossy());
        let meta = fs::symlink_metadata(&host)?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            entries.push(LayerEntry::Whiteout { path });
        } else if kind.is_dir() {
            entries.push(LayerEntry::Dir { path: path.clone() });
            let opaque = xattr::get(&host, "trusted.overlay.opaque")?;
            if opaque.as_deref() == Some(b"y".as_slice()) {
                entries.push(LayerEntry::Opaque { dir: path.clone() });
            }
            walk(&host, &path, wanted_sizes, seen_inodes, entries)?;
        } else if kind.is_socket() {
            // The engine's archiver leaves sockets out of a layer.
        } else if kind.is_file() {
            // A second name of a file already written is a hard link entry: no content.
            let first = meta.nlink() < 2 || seen_inodes.insert((meta.dev(), meta.ino()));
            let size = if first { meta.len() } else { 0 };
            let sha256 = match first && wanted_sizes.contains(&size) {
                true => Some(file_sha256(&host)?),
                false => None,
            };
            entries.push(LayerEntry::File {
                path,
                file: AddedFile { size, sha256 },
            });
        } else {
            // Symlinks, fifos and devices carry no content.
            entries.push(LayerEntry::File {
                path,
                file: AddedFile {
                    size: 0,
                    sha256: None,
                },
            });
        }
    }
    Ok(())
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
