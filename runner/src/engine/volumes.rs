//! Named volumes: create, remove, list by name prefix (with creation times and labels).
//!
//! Input: volume names.
//! Output: nothing but success, or the names found.
//! Invariant: creating an existing volume reuses it; removing a missing one is not an error.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use bollard::Docker;

use super::common::{is_not_found, EngineError, EngineResult};

/// Creates a named local volume with `labels` (an existing one is reused, and keeps its own
/// labels); returns the labels the volume has.
pub(super) async fn create_volume(
    docker: &Docker,
    name: &str,
    labels: &[(&str, &str)],
) -> EngineResult<HashMap<String, String>> {
    let request = VolumeCreateRequest {
        name: Some(name.to_string()),
        labels: (!labels.is_empty()).then(|| {
            labels
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect()
        }),
        ..VolumeCreateRequest::default()
    };
    docker
        .create_volume(request)
        .await
        .map(|volume| volume.labels)
        .map_err(|e| EngineError::api(format!("create volume {name}"), e))
}

/// The labels of a named volume; `None` when there is no such volume.
pub(super) async fn volume_labels(
    docker: &Docker,
    name: &str,
) -> EngineResult<Option<HashMap<String, String>>> {
    match docker.inspect_volume(name).await {
        Ok(volume) => Ok(Some(volume.labels)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(EngineError::api(format!("inspect volume {name}"), e)),
    }
}
/// Removes a named volume; a missing one is fine.
pub(super) async fn remove_volume(docker: &Docker, name: &str) -> EngineResult<()> {
    match docker
        .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(EngineError::api(format!("remove volume {name}"), e)),
    }
}
/// The names of the volumes whose name starts with `prefix`.
pub(super) async fn list_volumes_by_prefix(
    docker: &Docker,
    prefix: &str,
) -> EngineResult<Vec<String>> {
    let listed = list_volumes_made(docker, prefix).await?;
    Ok(listed.into_iter().map(|volume| volume.name).collect())
}

/// One volume of a listing.
#[derive(Debug, Clone)]
pub struct VolumeListing {
    /// Its name.
    pub name: String,
    /// When it was made, when the engine says.
    pub created: Option<std::time::SystemTime>,
    /// Its labels.
    pub labels: HashMap<String, String>,
}

/// The volumes whose name starts with `prefix`, with their creation times and labels.
pub(super) async fn list_volumes_made(
    docker: &Docker,
    prefix: &str,
) -> EngineResult<Vec<VolumeListing>> {
    let filters = HashMap::from([("name".to_string(), vec![prefix.to_string()])]);
    let listed = docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| EngineError::api("list volumes", e))?;
    Ok(listed
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter(|volume| volume.name.starts_with(prefix))
        .map(|volume| VolumeListing {
            created: volume
                .created_at
                .as_deref()
                .and_then(|text| humantime::parse_rfc3339_weak(text).ok()),
            name: volume.name,
            labels: volume.labels,
        })
        .collect())
}
