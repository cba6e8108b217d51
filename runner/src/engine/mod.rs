//! The Docker engine, through bollard: the only module that names bollard.
//!
//! Input: an engine address (`--engine`, `DOCKER_HOST`, or the local socket) and typed requests.
//! Output: thin typed wrappers over the Engine API calls the runner needs (containers, archives,
//! images), returning the runner's own types and [`RunnerError`].
//! Invariant: no build logic lives here; every call is one Engine API request (or one stream).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use bollard::models::{
    ContainerConfig, ContainerCreateBody, HealthConfig, HostConfig, Mount, MountTmpfsOptions,
    MountType, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CommitContainerOptions, ContainerArchiveInfoOptions, CreateContainerOptions,
    CreateImageOptions, DownloadFromContainerOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, RemoveVolumeOptions, TagImageOptions,
    UploadToContainerOptions, WaitContainerOptions,
};
use bollard::{body_full, Docker, API_DEFAULT_VERSION};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use crate::error::{Result, RunnerError};
use crate::image_config::{Healthcheck, ImageConfig};

/// Seconds the client waits for response headers. Commits of big layers and uploads of big
/// archives only answer when done, so bollard's 120 s default is too short (RUNNER-NOTES P2).
const REQUEST_TIMEOUT_SECS: u64 = 3600;

/// The default engine address.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connected, version-negotiated engine client. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

/// What a container is created with.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// The container name (the reaper's prefix + pid + counter).
    pub name: String,
    /// The image id to start from; `None` for an empty filesystem (scratch).
    pub image: Option<String>,
    /// The full command, given as the entrypoint (Cmd stays unset, RUNNER-NOTES P5).
    pub entrypoint: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// Working directory; `None` for the image's.
    pub working_dir: Option<String>,
    /// User; `None` for the image's.
    pub user: Option<String>,
    /// Network mode (`none`, `host`, `default`); `None` for the engine default.
    pub network_mode: Option<String>,
    /// Extra mounts for the process (emulated `RUN --mount`).
    pub mounts: Vec<MountSpec>,
    /// Whether to run privileged (`RUN --security=insecure`).
    pub privileged: bool,
    /// Keep stdin open (without attaching), so a `read` in the process blocks forever.
    pub open_stdin: bool,
}

/// One mount of a RUN container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSpec {
    /// A host path bound into the container.
    Bind {
        /// The host path.
        source: String,
        /// The container path.
        target: String,
        /// Read-only.
        read_only: bool,
    },
    /// A named engine volume (persists between builds: cache mounts).
    Volume {
        /// The volume name.
        name: String,
        /// The container path.
        target: String,
        /// Read-only.
        read_only: bool,
    },
    /// An empty tmpfs.
    Tmpfs {
        /// The container path.
        target: String,
        /// Size limit in bytes, 0 for none.
        size: i64,
    },
}

/// What `HEAD /containers/{id}/archive` says about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits.
    pub mode: u32,
    /// For a symlink, its target resolved to an absolute path in the container.
    pub link_target: String,
}

impl PathStat {
    /// Whether the path is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }

    /// Whether the path is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode & (1 << 27) != 0
    }
}

/// A chunk of a running container's output.
#[derive(Debug, Clone)]
pub enum LogChunk {
    /// Standard output bytes.
    Stdout(Bytes),
    /// Standard error bytes.
    Stderr(Bytes),
}

/// What the runner reads from an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its config.
    pub config: ImageConfig,
    /// Number of filesystem layers.
    pub layers: usize,
    /// Total size in bytes.
    pub size: u64,
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture (`amd64`).
    pub architecture: String,
}

/// A container the engine lists.
#[derive(Debug, Clone)]
pub struct ContainerListing {
    /// Container id.
    pub id: String,
    /// Its names without the leading slash.
    pub names: Vec<String>,
}

impl Engine {
    /// Connects to `url`, else `DOCKER_HOST`, else the local socket, and negotiates the API
    /// version. TCP uses TLS when `DOCKER_TLS_VERIFY` is set or the scheme is `https`; the
    /// certificates come from `DOCKER_CERT_PATH` (default `~/.docker`).
    pub async fn connect(url: Option<&str>) -> Result<Engine> {
        let host = url
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let connect_err = |message: String| RunnerError::Connect {
            host: host.clone(),
            message,
        };
        let tls = host.starts_with("https://")
            || std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
        let docker = if host.starts_with("unix://") || host.starts_with('/') {
            let path = host.strip_prefix("unix://").unwrap_or(&host);
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") || tls {
            if tls {
                let certs = cert_dir().map_err(connect_err)?;
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
                Docker::connect_with_http(&host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
            }
        } else {
            return Err(connect_err(
                "unsupported address; use unix:///path, tcp://host:port or https://host:port"
                    .to_string(),
            ));
        }
        .map_err(|e| connect_err(e.to_string()))?;
        let docker = docker
            .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .negotiate_version()
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        Ok(Engine { docker, host })
    }

    /// The address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Creates (never starts) a container; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let mounts: Vec<Mount> = spec.mounts.iter().map(to_bollard_mount).collect();
        let host_config = HostConfig {
            network_mode: spec.network_mode.clone(),
            mounts: (!mounts.is_empty()).then_some(mounts),
            privileged: spec.privileged.then_some(true),
            ..HostConfig::default()
        };
        let body = ContainerCreateBody {
            image: spec.image.clone(),
            entrypoint: Some(spec.entrypoint.clone()),
            env: Some(spec.env.clone()),
            working_dir: spec.working_dir.clone(),
            user: spec.user.clone(),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: spec.open_stdin.then_some(true),
            host_config: Some(host_config),
            ..ContainerCreateBody::default()
        };
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            platform: String::new(),
        };
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| RunnerError::engine("create container", e))?;
        Ok(created.id)
    }

    /// Starts a created container.
    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| RunnerError::engine("start container", e))
    }

    /// Follows a started container's stdout and stderr from the beginning.
    pub fn logs(&self, id: &str) -> impl Stream<Item = Result<LogChunk>> + Send + 'static {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..LogsOptions::default()
        };
        self.docker
            .logs(id, Some(options))
            .filter_map(|item| std::future::ready(log_chunk(item)))
    }

    /// Waits until a started container is no longer running; returns its exit code.
    pub async fn wait_container(&self, id: &str) -> Result<i64> {
        let options = WaitContainerOptions {
            condition: "not-running".to_string(),
        };
        let mut stream = self.docker.wait_container(id, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(RunnerError::engine("wait for container", e)),
            None => Err(RunnerError::engine(
                "wait for container",
                "the engine closed the wait stream without an exit code",
            )),
        }
    }

    /// Runs `argv` in a running container (an exec) and returns the exec id and its output
    /// stream; the stream ends when the process exits.
    pub async fn exec(
        &self,
        id: &str,
        argv: &[String],
        env: &[String],
        working_dir: Option<&str>,
        user: Option<&str>,
    ) -> Result<(String, LogStream)> {
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv.to_vec()),
            env: Some(env.to_vec()),
            working_dir: working_dir.map(str::to_string),
            user: user.map(str::to_string),
            ..ExecConfig::default()
        };
        let created = self
            .docker
            .create_exec(id, config)
            .await
            .map_err(|e| RunnerError::engine("create exec", e))?;
        let started = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| RunnerError::engine("start exec", e))?;
        let StartExecResults::Attached { output, .. } = started else {
            return Err(RunnerError::engine(
                "start exec",
                "the engine detached the exec",
            ));
        };
        let stream = output.filter_map(|item| async { log_chunk(item) });
        Ok((created.id, Box::pin(stream)))
    }

    /// The exit code of a finished exec.
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        let inspected = self
            .docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| RunnerError::engine("inspect exec", e))?;
        match (inspected.running, inspected.exit_code) {
            (Some(true), _) | (_, None) => Err(RunnerError::engine(
                "inspect exec",
                "the process has no exit code yet",
            )),
            (_, Some(code)) => Ok(code),
        }
    }

    /// How many processes run in a container.
    pub async fn process_count(&self, id: &str) -> Result<usize> {
        let top = self
            .docker
            .top_processes(id, None::<bollard::query_parameters::TopOptions>)
            .await
            .map_err(|e| RunnerError::engine("list container processes", e))?;
        Ok(top.processes.map_or(0, |p| p.len()))
    }

    /// Commits a container's filesystem as a new image with exactly `config`; returns the id.
    /// Every field is sent explicitly so that the container's own config cannot leak in.
    pub async fn commit(&self, id: &str, config: &ImageConfig, comment: &str) -> Result<String> {
        let options = CommitContainerOptions {
            container: Some(id.to_string()),
            comment: Some(comment.to_string()),
            pause: false,
            ..CommitContainerOptions::default()
        };
        let committed = self
            .docker
            .commit_container(options, to_container_config(config))
            .await
            .map_err(|e| RunnerError::engine("commit", e))?;
        if committed.id.is_empty() {
            return Err(RunnerError::engine(
                "commit",
                "the engine returned no image id",
            ));
        }
        Ok(committed.id)
    }

    /// Force-removes a container and its anonymous volumes; a missing container is fine.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..RemoveContainerOptions::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(RunnerError::engine("remove container", e)),
        }
    }

    /// Lists every container (running or not) whose name starts with `prefix`.
    pub async fn list_containers_by_prefix(&self, prefix: &str) -> Result<Vec<ContainerListing>> {
        let mut filters = HashMap::new();
        filters.insert("name".to_string(), vec![format!("^/{prefix}")]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..ListContainersOptions::default()
        };
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| RunnerError::engine("list containers", e))?;
        Ok(listed
            .into_iter()
            .map(|c| ContainerListing {
                id: c.id.unwrap_or_default(),
                names: c
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .collect(),
            })
            .filter(|c| c.names.iter().any(|n| n.starts_with(prefix)))
            .collect())
    }

    /// Stats a path in a container; `None` when it does not exist.
    pub async fn stat_path(&self, id: &str, path: &str) -> Result<Option<PathStat>> {
        let options = ContainerArchiveInfoOptions {
            path: path.to_string(),
        };
        match self
            .docker
            .get_container_archive_info(id, Some(options))
            .await
        {
            Ok(stat) => Ok(Some(PathStat {
                name: stat.name,
                size: stat.size,
                mode: stat.file_mode,
                link_target: stat.link_target,
            })),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(RunnerError::engine(format!("stat {path}"), e)),
        }
    }

    /// Downloads `path` from a container as a tar archive; `None` when it does not exist.
    pub async fn get_archive(&self, id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let options = DownloadFromContainerOptions {
            path: path.to_string(),
        };
        let stream = self.docker.download_from_container(id, Some(options));
        let collected = stream
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await;
        match collected {
            Ok(bytes) => Ok(Some(bytes)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(RunnerError::engine(format!("download {path}"), e)),
        }
    }

    /// Uploads a tar archive at `/` of a container, refusing to replace a directory with a
    /// non-directory (RUNNER-NOTES P9).
    pub async fn put_archive(&self, id: &str, tar: Vec<u8>) -> Result<()> {
        let options = UploadToContainerOptions {
            path: "/".to_string(),
            no_overwrite_dir_non_dir: Some("true".to_string()),
            copy_uidgid: None,
        };
        self.docker
            .upload_to_container(id, Some(options), body_full(Bytes::from(tar)))
            .await
            .map_err(|e| RunnerError::engine("upload archive", e))
    }

    /// Uploads a tar archive into directory `path` of a container (which must exist there).
    /// The engine unpacks compressed archives (gzip, bzip2, xz) itself.
    pub async fn put_archive_at(&self, id: &str, path: &str, tar: Vec<u8>) -> Result<()> {
        let options = UploadToContainerOptions {
            path: path.to_string(),
            no_overwrite_dir_non_dir: Some("true".to_string()),
            copy_uidgid: None,
        };
        self.docker
            .upload_to_container(id, Some(options), body_full(Bytes::from(tar)))
            .await
            .map_err(|e| RunnerError::engine(format!("upload archive to {path}"), e))
    }

    /// Creates a named local volume (an existing one is reused).
    pub async fn create_volume(&self, name: &str) -> Result<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            ..VolumeCreateRequest::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(|e| RunnerError::engine(format!("create volume {name}"), e))
    }

    /// Removes a named volume; a missing one is fine.
    pub async fn remove_volume(&self, name: &str) -> Result<()> {
        match self
            .docker
            .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
            .await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(RunnerError::engine(format!("remove volume {name}"), e)),
        }
    }

    /// Inspects an image by id or reference; `None` when the engine does not have it.
    pub async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(Some(ImageInfo {
                id: image.id.unwrap_or_default(),
                config: image.config.map(from_image_config).unwrap_or_default(),
                layers: image
                    .root_fs
                    .and_then(|r| r.layers)
                    .map(|l| l.len())
                    .unwrap_or(0),
                size: image.size.unwrap_or(0).max(0) as u64,
                os: image.os.unwrap_or_default(),
                architecture: image.architecture.unwrap_or_default(),
            })),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(RunnerError::engine(format!("inspect image {reference}"), e)),
        }
    }

    /// Pulls an image, calling `progress` with each status line.
    pub async fn pull_image(
        &self,
        reference: &str,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<()> {
        let options = CreateImageOptions {
            from_image: Some(reference.to_string()),
            ..CreateImageOptions::default()
        };
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(message) = info.error_detail.and_then(|d| d.message) {
                        return Err(RunnerError::ImageUnavailable {
                            image: reference.to_string(),
                            message,
                        });
                    }
                    let status = info.status.unwrap_or_default();
                    let id = info.id.unwrap_or_default();
                    progress(format!("{id} {status}").trim().to_string());
                }
                Err(e) => {
                    return Err(RunnerError::ImageUnavailable {
                        image: reference.to_string(),
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }

    /// The image as a `docker save` tar (manifest and layer tars).
    pub async fn save_image(&self, id: &str) -> Result<Vec<u8>> {
        self.docker
            .export_image(id)
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .map_err(|e| RunnerError::engine(format!("save image {id}"), e))
    }

    /// Tags image `id` as `repo:tag`.
    pub async fn tag_image(&self, id: &str, repo: &str, tag: &str) -> Result<()> {
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        };
        self.docker
            .tag_image(id, Some(options))
            .await
            .map_err(|e| RunnerError::engine(format!("tag {repo}:{tag}"), e))
    }

    /// Removes an image reference (a tag) without pruning untagged parents.
    pub async fn remove_image(&self, reference: &str) -> Result<()> {
        let options = RemoveImageOptions {
            force: false,
            noprune: true,
            ..RemoveImageOptions::default()
        };
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(RunnerError::engine(format!("remove image {reference}"), e)),
        }
    }
}

/// A stream of a process's output.
pub type LogStream = std::pin::Pin<Box<dyn Stream<Item = Result<LogChunk>> + Send>>;

fn log_chunk(
    item: std::result::Result<bollard::container::LogOutput, bollard::errors::Error>,
) -> Option<Result<LogChunk>> {
    match item {
        Ok(bollard::container::LogOutput::StdOut { message })
        | Ok(bollard::container::LogOutput::Console { message }) => {
            Some(Ok(LogChunk::Stdout(message)))
        }
        Ok(bollard::container::LogOutput::StdErr { message }) => {
            Some(Ok(LogChunk::Stderr(message)))
        }
        Ok(bollard::container::LogOutput::StdIn { .. }) => None,
        Err(e) => Some(Err(RunnerError::engine("read output", e))),
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

fn to_bollard_mount(spec: &MountSpec) -> Mount {
    match spec {
        MountSpec::Bind {
            source,
            target,
            read_only,
        } => Mount {
            typ: Some(MountType::BIND),
            source: Some(source.clone()),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            ..Mount::default()
        },
        MountSpec::Volume {
            name,
            target,
            read_only,
        } => Mount {
            typ: Some(MountType::VOLUME),
            source: Some(name.clone()),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            ..Mount::default()
        },
        MountSpec::Tmpfs { target, size } => Mount {
            typ: Some(MountType::TMPFS),
            target: Some(target.clone()),
            tmpfs_options: (*size > 0).then(|| MountTmpfsOptions {
                size_bytes: Some(*size),
                ..MountTmpfsOptions::default()
            }),
            ..Mount::default()
        },
    }
}

/// The commit payload (RUNNER-NOTES P5). The engine fills every empty field from the
/// container, so the entrypoint is always sent (`[]` when unset: `null` would let the RUN
/// container's entrypoint leak in). Empty lists stay `null`: the container's own values for
/// them are the image's, which the desired config already contains.
fn to_container_config(config: &ImageConfig) -> ContainerConfig {
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

fn from_image_config(config: bollard::models::ImageConfig) -> ImageConfig {
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
    }
}
