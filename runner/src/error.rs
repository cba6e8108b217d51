//! The runner's one error type.
//!
//! Input: failures from the engine, the plan, the build context and the steps themselves.
//! Output: [`RunnerError`], whose [`RunnerError::exit_code`] is the process exit code.
//! Invariant: a failed step (exit code 1) is told apart from every usage, plan or engine
//! problem (exit code 2); messages are lower-case and say what to do.

use thiserror::Error;

/// Everything that can stop a build.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// A call to the Docker engine failed.
    #[error("engine: {op} failed: {message}")]
    Engine {
        /// What the runner asked the engine to do (`create container`, `commit`, ...).
        op: String,
        /// The engine's message.
        message: String,
    },
    /// The engine could not be reached at all.
    #[error("cannot reach the docker engine at {host}: {message} (is dockerd running? set DOCKER_HOST or --engine)")]
    Connect {
        /// The engine address tried.
        host: String,
        /// Why it failed.
        message: String,
    },
    /// A base image is neither present locally nor pullable.
    #[error("image \"{image}\" is not present on the engine and could not be pulled: {message}")]
    ImageUnavailable {
        /// The image reference.
        image: String,
        /// The pull error.
        message: String,
    },
    /// The plan file cannot be used.
    #[error("plan: {0}")]
    Plan(String),
    /// An instruction of the plan cannot be performed as written.
    #[error("stage {stage}, line {line}: {message}")]
    Instruction {
        /// The stage's display name.
        stage: String,
        /// 1-based Dockerfile line.
        line: u32,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A `RUN` step exited non-zero.
    #[error("stage {stage}, line {line}: `{text}` exited with code {code}{tail}")]
    StepFailed {
        /// The stage's display name.
        stage: String,
        /// 1-based Dockerfile line.
        line: u32,
        /// The instruction as written.
        text: String,
        /// The process exit code.
        code: i64,
        /// The last lines of output, already formatted (empty or starting with a newline).
        tail: String,
    },
    /// Reading the build context failed.
    #[error("context: {0}")]
    Context(String),
    /// Invalid command-line usage not caught by the argument parser.
    #[error("{0}")]
    Usage(String),
    /// The build was interrupted (Ctrl-C).
    #[error("interrupted; every temporary container was removed")]
    Interrupted,
    /// An error raised in a stage that several waiting stages share.
    #[error(transparent)]
    Shared(std::sync::Arc<RunnerError>),
    /// A local I/O error (reading the plan, a secret, ...).
    #[error("{what}: {source}")]
    Io {
        /// What the runner was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl RunnerError {
    /// The process exit code for this error: 1 for a failed step, 130 for Ctrl-C, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunnerError::Shared(inner) => inner.exit_code(),
            RunnerError::StepFailed { .. } => 1,
            RunnerError::Interrupted => 130,
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

    /// Builds an [`RunnerError::Engine`].
    pub fn engine(op: impl Into<String>, message: impl ToString) -> Self {
        RunnerError::Engine {
            op: op.into(),
            message: message.to_string(),
        }
    }
}

/// The runner's result type.
pub type Result<T> = std::result::Result<T, RunnerError>;
