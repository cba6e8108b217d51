//! `RUN --mount` emulated with engine volumes, so nothing a mount shows ends up in a layer.
//!
//! Input: the RUN's `--mount` options, the stage state, `--secret` files.
//! Output: [`MountSpec`]s for the RUN container and the temporary volumes to remove afterwards.
//! `bind` (from the context, a stage or an image) = a temporary volume filled through a holder
//! container's archive upload; `cache` = a named volume kept between builds
//! (`stageplan-cache-<id hash>`); `tmpfs` = tmpfs; `secret` = a temporary volume holding the
//! secrets of `/run/secrets` (a custom path: the file bound read-only on a local engine, a
//! volume at its directory on a remote one); a heredoc with `#!` = a temporary volume at
//! [`PIPES_DIR`].
//! Invariant: a mount's content never enters the commit: volumes and tmpfs are outside the
//! container's writable layer.

use std::sync::atomic::{AtomicU64, Ordering};

use planner::plan::{Instruction, Mount, Source};
use sha2::{Digest, Sha256};

use crate::context::{CopySources, DestState, Destination, TarOptions};
use crate::engine::{ContainerSpec, MountSpec};
use crate::error::{Result, RunnerError};
use crate::stage::{ensure_image, Ctx, StageState};
use crate::{tarx, vars};

/// Where a shebang heredoc's script is mounted (BuildKit's path).
pub const PIPES_DIR: &str = "/dev/pipes";

/// Where a fill holder mounts the volume it fills.
const FILL_DIR: &str = "/stageplan-fill";

static VOLUMES: AtomicU64 = AtomicU64::new(0);

/// The mounts of one RUN container and what to clean up after it.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Mounts for the container.
    pub mounts: Vec<MountSpec>,
    /// Temporary volumes to remove after the RUN.
    pub temp_volumes: Vec<String>,
    /// Secret files to serve from one volume per directory: dir -> (name, content).
    secret_dirs: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>>,
}

/// What of the mounts a cache key must cover: the mount options and the digests of bind
/// sources (context files or the source stage's key). Secrets' contents are not covered,
/// as in BuildKit.
pub fn cache_inputs(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    mounts: &[Mount],
) -> Result<String> {
    let mut parts = Vec::new();
    for mount in mounts {
        parts.push(serde_json::to_string(mount).unwrap_or_default());
        if mount.mount_type == "bind" {
            match &mount.from {
                None => {
                    let source = expand(
                        ctx,
                        state,
                        instruction,
                        mount.source.as_deref().unwrap_or("."),
                    )?;
                    let request = CopySources {
                        sources: vec![source],
                        excludes: Vec::new(),
                        parents: false,
                    };
                    let digest = ctx
                        .context
                        .resolve(&request)
                        .and_then(|set| ctx.context.digest(&set))
                        .map_err(|e| instruction_error(state, instruction, e.to_string()))?;
                    parts.push(digest);
                }
                Some(Source::Stage { stage }) => {
                    let dep = state
                        .deps
                        .get(stage)
                        .ok_or_else(|| missing_dep(state, instruction, *stage))?;
                    parts.push(dep.key.as_str().to_string());
                }
                Some(Source::Image { image }) => parts.push(format!("image:{image}")),
                Some(Source::Scratch) => {}
            }
        }
    }
    Ok(parts.join("\n"))
}

/// Builds the mounts of a RUN container; `shebang` is a heredoc script to mount as a file.
pub async fn prepare(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    mounts: &[Mount],
    shebang: Option<&(String, String)>,
) -> Result<Prepared> {
    let mut prepared = Prepared::default();
    let result = async {
        if let Some((name, body)) = shebang {
            let tar = tarx::files(&[(name.clone(), body.clone().into_bytes(), 0o755)], (0, 0))
                .map_err(|e| instruction_error(state, instruction, e.to_string()))?;
            let volume = filled_volume(ctx, &mut prepared, tar).await?;
            prepared.mounts.push(MountSpec::Volume {
                name: volume,
                target: PIPES_DIR.to_string(),
                read_only: true,
            });
        }
        for mount in mounts {
            prepare_one(ctx, state, instruction, mount, &mut prepared).await?;
        }
        // Secrets sharing a directory share one volume mounted there, so the image keeps at
        // most the empty mount-point directory.
        for (dir, files) in std::mem::take(&mut prepared.secret_dirs) {
            let entries: Vec<(String, Vec<u8>, u32)> = files
                .into_iter()
                .map(|(name, content)| (name, content, 0o400))
                .collect();
            let tar = tarx::files(&entries, (0, 0))
                .map_err(|e| instruction_error(state, instruction, e.to_string()))?;
            let volume = filled_volume(ctx, &mut prepared, tar).await?;
            prepared.mounts.push(MountSpec::Volume {
                name: volume,
                target: dir,
                read_only: true,
            });
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(prepared),
        Err(e) => {
            release(ctx, &prepared).await;
            Err(e)
        }
    }
}

async fn prepare_one(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    mount: &Mount,
    prepared: &mut Prepared,
) -> Result<()> {
    let option = |name: &str| mount.options.get(name).map(String::as_str);
    let target = match &mount.target {
        Some(t) => Some(absolute(state, &expand(ctx, state, instruction, t)?)),
        None => None,
    };
    let read_write = option("rw").is_some_and(|v| v != "false") || option("readwrite").is_some();
    match mount.mount_type.as_str() {
        "cache" => {
            let target = target.ok_or_else(|| instruction_error(state, instruction, "a cache mount needs target=".into()))?;
            let id = option("id").map(str::to_string).unwrap_or_else(|| target.clone());
            let digest = hex::encode(Sha256::digest(id.as_bytes()));
            let name = format!("stageplan-cache-{}", &digest[..16]);
            ctx.engine.create_volume(&name).await?;
            prepared.mounts.push(MountSpec::Volume {
                name,
                target,
                read_only: false,
            });
        }
        "tmpfs" => {
            let target = target.ok_or_else(|| instruction_error(state, instruction, "a tmpfs mount needs target=".into()))?;
            let size = option("size").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
            prepared.mounts.push(MountSpec::Tmpfs { target, size });
        }
        "secret" => prepare_secret(ctx, state, instruction, mount, target, prepared).await?,
        "bind" => {
            let target = target.ok_or_else(|| instruction_error(state, instruction, "a bind mount needs target=".into()))?;
            let source = expand(ctx, state, instruction, mount.source.as_deref().unwrap_or("/"))?;
            let tar = bind_content(ctx, state, instruction, mount, &source).await?;
            let volume = filled_volume(ctx, prepared, tar).await?;
            prepared.mounts.push(MountSpec::Volume {
                name: volume,
                target,
                read_only: !read_write,
            });
        }
        other => {
            return Err(instruction_error(
                state,
                instruction,
                format!("RUN --mount=type={other} is not supported by the runner (use bind, cache, tmpfs or secret)"),
            ))
        }
    }
    Ok(())
}

async fn prepare_secret(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    mount: &Mount,
    target: Option<String>,
    prepared: &mut Prepared,
) -> Result<()> {
    let option = |name: &str| mount.options.get(name).map(String::as_str);
    let id = option("id")
        .map(str::to_string)
        .or_else(|| {
            target
                .as_deref()
                .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
        })
        .ok_or_else(|| {
            instruction_error(
                state,
                instruction,
                "a secret mount needs id= or target=".into(),
            )
        })?;
    let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
    let required = option("required").is_some_and(|v| v != "false");
    let Some(path) = ctx.secrets.get(&id) else {
        if required {
            return Err(instruction_error(
                state,
                instruction,
                format!("secret \"{id}\" is required; pass --secret id={id},src=FILE"),
            ));
        }
        return Ok(());
    };
    let (dir, name) = target.rsplit_once('/').unwrap_or(("", target.as_str()));
    let dir = if dir.is_empty() {
        "/".to_string()
    } else {
        dir.to_string()
    };
    let local = ctx.engine.host().starts_with("unix://") || ctx.engine.host().starts_with('/');
    if dir != "/run/secrets" && local {
        // A custom path: bind the file itself rather than hide its directory (the engine leaves
        // an empty mount-point file behind).
        let source = std::fs::canonicalize(path)
            .map_err(|e| RunnerError::io(format!("secret \"{id}\" ({})", path.display()), e))?;
        prepared.mounts.push(MountSpec::Bind {
            source: source.to_string_lossy().into_owned(),
            target,
            read_only: true,
        });
        return Ok(());
    }
    let content = std::fs::read(path)
        .map_err(|e| RunnerError::io(format!("secret \"{id}\" ({})", path.display()), e))?;
    prepared
        .secret_dirs
        .entry(dir)
        .or_default()
        .push((name.to_string(), content));
    Ok(())
}

/// The tar a bind mount shows: context files, or a path of a stage's or image's filesystem.
async fn bind_content(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    mount: &Mount,
    source: &str,
) -> Result<Vec<u8>> {
    let image = match &mount.from {
        None => {
            let request = CopySources {
                sources: vec![source.to_string()],
                excludes: Vec::new(),
                parents: false,
            };
            let destination = Destination {
                path: "/".to_string(),
                state: DestState::Directory,
            };
            let mut tar = Vec::new();
            ctx.context
                .resolve(&request)
                .and_then(|set| {
                    ctx.context
                        .write_tar(&set, &destination, &TarOptions::default(), &mut tar)
                })
                .map_err(|e| instruction_error(state, instruction, e.to_string()))?;
            return Ok(tar);
        }
        Some(Source::Stage { stage }) => state
            .deps
            .get(stage)
            .ok_or_else(|| missing_dep(state, instruction, *stage))?
            .image
            .clone(),
        Some(Source::Image { image }) => Some(ensure_image(ctx, &state.name, image).await?.id),
        Some(Source::Scratch) => None,
    };
    let Some(image) = image else {
        return Ok(tarx::files(&[], (0, 0)).unwrap_or_default());
    };
    let holder = ctx
        .reaper
        .create(ContainerSpec {
            image: Some(image),
            entrypoint: vec!["/.stageplan-holder".to_string()],
            network_mode: Some("none".to_string()),
            ..ContainerSpec::default()
        })
        .await?;
    let path = format!("/{}/.", tarx::join_dest(source, ""));
    let tar = ctx.engine.get_archive(&holder, &path).await;
    ctx.reaper.remove(&holder).await?;
    tar?.ok_or_else(|| {
        instruction_error(
            state,
            instruction,
            format!("bind source {source:?} does not exist in the source image"),
        )
    })
}

/// Creates a temporary volume holding the files of `tar` (via a never-started holder).
async fn filled_volume(ctx: &Ctx, prepared: &mut Prepared, tar: Vec<u8>) -> Result<String> {
    let n = VOLUMES.fetch_add(1, Ordering::Relaxed);
    let name = format!("stageplan-{}-v{n}", std::process::id());
    ctx.engine.create_volume(&name).await?;
    prepared.temp_volumes.push(name.clone());
    let holder = ctx
        .reaper
        .create(ContainerSpec {
            image: None,
            entrypoint: vec!["/.stageplan-holder".to_string()],
            network_mode: Some("none".to_string()),
            mounts: vec![MountSpec::Volume {
                name: name.clone(),
                target: FILL_DIR.to_string(),
                read_only: false,
            }],
            ..ContainerSpec::default()
        })
        .await?;
    let uploaded = ctx.engine.put_archive_at(&holder, FILL_DIR, tar).await;
    ctx.reaper.remove(&holder).await?;
    uploaded.map(|_| name)
}

/// Removes the temporary volumes of a RUN (errors are ignored: nothing depends on them).
pub async fn release(ctx: &Ctx, prepared: &Prepared) {
    for volume in &prepared.temp_volumes {
        let _ = ctx.engine.remove_volume(volume).await;
    }
}

fn expand(ctx: &Ctx, state: &StageState, instruction: &Instruction, word: &str) -> Result<String> {
    vars::expand_word(word, &state.lookup_vars(), ctx.plan.escape)
        .map_err(|message| instruction_error(state, instruction, message))
}

fn absolute(state: &StageState, path: &str) -> String {
    let base = if state.config.working_dir.is_empty() {
        "/"
    } else {
        &state.config.working_dir
    };
    let joined = if path.starts_with('/') {
        tarx::join_dest(path, "")
    } else {
        tarx::join_dest(base, path)
    };
    format!("/{joined}")
}

fn instruction_error(
    state: &StageState,
    instruction: &Instruction,
    message: String,
) -> RunnerError {
    RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        message,
    }
}

fn missing_dep(state: &StageState, instruction: &Instruction, stage: usize) -> RunnerError {
    instruction_error(
        state,
        instruction,
        format!("uses stage {stage}, which the plan does not list among this stage's dependencies"),
    )
}
