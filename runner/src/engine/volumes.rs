//! Named volumes: create, remove, list by name prefix.
//!
//! Input: volume names.
//! Output: nothing but success, or the names found.
//! Invariant: creating an existing volume reuses it; removing a missing one is not an error.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use bollard::Docker;

use super::common::{is_not_found, EngineError, EngineResult};

/// Creates a named local volume (an existing one is reused).
pub(super) async fn create_volume(docker: &Docker, name: &str) -> EngineResult<()> {
    let request = VolumeCreateRequest {
        name: Some(name.to_string()),
        ..VolumeCreateRequest::default()
    };
    docker
        .create_volume(request)
        .await
        .map(|_| ())
        .map_err(|e| EngineError::api(format!("create volume {name}"), e))
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
    let mut filters = HashMap::new();
    filters.insert("name".to_string(), vec![prefix.to_string()]);
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
        .map(|v| v.name)
        .filter(|name| name.starts_with(prefix))
        .collect())
}
