//! One source of a COPY or ADD that is not a build-context path (a heredoc, a download, a path
//! of another stage's or an image's filesystem, a local archive to unpack), and how it is
//! written at its destination.
//!
//! Input: a [`Piece`] and where it goes ([`Placement`]).
//! Output: the piece's entries uploaded into the step's target container.
//! Invariant: entries stream from their source through the rewrite to the engine on a blocking
//! thread; a piece whose source fails ends its upload with an error, never a partial commit.

use crate::context::Chmod;
use crate::engine::Engine;
use crate::error::StepError;
use std::sync::Arc;

use crate::fs::pipe::{self, ByteStream, Producer, Uploaded};
use crate::fs::tar::{self as tarx, ExtraEntry, Overrides, TarError};

/// Where a piece's entries come from.
#[derive(Clone)]
pub enum PieceContent {
    /// A small tar in memory (heredocs, downloads), entries named relative to the piece.
    Bytes(Vec<u8>),
    /// A path in a container (a holder of a source image), downloaded as it is written; entries
    /// the filter rejects are left out and `extra` entries are added (named relative to the
    /// piece).
    Container {
        /// The holder container.
        container: String,
        /// The absolute path to download (`/dir/.` for a directory's contents).
        path: String,
        /// Keeps or drops each entry name (relative to the piece).
        keep: Arc<dyn Fn(&str) -> bool + Send + Sync>,
        /// Entries to add (files the holder's init layer hides, read from the image itself).
        extra: Vec<ExtraEntry>,
    },
}

/// One source, ready to be re-rooted at the destination.
#[derive(Clone)]
pub struct Piece {
    /// Directory (contents copied) or single entry.
    pub is_dir: bool,
    /// The source's path relative to its root (context or image); for `--parents` and the
    /// base name of a file.
    pub rel_path: String,
    /// Its entries.
    pub content: PieceContent,
    /// Whether the owner defaults to root (context, heredoc, URL) rather than being kept.
    pub root_owned: bool,
}

/// Where a piece goes.
pub struct Placement<'a> {
    /// The real (symlink-resolved) absolute destination.
    pub dest: &'a str,
    /// Whether the destination is a directory (a file source goes inside it).
    pub dest_is_dir: bool,
    /// `--parents`: keep the source's path below the destination.
    pub parents: bool,
    /// `--chown`, resolved.
    pub owner: Option<(u64, u64)>,
    /// `--chmod`.
    pub chmod: Option<Chmod>,
}

/// The name of `piece`'s root below `/` at `placement`.
fn base_name(piece: &Piece, placement: &Placement<'_>) -> String {
    if placement.parents {
        tarx::join_dest(placement.dest, &piece.rel_path)
    } else if piece.is_dir {
        tarx::join_dest(placement.dest, "")
    } else if placement.dest_is_dir {
        let name = piece.rel_path.rsplit('/').next().unwrap_or(&piece.rel_path);
        tarx::join_dest(placement.dest, name)
    } else {
        tarx::join_dest(placement.dest, "")
    }
}

/// Re-roots `piece` at `placement` and uploads it into `container` at `/`.
pub async fn upload(
    engine: &Engine,
    container: &str,
    piece: Piece,
    placement: &Placement<'_>,
) -> Result<(), UploadError> {
    let base = base_name(&piece, placement);
    let is_dir = piece.is_dir;
    let overrides = Overrides {
        owner: placement
            .owner
            .or(if piece.root_owned { Some((0, 0)) } else { None }),
        chmod: placement.chmod.clone(),
    };
    let map_base = base.clone();
    let map = move |name: &str| -> Option<String> {
        if is_dir {
            // A directory's own entry is never copied: its destination keeps its metadata when
            // it exists, and is created by the copy (owner and mode of the copy) otherwise.
            (!name.is_empty()).then(|| tarx::join_dest(&map_base, name))
        } else {
            Some(map_base.clone())
        }
    };
    let (upload, producer) = stream(engine, piece.content, map, overrides);
    let uploaded = engine.put_archive(container, "/", upload).await;
    match producer.finish(uploaded).await {
        Uploaded::Done(_) => Ok(()),
        Uploaded::Producer(e) => Err(UploadError::Step(StepError::Tar(e))),
        Uploaded::Worker(e) => Err(UploadError::Step(StepError::Worker(e))),
        Uploaded::Upload(e) => Err(UploadError::Engine(e)),
    }
}

/// Streams a piece's entries as one tar, each renamed by `map` (relative to the piece; the
/// piece's own root is named `""`) or left out when it maps to `None`, with `overrides`
/// applied; written on a blocking thread, and the [`Producer`] says how the writing ended.
pub fn stream<M>(
    engine: &Engine,
    content: PieceContent,
    map: M,
    overrides: Overrides,
) -> (ByteStream, Producer<(), TarError>)
where
    M: Fn(&str) -> Option<String> + Send + Sync + 'static,
{
    match content {
        PieceContent::Bytes(bytes) => pipe::spawn_producer(move |out| {
            tarx::rewrite_stream(bytes.as_slice(), out, &map, overrides.clone(), &[], &map)
        }),
        PieceContent::Container {
            container: source,
            path,
            keep,
            extra,
        } => {
            let download = engine.get_archive_stream(&source, &path);
            let reader = pipe::blocking_reader(download);
            pipe::spawn_producer(move |out| {
                // The extra entries replace input entries the filter drops: mapped unfiltered.
                let filtered = |name: &str| if keep(name) { map(name) } else { None };
                tarx::rewrite_stream(reader, out, &filtered, overrides.clone(), &extra, &map)
            })
        }
    }
}

/// Why an upload failed: the source (a step problem) or the engine.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Reading or rewriting the source failed.
    #[error(transparent)]
    Step(StepError),
    /// The engine refused the upload.
    #[error(transparent)]
    Engine(crate::engine::EngineError),
}
