//! Images: inspect, pull, save, load, tag, untag.
//!
//! Input: image ids or references; for [`Engine::load_image`] a `docker save`-format tar.
//! Output: [`ImageInfo`], image ids, byte streams.
//! Invariant: a missing image is `None`, never an error; pulls report progress through a
//! callback and fail with the registry's message.

use bollard::body_full;
use bollard::query_parameters::{
    CreateImageOptions, ImportImageOptions, RemoveImageOptions, TagImageOptions,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use bollard::Docker;

use super::common::{is_not_found, EngineError, EngineResult};
use super::config;
use crate::image_config::ImageConfig;

/// What the runner reads from an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its config.
    pub config: ImageConfig,
    /// The digests of its uncompressed layers (`rootfs.diff_ids`), bottom first.
    pub diff_ids: Vec<String>,
    /// Total size in bytes.
    pub size: u64,
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture (`amd64`).
    pub architecture: String,
    /// Architecture variant (`v8`), empty when none.
    pub variant: String,
    /// Its tags (`repo:tag`).
    pub tags: Vec<String>,
}

/// One entry of an image's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// Unix seconds.
    pub created: i64,
    /// The command that made it.
    pub created_by: String,
    /// The comment.
    pub comment: String,
    /// The size of its layer (0 for an entry without one).
    pub size: u64,
}

/// Inspects an image by id or reference; `None` when the engine does not have it.
pub(super) async fn inspect_image(
    docker: &Docker,
    reference: &str,
) -> EngineResult<Option<ImageInfo>> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(Some(ImageInfo {
            id: image.id.unwrap_or_default(),
            config: {
                let mut config = image
                    .config
                    .map(config::from_image_config)
                    .unwrap_or_default();
                config.author = image.author.unwrap_or_default();
                config
            },
            diff_ids: image.root_fs.and_then(|r| r.layers).unwrap_or_default(),
            size: image.size.unwrap_or(0).max(0) as u64,
            os: image.os.unwrap_or_default(),
            architecture: image.architecture.unwrap_or_default(),
            variant: image.variant.unwrap_or_default(),
            tags: image.repo_tags.unwrap_or_default(),
        })),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(EngineError::api(format!("inspect image {reference}"), e)),
    }
}
/// Pulls an image, calling `progress` with each status line.
pub(super) async fn pull_image(
    docker: &Docker,
    reference: &str,
    progress: &mut (dyn FnMut(String) + Send),
) -> EngineResult<()> {
    let options = CreateImageOptions {
        from_image: Some(reference.to_string()),
        ..CreateImageOptions::default()
    };
    let op = format!("pull {reference}");
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| EngineError::api(op.clone(), e))?;
        if let Some(message) = info.error_detail.and_then(|d| d.message) {
            return Err(EngineError::protocol(op, message));
        }
        let status = info.status.unwrap_or_default();
        let id = info.id.unwrap_or_default();
        progress(format!("{id} {status}").trim().to_string());
    }
    Ok(())
}
/// Streams the image as a `docker save` tar (manifest, config and layer tars).
pub(super) fn save_image_stream(docker: &Docker, id: &str) -> super::files::ArchiveDownload {
    let op = format!("save image {id}");
    Box::pin(
        docker
            .export_image(id)
            .map_err(move |e| EngineError::api(op.clone(), e)),
    )
}
/// Loads a `docker save`-format tar and returns the id of the (single, untagged) image it
/// holds. Layers the engine already has need not be in the tar.
pub(super) async fn load_image(docker: &Docker, tar: Vec<u8>) -> EngineResult<String> {
    let op = "load an image config";
    let options = ImportImageOptions {
        quiet: true,
        platform: None,
    };
    let mut stream = docker.import_image(options, body_full(Bytes::from(tar)), None);
    let mut loaded = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| EngineError::api(op, e))?;
        let text = info.stream.unwrap_or_default();
        if let Some(id) = text.trim().strip_prefix("Loaded image ID: ") {
            loaded = Some(id.trim().to_string());
        }
    }
    loaded.ok_or_else(|| EngineError::protocol(op, "the engine did not report a loaded image id"))
}
/// The image's history, oldest first.
pub(super) async fn image_history(docker: &Docker, id: &str) -> EngineResult<Vec<HistoryItem>> {
    let items = docker
        .image_history(id)
        .await
        .map_err(|e| EngineError::api(format!("read the history of {id}"), e))?;
    Ok(items
        .into_iter()
        .rev()
        .map(|item| HistoryItem {
            created: item.created,
            created_by: item.created_by,
            comment: item.comment,
            size: item.size.max(0) as u64,
        })
        .collect())
}
/// Tags image `id` as `repo:tag`.
pub(super) async fn tag_image(
    docker: &Docker,
    id: &str,
    repo: &str,
    tag: &str,
) -> EngineResult<()> {
    let options = TagImageOptions {
        repo: Some(repo.to_string()),
        tag: Some(tag.to_string()),
    };
    docker
        .tag_image(id, Some(options))
        .await
        .map_err(|e| EngineError::api(format!("tag {repo}:{tag}"), e))
}
/// Removes an image reference (a tag) without pruning untagged parents.
pub(super) async fn remove_image(docker: &Docker, reference: &str) -> EngineResult<()> {
    let options = RemoveImageOptions {
        force: false,
        noprune: true,
        ..RemoveImageOptions::default()
    };
    match docker.remove_image(reference, Some(options), None).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(EngineError::api(format!("remove image {reference}"), e)),
    }
}
