//! The runner's error types.
//!
//! Input: failures from the engine, the plan, the build context and the steps themselves.
//! Output: [`RunnerError`], whose [`RunnerError::exit_code`] is the process exit code, and
//! [`StepError`], what is wrong with one instruction.
//! Invariant: a failed step (exit code 1) is told apart from every usage, plan or engine
//! problem (exit code 2); every wrapped error keeps its source, so `main` prints the whole
//! chain; messages are lower-case and say what to do.

use std::sync::Arc;

use thiserror::Error;

use crate::context::ContextError;
use crate::engine::EngineError;
use crate::fs::tar::TarError;
use crate::plan_check::PlanError;

/// Everything that can stop a build.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// A call to the Docker engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A call to the Docker engine failed while a stage was at one of its instructions (or
    /// making its final image).
    #[error("stage {stage}, {at}")]
    EngineInStage {
        /// The stage's display name.
        stage: String,
        /// Where in the stage: `line 7`, or `its final image`.
        at: String,
        /// The failed request.
        #[source]
        source: Box<EngineError>,
    },
    /// The engine could not be reached at all.
    #[error("cannot reach the docker engine at {host} (is dockerd running? set DOCKER_HOST or --engine)")]
    Connect {
        /// The engine address tried.
        host: String,
        /// Why it failed.
        #[source]
        source: EngineError,
    },
    /// The plan cannot be performed as given.
    #[error("plan {origin}")]
    Plan {
        /// Where the plan came from (a file name, `<stdin>`, or the Dockerfile it was made of).
        origin: String,
        /// What is wrong with it.
        #[source]
        source: PlanError,
    },
    /// The Dockerfile given to `runner build` has errors.
    #[error("{file} has errors:\n{errors}")]
    Dockerfile {
        /// The Dockerfile.
        file: String,
        /// Its error diagnostics, one `file:line:col: message` per line.
        errors: String,
    },
    /// An instruction of the plan cannot be performed as written.
    #[error("stage {stage}, line {line}")]
    Instruction {
        /// The stage's display name.
        stage: String,
        /// 1-based Dockerfile line.
        line: u32,
        /// What is wrong and how to fix it.
        #[source]
        source: StepError,
    },
    /// A `RUN` step exited non-zero.
    #[error("stage {stage}, line {line}: `{text}` exited with code {code} (process \"{process}\" did not complete successfully: exit code: {code}){tail}")]
    StepFailed {
        /// The stage's display name.
        stage: String,
        /// 1-based Dockerfile line.
        line: u32,
        /// The instruction as written.
        text: String,
        /// The process as BuildKit names it (its argv joined by spaces).
        process: String,
        /// The process exit code.
        code: i64,
        /// The last lines of output, already formatted (empty or starting with a newline).
        tail: String,
    },
    /// A `RUN` exited non-zero after its output stream to the engine had broken while it ran:
    /// a process that can no longer write its output fails, so the engine's connection is to
    /// blame, not the step.
    #[error("stage {stage}, line {line}: `{text}` exited with code {code} after its output stream to the engine broke while it ran (a failure of the connection, not of the command); build again")]
    OutputBroke {
        /// The stage's display name.
        stage: String,
        /// 1-based Dockerfile line.
        line: u32,
        /// The instruction as written.
        text: String,
        /// The process exit code.
        code: i64,
    },
    /// Opening the build context failed.
    #[error("build context")]
    Context(#[from] ContextError),
    /// Invalid command-line usage not caught by the argument parser.
    #[error("{0}")]
    Usage(String),
    /// The build was interrupted by a signal.
    #[error("interrupted by {signal}; every temporary container and volume was removed")]
    Interrupted {
        /// The signal's name (`SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, …).
        signal: &'static str,
    },
    /// The build is stopping (another stage failed, or a signal came) and refused new work.
    #[error("the build is being stopped")]
    Stopping,
    /// An error raised in a stage that several waiting stages share.
    #[error(transparent)]
    Shared(Arc<RunnerError>),
    /// The BuildKit backend failed (its message names the stage and line of a failed step).
    #[cfg(feature = "buildkit")]
    #[error(transparent)]
    Buildkit(#[from] crate::buildkit::error::BuildkitError),
    /// `--output DIR` could not be written (the image itself was built).
    #[error("--output {}: the target image was built, but its files could not be written there", dest.display())]
    Export {
        /// The destination directory.
        dest: std::path::PathBuf,
        /// Why.
        #[source]
        source: ExportError,
    },
    /// A local I/O error (reading the plan, a secret, ...).
    #[error("{what}")]
    Io {
        /// What the runner was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with one instruction (wrapped in [`RunnerError::Instruction`]).
#[derive(Debug, Error)]
pub enum StepError {
    /// The instruction asks for something the runner cannot do, with the reason and the fix.
    #[error("{0}")]
    Invalid(String),
    /// A word could not be expanded (the source names the word, as BuildKit does).
    #[error("variable expansion failed")]
    Expand {
        /// The expander's message (BuildKit's wording: `failed to process "<word>": …`).
        #[source]
        source: planner::expand::ExpandError,
    },
    /// Reading the build context failed.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Building or reading an archive failed.
    #[error(transparent)]
    Tar(#[from] TarError),
    /// Downloading an `ADD` URL failed.
    #[error("ADD {url}: download failed")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A blocking worker task failed.
    #[error("a worker task failed")]
    Worker(#[source] tokio::task::JoinError),
    /// An image the instruction uses (`FROM`, `COPY --from`, a mount's `from=`) is neither on
    /// the engine nor pullable.
    #[error("image \"{image}\" is not present on the engine and could not be pulled")]
    ImageUnavailable {
        /// The image reference.
        image: String,
        /// The pull error (boxed: it is much larger than the other variants).
        #[source]
        source: Box<EngineError>,
    },
}

/// Why the target's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Finding the files in a holder of the image failed.
    #[error(transparent)]
    Find(StepError),
    /// Reading the files from the engine failed.
    #[error("reading the image's files")]
    Read(#[source] std::io::Error),
    /// Writing one path failed.
    #[error("writing {path}")]
    Write {
        /// The path, relative to the destination.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An entry whose path would leave the destination (through `..` or a symlink).
    #[error("{path}: the path leaves the destination; nothing was written for it")]
    Escapes {
        /// The path as the image names it.
        path: String,
    },
    /// The tar file could not be created.
    #[error("creating the tar file")]
    Create(#[source] std::io::Error),
    /// The blocking worker stopped.
    #[error("a worker task failed")]
    Worker(#[source] tokio::task::JoinError),
}

impl RunnerError {
    /// The process exit code for this error: 1 for a failed step, 130 for an interrupt, 2
    /// otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunnerError::Shared(inner) => inner.exit_code(),
            #[cfg(feature = "buildkit")]
            RunnerError::Buildkit(inner) => inner.exit_code(),
            RunnerError::StepFailed { .. } => 1,
            RunnerError::Interrupted { .. } => 130,
            _ => 2,
        }
    }

    /// Builds an [`RunnerError::Io`] from a description and an I/O error.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        RunnerError::Io {
            what: what.into(),
            source,
        }
    }

    /// An engine error placed in stage `stage` at `at` (`line 7`); every other error is
    /// returned as it is (it names its place already, or has none).
    pub fn in_stage(self, stage: &str, at: impl FnOnce() -> String) -> Self {
        match self {
            RunnerError::Engine(source) => RunnerError::EngineInStage {
                stage: stage.to_string(),
                at: at(),
                source: Box::new(source),
            },
            other => other,
        }
    }

    /// Whether this error (or the shared error it wraps) is an interruption.
    pub fn is_interrupt(&self) -> bool {
        match self {
            RunnerError::Shared(inner) => inner.is_interrupt(),
            #[cfg(feature = "buildkit")]
            RunnerError::Buildkit(inner) => inner.exit_code() == 130,
            RunnerError::Interrupted { .. } => true,
            _ => false,
        }
    }
}

/// The runner's result type.
pub type Result<T> = std::result::Result<T, RunnerError>;

/// An error and its causes on one line, joined with `: `; a cause is left out when the text so
/// far already ends with it (an error whose message quotes its own source, as messages with an
/// `io::Error` often do).
pub fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let message = inner.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let quoting = crate::context::ContextError::Io {
            path: "/ctx/f".into(),
            source: io(),
        };
        let text = chain_text(&quoting);
        assert_eq!(text.matches("no such file").count(), 1, "{text}");
        // A cause the message does not quote is added.
        let wrapped = RunnerError::io("reading /ctx/f", io());
        assert!(
            chain_text(&wrapped).ends_with(": no such file"),
            "{}",
            chain_text(&wrapped)
        );
    }
}
