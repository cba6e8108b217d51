//! `RUN`: what it executes (argv, environment, working directory, user, host name, network,
//! mounts), keyed by exactly that, and performed as an exec in the stage's keeper, as an exec in
//! a fresh container (when secrets must be written through it), or as a fresh container.
//!
//! Input: a RUN instruction, the stage state (image, config, ARGs) and the shared build context.
//! Output: the stage's new image or a [`RunnerError::StepFailed`] carrying the exit code and
//! the last lines of output.
//! Invariant: the process sees the stage's ENV, then its ARGs (those ENV does not override),
//! then the proxy build arguments (which only reach the key when declared with ARG), as
//! BuildKit passes them; nothing a mount shows and no secret reaches a commit; every container
//! and temporary mount is removed on every path.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use planner::plan::{Command, Heredoc, Instruction, Op, Source};

use super::mounts::{self, Prepared, Secret, PIPES_DIR};
use crate::engine::{ContainerSpec, LogChunk, LogStream};
use crate::error::{Result, RunnerError, StepError};
use crate::exec::cache::{Key, KeyBuilder};
use crate::exec::commit::{cached_or_started, commit_step};
use crate::exec::ctx::Ctx;
use crate::exec::holders::create_holder;
use crate::exec::keeper;
use crate::exec::stage_state::StageState;
use crate::progress::Stream;
use crate::record::memory::KeyField;

/// How many lines of output a failure message shows.
const TAIL_LINES: usize = 12;

/// The build arguments BuildKit passes to every RUN without an ARG (either case).
const PROXY_ARGS: [&str; 5] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// What one RUN executes.
struct Execution {
    argv: Vec<String>,
    env: Vec<String>,
    working_dir: String,
    user: String,
    hostname: String,
    network: Option<String>,
    privileged: bool,
    /// A `#!` heredoc to mount as an executable file at [`PIPES_DIR`].
    script: Option<(String, String)>,
}

/// The parts of a RUN instruction its execution and key are made from.
struct RunParts<'a> {
    command: &'a Command,
    heredocs: &'a [Heredoc],
    network: &'a Option<String>,
    security: &'a Option<String>,
    mount_specs: &'a [planner::plan::Mount],
}

impl<'a> RunParts<'a> {
    /// The parts of `instruction`, if it is a RUN.
    fn of(instruction: &'a Instruction) -> Option<RunParts<'a>> {
        let Op::Run {
            command,
            mounts,
            network,
            security,
            heredocs,
        } = &instruction.op
        else {
            return None;
        };
        Some(RunParts {
            command,
            heredocs,
            network,
            security,
            mount_specs: mounts,
        })
    }
}

/// What a RUN executes in the stage's current state, and its key: exactly what it executes
/// (`mount_key_parts` are the resolved mounts' parts of it).
fn execution_and_key(
    ctx: &Ctx,
    state: &StageState,
    parts: RunParts<'_>,
    mount_key_parts: &[String],
) -> (Execution, KeyBuilder) {
    let (argv, script) = command_line(
        parts.command,
        parts.heredocs,
        &state.config.shell_or_default(),
    );
    let (env, key_env) = environment(ctx, state);
    let execution = Execution {
        argv,
        env,
        working_dir: if state.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            state.config.working_dir.clone()
        },
        user: state.config.user.clone(),
        hostname: ctx.sandbox_hostname(),
        network: parts.network.clone().filter(|n| n != "default"),
        privileged: parts.security.as_deref() == Some("insecure"),
        script,
    };
    let mount_labels: Vec<String> = parts
        .mount_specs
        .iter()
        .enumerate()
        .map(|(index, mount)| match &mount.from {
            Some(Source::Stage { stage }) => format!("stage:{stage}"),
            _ => index.to_string(),
        })
        .collect();
    let key = state
        .key
        .step("run")
        .list("argv", &execution.argv)
        .labelled_list("env", &key_env, |_, item| {
            let name = item.split('=').next().unwrap_or(item);
            match state.config.env_get(name) {
                Some(_) => format!("env:{name}"),
                None => format!("arg:{name}"),
            }
        })
        .text("workdir", &execution.working_dir)
        .text("user", &execution.user)
        .text("hostname", &execution.hostname)
        .optional("network", execution.network.as_deref())
        .flag("privileged", execution.privileged)
        .optional(
            "script",
            execution.script.as_ref().map(|(_, body)| body.as_str()),
        )
        .labelled_list("mounts", mount_key_parts, |index, _| {
            mount_labels.get(index).cloned().unwrap_or_default()
        });
    (execution, key)
}

/// The key of a RUN with no mount in the stage's current state, worked out without the engine
/// (to look a run of steps up ahead); `None` for a RUN with mounts, whose key needs the mounts
/// resolved.
pub fn predicted_key(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
) -> Option<(Key, Vec<KeyField>)> {
    let parts = RunParts::of(instruction)?;
    if !parts.mount_specs.is_empty() {
        return None;
    }
    let (_, key) = execution_and_key(ctx, state, parts, &[]);
    Some(key.finish_fields())
}

/// Performs a RUN instruction (or takes its result from the cache).
pub async fn perform(ctx: &Ctx, state: &mut StageState, instruction: &Instruction) -> Result<()> {
    let fail = state.fail_at(instruction.line);
    let Some(parts) = RunParts::of(instruction) else {
        return Err(fail(StepError::Invalid(format!(
            "{} is not a RUN instruction",
            instruction.text
        ))));
    };
    let mount_specs = parts.mount_specs;
    let mounts = mounts::resolve(ctx, state, mount_specs)
        .await?
        .map_err(&fail)?;
    let (execution, key) = execution_and_key(ctx, state, parts, &mounts.key_parts);
    state.advance_key(key);
    if cached_or_started(ctx, state, instruction).await? {
        return Ok(());
    }
    let waiting = Instant::now();
    let _permit = match &ctx.jobs {
        Some(jobs) => Some(
            jobs.clone()
                .acquire_owned()
                .await
                .map_err(|_| RunnerError::Stopping)?,
        ),
        None => None,
    };
    state.insight.step.clock.add_wait(waiting.elapsed());
    let keeper_fits = mount_specs.is_empty()
        && execution.network.is_none()
        && !execution.privileged
        && execution.script.is_none();
    if state.keeper_enabled && keeper_fits {
        if let Some(keeper_id) = keeper::ensure(ctx, state).await? {
            let running = Instant::now();
            let outcome = exec_step(ctx, state, instruction, &keeper_id, &execution, &[]).await;
            state.insight.step.clock.add_execute(running.elapsed());
            return match outcome {
                Ok(()) => {
                    commit_step(ctx, state, &keeper_id, instruction).await?;
                    keeper::after_commit(ctx, state).await
                }
                Err(e) => Err(e),
            };
        }
    }
    let filling = Instant::now();
    let mut prepared = mounts::prepare(ctx, mounts, execution.script.as_ref())
        .await?
        .map_err(&fail)?;
    state.insight.step.clock.add_transfer(filling.elapsed());
    let result = run_in_container(ctx, state, instruction, &execution, &mut prepared).await;
    mounts::release(ctx, prepared).await;
    result
}

/// The process environment of a RUN, and the part of it its cache key covers.
fn environment(ctx: &Ctx, state: &StageState) -> (Vec<String>, Vec<String>) {
    let mut env = state.config.env.clone();
    for (name, value) in state.run_args() {
        env.push(format!("{name}={value}"));
    }
    let key_env = env.clone();
    // Proxy build arguments reach every RUN (in both cases, the lower-case value winning);
    // declared with ARG they are already in `env` and in the key.
    for name in PROXY_ARGS {
        let lower = name.to_ascii_lowercase();
        let value = ctx
            .build_args
            .get(&lower)
            .or_else(|| ctx.build_args.get(name))
            .cloned();
        if let Some(value) = value {
            for key in [name.to_string(), lower] {
                if !env
                    .iter()
                    .any(|kv| kv.split('=').next() == Some(key.as_str()))
                {
                    env.push(format!("{key}={value}"));
                }
            }
        }
    }
    (env, key_env)
}

/// Runs the RUN as an exec in the started container `container` (a keeper, or a fresh
/// container that holds secrets); fails with the exit code and the last lines of output.
async fn exec_step(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    execution: &Execution,
    secret_env: &[String],
) -> Result<()> {
    let mut env = execution.env.clone();
    env.extend(secret_env.iter().cloned());
    let user = Some(execution.user.as_str()).filter(|u| !u.is_empty());
    let argv = without_engine_hostname(&execution.argv, &env);
    let (exec_id, output) = ctx
        .engine
        .exec(
            container,
            &argv,
            &env,
            Some(&execution.working_dir),
            user,
            None,
        )
        .await?;
    let tail = collect_output(ctx, &state.name, output).await;
    let (code, stream_broke) = exec_exit(ctx, &state.name, &exec_id).await?;
    if code != 0 && stream_broke {
        return Err(RunnerError::OutputBroke {
            stage: state.name.clone(),
            line: instruction.line,
            text: instruction.text.clone(),
            code,
        });
    }
    if code != 0 {
        return Err(step_failed(state, instruction, code, tail));
    }
    Ok(())
}

/// The exit code of an exec whose output stream has ended, and whether the stream ended while
/// the process still ran. The engine ends the stream when the process exits; a stream that
/// ended before (its connection broke) leaves the process running in the container, and it is
/// waited for: its exit code is the step's result, only the rest of its output is lost. A
/// process that writes after the break is failed by the engine (exit 126); one that the engine
/// failed before the first look cannot be told from a step's own failure.
async fn exec_exit(ctx: &Ctx, stage: &str, exec_id: &str) -> Result<(i64, bool)> {
    if let Some(code) = ctx.engine.exec_exit_code(exec_id).await? {
        return Ok((code, false));
    }
    ctx.progress.note(
        stage,
        "the output stream ended before the process did (its connection to the engine broke?); waiting for the process, whose further output is not shown",
    );
    let mut pause = Duration::from_millis(50);
    loop {
        tokio::time::sleep(pause).await;
        if let Some(code) = ctx.engine.exec_exit_code(exec_id).await? {
            return Ok((code, true));
        }
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// The argv that runs `argv` in a container without the `HOSTNAME` variable the engine puts
/// in every process's environment (BuildKit's RUN has none: a shell sets its own, unexported),
/// unless the step's own environment defines it. Only for containers known to have `/bin/sh`
/// (a keeper, a container kept alive by it, an image that has one). The wrapping shell also exports `PWD` and
/// `SHLVL` of its own: it unsets them and puts back the step's values, and `exec` replaces it,
/// so the step's process gets exactly `argv` and the step's environment.
fn without_engine_hostname(argv: &[String], env: &[String]) -> Vec<String> {
    if env.iter().any(|pair| pair.starts_with("HOSTNAME=")) {
        return argv.to_vec();
    }
    let mut script = "unset HOSTNAME PWD SHLVL;".to_string();
    for name in ["PWD", "SHLVL"] {
        let prefix = format!("{name}=");
        if let Some(value) = env.iter().rev().find_map(|pair| pair.strip_prefix(&prefix)) {
            let quoted = value.replace('\'', "'\\''");
            script.push_str(&format!(" export {name}='{quoted}';"));
        }
    }
    script.push_str(" exec \"$@\"");
    let mut wrapped = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script,
        "sh".to_string(),
    ];
    wrapped.extend(argv.iter().cloned());
    wrapped
}

/// Runs the RUN in a fresh container with its mounts; commits it; removes it on every path.
async fn run_in_container(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    execution: &Execution,
    prepared: &mut Prepared,
) -> Result<()> {
    let as_exec = prepared.needs_exec();
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
        mounts: prepared.mounts.clone(),
        privileged: execution.privileged,
        open_stdin: as_exec,
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
        let running = Instant::now();
        ctx.engine.start_container(&id).await?;
        if as_exec {
            for secret in &prepared.secrets_in_container {
                write_secret(ctx, state, instruction, &id, secret).await?;
            }
            exec_step(
                ctx,
                state,
                instruction,
                &id,
                execution,
                &prepared.secret_env,
            )
            .await?;
        } else {
            let tail = collect_output(ctx, &state.name, ctx.engine.logs(&id)).await;
            let code = ctx.engine.wait_container(&id).await?;
            if code != 0 {
                return Err(step_failed(state, instruction, code, tail));
            }
        }
        state.insight.step.clock.add_execute(running.elapsed());
        commit_step(ctx, state, &id, instruction).await
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

/// Writes a secret into the tmpfs of a running container, through the process's standard
/// input (it never touches the engine's disk), with its mode and owner.
async fn write_secret(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    secret: &Secret,
) -> Result<()> {
    let Some(target) = &secret.target else {
        return Ok(());
    };
    let script = format!(
        "umask 077 && cat > \"$1\" && chown {}:{} \"$1\" && chmod {:o} \"$1\"",
        secret.owner.0, secret.owner.1, secret.mode
    );
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
    let tail = collect_output(ctx, &state.name, output).await;
    let (code, _) = exec_exit(ctx, &state.name, &exec_id).await?;
    if code != 0 {
        return Err(RunnerError::Instruction {
            stage: state.name.clone(),
            line: instruction.line,
            source: StepError::Invalid(format!(
                "cannot place secret \"{}\" at {target} (the image needs /bin/sh, cat, chown and chmod for secrets on a remote engine): {}",
                secret.id,
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

fn step_failed(
    state: &StageState,
    instruction: &Instruction,
    code: i64,
    tail: Vec<String>,
) -> RunnerError {
    let tail = if tail.is_empty() {
        String::new()
    } else {
        format!("\nlast lines of output:\n  {}", tail.join("\n  "))
    };
    RunnerError::StepFailed {
        stage: state.name.clone(),
        line: instruction.line,
        text: instruction.text.clone(),
        code,
        tail,
    }
}

/// Streams a process's output to the progress sink, line by line; returns the last lines for a
/// failure message.
///
/// A stream that breaks ends the output, with a note: the output only informs, the step's
/// result is the process's exit code, which the caller asks for next (and waits for).
async fn collect_output(ctx: &Ctx, stage: &str, mut logs: LogStream) -> Vec<String> {
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut partial = [String::new(), String::new()];
    while let Some(chunk) = logs.next().await {
        let (which, bytes) = match chunk {
            Ok(LogChunk::Stdout(b)) => (0, b),
            Ok(LogChunk::Stderr(b)) => (1, b),
            Err(e) => {
                let mut cause = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    cause.push_str(&format!(": {inner}"));
                    source = inner.source();
                }
                ctx.progress.note(
                    stage,
                    &format!("the output stream broke ({cause}); the step goes on, its further output is not shown"),
                );
                break;
            }
        };
        partial[which].push_str(&String::from_utf8_lossy(&bytes));
        while let Some(newline) = partial[which].find('\n') {
            let line: String = partial[which].drain(..=newline).collect();
            emit_line(
                ctx,
                stage,
                which,
                line.trim_end_matches(['\n', '\r']),
                &mut tail,
            );
        }
    }
    for (which, rest) in partial.iter().enumerate() {
        if !rest.is_empty() {
            emit_line(ctx, stage, which, rest, &mut tail);
        }
    }
    tail.into_iter().collect()
}

fn emit_line(ctx: &Ctx, stage: &str, which: usize, line: &str, tail: &mut VecDeque<String>) {
    let stream = if which == 0 {
        Stream::Stdout
    } else {
        Stream::Stderr
    };
    ctx.progress.log(stage, stream, line);
    tail.push_back(line.to_string());
    if tail.len() > TAIL_LINES {
        tail.pop_front();
    }
}

/// The process argv of a RUN, and the script file to mount for a `#!` heredoc.
///
/// Shell form goes through the stage's SHELL; a lone heredoc runs its body (as a file when it
/// starts with `#!`), other heredocs are put back into the script for the shell (BuildKit's
/// rules). Exec form is the argv as written.
pub fn command_line(
    command: &Command,
    heredocs: &[Heredoc],
    shell: &[String],
) -> (Vec<String>, Option<(String, String)>) {
    match command {
        Command::Exec { args } => (args.clone(), None),
        Command::Shell { script } => {
            let lone_heredoc = heredocs.len() == 1 && is_lone_heredoc(script, &heredocs[0].name);
            if lone_heredoc && heredocs[0].body.starts_with("#!") {
                let name = heredocs[0].name.clone();
                let argv = vec![format!("{PIPES_DIR}/{name}")];
                return (argv, Some((name, heredocs[0].body.clone())));
            }
            let body = if lone_heredoc {
                heredocs[0].body.clone()
            } else {
                let mut text = script.clone();
                for heredoc in heredocs {
                    text.push('\n');
                    text.push_str(&heredoc.body);
                    text.push_str(&heredoc.name);
                }
                text
            };
            let mut argv = shell.to_vec();
            argv.push(body);
            (argv, None)
        }
    }
}

/// Whether a RUN script is nothing but `<<NAME` (any of `<<-`, quotes).
fn is_lone_heredoc(script: &str, name: &str) -> bool {
    let rest = script.trim();
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    rest.trim_matches(|c| c == '"' || c == '\'') == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_hostname_is_unset_unless_the_step_defines_it() {
        let argv: Vec<String> = vec!["/bin/sh".into(), "-c".into(), "env".into()];
        let wrapped = without_engine_hostname(&argv, &["PATH=/bin".to_string()]);
        assert_eq!(
            wrapped,
            [
                "/bin/sh",
                "-c",
                "unset HOSTNAME PWD SHLVL; exec \"$@\"",
                "sh",
                "/bin/sh",
                "-c",
                "env"
            ]
        );
        let env = ["SHLVL=3".to_string(), "PWD=/it's".to_string()];
        assert_eq!(
            without_engine_hostname(&argv, &env)[2],
            "unset HOSTNAME PWD SHLVL; export PWD='/it'\\''s'; export SHLVL='3'; exec \"$@\""
        );
        let own = without_engine_hostname(&argv, &["HOSTNAME=mine".to_string()]);
        assert_eq!(own, argv);
    }

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    #[test]
    fn shell_and_exec_forms() {
        let command = Command::Shell {
            script: "echo $V".into(),
        };
        assert_eq!(
            command_line(&command, &[], &sh()).0,
            vec!["/bin/sh", "-c", "echo $V"]
        );
        let command = Command::Exec {
            args: vec!["ls".into(), "/".into()],
        };
        assert_eq!(command_line(&command, &[], &sh()).0, vec!["ls", "/"]);
    }

    #[test]
    fn heredocs_follow_buildkit() {
        let doc = |name: &str, body: &str| Heredoc {
            name: name.into(),
            body: body.into(),
            expand: true,
            fd: None,
        };
        let lone = Command::Shell {
            script: "<<EOF".into(),
        };
        let (argv, file) = command_line(&lone, &[doc("EOF", "echo hi\n")], &sh());
        assert_eq!(argv, vec!["/bin/sh", "-c", "echo hi\n"]);
        assert!(file.is_none());
        let (argv, file) = command_line(&lone, &[doc("EOF", "#!/bin/sh\necho hi\n")], &sh());
        assert_eq!(argv, vec![format!("{PIPES_DIR}/EOF")]);
        assert_eq!(file.unwrap().0, "EOF");
        let piped = Command::Shell {
            script: "cat <<EOF > /x".into(),
        };
        let (argv, _) = command_line(&piped, &[doc("EOF", "a\n")], &sh());
        assert_eq!(argv[2], "cat <<EOF > /x\na\nEOF");
    }
}
