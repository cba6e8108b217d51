//! Conversions between the runner's [`ImageConfig`] and bollard's config models.
//!
//! Input: an [`ImageConfig`] (to commit) or bollard's image config (from an inspect).
//! Output: the other representation.
//! Invariant: lists and maps are sorted where the engine does not keep an order, so two
//! inspects of the same image give equal configs.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerConfig, HealthConfig};

use crate::image_config::{Healthcheck, ImageConfig};

/// The commit payload. The engine fills every field left empty from the container's own
/// config, so every field is sent: the entrypoint as `[]` when unset (`null` would let the
/// container's dummy entrypoint leak in). The exact final config of a target is written
/// separately, by loading it (see the runner's final-image step).
pub(super) fn to_container_config(config: &ImageConfig) -> ContainerConfig {
    let labels: HashMap<String, String> = config.labels.clone().into_iter().collect();
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    ContainerConfig {
        user: Some(config.user.clone()),
        exposed_ports: non_empty(&config.exposed_ports),
        env: Some(config.env.clone()),
        cmd: config.cmd.clone(),
        healthcheck: config.healthcheck.as_ref().map(to_health_config),
        args_escaped: config.args_escaped.then_some(true),
        volumes: non_empty(&config.volumes),
        working_dir: Some(config.working_dir.clone()),
        entrypoint: Some(config.entrypoint.clone().unwrap_or_default()),
        on_build: non_empty(&config.on_build),
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: (!config.stop_signal.is_empty()).then(|| config.stop_signal.clone()),
        shell: non_empty(&config.shell),
        ..ContainerConfig::default()
    }
}

fn to_health_config(health: &Healthcheck) -> HealthConfig {
    HealthConfig {
        test: Some(health.test.clone()),
        interval: Some(health.interval),
        timeout: Some(health.timeout),
        retries: Some(health.retries),
        start_period: Some(health.start_period),
        start_interval: Some(health.start_interval),
    }
}

/// The runner's view of an inspected image's config (empty lists and unset values alike are
/// empty: BuildKit writes neither, so they are the same to a build).
pub(super) fn from_image_config(config: bollard::models::ImageConfig) -> ImageConfig {
    let labels: BTreeMap<String, String> = config.labels.unwrap_or_default().into_iter().collect();
    let mut exposed_ports = config.exposed_ports.unwrap_or_default();
    exposed_ports.sort();
    let mut volumes = config.volumes.unwrap_or_default();
    volumes.sort();
    ImageConfig {
        env: config.env.unwrap_or_default(),
        cmd: config.cmd.filter(|c| !c.is_empty()),
        entrypoint: config.entrypoint.filter(|e| !e.is_empty()),
        working_dir: config.working_dir.unwrap_or_default(),
        user: config.user.unwrap_or_default(),
        exposed_ports,
        labels,
        stop_signal: config.stop_signal.unwrap_or_default(),
        volumes,
        shell: config.shell.unwrap_or_default(),
        healthcheck: config.healthcheck.map(|h| Healthcheck {
            test: h.test.unwrap_or_default(),
            interval: h.interval.unwrap_or(0),
            timeout: h.timeout.unwrap_or(0),
            start_period: h.start_period.unwrap_or(0),
            start_interval: h.start_interval.unwrap_or(0),
            retries: h.retries.unwrap_or(0),
        }),
        on_build: config.on_build.unwrap_or_default(),
        args_escaped: config.args_escaped.unwrap_or(false),
        author: String::new(),
    }
}
