//! `--output DIR`: the pieces of the image's files unpacked into a directory of this machine,
//! as the docker CLI writes BuildKit's local export.
//!
//! Input: the destination and the pieces' tar streams. Output: the files under DIR with their
//! modes (setuid included), modification times, symlinks and hard links, owned by the user
//! running the runner (DIR itself, when made, with mode 0700).
//! Invariant: entries are unpacked with `tar`'s `unpack_in`, and what DIR already holds at a path
//! is replaced, never written through: nothing is written outside DIR, whatever a path or a
//! symlink in the image says.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{extra_archive, read_error, KeepFn, Piece};
use crate::error::{ExportError, Result, RunnerError};
use crate::fs::tar::clean_name;

/// A directory being written.
pub(super) struct Sink {
    dest: PathBuf,
}

impl Sink {
    pub(super) fn new(dest: &Path) -> Sink {
        Sink {
            dest: dest.to_path_buf(),
        }
    }

    /// Unpacks one piece; returns how many entries were written.
    pub(super) fn piece(&mut self, piece: Piece) -> std::result::Result<u64, ExportError> {
        unpack(piece.reader, &piece.keep, &piece.extra, &self.dest)
    }
}

/// Creates `dest` for an export when it is missing (all a target with no files writes).
pub(super) fn prepare_directory(dest: &Path) -> Result<()> {
    create_destination(dest).map_err(|source| RunnerError::Export {
        dest: dest.to_path_buf(),
        source: ExportError::Write {
            path: ".".to_string(),
            source,
        },
    })
}

/// Creates `dest` (and its parents) when it is missing; the directory itself gets mode 0700.
fn create_destination(dest: &Path) -> std::io::Result<()> {
    if dest.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dest)
}

/// Unpacks the kept entries of `reader`, then the `extra` entries (the image's own versions of
/// what the filter drops), into `dest`.
fn unpack(
    reader: Box<dyn Read + Send>,
    keep: &KeepFn,
    extra: &[crate::fs::tar::ExtraEntry],
    dest: &Path,
) -> std::result::Result<u64, ExportError> {
    let mut written = 0;
    let mut archive = tar::Archive::new(reader);
    configure(&mut archive);
    let entries = archive.entries().map_err(read_error)?;
    for entry in entries {
        let mut entry = entry.map_err(read_error)?;
        let name = clean_name(&entry.path_bytes());
        if name.is_empty() || !keep(&name) {
            continue;
        }
        written += unpack_entry(&mut entry, &name, dest)?;
    }
    if extra.is_empty() {
        return Ok(written);
    }
    let bytes = extra_archive(extra)?;
    let mut archive = tar::Archive::new(bytes.as_slice());
    configure(&mut archive);
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let name = clean_name(&entry.path_bytes());
        written += unpack_entry(&mut entry, &name, dest)?;
    }
    Ok(written)
}

/// Modes (setuid included) and modification times kept, owners not: as the docker CLI writes
/// a local export.
fn configure<R: Read>(archive: &mut tar::Archive<R>) {
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
}

/// Unpacks one entry below `dest`; an entry `tar` refuses (a path leaving `dest`) is an error
/// naming it. Returns 1 when something was written.
fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    dest: &Path,
) -> std::result::Result<u64, ExportError> {
    // What DIR already holds at this path is replaced (a directory kept when a directory
    // comes): an earlier export's file, link or symlink is removed, never written through.
    let target = dest.join(name);
    // Only below DIR: a parent that resolves elsewhere (through a symlink) is left to
    // `unpack_in`, which refuses the entry.
    let inside = target
        .parent()
        .and_then(|parent| parent.canonicalize().ok())
        .zip(dest.canonicalize().ok())
        .is_some_and(|(parent, root)| parent.starts_with(root));
    if let Some(existing) = inside
        .then(|| std::fs::symlink_metadata(&target).ok())
        .flatten()
    {
        let is_dir = entry.header().entry_type().is_dir();
        if !existing.is_dir() {
            std::fs::remove_file(&target).map_err(|e| write_error(name, e))?;
        } else if !is_dir {
            std::fs::remove_dir_all(&target).map_err(|e| write_error(name, e))?;
        }
    }
    match entry.unpack_in(dest) {
        Ok(true) => Ok(1),
        Ok(false) => Err(ExportError::Escapes {
            path: name.to_string(),
        }),
        Err(e) => Err(write_error(name, e)),
    }
}

fn write_error(name: &str, source: std::io::Error) -> ExportError {
    ExportError::Write {
        path: name.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_leaving_the_destination_is_refused_and_nothing_is_written_outside() {
        let root = std::env::temp_dir().join(format!("stageplan-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dest = root.join("out");
        std::fs::create_dir_all(&dest).unwrap();
        // A file outside that the entry names through the symlink: it must stay as it is.
        std::fs::write(root.join("planted"), "outside").unwrap();
        // A symlink to the outside, then a file written through it.
        let mut builder = tar::Builder::new(Vec::new());
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        builder
            .append_link(&mut link, "escape", root.as_path())
            .unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(3);
        file.set_mode(0o644);
        builder
            .append_data(&mut file, "escape/planted", &b"bad"[..])
            .unwrap();
        let bytes = builder.into_inner().unwrap();
        let keep: KeepFn = std::sync::Arc::new(|_: &str| true);
        let result = unpack(Box::new(std::io::Cursor::new(bytes)), &keep, &[], &dest);
        assert!(result.is_err(), "{result:?}");
        assert_eq!(
            std::fs::read_to_string(root.join("planted")).unwrap(),
            "outside"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
