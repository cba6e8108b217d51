//! Filling a volume before a RUN: a never-started holder container mounts the volume at
//! [`FILL_DIR`] and receives an archive through the Engine API (a bind source streamed from the
//! context or from a source container, or archive bytes).
//!
//! Input: a volume name and what to put in it.
//! Output: the volume filled.
//! Invariant: the holder is removed on every path; when a download from a source container
//! fails, its error is the one reported, not the upload it cut short.

use futures_util::TryStreamExt;

use super::bind_source::BindContent;
use crate::context::{DestState, Destination, TarOptions};
use crate::engine::{ContainerSpec, MountSpec};
use crate::error::{Result, StepError};
use crate::exec::ctx::{Ctx, HOLDER_ENTRYPOINT};
use crate::fs::pipe::{self, Uploaded};

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
            BindContent::Container { container, path } => {
                // A failed download ends the upload; the download's error is the one to report.
                let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
                let slot = failed.clone();
                let download = ctx.engine.get_archive_stream(&container, &path);
                let upload = download.map_err(move |e| {
                    let text = e.to_string();
                    if let Ok(mut slot) = slot.lock() {
                        slot.get_or_insert(e);
                    }
                    std::io::Error::other(text)
                });
                let uploaded = ctx
                    .engine
                    .put_archive(&holder, FILL_DIR, Box::pin(upload))
                    .await;
                if let Err(e) = uploaded {
                    let download_error = failed.lock().ok().and_then(|mut slot| slot.take());
                    return Err(download_error.unwrap_or(e).into());
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
