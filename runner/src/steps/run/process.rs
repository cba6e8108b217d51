//! A RUN's process: the exec in a started container (under [`in_exec`]), the output of an exec
//! or a container streamed line by line to the progress sink, the exit code, and the failure
//! that names the code and the last lines of output.
//!
//! Input: a started container (a keeper, or a fresh container that holds secrets), the
//! [`Execution`], the stage state for names in messages.
//! Output: an [`ExecReport`] when the process exits 0, otherwise [`RunnerError::StepFailed`]
//! (or [`RunnerError::OutputBroke`] when the output stream broke before a failing exit).
//! Invariant: the step's result is the process's exit code, never the state of its output
//! stream: a broken stream is noted and the process is waited for.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt;
use planner::plan::Instruction;

use super::execution::Execution;
use super::wrapper::{in_exec, STATE_CHANGED_MARKER};
use crate::engine::{LogChunk, LogStream};
use crate::error::{Result, RunnerError};
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::progress::Stream;

/// How many lines of output a failure message shows.
const TAIL_LINES: usize = 12;

/// What a RUN that ran as an exec left in its container, besides its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ExecReport {
    /// The RUN changed what a commit leaves out and a fresh container starts without (the
    /// engine's files, `/dev`, the mode or owner of `/`), or its output stream broke before the
    /// script could say it did not: the container must not run another RUN.
    pub changed_outside_image: bool,
}

/// Runs the RUN as an exec in the started container `container` (a keeper, or a fresh
/// container that holds secrets), under [`in_exec`]: the processes it leaves are killed when it
/// exits. Fails with the exit code and the last lines of output.
pub(super) async fn exec_step(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    container: &str,
    execution: &Execution,
    secret_env: &[String],
) -> Result<ExecReport> {
    let mut env = execution.env.clone();
    env.extend(secret_env.iter().cloned());
    let user = Some(execution.user.as_str()).filter(|u| !u.is_empty());
    let argv = in_exec(&execution.argv, &env);
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
    let collected = collect_output(ctx, &state.name, output, Some(STATE_CHANGED_MARKER)).await;
    let tail = collected.tail;
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
        return Err(step_failed(
            ctx,
            state,
            instruction,
            &execution.argv,
            code,
            tail,
        ));
    }
    Ok(ExecReport {
        changed_outside_image: collected.marker_seen || stream_broke,
    })
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

/// The error of a RUN that exited `code`, with its last lines of output; any text of the build's
/// secrets in them is masked, since the error also goes into `--record` and `--report` files.
pub(super) fn step_failed(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    argv: &[String],
    code: i64,
    tail: Vec<String>,
) -> RunnerError {
    let tail = if tail.is_empty() {
        String::new()
    } else {
        let secrets: Vec<Vec<u8>> = ctx
            .options
            .secrets
            .values()
            .filter_map(|source| source.read().ok())
            .collect();
        let needles = secret_texts(&secrets);
        let lines: Vec<String> = tail.iter().map(|line| mask(line, &needles)).collect();
        format!("\nlast lines of output:\n  {}", lines.join("\n  "))
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

/// The texts to mask for `secrets`: each secret whole and each of its lines (a key file's lines
/// come out one output line each), trimmed, blank ones and non-UTF-8 secrets left out, longest
/// first (so a whole secret is masked before its lines).
fn secret_texts(secrets: &[Vec<u8>]) -> Vec<&str> {
    let mut texts: Vec<&str> = Vec::new();
    for text in secrets.iter().filter_map(|s| std::str::from_utf8(s).ok()) {
        texts.push(text.trim());
        texts.extend(text.lines().map(str::trim));
    }
    texts.retain(|text| !text.is_empty());
    texts.sort_by_key(|text| std::cmp::Reverse(text.len()));
    texts
}

/// `line` with every one of `texts` replaced by `****`.
fn mask(line: &str, texts: &[&str]) -> String {
    texts
        .iter()
        .fold(line.to_string(), |line, text| line.replace(text, "****"))
}

/// A process's output as [`collect_output`] saw it.
pub(super) struct Collected {
    /// The last lines, for a failure message.
    pub tail: Vec<String>,
    /// Whether a line of standard error ended with the marker asked for.
    pub marker_seen: bool,
}

/// Streams a process's output to the progress sink, line by line; returns the last lines for a
/// failure message. With `marker`, a line of standard error that ends with it is shown without
/// it (and not at all when nothing else is left), and noted in [`Collected::marker_seen`].
///
/// A stream that breaks ends the output, with a note: the output only informs, the step's
/// result is the process's exit code, which the caller asks for next (and waits for).
pub(super) async fn collect_output(
    ctx: &Ctx,
    stage: &str,
    mut logs: LogStream,
    marker: Option<&str>,
) -> Collected {
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut marker_seen = false;
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
            let mut line = line.trim_end_matches(['\n', '\r']);
            if let Some(before) = marker
                .filter(|_| which == 1)
                .and_then(|m| line.strip_suffix(m))
            {
                marker_seen = true;
                if before.is_empty() {
                    continue;
                }
                line = before;
            }
            emit_line(ctx, stage, which, line, &mut tail);
        }
    }
    for (which, rest) in partial.iter().enumerate() {
        if !rest.is_empty() {
            emit_line(ctx, stage, which, rest, &mut tail);
        }
    }
    Collected {
        tail: tail.into_iter().collect(),
        marker_seen,
    }
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
    fn secrets_are_masked_whole_and_line_by_line() {
        let secrets = vec![
            b"s3cr3t-token\n".to_vec(),
            b"-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----\n".to_vec(),
            b"\n".to_vec(),
            vec![0xff, 0xfe],
        ];
        let texts = secret_texts(&secrets);
        assert_eq!(
            mask("token=s3cr3t-token and s3cr3t-token", &texts),
            "token=**** and ****"
        );
        assert_eq!(mask("  AAAABBBB", &texts), "  ****");
        assert_eq!(mask("nothing here", &texts), "nothing here");
    }
}
