//! `--output DIR`: the target's filesystem written to a directory of this machine, as
//! `docker build --output type=local,dest=DIR` writes it with BuildKit's local exporter.
//!
//! Input: the build's shared state, the target's image id and whether a RUN ran in it (its
//! filesystem then has the empty `/dev`, `/proc` and `/sys` BuildKit's executor mounts on), and
//! the destination.
//! Output: the image's files under DIR with their modes (setuid included), modification times,
//! symlinks and hard links; owned by the user running the runner, as the docker CLI leaves them.
//! Invariant: the files are read as `COPY --from=<target> / /` reads them (the image's own
//! `/etc/hosts` and friends, never a holder's placeholders), streamed entry by entry, and
//! unpacked with `tar`'s `unpack_in`: nothing is written outside DIR, whatever a path or a
//! symlink in the image says.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{ExportError, Result, RunnerError};
use crate::exec::ctx::Ctx;
use crate::fs::pipe;
use crate::fs::tar::clean_name;
use crate::steps::copy_from_image;
use crate::steps::piece::PieceContent;

/// Where `--output` writes: `DIR`, `type=local,dest=DIR` or `dest=DIR,type=local` (the forms
/// `docker build --output` takes for a local directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDir(pub PathBuf);

impl OutputDir {
    /// Reads an `--output` value; other exporters are refused with what to use instead.
    pub fn parse(value: &str) -> std::result::Result<OutputDir, String> {
        if !value.contains('=') {
            if value.is_empty() || value == "-" {
                return Err(format!(
                    "--output {value:?}: the runner writes a directory; name one (--output DIR)"
                ));
            }
            return Ok(OutputDir(PathBuf::from(value)));
        }
        let (mut kind, mut dest) = (None, None);
        for field in value.split(',') {
            match field.split_once('=') {
                Some(("type", v)) => kind = Some(v),
                Some(("dest", v)) => dest = Some(v),
                _ => {
                    return Err(format!(
                        "--output {value:?}: unknown field {field:?}; use type=local,dest=DIR"
                    ))
                }
            }
        }
        match (kind.unwrap_or("local"), dest) {
            ("local", Some(dest)) if !dest.is_empty() => Ok(OutputDir(PathBuf::from(dest))),
            ("local", _) => Err(format!("--output {value:?}: dest=DIR is missing")),
            (other, _) => Err(format!(
                "--output {value:?}: the runner exports type=local only, not {other:?}; for an image, use -t NAME (and docker save for a tar)"
            )),
        }
    }
}

/// Writes the filesystem of `image` into `dest` (created with mode 0700 when missing, as the
/// docker CLI creates it); returns how many entries were written.
pub async fn to_directory(ctx: &Ctx, image: &str, ran_run: bool, dest: &Path) -> Result<u64> {
    let failed = |source: ExportError| RunnerError::Export {
        dest: dest.to_path_buf(),
        source,
    };
    // An image of no layer (`FROM scratch` with metadata only) has no files, and the engine
    // refuses to save it: the export is the directory alone.
    let layers = ctx.engine.inspect_image(image).await?;
    if layers.is_some_and(|info| info.diff_ids.is_empty()) {
        prepare_directory(dest)?;
        return Ok(0);
    }
    let pieces = copy_from_image::pieces(ctx, image, &["/".to_string()], &[], false, ran_run)
        .await?
        .map_err(|e| failed(ExportError::Find(e)))?;
    prepare_directory(dest)?;
    let mut written = 0;
    for piece in pieces {
        let (reader, keep, extra): (Box<dyn Read + Send>, KeepFn, _) = match piece.content {
            PieceContent::Bytes(bytes) => (
                Box::new(std::io::Cursor::new(bytes)),
                Box::new(|_: &str| true),
                Vec::new(),
            ),
            PieceContent::Container {
                container,
                path,
                keep,
                extra,
            } => (
                Box::new(pipe::blocking_reader(
                    ctx.engine.get_archive_stream(&container, &path),
                )),
                keep,
                extra,
            ),
        };
        let target = dest.to_path_buf();
        written += tokio::task::spawn_blocking(move || unpack(reader, &keep, &extra, &target))
            .await
            .map_err(|e| failed(ExportError::Worker(e)))?
            .map_err(failed)?;
    }
    Ok(written)
}

/// Creates `dest` for an export when it is missing (all a target with no files writes).
pub fn prepare_directory(dest: &Path) -> Result<()> {
    create_destination(dest).map_err(|source| RunnerError::Export {
        dest: dest.to_path_buf(),
        source: ExportError::Write {
            path: ".".to_string(),
            source,
        },
    })
}

/// Which entry names (relative to `/`) of the download are kept.
type KeepFn = Box<dyn Fn(&str) -> bool + Send + Sync>;

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
    let mut extras = tar::Builder::new(Vec::new());
    for (name, header, data) in extra {
        let mut header = header.clone();
        extras
            .append_data(&mut header, name, data.as_slice())
            .map_err(ExportError::Read)?;
    }
    let bytes = extras.into_inner().map_err(ExportError::Read)?;
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

fn read_error(e: std::io::Error) -> ExportError {
    ExportError::Read(e)
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
    fn output_values_as_docker_takes_them() {
        let dir = |p: &str| Ok(OutputDir(PathBuf::from(p)));
        assert_eq!(OutputDir::parse("out"), dir("out"));
        assert_eq!(OutputDir::parse("type=local,dest=out"), dir("out"));
        assert_eq!(OutputDir::parse("dest=/tmp/x,type=local"), dir("/tmp/x"));
        assert_eq!(OutputDir::parse("dest=bin"), dir("bin"));
        let refused = |v: &str, says: &str| {
            let message = OutputDir::parse(v).unwrap_err();
            assert!(message.contains(says), "{v}: {message}");
        };
        refused("type=tar,dest=out.tar", "type=local only");
        refused("type=local", "dest=DIR is missing");
        refused("-", "writes a directory");
        refused("type=local,dest=out,compression=gzip", "unknown field");
    }

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
        let keep: KeepFn = Box::new(|_: &str| true);
        let result = unpack(Box::new(std::io::Cursor::new(bytes)), &keep, &[], &dest);
        assert!(result.is_err(), "{result:?}");
        assert_eq!(
            std::fs::read_to_string(root.join("planted")).unwrap(),
            "outside"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
