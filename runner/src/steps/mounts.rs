//! `RUN --mount`: each mount resolved (options expanded with the stage's variables), keyed, and
//! turned into what the RUN container is created with.
//!
//! Input: the RUN's `--mount` options, the stage state, `--secret` files.
//! Output: [`Mounts`]: the cache-key parts, and after [`prepare`] the container mounts plus
//! what to clean up.
//! `bind` = a temporary volume filled with the source (context, stage or image), or for a file
//! source a read-only bind of a temporary host copy (local engine); `cache` = a named volume
//! `stageplan-cache-<hash of id>` kept between builds, created with its `uid`/`gid`/`mode`
//! (removed again when the build fails or stops before it is filled; emptied once by a
//! `--no-cache` build); `tmpfs` = tmpfs (with `size`); `secret` = a
//! file in memory: on a local engine a host file under `/dev/shm` (memory, never the engine's
//! disk) bound read-only, on a remote engine a tmpfs the file is written into through the
//! running container; mode 0400 and owner 0:0 unless `mode`/`uid`/`gid` say otherwise, or an
//! environment variable with `env=`.
//! Invariant: a mount's content never enters a commit: volumes, tmpfs and binds are outside
//! the container's writable layer, and the empty files a file mount leaves are removed before
//! the commit; every temporary volume and host file is removed on every path.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_util::TryStreamExt;
use planner::plan::{Mount, Source};
use sha2::{Digest, Sha256};

use crate::context::{CopySources, DestState, Destination, SourceSet, TarOptions};
use crate::engine::{ContainerSpec, MountSpec};
use crate::error::{Result, StepError};
use crate::exec::container_fs;
use crate::exec::ctx::{reap_error, Ctx, HOLDER_ENTRYPOINT};
use crate::exec::stage_state::StageState;
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar as tarx;

/// The name prefix of the named volumes behind `RUN --mount=type=cache`, kept between builds.
pub const CACHE_VOLUME_PREFIX: &str = "stageplan-cache-";

/// Where a fill holder mounts the volume it fills.
const FILL_DIR: &str = "/stageplan-fill";

/// Where a `#!` heredoc's script is mounted (BuildKit's path).
pub const PIPES_DIR: &str = "/dev/pipes";

/// Where secrets live on a local engine's host: memory.
const SECRET_HOST_DIR: &str = "/dev/shm";

/// The mounts of one RUN, resolved.
pub struct Mounts {
    /// What of the mounts the step's cache key covers (BuildKit's: no secret or cache
    /// contents, bind sources by content).
    pub key_parts: Vec<String>,
    mounts: Vec<Resolved>,
}

enum BindContent {
    Context(SourceSet),
    Container { container: String, path: String },
    Empty,
}

enum Resolved {
    Bind {
        target: String,
        read_only: bool,
        is_file: bool,
        content: BindContent,
    },
    Cache {
        target: String,
        volume: String,
        read_only: bool,
        owner: (u64, u64),
        mode: u32,
    },
    Tmpfs {
        target: String,
        size: i64,
    },
    Secret(Secret),
}

/// One secret of a RUN.
pub struct Secret {
    /// The secret's id.
    pub id: String,
    /// Its content (never written to the engine's disk).
    pub content: Vec<u8>,
    /// The file it is mounted as, or `None` when it is only an environment variable.
    pub target: Option<String>,
    /// The environment variable it is exposed as (`env=`).
    pub env: Option<String>,
    /// File mode.
    pub mode: u32,
    /// File owner.
    pub owner: (u64, u64),
}

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
    /// File targets the engine creates as empty mount points; removed before the commit.
    pub file_targets: Vec<String>,
    volumes: Vec<String>,
    host_files: Vec<PathBuf>,
}

impl Prepared {
    /// Whether the RUN has temporary volumes (removed by [`release`], after its container).
    pub fn has_temporary_volumes(&self) -> bool {
        !self.volumes.is_empty()
    }

    /// Binds host file `host` read-only at `target` (an empty mount point the RUN leaves
    /// behind is removed later).
    fn bind_file(&mut self, host: &std::path::Path, target: String) {
        self.file_targets.push(target.clone());
        self.mounts.push(MountSpec::Bind {
            source: host.to_string_lossy().into_owned(),
            target,
            read_only: true,
        });
    }

    /// Whether the RUN must run as an exec in a started container (secrets written through it,
    /// or secret environment variables, which must never be part of a container's stored
    /// config).
    pub fn needs_exec(&self) -> bool {
        !self.secrets_in_container.is_empty() || !self.secret_env.is_empty()
    }
}

/// Resolves a RUN's mounts (expanding their options) and computes their key parts.
pub async fn resolve(
    ctx: &Ctx,
    state: &StageState,
    specs: &[Mount],
) -> Result<std::result::Result<Mounts, StepError>> {
    let vars = state.lookup_vars();
    let mut mounts = Mounts {
        key_parts: Vec::new(),
        mounts: Vec::new(),
    };
    for spec in specs {
        let mut options: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &spec.options {
            match ctx.expand(value, &vars) {
                Ok(value) => {
                    options.insert(name.clone(), value);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        let mount_type = match ctx.expand(&spec.mount_type, &vars) {
            Ok(t) => t.to_ascii_lowercase(),
            Err(e) => return Ok(Err(e)),
        };
        let target = match spec
            .target
            .as_deref()
            .map(|t| ctx.expand(t, &vars))
            .transpose()
        {
            Ok(t) => t.map(|t| container_fs::absolute(&state.config.working_dir, &t)),
            Err(e) => return Ok(Err(e)),
        };
        let source = match spec
            .source
            .as_deref()
            .map(|s| ctx.expand(s, &vars))
            .transpose()
        {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let flag = |name: &str| options.get(name).is_some_and(|v| v != "false");
        let number =
            |name: &str, default: u64, radix: u32| -> std::result::Result<u64, StepError> {
                match options.get(name) {
                    None => Ok(default),
                    Some(text) => u64::from_str_radix(text, radix).map_err(|_| {
                        StepError::Invalid(format!(
                            "--mount={mount_type}: {name}={text} is not a number"
                        ))
                    }),
                }
            };
        let resolved = match mount_type.as_str() {
            "bind" => {
                let Some(target) = target else {
                    return Ok(Err(needs_target("bind")));
                };
                let read_only = !(flag("rw") || flag("readwrite"));
                let source = source.unwrap_or_else(|| "/".to_string());
                let (content, is_file, digest) =
                    match bind_content(ctx, state, spec.from.as_ref(), &source).await? {
                        Ok(found) => found,
                        Err(e) => return Ok(Err(e)),
                    };
                mounts.key_parts.push(format!(
                    "bind\0{target}\0{read_only}\0{source}\0{digest}"
                ));
                Resolved::Bind {
                    target,
                    read_only,
                    is_file,
                    content,
                }
            }
            "cache" => {
                let Some(target) = target else {
                    return Ok(Err(needs_target("cache")));
                };
                if spec.from.is_some() {
                    return Ok(Err(StepError::Invalid(
                        "--mount=type=cache,from=... is not supported by the runner; drop from= (the cache starts empty)".to_string(),
                    )));
                }
                let id = options.get("id").cloned().unwrap_or_else(|| target.clone());
                let uid = match number("uid", 0, 10) {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
                let gid = match number("gid", 0, 10) {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
                let mode = match number("mode", 0o755, 8) {
                    Ok(n) => n as u32,
                    Err(e) => return Ok(Err(e)),
                };
                let read_only = flag("ro") || flag("readonly");
                let digest = hex::encode(Sha256::digest(
                    format!("{id}\0{uid}\0{gid}\0{mode:o}").as_bytes(),
                ));
                mounts.key_parts.push(format!(
                    "cache\0{target}\0{id}\0{uid}\0{gid}\0{mode:o}\0{read_only}"
                ));
                Resolved::Cache {
                    target,
                    volume: format!("{CACHE_VOLUME_PREFIX}{}", &digest[..16]),
                    read_only,
                    owner: (uid, gid),
                    mode,
                }
            }
            "tmpfs" => {
                let Some(target) = target else {
                    return Ok(Err(needs_target("tmpfs")));
                };
                let size = match options.get("size").map(|s| parse_size(s)).transpose() {
                    Ok(size) => size.unwrap_or(0),
                    Err(e) => return Ok(Err(e)),
                };
                mounts.key_parts.push(format!("tmpfs\0{target}\0{size}"));
                Resolved::Tmpfs { target, size }
            }
            "secret" => {
                let env = options.get("env").cloned();
                let id = options.get("id").cloned().or_else(|| {
                    target
                        .as_deref()
                        .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
                });
                let Some(id) = id else {
                    return Ok(Err(StepError::Invalid(
                        "a secret mount needs id= or target=".to_string(),
                    )));
                };
                let target = match (&target, &env) {
                    (Some(t), _) => Some(t.clone()),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!("/run/secrets/{id}")),
                };
                let mode = match number("mode", 0o400, 8) {
                    Ok(n) => n as u32,
                    Err(e) => return Ok(Err(e)),
                };
                let uid = match number("uid", 0, 10) {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
                let gid = match number("gid", 0, 10) {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
                let required = flag("required");
                mounts.key_parts.push(format!(
                    "secret\0{id}\0{}\0{}\0{mode:o}\0{uid}\0{gid}",
                    target.as_deref().unwrap_or(""),
                    env.as_deref().unwrap_or("")
                ));
                let Some(path) = ctx.options.secrets.get(&id) else {
                    if required {
                        return Ok(Err(StepError::Invalid(format!(
                            "secret \"{id}\" is required; pass --secret id={id},src=FILE"
                        ))));
                    }
                    continue;
                };
                let content = match std::fs::read(path) {
                    Ok(content) => content,
                    Err(e) => {
                        return Ok(Err(StepError::Invalid(format!(
                            "secret \"{id}\": cannot read {}: {e}",
                            path.display()
                        ))))
                    }
                };
                Resolved::Secret(Secret {
                    id,
                    content,
                    target,
                    env,
                    mode,
                    owner: (uid, gid),
                })
            }
            "ssh" => {
                return Ok(Err(StepError::Invalid(
                    "RUN --mount=type=ssh is not supported by the runner; fetch what needs the SSH agent in an earlier build step or use a secret".to_string(),
                )))
            }
            other => {
                return Ok(Err(StepError::Invalid(format!(
                    "unknown --mount type {other:?} (use bind, cache, tmpfs or secret)"
                ))))
            }
        };
        mounts.mounts.push(resolved);
    }
    Ok(Ok(mounts))
}

fn needs_target(kind: &str) -> StepError {
    StepError::Invalid(format!("a {kind} mount needs target="))
}

/// A tmpfs `size=`: bytes, or with a k/m/g suffix (binary units, as BuildKit reads it).
fn parse_size(text: &str) -> std::result::Result<i64, StepError> {
    let lower = text.to_ascii_lowercase();
    let (digits, scale) = match lower.trim_end_matches('b').chars().last() {
        Some('k') => (&lower[..lower.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (lower.trim_end_matches('b'), 1),
    };
    digits
        .parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0)
        .map(|n| (n * scale as f64) as i64)
        .ok_or_else(|| StepError::Invalid(format!("--mount=type=tmpfs: size={text} is not a size")))
}

/// What a bind mount shows, whether it is a single file, and a digest of it for the key.
async fn bind_content(
    ctx: &Ctx,
    state: &StageState,
    from: Option<&Source>,
    source: &str,
) -> Result<std::result::Result<(BindContent, bool, String), StepError>> {
    let image = match from {
        None => {
            let context = ctx.context.clone();
            let request = CopySources {
                sources: vec![source.to_string()],
                excludes: Vec::new(),
                parents: false,
            };
            let found = tokio::task::spawn_blocking(move || {
                let set = context.resolve(&request)?;
                let digest = context.digest(&set)?;
                Ok::<_, crate::context::ContextError>((set, digest))
            })
            .await;
            return Ok(match found {
                Ok(Ok((set, digest))) => {
                    let is_file = set.n_roots() == 1 && !set.has_dir_root();
                    Ok((BindContent::Context(set), is_file, digest))
                }
                Ok(Err(e)) => Err(StepError::Context(e)),
                Err(e) => Err(StepError::Worker(e)),
            });
        }
        Some(Source::Stage { stage }) => match state.deps.get(stage) {
            Some(dep) => dep.image.clone(),
            None => {
                return Ok(Err(StepError::Invalid(format!(
                    "the mount uses stage {stage}, which the plan does not list among this stage's dependencies"
                ))))
            }
        },
        Some(Source::Image { image }) => Some(ctx.ensure_image(&state.name, image).await?.id),
        Some(Source::Scratch) => None,
    };
    let Some(image) = image else {
        return Ok(Ok((BindContent::Empty, false, "empty".to_string())));
    };
    let holder = ctx.source_holder(&image).await?;
    let path = format!("/{}", tarx::join_dest(source, ""));
    let Some(stat) = ctx.engine.stat_path(&holder, &path).await? else {
        return Ok(Err(StepError::Invalid(format!(
            "bind source {source:?} does not exist in the source image"
        ))));
    };
    let is_file = !stat.is_dir();
    let fetch = if is_file {
        path.clone()
    } else {
        format!("{}/.", path.trim_end_matches('/'))
    };
    // The key covers the content of the source path only, not the rest of the stage.
    let download = ctx.engine.get_archive_stream(&holder, &fetch);
    let reader = pipe::blocking_reader(download);
    let digest = tokio::task::spawn_blocking(move || tarx::content_digest(reader)).await;
    let digest = match digest {
        Ok(Ok(digest)) => digest,
        Ok(Err(e)) => return Ok(Err(StepError::Tar(e))),
        Err(e) => return Ok(Err(StepError::Worker(e))),
    };
    Ok(Ok((
        BindContent::Container {
            container: holder,
            path: fetch,
        },
        is_file,
        digest,
    )))
}

/// Prepares the container mounts of a RUN: fills temporary volumes, creates cache volumes,
/// places secrets, and mounts a `#!` heredoc `script` (name, body) as an executable file at
/// [`PIPES_DIR`]. On failure everything made so far is removed.
pub async fn prepare(
    ctx: &Ctx,
    mounts: Mounts,
    script: Option<&(String, String)>,
) -> Result<std::result::Result<Prepared, StepError>> {
    let mut prepared = Prepared::default();
    let mut result = prepare_into(ctx, mounts, &mut prepared).await;
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
                        return Ok(Err(StepError::Invalid(format!(
                            "a bind mount of a single file ({target}) needs a local engine; mount its directory instead"
                        ))));
                    }
                    let host = match host_copy(ctx, content, prepared).await? {
                        Ok(host) => host,
                        Err(e) => return Ok(Err(e)),
                    };
                    prepared.bind_file(&host, target);
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
                owner,
                mode,
            } => {
                if ctx.cache_mount_needs_emptying(&volume).await {
                    ctx.engine.remove_volume(&volume).await?;
                }
                let exists = ctx
                    .engine
                    .list_volumes_by_prefix(&volume)
                    .await?
                    .contains(&volume);
                if !exists {
                    // Removed again unless it is filled: a later build must not find it
                    // without its owner and mode.
                    ctx.reaper
                        .create_lasting_volume(&volume)
                        .await
                        .map_err(reap_error)?;
                    // The cache directory starts empty, owned and moded as asked: the directory
                    // entry of the fill holder's mount point sets the volume's root (the engine
                    // skips an archive's own `.` entry).
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
                        Ok(archive) => fill_volume_bytes(ctx, &volume, "/", archive).await?,
                        Err(e) => {
                            return Ok(Err(StepError::Tar(crate::fs::tar::TarError::Write(e))))
                        }
                    }
                    ctx.reaper.keep_volume(&volume);
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
                    prepared.bind_file(&path, target);
                } else {
                    let dir = target
                        .rsplit_once('/')
                        .map(|(d, _)| if d.is_empty() { "/" } else { d })
                        .unwrap_or("/")
                        .to_string();
                    if !prepared
                        .mounts
                        .iter()
                        .any(|m| matches!(m, MountSpec::Tmpfs { target, .. } if *target == dir))
                    {
                        prepared.mounts.push(MountSpec::Tmpfs {
                            target: dir,
                            size: 0,
                            mode: Some(0o755),
                        });
                    }
                    prepared.secrets_in_container.push(secret);
                }
            }
        }
    }
    Ok(Ok(()))
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

/// Copies a single-file bind source to a temporary host file.
async fn host_copy(
    ctx: &Ctx,
    content: BindContent,
    prepared: &mut Prepared,
) -> Result<std::result::Result<PathBuf, StepError>> {
    let path = ctx.reaper.host_file(&std::env::temp_dir());
    prepared.host_files.push(path.clone());
    let bytes = match content {
        BindContent::Context(set) => match set.entries.first() {
            Some(entry) => match std::fs::read(&entry.path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    return Ok(Err(StepError::Invalid(format!(
                        "cannot read {}: {e}",
                        entry.path.display()
                    ))))
                }
            },
            None => Vec::new(),
        },
        BindContent::Container { container, path } => {
            let archive = ctx.engine.get_archive(&container, &path).await?;
            archive
                .and_then(|a| tarx::first_file(&a).ok().flatten())
                .unwrap_or_default()
        }
        BindContent::Empty => Vec::new(),
    };
    if let Err(e) = std::fs::write(&path, bytes) {
        return Ok(Err(StepError::Invalid(format!(
            "cannot write {}: {e}",
            path.display()
        ))));
    }
    Ok(Ok(path))
}

/// Fills a temporary volume with a bind source (through a never-started holder).
async fn fill_volume(
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
async fn fill_volume_bytes(ctx: &Ctx, volume: &str, path: &str, archive: Vec<u8>) -> Result<()> {
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

/// Removes the temporary volumes and host files of a RUN.
pub async fn release(ctx: &Ctx, prepared: Prepared) {
    for volume in &prepared.volumes {
        let _ = ctx.reaper.remove_volume(volume).await;
    }
    for path in &prepared.host_files {
        ctx.reaper.remove_host_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_sizes_read_like_buildkit() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("2kb").unwrap(), 2048);
        assert!(parse_size("big").is_err());
    }
}
