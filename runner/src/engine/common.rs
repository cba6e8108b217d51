//! What every engine request module shares: the error type and the output stream type.
//!
//! Input: bollard's errors, process output chunks.
//! Output: [`EngineError`] (the request and its cause), [`LogChunk`], [`LogStream`].
//! Invariant: leaf of the engine module: it uses no other engine module.

use bytes::Bytes;
use futures_util::Stream;

/// One failed engine request: what was asked and the engine's (or the transport's) answer.
#[derive(Debug, thiserror::Error)]
#[error("engine: {op} failed")]
pub struct EngineError {
    /// What the runner asked the engine to do (`create container`, `commit`, ...).
    pub op: String,
    /// Why it failed.
    #[source]
    pub source: EngineCause,
}

/// The cause of an [`EngineError`].
#[derive(Debug, thiserror::Error)]
pub enum EngineCause {
    /// The engine answered with an error, or the connection failed.
    #[error(transparent)]
    Api(#[from] bollard::errors::Error),
    /// The engine answered something the runner cannot use.
    #[error("{0}")]
    Protocol(String),
}

impl EngineError {
    pub(super) fn api(op: impl Into<String>, source: bollard::errors::Error) -> EngineError {
        EngineError {
            op: op.into(),
            source: EngineCause::Api(source),
        }
    }

    pub(super) fn protocol(op: impl Into<String>, message: impl Into<String>) -> EngineError {
        EngineError {
            op: op.into(),
            source: EngineCause::Protocol(message.into()),
        }
    }

    /// The HTTP status the engine answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match &self.source {
            EngineCause::Api(bollard::errors::Error::DockerResponseServerError {
                status_code,
                ..
            }) => Some(*status_code),
            _ => None,
        }
    }
}

impl EngineError {
    /// The engine's message when it refused an uploaded archive because of what is already in
    /// the container (a directory over a file or a symlink, say): a problem of the build, not
    /// of the engine.
    pub fn refused_archive(&self) -> Option<&str> {
        match &self.source {
            EngineCause::Api(bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message,
            }) if message.starts_with("Error processing tar file") => Some(message),
            _ => None,
        }
    }
}

/// The engine's result type.
pub type EngineResult<T> = std::result::Result<T, EngineError>;

/// Whether a bollard error is the engine's 404.
pub(super) fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A chunk of a running process's output.
#[derive(Debug, Clone)]
pub enum LogChunk {
    /// Standard output bytes.
    Stdout(Bytes),
    /// Standard error bytes.
    Stderr(Bytes),
}

/// A stream of a process's output.
pub type LogStream = std::pin::Pin<Box<dyn Stream<Item = EngineResult<LogChunk>> + Send>>;
