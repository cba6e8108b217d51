//! `--output type=tar,dest=FILE` and `--output -`: the pieces of the image's files written as
//! one tar stream, as BuildKit's tar exporter writes it.
//!
//! Input: the destination (a file, created or truncated, or standard output) and the pieces' tar
//! streams. Output: one tar: names relative to `/` (directories ending in `/`, no `./` and no
//! root entry), mode with setuid, owner ids, modification time, symlink and hard-link targets,
//! devices, extended attributes as PAX `SCHILY.xattr.*` records; no user or group names.
//! Invariant: contents stream through, entry by entry; the tar is complete (its end blocks
//! written and flushed) only when every piece was written, so a failed export never ends in a
//! tar that looks whole.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use tar::{EntryType, Header};

use super::{extra_archive, read_error, Piece};
use crate::error::ExportError;
use crate::fs::tar::clean_name;

/// A tar being written.
pub(super) struct Sink {
    builder: tar::Builder<Box<dyn Write + Send>>,
}

impl Sink {
    /// Creates `file` (the export's temporary file), or writes to standard output when `None`.
    pub(super) fn create(file: Option<&Path>) -> Result<Sink, ExportError> {
        let out: Box<dyn Write + Send> = match file {
            Some(path) => Box::new(BufWriter::new(
                std::fs::File::create(path).map_err(ExportError::Create)?,
            )),
            None => Box::new(BufWriter::new(std::io::stdout())),
        };
        Ok(Sink {
            builder: tar::Builder::new(out),
        })
    }

    /// Appends the kept entries of one piece, then its extra entries; returns how many.
    pub(super) fn piece(&mut self, piece: Piece) -> Result<u64, ExportError> {
        let mut written = 0;
        let mut archive = tar::Archive::new(piece.reader);
        for entry in archive.entries().map_err(read_error)? {
            let mut entry = entry.map_err(read_error)?;
            let name = clean_name(&entry.path_bytes());
            if name.is_empty() || !(piece.keep)(&name) {
                continue;
            }
            append(&mut self.builder, &mut entry, &name)?;
            written += 1;
        }
        if piece.extra.is_empty() {
            return Ok(written);
        }
        let bytes = extra_archive(&piece.extra)?;
        let mut archive = tar::Archive::new(bytes.as_slice());
        for entry in archive.entries().map_err(read_error)? {
            let mut entry = entry.map_err(read_error)?;
            let name = clean_name(&entry.path_bytes());
            append(&mut self.builder, &mut entry, &name)?;
            written += 1;
        }
        Ok(written)
    }

    /// Ends the tar and flushes it.
    pub(super) fn finish(self) -> Result<(), ExportError> {
        let ended = |e| ExportError::Write {
            path: "the end of the tar".to_string(),
            source: e,
        };
        self.builder
            .into_inner()
            .map_err(ended)?
            .flush()
            .map_err(ended)
    }
}

/// Appends `entry` as `name` with a header of its own (the fields BuildKit's exporter writes).
fn append<R: Read>(
    builder: &mut tar::Builder<Box<dyn Write + Send>>,
    entry: &mut tar::Entry<'_, R>,
    name: &str,
) -> Result<(), ExportError> {
    let failed = |e: std::io::Error| ExportError::Write {
        path: name.to_string(),
        source: e,
    };
    let source = entry.header().clone();
    let kind = source.entry_type();
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(source.mode().map_err(read_error)? & 0o7777);
    header.set_uid(source.uid().map_err(read_error)?);
    header.set_gid(source.gid().map_err(read_error)?);
    header.set_mtime(source.mtime().map_err(read_error)?);
    if matches!(kind, EntryType::Char | EntryType::Block) {
        header
            .set_device_major(source.device_major().map_err(read_error)?.unwrap_or(0))
            .map_err(failed)?;
        header
            .set_device_minor(source.device_minor().map_err(read_error)?.unwrap_or(0))
            .map_err(failed)?;
    }
    let xattrs: Vec<(String, Vec<u8>)> = match entry.pax_extensions().map_err(read_error)? {
        Some(records) => records
            .flatten()
            .filter_map(|record| {
                let key = record.key().ok()?;
                key.starts_with("SCHILY.xattr.")
                    .then(|| (key.to_string(), record.value_bytes().to_vec()))
            })
            .collect(),
        None => Vec::new(),
    };
    if !xattrs.is_empty() {
        builder
            .append_pax_extensions(xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(failed)?;
    }
    match kind {
        EntryType::Link | EntryType::Symlink => {
            let raw = entry.link_name_bytes().unwrap_or_default();
            // A hard link names another entry of the tar, so by its name there; a symlink's
            // target is kept as written.
            let target = if kind == EntryType::Link {
                clean_name(&raw)
            } else {
                String::from_utf8_lossy(&raw).into_owned()
            };
            header.set_size(0);
            builder
                .append_link(&mut header, name, target)
                .map_err(failed)
        }
        EntryType::Directory => {
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{name}/"), std::io::empty())
                .map_err(failed)
        }
        _ => {
            let size = if kind.is_file() {
                source.size().map_err(read_error)?
            } else {
                0
            };
            header.set_size(size);
            builder
                .append_data(&mut header, name, entry)
                .map_err(failed)
        }
    }
}
