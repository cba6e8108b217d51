//! Containers and execs: create, start, follow output, wait, exec (with optional stdin),
//! commit, remove, list.
//!
//! Input: a [`ContainerSpec`] or a container id.
//! Output: ids, exit codes, output streams.
//! Invariant: every call is one Engine API request; a missing container on removal is not an
//! error (removal is idempotent).

use std::collections::HashMap;

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ExecConfig, HostConfig, HostConfigLogConfig, Mount, MountType,
    MountVolumeOptions,
};
use bollard::query_parameters::{
    AttachContainerOptions, CommitContainerOptions, CreateContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use bollard::Docker;

use super::common::{is_not_found, EngineError, EngineResult, LogChunk, LogStream};
use super::config;
use crate::image_config::ImageConfig;

/// What a container is created with.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// The container name (chosen by the reaper).
    pub name: String,
    /// The image id to start from; `None` for an empty filesystem (scratch).
    pub image: Option<String>,
    /// The full command, given as the entrypoint (Cmd stays unset so that a commit cannot
    /// take it for the image's Cmd).
    pub entrypoint: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// Working directory; `None` for the image's.
    pub working_dir: Option<String>,
    /// User; `None` for the image's.
    pub user: Option<String>,
    /// The container's host name (`None`: the engine's default, the container id).
    pub hostname: Option<String>,
    /// Network mode (`none`, `host`, `default`); `None` for the engine default.
    pub network_mode: Option<String>,
    /// `host:ip` lines for its /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// Extra mounts for the process (emulated `RUN --mount`).
    pub mounts: Vec<MountSpec>,
    /// Whether to run privileged (`RUN --security=insecure`).
    pub privileged: bool,
    /// Keep stdin open (without attaching), so a `read` in the process blocks forever.
    pub open_stdin: bool,
    /// Created with the `none` log driver: the engine stores nothing the container's process
    /// writes (no log file under its data root), and its output can only be read by
    /// [`attach`]ing before the start. For a RUN that sees a secret.
    pub unlogged: bool,
}

/// One mount of a container.
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
    /// A named engine volume.
    Volume {
        /// The volume name.
        name: String,
        /// The container path.
        target: String,
        /// Read-only.
        read_only: bool,
    },
    /// An empty tmpfs (memory only: nothing written to it reaches the engine's disk).
    Tmpfs {
        /// The container path.
        target: String,
        /// Size limit in bytes, 0 for none.
        size: i64,
        /// Permission bits of its root directory, `None` for the engine's default (1777).
        mode: Option<u32>,
    },
}

/// A container the engine lists.
#[derive(Debug, Clone)]
pub struct ContainerListing {
    /// Container id.
    pub id: String,
    /// Its names without the leading slash.
    pub names: Vec<String>,
    /// Whether it is running.
    pub running: bool,
}

/// Creates (never starts) a container; returns its id.
pub(super) async fn create_container(
    docker: &Docker,
    spec: &ContainerSpec,
) -> EngineResult<String> {
    let mounts: Vec<Mount> = spec.mounts.iter().filter_map(to_bollard_mount).collect();
    let tmpfs: std::collections::HashMap<String, String> =
        spec.mounts.iter().filter_map(tmpfs_entry).collect();
    let host_config = HostConfig {
        network_mode: spec.network_mode.clone(),
        extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        privileged: spec.privileged.then_some(true),
        log_config: spec.unlogged.then(|| HostConfigLogConfig {
            typ: Some("none".to_string()),
            config: None,
        }),
        ..HostConfig::default()
    };
    let body = ContainerCreateBody {
        image: spec.image.clone(),
        entrypoint: Some(spec.entrypoint.clone()),
        env: Some(spec.env.clone()),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
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
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| EngineError::api("create container", e))?;
    Ok(created.id)
}
/// Starts a created container.
pub(super) async fn start_container(docker: &Docker, id: &str) -> EngineResult<()> {
    docker
        .start_container(id, None)
        .await
        .map_err(|e| EngineError::api("start container", e))
}
/// Follows a started container's stdout and stderr from the beginning.
pub(super) fn logs(docker: &Docker, id: &str) -> LogStream {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..LogsOptions::default()
    };
    Box::pin(
        docker
            .logs(id, Some(options))
            .filter_map(|item| std::future::ready(log_chunk(item))),
    )
}
/// Attaches to a created container's stdout and stderr, to be called before it starts: the
/// stream carries everything the process writes from its start and ends when it exits. The
/// output travels over the API connection only, so this reads a container created with
/// [`ContainerSpec::unlogged`], whose output the engine does not store.
pub(super) async fn attach(docker: &Docker, id: &str) -> EngineResult<LogStream> {
    let options = AttachContainerOptions {
        stream: true,
        stdout: true,
        stderr: true,
        ..AttachContainerOptions::default()
    };
    let attached = docker
        .attach_container(id, Some(options))
        .await
        .map_err(|e| EngineError::api("attach to container", e))?;
    // Nothing is written to the process's standard input.
    drop(attached.input);
    let stream = attached
        .output
        .filter_map(|item| std::future::ready(log_chunk(item)));
    Ok(Box::pin(stream))
}
/// Waits until a started container is no longer running; returns its exit code.
pub(super) async fn wait_container(docker: &Docker, id: &str) -> EngineResult<i64> {
    let options = WaitContainerOptions {
        condition: "not-running".to_string(),
    };
    let mut stream = docker.wait_container(id, Some(options));
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(EngineError::api("wait for container", e)),
        None => Err(EngineError::protocol(
            "wait for container",
            "the engine closed the wait stream without an exit code",
        )),
    }
}
/// Runs `argv` in a running container (an exec) and returns the exec id and its output
/// stream; the stream ends when the process exits. With `stdin`, those bytes are the
/// process's standard input (then closed); they travel over the API connection only and are
/// never part of the exec's stored configuration.
pub(super) async fn exec(
    docker: &Docker,
    id: &str,
    argv: &[String],
    env: &[String],
    working_dir: Option<&str>,
    user: Option<&str>,
    stdin: Option<&[u8]>,
) -> EngineResult<(String, LogStream)> {
    let config = ExecConfig {
        attach_stdin: Some(stdin.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(argv.to_vec()),
        env: Some(env.to_vec()),
        working_dir: working_dir.map(str::to_string),
        user: user.map(str::to_string),
        ..ExecConfig::default()
    };
    let created = docker
        .create_exec(id, config)
        .await
        .map_err(|e| EngineError::api("create exec", e))?;
    let started = docker
        .start_exec(&created.id, None::<StartExecOptions>)
        .await
        .map_err(|e| EngineError::api("start exec", e))?;
    let StartExecResults::Attached { output, mut input } = started else {
        return Err(EngineError::protocol(
            "start exec",
            "the engine detached the exec",
        ));
    };
    if let Some(bytes) = stdin {
        let written = async {
            input.write_all(bytes).await?;
            input.shutdown().await
        }
        .await;
        written
            .map_err(|e| EngineError::protocol("write an exec's standard input", e.to_string()))?;
    }
    drop(input);
    let stream = output.filter_map(|item| async { log_chunk(item) });
    Ok((created.id, Box::pin(stream)))
}
/// The exit code of an exec; `None` while its process runs.
pub(super) async fn exec_exit_code(docker: &Docker, exec_id: &str) -> EngineResult<Option<i64>> {
    let inspected = docker
        .inspect_exec(exec_id)
        .await
        .map_err(|e| EngineError::api("inspect exec", e))?;
    match (inspected.running, inspected.exit_code) {
        (Some(true), _) | (_, None) => Ok(None),
        (_, Some(code)) => Ok(Some(code)),
    }
}
/// How many processes run in a container: on a local engine from the container's cgroup
/// (a file read, where `docker top` runs `ps` on the host), else through the API.
pub(super) async fn process_count(docker: &Docker, local: bool, id: &str) -> EngineResult<usize> {
    if local {
        if let Some(count) = cgroup_process_count(id) {
            return Ok(count);
        }
    }
    process_count_by_top(docker, id).await
}
async fn process_count_by_top(docker: &Docker, id: &str) -> EngineResult<usize> {
    let top = docker
        .top_processes(id, None::<bollard::query_parameters::TopOptions>)
        .await
        .map_err(|e| EngineError::api("list container processes", e))?;
    Ok(top.processes.map_or(0, |p| p.len()))
}
/// Commits a container's filesystem as a new image with `config`; returns the id. Every
/// field is sent explicitly, so the container's own config cannot leak in where the desired
/// one has a value (the exact final config is written by [`Engine::load_config`]).
pub(super) async fn commit(
    docker: &Docker,
    id: &str,
    config: &ImageConfig,
    comment: &str,
) -> EngineResult<String> {
    let options = CommitContainerOptions {
        container: Some(id.to_string()),
        comment: Some(comment.to_string()),
        pause: false,
        ..CommitContainerOptions::default()
    };
    let committed = docker
        .commit_container(options, config::to_container_config(config))
        .await
        .map_err(|e| EngineError::api("commit", e))?;
    if committed.id.is_empty() {
        return Err(EngineError::protocol(
            "commit",
            "the engine returned no image id",
        ));
    }
    Ok(committed.id)
}
/// Force-removes a container and its anonymous volumes; a missing container is fine.
pub(super) async fn remove_container(docker: &Docker, id: &str) -> EngineResult<()> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..RemoveContainerOptions::default()
    };
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        // 409 "removal already in progress": another removal of the same container.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(EngineError::api("remove container", e)),
    }
}
/// Lists every container (running or not) whose name starts with `prefix`.
pub(super) async fn list_containers_by_prefix(
    docker: &Docker,
    prefix: &str,
) -> EngineResult<Vec<ContainerListing>> {
    let mut filters = HashMap::new();
    filters.insert("name".to_string(), vec![format!("^/{prefix}")]);
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..ListContainersOptions::default()
    };
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| EngineError::api("list containers", e))?;
    Ok(listed
        .into_iter()
        .map(|c| ContainerListing {
            id: c.id.unwrap_or_default(),
            running: c
                .state
                .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING),
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

/// The number of processes in a container's cgroup, read from the host's cgroup file system
/// (cgroup v1 with the cgroupfs or systemd driver, or cgroup v2); `None` when no such file is
/// visible (another mount namespace, an unknown layout).
fn cgroup_process_count(id: &str) -> Option<usize> {
    let candidates = [
        format!("/sys/fs/cgroup/pids/docker/{id}/cgroup.procs"),
        format!("/sys/fs/cgroup/pids/system.slice/docker-{id}.scope/cgroup.procs"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cgroup.procs"),
        format!("/sys/fs/cgroup/docker/{id}/cgroup.procs"),
    ];
    candidates.iter().find_map(|path| {
        std::fs::read_to_string(path)
            .ok()
            .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count())
    })
}

fn log_chunk(
    item: std::result::Result<bollard::container::LogOutput, bollard::errors::Error>,
) -> Option<EngineResult<LogChunk>> {
    match item {
        Ok(bollard::container::LogOutput::StdOut { message })
        | Ok(bollard::container::LogOutput::Console { message }) => {
            Some(Ok(LogChunk::Stdout(message)))
        }
        Ok(bollard::container::LogOutput::StdErr { message }) => {
            Some(Ok(LogChunk::Stderr(message)))
        }
        Ok(bollard::container::LogOutput::StdIn { .. }) => None,
        Err(e) => Some(Err(EngineError::api("read output", e))),
    }
}

/// A bind or volume mount as the engine's `Mounts` take it (a tmpfs goes to [`tmpfs_entry`]).
fn to_bollard_mount(spec: &MountSpec) -> Option<Mount> {
    Some(match spec {
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
            // Never copy the image's files at the target into the volume (a cache mount and a
            // bind source show only their own content).
            volume_options: Some(MountVolumeOptions {
                no_copy: Some(true),
                ..MountVolumeOptions::default()
            }),
            ..Mount::default()
        },
        MountSpec::Tmpfs { .. } => return None,
    })
}

/// A tmpfs as the engine's `Tmpfs` map takes it (target to mount options). Mounted as BuildKit
/// mounts a RUN's tmpfs, `rw,nosuid` with exec and devices allowed: the `Mounts` form would add
/// `noexec,nodev`, and a script or device node made there would fail.
fn tmpfs_entry(spec: &MountSpec) -> Option<(String, String)> {
    let MountSpec::Tmpfs { target, size, mode } = spec else {
        return None;
    };
    let mut options = vec!["exec".to_string(), "dev".to_string()];
    if *size > 0 {
        options.push(format!("size={size}"));
    }
    if let Some(mode) = mode {
        options.push(format!("mode={mode:o}"));
    }
    Some((target.clone(), options.join(",")))
}
