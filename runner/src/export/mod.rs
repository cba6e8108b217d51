//! `--output`: the target's filesystem written out of the engine, as `docker build --output`
//! writes it with BuildKit: into a directory of this machine (`type=local`, in `local.rs`) or as
//! one tar stream to a file or standard output (`type=tar`, `-`; in `tar.rs`).
//!
//! Input: the build's shared state, the target's image id and whether a RUN ran in it (its
//! filesystem then has the empty `/dev`, `/proc` and `/sys` BuildKit's executor mounts on), and
//! the [`Output`].
//! Output: the image's files with their modes (setuid included), modification times, symlinks
//! and hard links: in a directory owned by the user running the runner, as the docker CLI leaves
//! them; in a tar with their owners, as BuildKit's tar exporter writes them.
//! Invariant: the files are read as `COPY --from=<target> / /` reads them (the image's own
//! `/etc/hosts` and friends, never a holder's placeholders) and streamed entry by entry; a
//! directory export writes nothing outside DIR, whatever a path or a symlink in the image says.

mod local;
mod tarball;

use std::io::Read;
use std::path::PathBuf;

use crate::error::{ExportError, Result, RunnerError};
use crate::exec::ctx::Ctx;
use crate::fs::pipe;
use crate::fs::tar::ExtraEntry;
use crate::steps::copy_from_image;
use crate::steps::piece::PieceContent;

/// Where `--output` writes, in the forms `docker build --output` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `DIR`, `type=local,dest=DIR` or `dest=DIR`: a directory.
    Local(PathBuf),
    /// `type=tar,dest=FILE`: a tar file; `-` or `type=tar,dest=-`: standard output (`None`).
    Tar(Option<PathBuf>),
}

impl Output {
    /// Reads an `--output` value; other exporters are refused with what to use instead.
    pub fn parse(value: &str) -> std::result::Result<Output, String> {
        if value == "-" {
            return Ok(Output::Tar(None));
        }
        if !value.contains('=') {
            if value.is_empty() {
                return Err(
                    "--output \"\": name a directory (--output DIR) or - for a tar on standard output"
                        .to_string(),
                );
            }
            return Ok(Output::Local(PathBuf::from(value)));
        }
        let (mut kind, mut dest) = (None, None);
        for field in value.split(',') {
            match field.split_once('=') {
                Some(("type", v)) => kind = Some(v),
                Some(("dest", v)) => dest = Some(v),
                _ => {
                    return Err(format!(
                        "--output {value:?}: unknown field {field:?}; use type=local,dest=DIR or type=tar,dest=FILE"
                    ))
                }
            }
        }
        match (kind.unwrap_or("local"), dest) {
            ("local", Some(dest)) if !dest.is_empty() => Ok(Output::Local(PathBuf::from(dest))),
            ("local", _) => Err(format!("--output {value:?}: dest=DIR is missing")),
            ("tar", Some("-")) => Ok(Output::Tar(None)),
            ("tar", Some(dest)) if !dest.is_empty() => Ok(Output::Tar(Some(PathBuf::from(dest)))),
            ("tar", _) => Err(format!(
                "--output {value:?}: dest=FILE is missing (dest=- writes the tar to standard output)"
            )),
            (other, _) => Err(format!(
                "--output {value:?}: the runner exports type=local and type=tar, not {other:?}; for an image, use -t NAME"
            )),
        }
    }

    /// Whether the export is written to standard output (which then carries nothing else).
    pub fn is_stdout(&self) -> bool {
        matches!(self, Output::Tar(None))
    }

    /// The destination as errors and the summary name it (`-` for standard output).
    pub fn dest(&self) -> PathBuf {
        match self {
            Output::Local(dir) => dir.clone(),
            Output::Tar(Some(file)) => file.clone(),
            Output::Tar(None) => PathBuf::from("-"),
        }
    }
}

/// Writes the filesystem of `image` (`None` for a target with no files: a `FROM scratch`
/// stage that added none) to `output`; returns how many entries were written.
pub async fn write(ctx: &Ctx, image: Option<&str>, ran_run: bool, output: &Output) -> Result<u64> {
    let dest = output.dest();
    let failed = |source: ExportError| RunnerError::Export {
        dest: dest.clone(),
        source,
    };
    // An image of no layer (`FROM scratch` with metadata only) has no files, and the engine
    // refuses to save it: the export is the directory alone, or an empty tar.
    let pieces = match image {
        Some(image)
            if !ctx
                .engine
                .inspect_image(image)
                .await?
                .is_some_and(|info| info.diff_ids.is_empty()) =>
        {
            copy_from_image::pieces(ctx, image, &["/".to_string()], &[], false, ran_run)
                .await?
                .map_err(|e| failed(ExportError::Find(e)))?
        }
        _ => Vec::new(),
    };
    match output {
        Output::Local(dir) => {
            local::prepare_directory(dir)?;
            let sink = local::Sink::new(dir);
            let (written, _) = write_pieces(ctx, pieces, sink, local::Sink::piece)
                .await
                .map_err(&failed)?;
            Ok(written)
        }
        Output::Tar(file) => {
            // A file is written under a tracked temporary name beside it and renamed when the
            // tar is whole: a failed or interrupted export leaves neither a partial tar nor the
            // temporary file (the build's cleanup removes it on every path).
            let partial = file.as_deref().map(|file| {
                let dir = file
                    .parent()
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                // A partial tar a killed runner left here goes first.
                ctx.reaper.sweep_dead_in(dir);
                ctx.reaper.host_file(dir)
            });
            let written = async {
                let sink = tarball::Sink::create(partial.as_deref())?;
                let (written, sink) = write_pieces(ctx, pieces, sink, tarball::Sink::piece).await?;
                tokio::task::spawn_blocking(move || sink.finish())
                    .await
                    .map_err(ExportError::Worker)??;
                if let (Some(partial), Some(file)) = (&partial, file) {
                    std::fs::rename(partial, file).map_err(ExportError::Create)?;
                }
                Ok(written)
            }
            .await;
            if let Some(partial) = &partial {
                // Gone already when the tar was renamed into place; either way no longer tracked.
                ctx.reaper.remove_host_file(partial);
            }
            written.map_err(&failed)
        }
    }
}

/// Unpacks a whole tar stream (BuildKit's tar export, received by the BuildKit backend) into
/// `dir` as a directory export writes it; returns how many entries were written.
pub fn unpack_into(reader: Box<dyn Read + Send>, dir: &std::path::Path) -> Result<u64> {
    local::prepare_directory(dir)?;
    local::Sink::new(dir)
        .piece(Piece {
            reader,
            keep: std::sync::Arc::new(|_: &str| true),
            extra: Vec::new(),
        })
        .map_err(|source| RunnerError::Export {
            dest: dir.to_path_buf(),
            source,
        })
}

/// Which entry names (relative to `/`) of a download are kept.
type KeepFn = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// One piece of the image's files as a tar stream: the entries `keep` accepts, then `extra`
/// entries (the image's own versions of what the filter drops).
struct Piece {
    reader: Box<dyn Read + Send>,
    keep: KeepFn,
    extra: Vec<ExtraEntry>,
}

/// Streams the pieces into `sink`, each on a blocking thread (tar work blocks); returns the
/// number of entries written and the sink.
async fn write_pieces<S: Send + 'static>(
    ctx: &Ctx,
    pieces: Vec<crate::steps::piece::Piece>,
    mut sink: S,
    write: fn(&mut S, Piece) -> std::result::Result<u64, ExportError>,
) -> std::result::Result<(u64, S), ExportError> {
    let mut written = 0;
    for piece in pieces {
        let piece = readable(ctx, piece.content);
        let (n, back) =
            tokio::task::spawn_blocking(move || write(&mut sink, piece).map(|n| (n, sink)))
                .await
                .map_err(ExportError::Worker)??;
        written += n;
        sink = back;
    }
    Ok((written, sink))
}

/// A piece as a tar stream to read (from the engine, for a piece in a holder).
fn readable(ctx: &Ctx, content: PieceContent) -> Piece {
    match content {
        PieceContent::Bytes(bytes) => Piece {
            reader: Box::new(std::io::Cursor::new(bytes)),
            keep: std::sync::Arc::new(|_: &str| true),
            extra: Vec::new(),
        },
        PieceContent::Container {
            container,
            path,
            keep,
            extra,
        } => Piece {
            reader: Box::new(pipe::blocking_reader(
                ctx.engine.get_archive_stream(&container, &path),
            )),
            keep,
            extra,
        },
    }
}

/// The `extra` entries of a piece as a tar archive (read back entry by entry like the rest).
fn extra_archive(extra: &[ExtraEntry]) -> std::result::Result<Vec<u8>, ExportError> {
    let mut extras = tar::Builder::new(Vec::new());
    for (name, header, data) in extra {
        let mut header = header.clone();
        extras
            .append_data(&mut header, name, data.as_slice())
            .map_err(ExportError::Read)?;
    }
    extras.into_inner().map_err(ExportError::Read)
}

fn read_error(e: std::io::Error) -> ExportError {
    ExportError::Read(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_values_as_docker_takes_them() {
        let dir = |p: &str| Ok(Output::Local(PathBuf::from(p)));
        assert_eq!(Output::parse("out"), dir("out"));
        assert_eq!(Output::parse("type=local,dest=out"), dir("out"));
        assert_eq!(Output::parse("dest=/tmp/x,type=local"), dir("/tmp/x"));
        assert_eq!(Output::parse("dest=bin"), dir("bin"));
        let tar = |p: Option<&str>| Ok(Output::Tar(p.map(PathBuf::from)));
        assert_eq!(Output::parse("type=tar,dest=out.tar"), tar(Some("out.tar")));
        assert_eq!(Output::parse("-"), tar(None));
        assert_eq!(Output::parse("type=tar,dest=-"), tar(None));
        let refused = |v: &str, says: &str| {
            let message = Output::parse(v).unwrap_err();
            assert!(message.contains(says), "{v}: {message}");
        };
        refused(
            "type=oci,dest=out.tar",
            "type=local and type=tar, not \"oci\"",
        );
        refused("type=local", "dest=DIR is missing");
        refused("type=tar", "dest=FILE is missing");
        refused("", "name a directory");
        refused("type=local,dest=out,compression=gzip", "unknown field");
    }
}
