//! The engine client: the connection, and one method per Engine API request the runner makes.
//!
//! Input: an engine address.
//! Output: [`Engine`] (cheap to clone).
//! Invariant: top of the engine module: the methods delegate to the request modules
//! (`containers`, `files`, `images`, `volumes`, `housekeeping`), which know nothing of this
//! one.

use std::path::PathBuf;
use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use super::common::{EngineError, EngineResult, LogStream};
use super::containers::{self, ContainerListing, ContainerSpec};
use super::files::{self, ArchiveDownload, ArchiveUpload, PathStat};
use super::housekeeping::{self, Deletion, ImageListing, Storage};
use super::images::{self, HistoryItem, ImageInfo};
use super::volumes::{self, VolumeListing};
use crate::image_config::ImageConfig;

/// Seconds the client waits for response headers. Commits of big layers and uploads of big
/// archives only answer when done, so bollard's 120 s default is too short.
const REQUEST_TIMEOUT_SECS: u64 = 3600;

/// The default engine address.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connected, version-negotiated engine client. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

impl Engine {
    /// Connects to `url`, else `DOCKER_HOST`, else the local socket, and negotiates the API
    /// version. TCP uses TLS when `DOCKER_TLS_VERIFY` is set or the scheme is `https`; the
    /// certificates come from `DOCKER_CERT_PATH` (default `~/.docker`). Returns the address
    /// tried with the error.
    pub async fn connect(url: Option<&str>) -> std::result::Result<Engine, (String, EngineError)> {
        let host = url
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        match Self::connect_to(&host).await {
            Ok(engine) => Ok(engine),
            Err(e) => Err((host, e)),
        }
    }

    async fn connect_to(host: &str) -> EngineResult<Engine> {
        let op = "connect";
        let tls = host.starts_with("https://")
            || std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
        let docker = if host.starts_with("unix://") || host.starts_with('/') {
            let path = host.strip_prefix("unix://").unwrap_or(host);
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") || tls {
            if tls {
                let certs = cert_dir().map_err(|m| EngineError::protocol(op, m))?;
                let addr = host.replacen("https://", "tcp://", 1);
                Docker::connect_with_ssl(
                    &addr,
                    &certs.join("key.pem"),
                    &certs.join("cert.pem"),
                    &certs.join("ca.pem"),
                    REQUEST_TIMEOUT_SECS,
                    API_DEFAULT_VERSION,
                )
            } else {
                Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
            }
        } else {
            return Err(EngineError::protocol(
                op,
                "unsupported address; use unix:///path, tcp://host:port or https://host:port",
            ));
        }
        .map_err(|e| EngineError::api(op, e))?;
        let docker = docker
            .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .negotiate_version()
            .await
            .map_err(|e| EngineError::api("negotiate the API version", e))?;
        Ok(Engine {
            docker,
            host: host.to_string(),
        })
    }

    /// The address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The engine's own platform, `os/arch` (`GET /version`): the platform its images run on
    /// without emulation, which BuildKit takes as the build platform.
    pub async fn platform(&self) -> EngineResult<String> {
        let version = self
            .docker
            .version()
            .await
            .map_err(|e| EngineError::api("read the engine's version", e))?;
        let os = version.os.filter(|os| !os.is_empty());
        let arch = version.arch.filter(|arch| !arch.is_empty());
        match (os, arch) {
            (Some(os), Some(arch)) => Ok(format!("{os}/{arch}")),
            _ => Err(EngineError::protocol(
                "read the engine's version",
                "the engine did not say its Os and Arch",
            )),
        }
    }

    /// Whether the engine runs on this machine (a unix socket), so host paths are its paths.
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://") || self.host.starts_with('/')
    }
}

/// The TLS certificate directory: `DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_dir() -> std::result::Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".docker"))
        .ok_or_else(|| "TLS needs DOCKER_CERT_PATH (or HOME for ~/.docker)".to_string())
}

/// Requests of `containers.rs`.
impl Engine {
    /// Creates (never starts) a container; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        containers::create_container(&self.docker, spec).await
    }

    /// Starts a created container.
    pub async fn start_container(&self, id: &str) -> EngineResult<()> {
        containers::start_container(&self.docker, id).await
    }

    /// Follows a started container's stdout and stderr from the beginning.
    pub fn logs(&self, id: &str) -> LogStream {
        containers::logs(&self.docker, id)
    }

    /// Attaches to a created container's stdout and stderr before it starts (the way to read
    /// a container created with [`ContainerSpec::unlogged`]); the stream ends when it exits.
    pub async fn attach(&self, id: &str) -> EngineResult<LogStream> {
        containers::attach(&self.docker, id).await
    }

    /// Waits until a started container is no longer running; returns its exit code.
    pub async fn wait_container(&self, id: &str) -> EngineResult<i64> {
        containers::wait_container(&self.docker, id).await
    }

    /// Runs `argv` in a running container (an exec) and returns the exec id and its output
    /// stream; the stream ends when the process exits. With `stdin`, those bytes are the
    /// process's standard input (then closed); they travel over the API connection only and are
    /// never part of the exec's stored configuration.
    pub async fn exec(
        &self,
        id: &str,
        argv: &[String],
        env: &[String],
        working_dir: Option<&str>,
        user: Option<&str>,
        stdin: Option<&[u8]>,
    ) -> EngineResult<(String, LogStream)> {
        containers::exec(&self.docker, id, argv, env, working_dir, user, stdin).await
    }

    /// The exit code of an exec; `None` while its process runs.
    pub async fn exec_exit_code(&self, exec_id: &str) -> EngineResult<Option<i64>> {
        containers::exec_exit_code(&self.docker, exec_id).await
    }

    /// How many processes run in a container: on a local engine from the container's cgroup
    /// (a file read, where `docker top` runs `ps` on the host), else through the API.
    pub async fn process_count(&self, id: &str) -> EngineResult<usize> {
        containers::process_count(&self.docker, self.is_local(), id).await
    }

    /// Commits a container's filesystem as a new image with `config`; returns the id. Every
    /// field is sent explicitly, so the container's own config cannot leak in where the desired
    /// one has a value (the exact final config is written by [`Engine::load_config`]).
    pub async fn commit(
        &self,
        id: &str,
        config: &ImageConfig,
        comment: &str,
    ) -> EngineResult<String> {
        containers::commit(&self.docker, id, config, comment).await
    }

    /// Force-removes a container and its anonymous volumes; a missing container is fine.
    pub async fn remove_container(&self, id: &str) -> EngineResult<()> {
        containers::remove_container(&self.docker, id).await
    }

    /// Lists every container (running or not) whose name starts with `prefix`.
    pub async fn list_containers_by_prefix(
        &self,
        prefix: &str,
    ) -> EngineResult<Vec<ContainerListing>> {
        containers::list_containers_by_prefix(&self.docker, prefix).await
    }
}

/// Requests of `files.rs`.
impl Engine {
    /// Stats a path in a container; `None` when it does not exist.
    pub async fn stat_path(&self, id: &str, path: &str) -> EngineResult<Option<PathStat>> {
        files::stat_path(&self.docker, id, path).await
    }

    /// Streams `path` of a container as a tar archive. A missing path is an error whose
    /// [`EngineError::status`] is 404; stat first when that is expected.
    pub fn get_archive_stream(&self, id: &str, path: &str) -> ArchiveDownload {
        files::get_archive_stream(&self.docker, id, path)
    }

    /// Downloads `path` from a container as a whole tar archive (for small files); `None`
    /// when it does not exist.
    pub async fn get_archive(&self, id: &str, path: &str) -> EngineResult<Option<Vec<u8>>> {
        files::get_archive(&self.docker, id, path).await
    }

    /// Uploads a tar stream into directory `path` of a container (which must exist), refusing
    /// to replace a directory with a non-directory. The engine unpacks compressed archives
    /// (gzip, bzip2, xz) itself.
    pub async fn put_archive(&self, id: &str, path: &str, tar: ArchiveUpload) -> EngineResult<()> {
        files::put_archive(&self.docker, id, path, tar).await
    }

    /// Uploads a tar held in memory (small archives: directories, heredocs) into `path`.
    pub async fn put_archive_bytes(&self, id: &str, path: &str, tar: Vec<u8>) -> EngineResult<()> {
        files::put_archive_bytes(&self.docker, id, path, tar).await
    }
}

/// Requests of `images.rs`.
impl Engine {
    /// Inspects an image by id or reference; `None` when the engine does not have it.
    pub async fn inspect_image(&self, reference: &str) -> EngineResult<Option<ImageInfo>> {
        images::inspect_image(&self.docker, reference).await
    }

    /// Pulls an image, calling `progress` with each status line.
    pub async fn pull_image(
        &self,
        reference: &str,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> EngineResult<()> {
        images::pull_image(&self.docker, reference, progress).await
    }

    /// Streams the image as a `docker save` tar (manifest, config and layer tars).
    pub fn save_image_stream(&self, id: &str) -> ArchiveDownload {
        images::save_image_stream(&self.docker, id)
    }

    /// Loads a `docker save`-format tar and returns the id of the (single, untagged) image it
    /// holds. Layers the engine already has need not be in the tar.
    pub async fn load_image(&self, tar: Vec<u8>) -> EngineResult<String> {
        images::load_image(&self.docker, tar).await
    }

    /// The image's history, oldest first.
    pub async fn image_history(&self, id: &str) -> EngineResult<Vec<HistoryItem>> {
        images::image_history(&self.docker, id).await
    }

    /// Tags image `id` as `repo:tag`.
    pub async fn tag_image(&self, id: &str, repo: &str, tag: &str) -> EngineResult<()> {
        images::tag_image(&self.docker, id, repo, tag).await
    }

    /// Removes an image reference (a tag) without pruning untagged parents.
    pub async fn remove_image(&self, reference: &str) -> EngineResult<()> {
        images::remove_image(&self.docker, reference).await
    }
}

/// Requests of `volumes.rs`.
impl Engine {
    /// Creates a named local volume (an existing one is reused, with its own labels); returns
    /// the labels it has.
    pub async fn create_volume(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> EngineResult<std::collections::HashMap<String, String>> {
        volumes::create_volume(&self.docker, name, labels).await
    }

    /// The labels of a named volume; `None` when there is none.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> EngineResult<Option<std::collections::HashMap<String, String>>> {
        volumes::volume_labels(&self.docker, name).await
    }

    /// Removes a named volume; a missing one is fine.
    pub async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        volumes::remove_volume(&self.docker, name).await
    }

    /// The names of the volumes whose name starts with `prefix`.
    pub async fn list_volumes_by_prefix(&self, prefix: &str) -> EngineResult<Vec<String>> {
        volumes::list_volumes_by_prefix(&self.docker, prefix).await
    }
}

/// Requests of `housekeeping.rs`.
impl Engine {
    /// Every image (with untagged parents when `all`), or only those tagged in `repository`.
    pub async fn list_images(
        &self,
        repository: Option<&str>,
        all: bool,
    ) -> EngineResult<Vec<ImageListing>> {
        housekeeping::list_images(&self.docker, repository, all).await
    }

    /// Deletes an image reference without forcing, with the untagged parents it alone held.
    pub async fn delete_image(&self, reference: &str) -> EngineResult<Deletion> {
        housekeeping::delete_image(&self.docker, reference).await
    }

    /// The volumes whose name starts with `prefix`, with their creation times.
    pub async fn list_volumes_made(&self, prefix: &str) -> EngineResult<Vec<VolumeListing>> {
        volumes::list_volumes_made(&self.docker, prefix).await
    }

    /// Removes a volume unless a container uses it; whether it is gone.
    pub async fn remove_unused_volume(&self, name: &str) -> EngineResult<bool> {
        housekeeping::remove_unused_volume(&self.docker, name).await
    }

    /// The engine's storage driver and data directory (on its own host).
    pub async fn storage(&self) -> EngineResult<Storage> {
        housekeeping::storage(&self.docker).await
    }
}
