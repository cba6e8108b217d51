//! The errors of the BuildKit backend.
//!
//! Input: failures of the transport (dialing, the HTTP upgrade, TLS files), of gRPC calls, of the
//! session's services, of the translation and of the solve.
//! Output: [`BuildkitError`], with the underlying error kept as its `#[source]`.
//! Invariant: messages are lower-case, name what was being done (and the address, file, stage or
//! line involved) and end with what to do where there is something to do.

use std::path::PathBuf;

use thiserror::Error;

use super::llb::types::TranslateError;

/// Everything that can stop a build on BuildKit.
#[derive(Debug, Error)]
pub enum BuildkitError {
    /// The address given for the engine or the daemon cannot be used.
    #[error("buildkit address {address:?}: {problem}")]
    BadAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it and what is accepted.
        problem: String,
    },
    /// Dialing the engine or the daemon failed.
    #[error("cannot reach {address}: {source} (is the daemon running? check --engine, DOCKER_HOST or --buildkit-addr)")]
    Dial {
        /// The address dialed.
        address: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS file (CA, certificate, key) cannot be read or parsed.
    #[error("tls file {path:?}: {message}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The TLS handshake or configuration failed.
    #[error("tls with {address}: {source}")]
    Tls {
        /// The address.
        address: String,
        /// The TLS error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP request that upgrades an engine connection to HTTP/2 failed.
    #[error("upgrading {path} on the engine at {address} failed: {message}")]
    Upgrade {
        /// The engine address.
        address: String,
        /// The endpoint (`/grpc` or `/session`).
        path: String,
        /// The HTTP status and body, or the protocol error.
        message: String,
    },
    /// The upgrade request could not be sent at all.
    #[error("upgrading {path} on the engine at {address} failed")]
    UpgradeHttp {
        /// The engine address.
        address: String,
        /// The endpoint (`/grpc` or `/session`).
        path: String,
        /// The HTTP error.
        #[source]
        source: hyper::Error,
    },
    /// The gRPC channel could not be set up.
    #[error(
        "grpc connection to {address} failed (is the daemon running there? check --buildkit-addr)"
    )]
    Channel {
        /// The address.
        address: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// A gRPC call returned an error status.
    #[error("buildkit {call} failed: {}", .source.message())]
    Call {
        /// The call (`Control.Solve`, `LlbBridge.ResolveImageConfig`, ...).
        call: &'static str,
        /// The status.
        #[source]
        source: tonic::Status,
    },
    /// The plan cannot be expressed as LLB.
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// A base image's configuration is not valid JSON of an image.
    #[error("the configuration of image {image:?} returned by buildkit is not an image config: {source}")]
    ImageConfig {
        /// The image reference.
        image: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An instruction's step failed while BuildKit ran it.
    #[error("stage {stage}, line {line}: `{text}` failed: {message}")]
    StepFailed {
        /// The stage's display name.
        stage: String,
        /// 1-based Dockerfile line.
        line: u32,
        /// The instruction as written.
        text: String,
        /// BuildKit's message (with the exit code for a RUN).
        message: String,
        /// The process exit code, when the failed step was a process.
        exit_code: Option<i64>,
    },
    /// The solve failed outside any one instruction.
    #[error("buildkit solve failed: {message}")]
    Solve {
        /// BuildKit's message.
        message: String,
    },
    /// A local file needed by the build (a secret, the ignore file) cannot be read.
    #[error("{what} {path:?}: {source}")]
    Io {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The target's files could not be written where `--output` says (the build itself
    /// succeeded).
    #[error("--output {}: the target was built, but its files could not be written there", .dest.display())]
    Export {
        /// The destination (`-` for standard output).
        dest: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The build context's ignore file is unusable.
    #[error(transparent)]
    Context(#[from] crate::context::ContextError),
    /// The plan cannot be performed as given.
    #[error("the plan")]
    Plan(#[from] crate::plan_check::PlanError),
    /// The build was stopped by a signal; the solve was cancelled on the daemon.
    #[error(
        "interrupted by {signal}; the solve was cancelled on buildkit, which stopped its processes"
    )]
    Interrupted {
        /// The signal's name (`SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, …).
        signal: &'static str,
    },
}

/// The result type of the backend.
pub type Result<T> = std::result::Result<T, BuildkitError>;

impl BuildkitError {
    /// Wraps a gRPC status of `call`.
    pub fn call(call: &'static str, source: tonic::Status) -> Self {
        BuildkitError::Call { call, source }
    }

    /// The process exit code for this error: 1 for a failed step, 130 for an interrupt, 2 for
    /// everything else (the runner's documented codes).
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildkitError::StepFailed { .. } => 1,
            BuildkitError::Interrupted { .. } => 130,
            _ => 2,
        }
    }
}
