//! Resolved `RUN --mount`s turned into what the RUN container is created with: temporary volumes
//! filled with bind sources (or, for a single file, a read-only bind of a host copy), cache
//! volumes created with their owner and mode, tmpfs, secrets placed in memory, and a `#!`
//! heredoc's script mounted at [`PIPES_DIR`]; and their removal.
//!
//! Input: the [`Mounts`] of one RUN (and its `#!` script, if any).
//! Output: [`Prepared`]: the container's mounts, the secrets to write through the running
//! container or expose as environment variables, the file mount points to remove before the
//! commit, and what to clean up.
//! Invariant: every temporary volume and host file is recorded in [`Prepared`] as it is made and
//! removed by [`release`] (by [`prepare`] itself when it fails); a secret never touches the
//! engine's disk.

use std::path::PathBuf;

use super::bind_source::BindContent;
use super::fill::{fill_volume, fill_volume_bytes, FILL_DIR};
use super::resolve::{Mounts, Resolved, Secret, SshAgent};
use super::ssh::{self, Proxy};
use crate::containers::cache_volumes::{ready_marker, CACHE_FILLER_LABEL, READY_FOR_LABEL};
use crate::engine::MountSpec;
use crate::error::{Result, StepError};
use crate::exec::ctx::{reap_error, Ctx};
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar as tarx;
use crate::steps::piece;

/// Where a `#!` heredoc's script is mounted (BuildKit's path).
pub const PIPES_DIR: &str = "/dev/pipes";

/// Where secrets live on a local engine's host: memory.
const SECRET_HOST_DIR: &str = "/dev/shm";

/// What a RUN container is created with for its mounts, and what to clean up after it.
#[derive(Default)]
pub struct Prepared {
    /// Mounts for the container.
    pub mounts: Vec<MountSpec>,
    /// Secrets that must be written through the running container (remote engine), and those
    /// exposed as environment variables.
    pub secrets_in_container: Vec<Secret>,
    /// Secret environment variables (`NAME=value`), given to the process only.
    pub secret_env: Vec<String>,
    /// Single-file binds on a remote engine (which cannot bind a file of the runner's host):
    /// written into the running container before the RUN and removed before the commit.
    pub files_in_container: Vec<PlacedFile>,
    /// File targets the engine creates as empty mount points; removed before the commit.
    pub file_targets: Vec<String>,
    /// Whether the RUN has a secret mount (file or environment variable): its output may show
    /// the secret, so the engine must not store it (see [`Prepared::holds_secrets`]).
    has_secret: bool,
    volumes: Vec<String>,
    host_files: Vec<PathBuf>,
    /// The `--ssh` agents' sockets served to the RUN (stopped when dropped).
    ssh_proxies: Vec<Proxy>,
}

impl Prepared {
    /// Whether the RUN has temporary volumes (removed by [`release`], after its container).
    pub fn has_temporary_volumes(&self) -> bool {
        !self.volumes.is_empty()
    }

    /// Binds host file `host` at `target`, read-only unless `read_only` is false (an empty
    /// mount point the RUN leaves behind is removed later). A socket bound read-only still
    /// takes connections.
    fn bind_file(&mut self, host: &std::path::Path, target: String, read_only: bool) {
        self.file_targets.push(target.clone());
        self.mounts.push(MountSpec::Bind {
            source: host.to_string_lossy().into_owned(),
            target,
            read_only,
        });
    }

    /// Whether the RUN must run as an exec in a started container (secrets written through it,
    /// or secret environment variables, which must never be part of a container's stored
    /// config).
    pub fn needs_exec(&self) -> bool {
        !self.secrets_in_container.is_empty()
            || !self.secret_env.is_empty()
            || !self.files_in_container.is_empty()
    }

    /// Whether the RUN sees a secret, so that what it prints may hold one: its container is
    /// created with no log (the engine's log file is on its disk) and its output read by attach.
    pub fn holds_secrets(&self) -> bool {
        self.has_secret
    }
}

/// A single-file bind mount placed into the RUN's container on a remote engine: the file's
/// content, mode, owner and modification time, at `target` (absolute).
pub struct PlacedFile {
    /// Where the RUN sees the file.
    pub target: String,
    /// The file's content.
    pub content: Vec<u8>,
    /// Permission and special bits.
    pub mode: u32,
    /// Owner uid and gid.
    pub owner: (u64, u64),
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// Prepares the container mounts of a RUN: fills temporary volumes, creates cache volumes,
/// places secrets, and mounts a `#!` heredoc `script` (name, body) as an executable file at
/// [`PIPES_DIR`]; notes (waiting for another build's cache fill) go to `stage`'s progress. On
/// failure everything made so far is removed.
pub async fn prepare(
    ctx: &Ctx,
    stage: &str,
    mounts: Mounts,
    script: Option<&(String, String)>,
) -> Result<std::result::Result<Prepared, StepError>> {
    let mut prepared = Prepared::default();
    let mut result = prepare_into(ctx, stage, mounts, &mut prepared).await;
    if let (Ok(Ok(())), Some((name, body))) = (&result, script) {
        result = match tarx::files(&[(name.clone(), body.as_bytes().to_vec(), 0o755)], (0, 0)) {
            Ok(archive) => {
                let volume = ctx.create_volume().await?;
                prepared.volumes.push(volume.clone());
                fill_volume_bytes(ctx, &volume, FILL_DIR, archive).await?;
                prepared.mounts.push(MountSpec::Volume {
                    name: volume,
                    target: PIPES_DIR.to_string(),
                    read_only: true,
                });
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(StepError::Tar(e))),
        };
    }
    match result {
        Ok(Ok(())) => Ok(Ok(prepared)),
        other => {
            release(ctx, prepared).await;
            other.map(|inner| inner.map(|_| Prepared::default()))
        }
    }
}

async fn prepare_into(
    ctx: &Ctx,
    stage: &str,
    mounts: Mounts,
    prepared: &mut Prepared,
) -> Result<std::result::Result<(), StepError>> {
    for mount in mounts.mounts {
        match mount {
            Resolved::Bind {
                target,
                read_only,
                is_file,
                content,
            } => {
                if is_file {
                    if !ctx.engine.is_local() {
                        // A remote engine cannot bind a file of this host: the file is written
                        // into the RUN's container and removed before the commit.
                        let (content, shown) = match file_source(ctx, content).await? {
                            Ok(found) => found,
                            Err(e) => return Ok(Err(e)),
                        };
                        prepared.files_in_container.push(PlacedFile {
                            target,
                            content,
                            mode: shown.as_ref().map_or(0o644, |shown| shown.mode),
                            owner: shown
                                .as_ref()
                                .and_then(|shown| shown.owner)
                                .unwrap_or((0, 0)),
                            mtime: shown
                                .as_ref()
                                .and_then(|shown| {
                                    shown.mtime.duration_since(std::time::UNIX_EPOCH).ok()
                                })
                                .map_or(0, |since| since.as_secs()),
                        });
                        continue;
                    }
                    let host = match host_copy(ctx, content, prepared).await? {
                        Ok(host) => host,
                        Err(e) => return Ok(Err(e)),
                    };
                    // The copy is the RUN's own: with `rw` it takes the writes, which go
                    // when it is removed, as BuildKit discards a writable bind's writes.
                    prepared.bind_file(&host, target, read_only);
                    continue;
                }
                let volume = ctx.create_volume().await?;
                prepared.volumes.push(volume.clone());
                if let Err(e) = fill_volume(ctx, &volume, content).await? {
                    return Ok(Err(e));
                }
                prepared.mounts.push(MountSpec::Volume {
                    name: volume,
                    target,
                    read_only,
                });
            }
            Resolved::Cache {
                target,
                volume,
                read_only,
                locked: _,
                private: _,
                owner,
                mode,
                seed,
                labels,
            } => {
                let lock = ctx.cache_volume_lock(&volume);
                let _filling = lock.lock().await;
                if ctx.cache_mount_needs_emptying(&volume).await {
                    // The marker goes first: a cache volume without it is never used as is.
                    let marker = ready_marker(&volume);
                    let was_ready = ctx.engine.volume_labels(&marker).await?.is_some();
                    ctx.engine.remove_volume(&marker).await?;
                    match ctx.engine.remove_volume(&volume).await {
                        Ok(()) => {}
                        // Another build (or a container left by one) uses the cache now: it
                        // cannot be emptied, and the build goes on with its content. A cache
                        // that was not ready is another build's fill, waited for below.
                        Err(e) if e.status() == Some(409) => {
                            if was_ready {
                                mark_ready(ctx, &volume).await?;
                            }
                            crate::progress::stderr_line(format_args!(
                                "warning: --no-cache: the cache mount at {target} is in use by another container, so it keeps its content"
                            ))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                let labels: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(key, value)| (*key, value.as_str()))
                    .collect();
                let fill = CacheFill {
                    volume: &volume,
                    target: &target,
                    labels: &labels,
                    seed,
                    owner,
                    mode,
                };
                if let Err(e) = ensure_cache_volume(ctx, stage, fill).await? {
                    return Ok(Err(e));
                }
                prepared.mounts.push(MountSpec::Volume {
                    name: volume,
                    target,
                    read_only,
                });
            }
            Resolved::Tmpfs { target, size } => {
                prepared.mounts.push(MountSpec::Tmpfs {
                    target,
                    size,
                    mode: None,
                });
            }
            Resolved::Secret(secret) => {
                prepared.has_secret = true;
                if let Some(name) = &secret.env {
                    prepared.secret_env.push(format!(
                        "{name}={}",
                        String::from_utf8_lossy(&secret.content)
                    ));
                }
                let Some(target) = secret.target.clone() else {
                    continue;
                };
                if ctx.engine.is_local() {
                    let path = match secret_host_file(ctx, &secret, prepared) {
                        Ok(path) => path,
                        Err(e) => return Ok(Err(e)),
                    };
                    prepared.bind_file(&path, target, true);
                } else {
                    // Written into the container's own /dev/shm (memory) through the running
                    // container, with a symbolic link at the target: a tmpfs at the target's
                    // directory would hide what the image has there and take the RUN's writes.
                    prepared.secrets_in_container.push(secret);
                }
            }
            Resolved::Ssh(agent) => {
                if let Err(e) = ssh_socket(ctx, agent, prepared) {
                    return Ok(Err(e));
                }
            }
        }
    }
    Ok(Ok(()))
}

/// How long a build waits for another runner to finish filling a cache volume.
const FILL_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

async fn mark_ready(ctx: &Ctx, volume: &str) -> Result<()> {
    ctx.engine
        .create_volume(&ready_marker(volume), &[(READY_FOR_LABEL, volume)])
        .await?;
    Ok(())
}

/// A cache volume to have filled before a RUN mounts it.
struct CacheFill<'a> {
    volume: &'a str,
    target: &'a str,
    labels: &'a [(&'a str, &'a str)],
    /// The `from=` content it starts as (else an empty root with `owner` and `mode`).
    seed: Option<BindContent>,
    owner: (u64, u64),
    mode: u32,
}

/// Makes sure cache volume `fill.volume` exists and is completely filled: used as it is when
/// its ready marker exists; made and filled when it does not exist (by the first runner to
/// create it: the engine keeps the first creator's labels); waited for while another live
/// runner fills it; removed and filled again when the runner that filled it died before it was
/// ready; taken as it is when it predates the markers (no filler label).
async fn ensure_cache_volume(
    ctx: &Ctx,
    stage: &str,
    fill: CacheFill<'_>,
) -> Result<std::result::Result<(), StepError>> {
    let CacheFill {
        volume,
        target,
        labels,
        mut seed,
        owner,
        mode,
    } = fill;
    // Named like this runner's objects, so that a later runner can prove it dead.
    let me = format!("{}cache", ctx.reaper.prefix());
    let marker = ready_marker(volume);
    let deadline = std::time::Instant::now() + FILL_WAIT;
    let mut waiting_noted = false;
    loop {
        let names = ctx.engine.list_volumes_by_prefix(volume).await?;
        let (exists, ready) = (names.iter().any(|n| n == volume), names.contains(&marker));
        if exists && ready {
            return Ok(Ok(()));
        }
        if !exists {
            if ready {
                ctx.engine.remove_volume(&marker).await?;
            }
            let mut with_filler = labels.to_vec();
            with_filler.push((CACHE_FILLER_LABEL, &me));
            let found = ctx
                .reaper
                .create_lasting_volume(volume, &with_filler)
                .await
                .map_err(reap_error)?;
            if found.get(CACHE_FILLER_LABEL) != Some(&me) {
                // Another runner created it first: it is that runner's to fill (and never
                // this one's to remove).
                ctx.reaper.keep_volume(volume);
                continue;
            }
            // Removed again unless it is filled: a later build must not find it without its
            // owner, mode and content.
            if let Some(content) = seed.take() {
                // `from=`: the cache starts as the source directory, root included.
                if let Err(e) = fill_volume(ctx, volume, content).await? {
                    return Ok(Err(e));
                }
            } else if let Err(e) = fill_owned_root(ctx, volume, owner, mode).await? {
                return Ok(Err(e));
            }
            mark_ready(ctx, volume).await?;
            ctx.reaper.keep_volume(volume);
            return Ok(Ok(()));
        }
        let filler = ctx
            .engine
            .volume_labels(volume)
            .await?
            .and_then(|labels| labels.get(CACHE_FILLER_LABEL).cloned());
        let stale = match &filler {
            // Made by a runner from before ready markers, which removed a volume it could not
            // fill unless it was killed: its content is kept (a user's caches survive the
            // upgrade) and vouched for from now on.
            None => {
                mark_ready(ctx, volume).await?;
                return Ok(Ok(()));
            }
            // Made by this runner in a step that failed: filled again.
            Some(filler) if *filler == me => true,
            Some(filler) => ctx.reaper.proves_dead(filler),
        };
        if stale {
            match ctx.engine.remove_volume(volume).await {
                Ok(()) => continue,
                // Still mounted by the dead filler's holder (no RUN mounts a cache before it is
                // ready): the dead runners' containers are removed, and the removal is tried
                // again after the pause below.
                Err(e) if e.status() == Some(409) => {
                    ctx.reaper.sweep_dead().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if std::time::Instant::now() > deadline {
            return Ok(Err(StepError::Invalid(format!(
                "the cache mount at {target} (volume {volume}) has been filled by another build ({}) for {} minutes; if that build is gone, remove the volume: docker volume rm {volume}",
                filler.unwrap_or_default(),
                FILL_WAIT.as_secs() / 60
            ))));
        }
        if !waiting_noted {
            ctx.progress.note(
                stage,
                &format!("waiting for another build to fill the cache mount at {target}"),
            );
            waiting_noted = true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Makes a new cache volume's root an empty directory owned and moded as asked: the directory
/// entry of the fill holder's mount point sets the volume's root (the engine skips an archive's
/// own `.` entry).
async fn fill_owned_root(
    ctx: &Ctx,
    volume: &str,
    owner: (u64, u64),
    mode: u32,
) -> Result<std::result::Result<(), StepError>> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(mode);
    header.set_uid(owner.0);
    header.set_gid(owner.1);
    header.set_size(0);
    let mut builder = tar::Builder::new(Vec::new());
    let name = format!("{}/", FILL_DIR.trim_start_matches('/'));
    let root = builder
        .append_data(&mut header, name, std::io::empty())
        .and_then(|_| builder.into_inner());
    match root {
        Ok(archive) => {
            fill_volume_bytes(ctx, volume, "/", archive).await?;
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(StepError::Tar(tarx::TarError::Write(e)))),
    }
}

/// Serves an `--ssh` agent to the RUN: a socket of the runner's own in the host's temporary
/// directory, bound at the mount's target (local engine only: a remote engine cannot reach it).
fn ssh_socket(
    ctx: &Ctx,
    agent: SshAgent,
    prepared: &mut Prepared,
) -> std::result::Result<(), StepError> {
    if !ctx.engine.is_local() {
        return Err(StepError::Invalid(format!(
            "RUN --mount=type=ssh (id \"{}\") needs a local engine: the agent's socket cannot reach a remote one; fetch with a secret there instead",
            agent.id
        )));
    }
    let path = ctx.reaper.host_file(&std::env::temp_dir());
    prepared.host_files.push(path.clone());
    let proxy = ssh::serve(&path, &agent.socket, agent.mode, agent.owner).map_err(|e| {
        StepError::Invalid(format!(
            "ssh \"{}\": cannot make a socket for the RUN at {}: {e}",
            agent.id,
            path.display()
        ))
    })?;
    prepared.ssh_proxies.push(proxy);
    prepared.bind_file(&path, agent.target, true);
    Ok(())
}

/// Writes a secret into a memory-backed host file (mode and owner as asked) for a bind mount.
fn secret_host_file(
    ctx: &Ctx,
    secret: &Secret,
    prepared: &mut Prepared,
) -> std::result::Result<PathBuf, StepError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = ctx.reaper.host_file(std::path::Path::new(SECRET_HOST_DIR));
    let fail = |e: std::io::Error| {
        StepError::Invalid(format!(
            "secret \"{}\": cannot place it in {SECRET_HOST_DIR} (memory): {e}",
            secret.id
        ))
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(fail)?;
    prepared.host_files.push(path.clone());
    std::io::Write::write_all(&mut file, &secret.content).map_err(fail)?;
    drop(file);
    std::os::unix::fs::chown(
        &path,
        Some(secret.owner.0 as u32),
        Some(secret.owner.1 as u32),
    )
    .map_err(fail)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(secret.mode)).map_err(fail)?;
    Ok(path)
}

/// What a single-file bind shows of its source besides the content: BuildKit binds the file
/// itself, so its mode, owner (root for a context file) and modification time are seen.
struct FileShown {
    mode: u32,
    /// `None`: left as written (the runner's own user; root for a runner run as root, which is
    /// what a context file shows).
    owner: Option<(u64, u64)>,
    mtime: std::time::SystemTime,
}

/// Copies a single-file bind source to a temporary host file, with the source's mode, owner
/// and modification time.
async fn host_copy(
    ctx: &Ctx,
    content: BindContent,
    prepared: &mut Prepared,
) -> Result<std::result::Result<PathBuf, StepError>> {
    let path = ctx.reaper.host_file(&std::env::temp_dir());
    prepared.host_files.push(path.clone());
    let (bytes, shown) = match file_source(ctx, content).await? {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = write_shown(&path, &bytes, shown.as_ref()) {
        return Ok(Err(StepError::Invalid(format!(
            "cannot write {}: {e}",
            path.display()
        ))));
    }
    Ok(Ok(path))
}

/// The content of a single-file bind source and what the RUN sees of it besides (`None` for
/// nothing: an empty file).
async fn file_source(
    ctx: &Ctx,
    content: BindContent,
) -> Result<std::result::Result<(Vec<u8>, Option<FileShown>), StepError>> {
    Ok(Ok(match content {
        BindContent::Context(set) => match set.entries.first() {
            Some(entry) => {
                let read = std::fs::read(&entry.path).and_then(|bytes| {
                    let meta = std::fs::metadata(&entry.path)?;
                    Ok((bytes, meta))
                });
                match read {
                    Ok((bytes, meta)) => {
                        use std::os::unix::fs::PermissionsExt;
                        let shown = FileShown {
                            mode: meta.permissions().mode() & 0o7777,
                            owner: None,
                            mtime: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                        };
                        (bytes, Some(shown))
                    }
                    Err(e) => {
                        return Ok(Err(StepError::Invalid(format!(
                            "cannot read {}: {e}",
                            entry.path.display()
                        ))))
                    }
                }
            }
            None => (Vec::new(), None),
        },
        BindContent::Image(piece) => {
            let (bytes, producer) = piece::stream(
                &ctx.engine,
                piece.content,
                |name: &str| Some(name.to_string()),
                tarx::Overrides::default(),
            );
            let mut reader = pipe::blocking_reader(bytes);
            let read = tokio::task::spawn_blocking(move || {
                let mut archive = Vec::new();
                std::io::Read::read_to_end(&mut reader, &mut archive).map(|_| archive)
            })
            .await;
            match (read, producer.finish(Ok::<(), std::io::Error>(())).await) {
                (_, Uploaded::Producer(e)) => return Ok(Err(StepError::Tar(e))),
                (_, Uploaded::Worker(e)) | (Err(e), _) => return Ok(Err(StepError::Worker(e))),
                (Ok(Err(e)), _) => return Ok(Err(StepError::Tar(tarx::TarError::Read(e)))),
                (Ok(Ok(archive)), _) => match tarx::first_file_entry(&archive).ok().flatten() {
                    Some(file) => {
                        let shown = FileShown {
                            mode: file.mode,
                            owner: Some(file.owner),
                            mtime: std::time::UNIX_EPOCH
                                + std::time::Duration::from_secs(file.mtime),
                        };
                        (file.data, Some(shown))
                    }
                    None => (Vec::new(), None),
                },
            }
        }
        BindContent::Empty => (Vec::new(), None),
    }))
}

/// Writes `bytes` to `path` and gives it what `shown` says: the modification time while the
/// file is open, then the owner (a chown clears the setuid and setgid bits) and the mode. An
/// owner the runner's user cannot give is left as it is (a runner not run as root owns its
/// copies).
fn write_shown(
    path: &std::path::Path,
    bytes: &[u8],
    shown: Option<&FileShown>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::File::create(path)?;
    std::io::Write::write_all(&mut file, bytes)?;
    let Some(shown) = shown else {
        return Ok(());
    };
    file.set_modified(shown.mtime)?;
    drop(file);
    if let Some((uid, gid)) = shown.owner {
        let _ = std::os::unix::fs::chown(path, Some(uid as u32), Some(gid as u32));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(shown.mode))
}

/// Removes the temporary volumes and host files of a RUN.
pub async fn release(ctx: &Ctx, prepared: Prepared) {
    for volume in &prepared.volumes {
        let _ = ctx.reaper.remove_volume(volume).await;
    }
    for path in &prepared.host_files {
        ctx.reaper.remove_host_file(path);
    }
}
