//! Filling a volume before a RUN: a never-started holder container mounts the volume at
//! [`FILL_DIR`] and receives an archive through the Engine API (a bind source streamed from the
//! context or from a source container, or archive bytes).
//!
//! Input: a volume name and what to put in it.
//! Output: the volume filled.
//! Invariant: the holder is removed on every path; a directory from a source container keeps its
//! own owner, mode and time as the volume's root (as a BuildKit mount of it shows them); when its
//! download fails, that error is the one reported, not the upload it cut short.

use super::bind_source::BindContent;
use crate::context::{DestState, Destination, TarOptions};
use crate::engine::{ContainerSpec, MountSpec};
use crate::error::{Result, StepError};
use crate::exec::ctx::{Ctx, HOLDER_ENTRYPOINT};
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar as tarx;
use crate::steps::piece;

/// Where a fill holder mounts the volume it fills.
pub(super) const FILL_DIR: &str = "/stageplan-fill";

/// Fills a temporary volume with a bind source (through a never-started holder).
pub(super) async fn fill_volume(
    ctx: &Ctx,
    volume: &str,
    content: BindContent,
) -> Result<std::result::Result<(), StepError>> {
    let holder = fill_holder(ctx, volume).await?;
    let result = async {
        match content {
            BindContent::Context(set) => {
                let destination = Destination {
                    path: format!("{FILL_DIR}/"),
                    state: DestState::Directory,
                };
                let context = ctx.context.clone();
                let (upload, producer) = pipe::spawn_producer(move |out| {
                    context.write_tar(&set, &destination, &TarOptions::default(), out)
                });
                let uploaded = ctx.engine.put_archive(&holder, "/", upload).await;
                match producer.finish(uploaded).await {
                    Uploaded::Done(_) => {}
                    Uploaded::Producer(e) => return Ok(Err(StepError::Context(e))),
                    Uploaded::Worker(e) => return Ok(Err(StepError::Worker(e))),
                    Uploaded::Upload(e) => return Err(e.into()),
                }
            }
            BindContent::Image(piece) => {
                // The entries are renamed under the holder's mount point and uploaded at `/`:
                // the source directory's own entry then sets the volume's root (owner, mode,
                // time), which the engine skips in an archive uploaded into the directory
                // itself. A failed download fails the rewrite with its error.
                let under_fill = |name: &str| Some(tarx::join_dest(FILL_DIR, name));
                let (upload, producer) = piece::stream(
                    &ctx.engine,
                    piece.content,
                    under_fill,
                    tarx::Overrides::default(),
                );
                let uploaded = ctx.engine.put_archive(&holder, "/", upload).await;
                match producer.finish(uploaded).await {
                    Uploaded::Done(()) => {}
                    Uploaded::Producer(e) => return Ok(Err(StepError::Tar(e))),
                    Uploaded::Worker(e) => return Ok(Err(StepError::Worker(e))),
                    Uploaded::Upload(e) => return Err(e.into()),
                }
            }
            BindContent::Empty => {}
        }
        Ok(Ok(()))
    }
    .await;
    ctx.reaper.remove(&holder).await;
    result
}

/// Uploads `archive` at `path` of a fill holder of `volume` (mounted at [`FILL_DIR`]).
pub(super) async fn fill_volume_bytes(
    ctx: &Ctx,
    volume: &str,
    path: &str,
    archive: Vec<u8>,
) -> Result<()> {
    let holder = fill_holder(ctx, volume).await?;
    let uploaded = ctx.engine.put_archive_bytes(&holder, path, archive).await;
    ctx.reaper.remove(&holder).await;
    uploaded.map_err(Into::into)
}

async fn fill_holder(ctx: &Ctx, volume: &str) -> Result<String> {
    ctx.create_container(ContainerSpec {
        image: None,
        entrypoint: vec![HOLDER_ENTRYPOINT.to_string()],
        network_mode: Some("none".to_string()),
        mounts: vec![MountSpec::Volume {
            name: volume.to_string(),
            target: FILL_DIR.to_string(),
            read_only: false,
        }],
        ..ContainerSpec::default()
    })
    .await
}
