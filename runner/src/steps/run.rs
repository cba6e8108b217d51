//! `RUN`: one container per step: create, start, stream its output, wait, commit, remove.
//!
//! Input: a RUN instruction, the stage state (image, config, ARGs) and the shared build context.
//! Output: the stage's new image (committed with the whole config) or a [`RunnerError::StepFailed`]
//! carrying the exit code and the last lines of output.
//! Invariant: build ARGs reach the process inline in the command, never as container Env (the
//! engine's commit would write them into the image, RUNNER-NOTES P5); the container is removed on
//! every path.

use std::collections::VecDeque;

use futures_util::StreamExt;
use planner::plan::{Command, Heredoc, Instruction, Op};

use crate::engine::{ContainerSpec, LogChunk, LogStream};
use crate::error::{Result, RunnerError};
use crate::keeper;
use crate::mounts::{self, Prepared};
use crate::progress::Stream;
use crate::stage::{commit_step, Ctx, StageState};

/// How many lines of output a failure message shows.
const TAIL_LINES: usize = 12;

/// Performs a RUN instruction (or takes its result from the cache).
pub async fn perform(ctx: &Ctx, state: &mut StageState, instruction: &Instruction) -> Result<()> {
    let Op::Run {
        command,
        mounts: mount_specs,
        network,
        security,
        heredocs,
    } = &instruction.op
    else {
        unreachable!("run_step::perform is only called for RUN");
    };
    let run_args = state.run_args();
    let args_text: Vec<String> = run_args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let bodies: Vec<&str> = heredocs.iter().map(|h| h.body.as_str()).collect();
    let mount_inputs = mounts::cache_inputs(ctx, state, instruction, mount_specs)?;
    state.key = state.key.next(&[
        "run",
        &instruction.text,
        &args_text.join("\n"),
        &bodies.join("\0"),
        &mount_inputs,
        network.as_deref().unwrap_or(""),
        security.as_deref().unwrap_or(""),
    ]);
    if crate::stage::cached_or_started(ctx, state, instruction).await? {
        return Ok(());
    }
    let (argv, shebang) = command_line(
        command,
        heredocs,
        &state.config.shell_or_default(),
        &run_args,
    );
    let _permit = ctx
        .jobs
        .acquire()
        .await
        .map_err(|e| RunnerError::engine("acquire a job slot", e))?;
    if state.keeper_enabled && keeper_eligible(instruction) {
        if let Some(keeper) = keeper::ensure(ctx, state).await? {
            return run_in_keeper(ctx, state, instruction, &keeper, &argv).await;
        }
    }
    let prepared = mounts::prepare(ctx, state, instruction, mount_specs, shebang.as_ref()).await?;
    let result = run_container(ctx, state, instruction, argv, network, security, &prepared).await;
    mounts::release(ctx, &prepared).await;
    result
}

/// Whether a RUN can be an exec in the stage's keeper: no mounts, the default network and
/// security, and no heredoc script file to mount.
pub fn keeper_eligible(instruction: &Instruction) -> bool {
    let Op::Run {
        command,
        mounts,
        network,
        security,
        heredocs,
    } = &instruction.op
    else {
        return false;
    };
    let shebang = matches!(command, Command::Shell { script } if heredocs.len() == 1
        && is_lone_heredoc(script, &heredocs[0].name)
        && heredocs[0].body.starts_with("#!"));
    mounts.is_empty()
        && matches!(network.as_deref(), None | Some("default"))
        && matches!(security.as_deref(), None | Some("sandbox"))
        && !shebang
}

/// Runs the RUN as an exec in the stage's keeper and commits the keeper.
async fn run_in_keeper(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    keeper_id: &str,
    argv: &[String],
) -> Result<()> {
    let working_dir = if state.config.working_dir.is_empty() {
        "/"
    } else {
        &state.config.working_dir
    };
    let user = Some(state.config.user.as_str()).filter(|u| !u.is_empty());
    let (exec_id, output) = ctx
        .engine
        .exec(keeper_id, argv, &state.config.env, Some(working_dir), user)
        .await?;
    let tail = collect_output(ctx, &state.name, output).await?;
    let code = ctx.engine.exec_exit_code(&exec_id).await?;
    if code != 0 {
        return Err(step_failed(state, instruction, code, tail));
    }
    commit_step(ctx, state, keeper_id, instruction).await?;
    keeper::after_commit(ctx, state).await
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

/// Creates, runs and commits the RUN container; removes it on every path.
async fn run_container(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    argv: Vec<String>,
    network: &Option<String>,
    security: &Option<String>,
    prepared: &Prepared,
) -> Result<()> {
    let network_mode = match network.as_deref() {
        Some("none") => Some("none".to_string()),
        Some("host") => Some("host".to_string()),
        _ => None,
    };
    let spec = ContainerSpec {
        image: state.image.clone(),
        entrypoint: argv,
        env: state.config.env.clone(),
        working_dir: Some(state.config.working_dir.clone()).filter(|w| !w.is_empty()),
        user: Some(state.config.user.clone()).filter(|u| !u.is_empty()),
        network_mode,
        mounts: prepared.mounts.clone(),
        privileged: security.as_deref() == Some("insecure"),
        ..ContainerSpec::default()
    };
    let id = ctx.reaper.create(spec).await?;
    let outcome = async {
        ctx.engine.start_container(&id).await?;
        let tail = collect_output(ctx, &state.name, Box::pin(ctx.engine.logs(&id))).await?;
        let code = ctx.engine.wait_container(&id).await?;
        if code != 0 {
            return Err(step_failed(state, instruction, code, tail));
        }
        commit_step(ctx, state, &id, instruction).await
    }
    .await;
    let removed = ctx.reaper.remove(&id).await;
    outcome.and(removed)
}

/// Streams a started container's output to the progress sink, line by line; returns the last
/// lines for a failure message.
async fn collect_output(ctx: &Ctx, stage: &str, mut logs: LogStream) -> Result<Vec<String>> {
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut partial = [String::new(), String::new()];
    while let Some(chunk) = logs.next().await {
        let (which, bytes) = match chunk? {
            LogChunk::Stdout(b) => (0, b),
            LogChunk::Stderr(b) => (1, b),
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
    Ok(tail.into_iter().collect())
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

/// The process argv of a RUN, and the script file to mount for a shebang heredoc.
///
/// Shell form goes through the stage's SHELL; a lone heredoc runs its body (as a file when it
/// starts with `#!`), other heredocs are put back into the script for the shell (BuildKit's
/// rules). ARGs are exported at the start of a shell script; exec form gets them through
/// `/bin/sh -c 'export ...; exec "$@"'` only when there are any.
pub fn command_line(
    command: &Command,
    heredocs: &[Heredoc],
    shell: &[String],
    run_args: &[(String, String)],
) -> (Vec<String>, Option<(String, String)>) {
    let exports: String = run_args
        .iter()
        .map(|(k, v)| format!("export {k}={}; ", shell_quote(v)))
        .collect();
    match command {
        Command::Exec { args } => {
            if exports.is_empty() {
                return (args.clone(), None);
            }
            let mut argv = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("{exports}exec \"$@\""),
                "sh".to_string(),
            ];
            argv.extend(args.iter().cloned());
            (argv, None)
        }
        Command::Shell { script } => {
            let lone_heredoc = heredocs.len() == 1 && is_lone_heredoc(script, &heredocs[0].name);
            if lone_heredoc && heredocs[0].body.starts_with("#!") {
                let name = heredocs[0].name.clone();
                let mut argv = Vec::new();
                if !exports.is_empty() {
                    argv.extend(["/bin/sh".to_string(), "-c".to_string()]);
                    argv.push(format!("{exports}exec \"$0\""));
                }
                argv.push(format!("{}/{name}", crate::mounts::PIPES_DIR));
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
            argv.push(format!("{exports}{body}"));
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

/// Quotes a value for a POSIX shell.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    #[test]
    fn shell_form_exports_args() {
        let command = Command::Shell {
            script: "echo $V".into(),
        };
        let (argv, _) = command_line(&command, &[], &sh(), &[("V".into(), "a'b".into())]);
        assert_eq!(argv, vec!["/bin/sh", "-c", "export V='a'\\''b'; echo $V"]);
    }

    #[test]
    fn exec_form_is_direct_without_args() {
        let command = Command::Exec {
            args: vec!["ls".into(), "/".into()],
        };
        assert_eq!(command_line(&command, &[], &sh(), &[]).0, vec!["ls", "/"]);
        let (argv, _) = command_line(&command, &[], &sh(), &[("A".into(), "1".into())]);
        assert_eq!(argv[..3], ["/bin/sh", "-c", "export A='1'; exec \"$@\""]);
        assert_eq!(argv[3..], ["sh", "ls", "/"]);
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
        let (argv, file) = command_line(&lone, &[doc("EOF", "echo hi\n")], &sh(), &[]);
        assert_eq!(argv, vec!["/bin/sh", "-c", "echo hi\n"]);
        assert!(file.is_none());
        let (argv, file) = command_line(&lone, &[doc("EOF", "#!/bin/sh\necho hi\n")], &sh(), &[]);
        assert_eq!(argv, vec![format!("{}/EOF", crate::mounts::PIPES_DIR)]);
        assert_eq!(file.unwrap().0, "EOF");
        let piped = Command::Shell {
            script: "cat <<EOF > /x".into(),
        };
        let (argv, _) = command_line(&piped, &[doc("EOF", "a\n")], &sh(), &[]);
        assert_eq!(argv[2], "cat <<EOF > /x\na\nEOF");
    }
}
