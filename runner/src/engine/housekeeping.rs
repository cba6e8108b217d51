//! Requests of the cache's housekeeping (`runner prune`, and the images a `--no-cache` build
//! replaces): image listings, image deletion that also deletes the untagged parents it frees,
//! the removal of a volume no container uses, and where the engine stores its layers.
//!
//! Input: repository names, image references, volume name prefixes.
//! Output: [`ImageListing`]s, [`Deletion`]s, [`Storage`].
//! Invariant: a deletion never forces: an image that a container uses, that another tag names
//! or that has child images is left in place (the engine's 409 is [`Deletion::Refused`], not an
//! error); a missing image or volume is not an error.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bollard::query_parameters::{ListImagesOptions, RemoveImageOptions};
use bollard::Docker;

use super::common::{is_not_found, EngineError, EngineResult};

/// One image of a listing.
#[derive(Debug, Clone)]
pub struct ImageListing {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its parent's id, empty when it has none (a loaded or imported image).
    pub parent: String,
    /// Its tags (`repo:tag`).
    pub tags: Vec<String>,
    /// When it was made.
    pub created: SystemTime,
    /// Its size with its parents' layers.
    pub size: u64,
    /// Its config's labels.
    pub labels: HashMap<String, String>,
}

/// What deleting an image reference did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// The reference was removed; `deleted` lists the image ids that went with it (the image
    /// and the untagged parents it alone held), empty when the image stays for another tag or
    /// a child image.
    Done {
        /// The deleted image ids.
        deleted: Vec<String>,
    },
    /// The engine refused (a container uses the image, or it is named by id and still needed).
    Refused(String),
    /// The reference did not exist.
    Missing,
}

fn unix_time(seconds: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64)
}

/// Every image (with the untagged parents when `all`), or only those with a tag in
/// `repository`.
pub(super) async fn list_images(
    docker: &Docker,
    repository: Option<&str>,
    all: bool,
) -> EngineResult<Vec<ImageListing>> {
    let filters = repository
        .map(|repository| HashMap::from([("reference".to_string(), vec![repository.to_string()])]));
    let options = ListImagesOptions {
        all,
        filters,
        ..ListImagesOptions::default()
    };
    let listed = docker
        .list_images(Some(options))
        .await
        .map_err(|e| EngineError::api("list images", e))?;
    Ok(listed
        .into_iter()
        .map(|image| ImageListing {
            id: image.id,
            parent: image.parent_id,
            tags: image
                .repo_tags
                .into_iter()
                .filter(|tag| tag != "<none>:<none>")
                .collect(),
            created: unix_time(image.created),
            size: image.size.max(0) as u64,
            labels: image.labels,
        })
        .collect())
}

/// Deletes an image reference (a tag or an id) without forcing, and with it the untagged
/// parents nothing else holds.
pub(super) async fn delete_image(docker: &Docker, reference: &str) -> EngineResult<Deletion> {
    let options = RemoveImageOptions {
        force: false,
        noprune: false,
        ..RemoveImageOptions::default()
    };
    match docker.remove_image(reference, Some(options), None).await {
        Ok(items) => Ok(Deletion::Done {
            deleted: items.into_iter().filter_map(|item| item.deleted).collect(),
        }),
        Err(e) if is_not_found(&e) => Ok(Deletion::Missing),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) => Ok(Deletion::Refused(message)),
        Err(e) => Err(EngineError::api(format!("delete image {reference}"), e)),
    }
}

/// Removes a volume unless a container uses it; returns whether it was removed (a missing
/// volume counts as removed).
pub(super) async fn remove_unused_volume(docker: &Docker, name: &str) -> EngineResult<bool> {
    match docker
        .remove_volume(
            name,
            Some(bollard::query_parameters::RemoveVolumeOptions { force: false }),
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(false),
        Err(e) => Err(EngineError::api(format!("remove volume {name}"), e)),
    }
}

/// Where and how the engine stores image layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// The storage driver (`overlay2`).
    pub driver: String,
    /// The engine's data directory on its host (`/var/lib/docker`).
    pub root: std::path::PathBuf,
}

/// The engine's storage driver and data directory.
pub(super) async fn storage(docker: &Docker) -> EngineResult<Storage> {
    let info = docker
        .info()
        .await
        .map_err(|e| EngineError::api("read the engine's information", e))?;
    Ok(Storage {
        driver: info.driver.unwrap_or_default(),
        root: info.docker_root_dir.unwrap_or_default().into(),
    })
}
