//! A RUN in a fresh container: created from the stage's image with the RUN's mounts, run as
//! its own command or, when secrets or single-file binds (remote engine) must be written
//! through it, kept alive and run as an exec (the placed files removed, and what the image had
//! at their targets put back, before the commit); committed; the empty mount points of file
//! mounts removed from the result.
//!
//! Input: the [`Execution`], the [`Prepared`] mounts, the stage state.
//! Output: the stage's new image, committed.
//! Invariant: the container is removed on every path (before the RUN's temporary volumes, which
//! an engine refuses to remove while in use); a secret written here goes through a process's
//! standard input into a tmpfs, never onto the engine's disk or into a commit; the container of
//! a RUN with a secret mount has no log (the `none` driver), so nothing it prints is stored on
//! the engine's disk: its output is read by an attach made before the start.

use std::time::Instant;

use planner::plan::Instruction;

use super::execution::Execution;
use super::process::{
    attached_exit, collect_output, exec_exit, exec_step, step_failed, user_refused,
};
use super::wrapper::without_engine_hostname;
use crate::engine::{ContainerSpec, MountSpec};
use crate::error::{Result, RunnerError, StepError};
use crate::exec::commit::{commit_intermediate, commit_step};
use crate::exec::ctx::Ctx;
use crate::exec::holders::create_holder;
use crate::exec::keeper;
use crate::exec::stage_state::StageState;
use crate::steps::mounts::{PlacedFile, Prepared, Secret};

/// Runs the RUN in a fresh container with its mounts; commits it; removes it on every path.
pub(super) async fn run_in_container(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    execution: &Execution,
    prepared: &mut Prepared,
) -> Result<()> {
    let as_exec = prepared.needs_exec();
    let secret_links = secret_places(ctx, state, prepared).await?;
    // Started with its own command, the step runs under the wrapper that drops the engine's
    // HOSTNAME when the image has a `/bin/sh` to run it.
    let has_shell = match (&state.image, as_exec) {
        (Some(image), false) => {
            let holder = ctx.source_holder(image).await?;
            match ctx.engine.stat_path(&holder, "/bin/sh").await? {
                // The engine reports a symlink resolved inside the image; it must lead somewhere.
                Some(stat) if stat.is_symlink() => ctx
                    .engine
                    .stat_path(&holder, &stat.link_target)
                    .await?
                    .is_some(),
                found => found.is_some(),
            }
        }
        _ => false,
    };
    let spec = ContainerSpec {
        image: state.image.clone(),
        entrypoint: if as_exec {
            vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                keeper::KEEP_ALIVE.to_string(),
            ]
        } else if has_shell {
            without_engine_hostname(&execution.argv, &execution.env)
        } else {
            execution.argv.clone()
        },
        env: if as_exec {
            state.config.env.clone()
        } else {
            execution.env.clone()
        },
        working_dir: Some(execution.working_dir.clone()),
        user: Some(execution.user.clone()).filter(|u| !u.is_empty() && !as_exec),
        hostname: Some(execution.hostname.clone()),
        network_mode: execution.network.clone(),
        extra_hosts: ctx.options.add_hosts.clone(),
        mounts: prepared.mounts.clone(),
        privileged: execution.privileged,
        open_stdin: as_exec,
        // What a RUN that sees a secret prints may hold it: the engine keeps no log of it
        // (its log file is on the engine's disk and outlives a killed runner until the sweep).
        unlogged: prepared.holds_secrets(),
        ..ContainerSpec::default()
    };
    // File mounts the image lacks leave an empty mount point behind; find them in the image
    // itself (the container's own view already shows its mounts).
    let mut stubs = Vec::new();
    if !prepared.file_targets.is_empty() {
        let image_holder = match &state.image {
            Some(image) => Some(ctx.source_holder(image).await?),
            None => None,
        };
        for target in &prepared.file_targets {
            let exists = match &image_holder {
                Some(holder) => ctx.engine.stat_path(holder, target).await?.is_some(),
                None => false,
            };
            if !exists {
                stubs.push(target.clone());
            }
        }
    }
    let id = ctx.create_container(spec).await?;
    let outcome = async {
        // An unlogged container's output is only on an attach made before its start.
        let attached = if !as_exec && prepared.holds_secrets() {
            Some(ctx.engine.attach(&id).await?)
        } else {
            None
        };
        let running = Instant::now();
        ctx.engine
            .start_container(&id)
            .await
            .map_err(|e| user_refused(state, instruction, &execution.user, e))?;
        if as_exec {
            for (index, secret) in prepared.secrets_in_container.iter().enumerate() {
                let link = secret_links.get(index).copied().unwrap_or(false);
                write_secret(ctx, state, instruction, &id, secret, index, link).await?;
            }
            for file in &prepared.files_in_container {
                place_file(ctx, state, instruction, &id, file).await?;
            }
            // The exec kills what the RUN leaves running, so nothing writes into the commit
            // after the RUN (the container is removed afterwards: what else it changed is moot).
            exec_step(
                ctx,
                state,
                instruction,
                &id,
                execution,
                &prepared.secret_env,
            )
            .await?;
            // Last placed, first taken away: the files go before the commit, and a file the
            // image had at a target comes back.
            for file in prepared.files_in_container.iter().rev() {
                take_file_away(ctx, state, instruction, &id, &file.target).await?;
            }
            for (secret, link) in prepared
                .secrets_in_container
                .iter()
                .zip(&secret_links)
                .rev()
            {
                if let (Some(target), true) = (&secret.target, *link) {
                    take_file_away(ctx, state, instruction, &id, target).await?;
                }
            }
        } else {
            let (code, tail) = match attached {
                Some(output) => {
                    let tail = collect_output(ctx, &state.name, output, None).await.tail;
                    (attached_exit(ctx, &state.name, &id).await?, tail)
                }
                None => {
                    let tail = collect_output(ctx, &state.name, ctx.engine.logs(&id), None)
                        .await
                        .tail;
                    (ctx.engine.wait_container(&id).await?, tail)
                }
            };
            if code != 0 {
                return Err(step_failed(
                    ctx,
                    state,
                    instruction,
                    &execution.argv,
                    code,
                    tail,
                ));
            }
        }
        state.insight.step.clock.add_execute(running.elapsed());
        if stubs.is_empty() {
            commit_step(ctx, state, &id, instruction).await
        } else {
            // Stored under the step's key only once the mount points are removed.
            commit_intermediate(ctx, state, &id, instruction).await
        }
    }
    .await;
    // Temporary volumes are removed after this (an engine refuses to remove a volume in use),
    // so a container with volumes is removed first; any other goes in the background.
    if !prepared.has_temporary_volumes() {
        ctx.reaper.remove_detached(id);
        outcome?;
    } else {
        // A refused removal leaves the container (and so its volumes) to the build's end.
        ctx.reaper.remove(&id).await;
        outcome?;
    }
    remove_stubs(ctx, state, instruction, &stubs).await
}

/// Where each secret written through the container (remote engine) goes: a secret whose
/// target's directory the image lacks is written into a tmpfs mounted there (added to the
/// RUN's mounts; it hides nothing); one whose directory the image has is written into the
/// container's `/dev/shm` and linked at its target (`true`), since a tmpfs there would hide
/// the directory's files and take the RUN's writes into it.
async fn secret_places(
    ctx: &Ctx,
    state: &StageState,
    prepared: &mut Prepared,
) -> Result<Vec<bool>> {
    let mut links = Vec::new();
    if prepared.secrets_in_container.is_empty() {
        return Ok(links);
    }
    let holder = match &state.image {
        Some(image) => Some(ctx.source_holder(image).await?),
        None => None,
    };
    for secret in &prepared.secrets_in_container {
        let Some(target) = &secret.target else {
            links.push(false);
            continue;
        };
        let dir = match target.rsplit_once('/') {
            Some((dir, _)) if !dir.is_empty() => dir.to_string(),
            _ => "/".to_string(),
        };
        let exists = match &holder {
            Some(holder) => ctx.engine.stat_path(holder, &dir).await?.is_some(),
            None => false,
        };
        let tmpfs_there = prepared
            .mounts
            .iter()
            .any(|m| matches!(m, MountSpec::Tmpfs { target, .. } if *target == dir));
        if exists && !tmpfs_there {
            links.push(true);
        } else {
            if !tmpfs_there {
                prepared.mounts.push(MountSpec::Tmpfs {
                    target: dir,
                    size: 0,
                    mode: Some(0o755),
                });
            }
            links.push(false);
        }
    }
    Ok(links)
}

/// Writes a secret into the running container through the standard input of a root process
/// (it never touches the engine's disk), with its mode and owner: into the tmpfs at its
/// target's directory, or with `link` into the container's `/dev/shm` (memory), linked at its
/// target, a file the image has there set aside and missing parent directories made (they
/// stay, as a mount point's do in BuildKit).
async fn write_secret(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    secret: &Secret,
    index: usize,
    link: bool,
) -> Result<()> {
    let Some(target) = &secret.target else {
        return Ok(());
    };
    let script = if link {
        format!(
            "set -e; t=\"$1\"; s=/dev/shm/.stageplan-secret-{index}; \
             (umask 077 && cat > \"$s\"); chown {}:{} \"$s\"; chmod {:o} \"$s\"; \
             if [ -e \"$t\" ] || [ -L \"$t\" ]; then mv -f \"$t\" \"$t{SET_ASIDE}\"; fi; \
             d=\"${{t%/*}}\"; if [ -n \"$d\" ]; then mkdir -p \"$d\"; fi; \
             ln -s \"$s\" \"$t\"",
            secret.owner.0, secret.owner.1, secret.mode
        )
    } else {
        format!(
            "umask 077 && cat > \"$1\" && chown {}:{} \"$1\" && chmod {:o} \"$1\"",
            secret.owner.0, secret.owner.1, secret.mode
        )
    };
    let argv = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script,
        "sh".to_string(),
        target.clone(),
    ];
    let (exec_id, output) = ctx
        .engine
        .exec(
            container,
            &argv,
            &[],
            Some("/"),
            Some("0"),
            Some(&secret.content),
        )
        .await?;
    let tail = collect_output(ctx, &state.name, output, None).await.tail;
    let (code, _) = exec_exit(ctx, &state.name, &exec_id).await?;
    if code != 0 {
        return Err(RunnerError::Instruction {
            stage: state.name.clone(),
            line: instruction.line,
            source: StepError::Invalid(format!(
                "cannot place secret \"{}\" at {target} (the image needs /bin/sh, cat, chown, chmod, mkdir, mv and ln for secrets on a remote engine): {}",
                secret.id,
                tail.join(" ")
            )),
        });
    }
    Ok(())
}

/// Where a file the image has at the target of a single-file bind or a linked secret waits
/// while the RUN sees the mounted file (remote engine).
const SET_ASIDE: &str = ".stageplan-bind-set-aside";

/// Writes a single-file bind's file into the running container at its target (a remote engine
/// cannot bind a file of the runner's host), through the standard input of a root process,
/// with its mode, owner and modification time; a file the image has there is set aside, and
/// missing parent directories are made (they stay, as a bind's mount point's do in BuildKit).
async fn place_file(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    file: &PlacedFile,
) -> Result<()> {
    let script = format!(
        "set -e; t=\"$1\"; \
         if [ -e \"$t\" ] || [ -L \"$t\" ]; then mv -f \"$t\" \"$t{SET_ASIDE}\"; fi; \
         d=\"${{t%/*}}\"; if [ -n \"$d\" ]; then mkdir -p \"$d\"; fi; \
         cat > \"$t\"; chown {}:{} \"$t\"; chmod {:o} \"$t\"; \
         touch -c -d @{} \"$t\" 2>/dev/null || true",
        file.owner.0, file.owner.1, file.mode, file.mtime
    );
    file_exec(
        ctx,
        state,
        instruction,
        container,
        &file.target,
        script,
        Some(&file.content),
        "place",
    )
    .await
}

/// Removes a placed file (or a secret's link) before the commit and puts back what the image
/// had at its target.
async fn take_file_away(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    target: &str,
) -> Result<()> {
    let script = format!(
        "t=\"$1\"; rm -f \"$t\" && \
         if [ -e \"$t{SET_ASIDE}\" ] || [ -L \"$t{SET_ASIDE}\" ]; then mv -f \"$t{SET_ASIDE}\" \"$t\"; fi"
    );
    file_exec(
        ctx,
        state,
        instruction,
        container,
        target,
        script,
        None,
        "remove",
    )
    .await
}

/// Runs `script` as root in the RUN's container with `target` as `$1`.
#[allow(clippy::too_many_arguments)]
async fn file_exec(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    target: &str,
    script: String,
    input: Option<&[u8]>,
    what: &str,
) -> Result<()> {
    let argv = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script,
        "sh".to_string(),
        target.to_string(),
    ];
    let (exec_id, output) = ctx
        .engine
        .exec(container, &argv, &[], Some("/"), Some("0"), input)
        .await?;
    let tail = collect_output(ctx, &state.name, output, None).await.tail;
    let (code, _) = exec_exit(ctx, &state.name, &exec_id).await?;
    if code != 0 {
        return Err(RunnerError::Instruction {
            stage: state.name.clone(),
            line: instruction.line,
            source: StepError::Invalid(format!(
                "cannot {what} the file mounted at {target} (a file mount on a remote engine needs /bin/sh, cat, mkdir, mv, chown and chmod in the image): {}",
                tail.join(" ")
            )),
        });
    }
    Ok(())
}

/// Removes the empty files the engine created as mount points for file mounts: a holder of the
/// committed image (without the mounts, which would make them busy) gets an archive of
/// whiteout entries, which the engine applies as deletions, and is committed as the step's
/// result.
async fn remove_stubs(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    stubs: &[String],
) -> Result<()> {
    if stubs.is_empty() {
        return Ok(());
    }
    let mut builder = tar::Builder::new(Vec::new());
    for stub in stubs {
        let (dir, name) = stub.rsplit_once('/').unwrap_or(("", stub));
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o600);
        header.set_size(0);
        let whiteout = format!("{}/.wh.{name}", dir.trim_start_matches('/'));
        builder
            .append_data(
                &mut header,
                whiteout.trim_start_matches('/'),
                std::io::empty(),
            )
            .map_err(|e| RunnerError::io("building a whiteout archive", e))?;
    }
    let archive = builder
        .into_inner()
        .map_err(|e| RunnerError::io("building a whiteout archive", e))?;
    let holder = create_holder(ctx, state).await?;
    let result = async {
        ctx.engine.put_archive_bytes(&holder, "/", archive).await?;
        commit_step(ctx, state, &holder, instruction).await
    }
    .await;
    ctx.reaper.remove_detached(holder);
    result
}
