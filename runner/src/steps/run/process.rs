//! A RUN's process: the exec in a started container, the argv wrapper that drops the engine's
//! `HOSTNAME`, the output of an exec or a container streamed line by line to the progress sink,
//! the exit code, and the failure that names the code and the last lines of output.
//!
//! Input: a started container (a keeper, or a fresh container that holds secrets), the
//! [`Execution`], the stage state for names in messages.
//! Output: `Ok` when the process exits 0, otherwise [`RunnerError::StepFailed`] (or
//! [`RunnerError::OutputBroke`] when the output stream broke before a failing exit).
//! Invariant: the step's result is the process's exit code, never the state of its output
//! stream: a broken stream is noted and the process is waited for.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt;
use planner::plan::Instruction;

use super::execution::Execution;
use crate::engine::{LogChunk, LogStream};
use crate::error::{Result, RunnerError};
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::progress::Stream;

/// How many lines of output a failure message shows.
const TAIL_LINES: usize = 12;

/// Runs the RUN as an exec in the started container `container` (a keeper, or a fresh
/// container that holds secrets); fails with the exit code and the last lines of output.
pub(super) async fn exec_step(
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
        .await
        .map_err(|e| user_refused(state, instruction, &execution.user, e))?;
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
    // An exec as a USER the image lacks never starts: the engine says so on its output and
    // exits 126.
    if code == 126 {
        if let Some(refusal) = tail.iter().find_map(|line| user_refusal(line)) {
            return Err(unknown_user(state, instruction, &execution.user, refusal));
        }
    }
    if code != 0 {
        return Err(step_failed(state, instruction, &execution.argv, code, tail));
    }
    Ok(())
}

/// The exit code of an exec whose output stream has ended, and whether the stream ended while
/// the process still ran. The engine ends the stream when the process exits; a stream that
/// ended before (its connection broke) leaves the process running in the container, and it is
/// waited for: its exit code is the step's result, only the rest of its output is lost. A
/// process that writes after the break is failed by the engine (exit 126); one that the engine
/// failed before the first look cannot be told from a step's own failure.
pub(super) async fn exec_exit(ctx: &Ctx, stage: &str, exec_id: &str) -> Result<(i64, bool)> {
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

/// How long a container's process may go on after its attached output stream ended before the
/// end counts as a break (the engine ends the stream when the process exits).
const STREAM_END_GRACE: Duration = Duration::from_secs(1);

/// The exit code of a started container whose attached output stream has ended. A stream that
/// ended while the process still ran (its connection broke) is noted, and the process is
/// waited for: its exit code is the step's result, only the rest of its output is lost.
pub(super) async fn attached_exit(ctx: &Ctx, stage: &str, container: &str) -> Result<i64> {
    let waited = ctx.engine.wait_container(container);
    tokio::pin!(waited);
    if let Ok(code) = tokio::time::timeout(STREAM_END_GRACE, &mut waited).await {
        return Ok(code?);
    }
    ctx.progress.note(
        stage,
        "the output stream ended before the process did (its connection to the engine broke?); waiting for the process, whose further output is not shown",
    );
    Ok(waited.await?)
}

/// The argv that runs `argv` in a container without the `HOSTNAME` variable the engine puts
/// in every process's environment (BuildKit's RUN has none: a shell sets its own, unexported),
/// unless the step's own environment defines it. Only for containers known to have `/bin/sh`
/// (a keeper, a container kept alive by it, an image that has one). The wrapping shell also exports `PWD` and
/// `SHLVL` of its own: it unsets them and puts back the step's values, and `exec` replaces it,
/// so the step's process gets exactly `argv` and the step's environment.
pub(super) fn without_engine_hostname(argv: &[String], env: &[String]) -> Vec<String> {
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

/// The engine's refusal to run a process as a USER the image does not have, as the step's own
/// problem naming that USER (like BuildKit's "unable to find user"); any other engine error as it
/// is.
pub(super) fn user_refused(
    state: &StageState,
    instruction: &Instruction,
    user: &str,
    error: crate::engine::EngineError,
) -> RunnerError {
    // The engine's message is in the error's causes.
    let text = crate::error::chain_text(&error);
    match user_refusal(&text) {
        Some(refusal) => unknown_user(state, instruction, user, refusal),
        None => RunnerError::Engine(error),
    }
}

/// The engine's words for a USER or group the image lacks, from where they start in `text`.
fn user_refusal(text: &str) -> Option<&str> {
    let at = text
        .find("unable to find user")
        .or_else(|| text.find("unable to find group"))?;
    Some(text[at..].trim())
}

/// The step problem of a USER the image lacks.
fn unknown_user(
    state: &StageState,
    instruction: &Instruction,
    user: &str,
    refusal: &str,
) -> RunnerError {
    RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        source: crate::error::StepError::Invalid(format!(
            "USER {user}: {refusal}; add it to the image first (RUN adduser …) or use a numeric uid"
        )),
    }
}

pub(super) fn step_failed(
    state: &StageState,
    instruction: &Instruction,
    argv: &[String],
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
        process: argv.join(" "),
        code,
        tail,
    }
}

/// Streams a process's output to the progress sink, line by line; returns the last lines for a
/// failure message.
///
/// A stream that breaks ends the output, with a note: the output only informs, the step's
/// result is the process's exit code, which the caller asks for next (and waits for).
pub(super) async fn collect_output(ctx: &Ctx, stage: &str, mut logs: LogStream) -> Vec<String> {
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
}
