//! The Docker engine, through bollard: the only module that names bollard.
//!
//! Input: an engine address (`--engine`, `DOCKER_HOST`, or the local socket) and typed requests.
//! Output: thin typed wrappers over the Engine API calls the runner needs (containers, execs,
//! archives, images, volumes), returning the runner's own types and [`EngineError`].
//! Invariant: no build logic lives here; every call is one Engine API request (or one stream);
//! no other module imports bollard, and this module imports nothing of the runner but the
//! plain image-config type.

mod config;
mod containers;
mod files;
mod images;
mod volumes;

use std::path::PathBuf;
use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};
use bytes::Bytes;
use futures_util::Stream;

pub use containers::{ContainerListing, ContainerSpec, MountSpec};
pub use files::{ArchiveDownload, ArchiveUpload, PathStat};
pub use images::{HistoryItem, ImageInfo};

/// Seconds the client waits for response headers. Commits of big layers and uploads of big
/// archives only answer when done, so bollard's 120 s default is too short.
const REQUEST_TIMEOUT_SECS: u64 = 3600;

/// The default engine address.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

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
    fn api(op: impl Into<String>, source: bollard::errors::Error) -> EngineError {
        EngineError {
            op: op.into(),
            source: EngineCause::Api(source),
        }
    }

    fn protocol(op: impl Into<String>, message: impl Into<String>) -> EngineError {
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

/// The engine's result type.
pub type EngineResult<T> = std::result::Result<T, EngineError>;

/// Whether a bollard error is the engine's 404.
fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A connected, version-negotiated engine client. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
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

impl Engine {
    /// Connects to `url`, else `DOCKER_HOST`, else the local socket, and negotiates the API
    /// version. TCP uses TLS when `DOCKER_TLS_VERIFY` is set or the scheme is `https`; the
    /// certificates come from `DOCKER_CERT_PATH` (default `~/.docker`). Returns the address
    /// tried with the error.
    pub async fn connect(url: Option<&str>) -> std::result::Result<Engine, (String, EngineError)> {
        let host = url
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        match Self::connect_to(&host).await {
            Ok(engine) => Ok(engine),
            Err(e) => Err((host, e)),
        }
    }

    async fn connect_to(host: &str) -> EngineResult<Engine> {
        let op = "connect";
        let tls = host.starts_with("https://")
            || std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
        let docker = if host.starts_with("unix://") || host.starts_with('/') {
            let path = host.strip_prefix("unix://").unwrap_or(host);
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") || tls {
            if tls {
                let certs = cert_dir().map_err(|m| EngineError::protocol(op, m))?;
                let addr = host.replacen("https://", "tcp://", 1);
                Docker::connect_with_ssl(
                    &addr,
                    &certs.join("key.pem"),
                    &certs.join("cert.pem"),
                    &certs.join("ca.pem"),
                    REQUEST_TIMEOUT_SECS,
                    API_DEFAULT_VERSION,
                )
            } else {
                Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
            }
        } else {
            return Err(EngineError::protocol(
                op,
                "unsupported address; use unix:///path, tcp://host:port or https://host:port",
            ));
        }
        .map_err(|e| EngineError::api(op, e))?;
        let docker = docker
            .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .negotiate_version()
            .await
            .map_err(|e| EngineError::api("negotiate the API version", e))?;
        Ok(Engine {
            docker,
            host: host.to_string(),
        })
    }

    /// The address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the engine runs on this machine (a unix socket), so host paths are its paths.
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://") || self.host.starts_with('/')
    }
}

/// The TLS certificate directory: `DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_dir() -> std::result::Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".docker"))
        .ok_or_else(|| "TLS needs DOCKER_CERT_PATH (or HOME for ~/.docker)".to_string())
}
