//! A BuildKit session: the gRPC server this client runs for the daemon, which calls back into it
//! for local files (`FileSync`), secrets (`Secrets`), liveness (`Health`) and, with `--output`,
//! the exported files (`FileSend`).
//!
//! Input: the transport, the directories and secrets to expose.
//! Output: a [`RunningSession`] whose id goes into the solve request and into every
//! `local://` source; the session ends when the value is dropped.
//! Invariant: only the methods announced in the session headers are served; the served files
//! are the exposed directories' (with their ignore rules) and nothing else.

pub mod filesend;
pub mod filesync;
pub mod followpaths;
pub mod fswalk;
mod health;
mod secrets;

use std::collections::BTreeMap;

use bollard_buildkit_proto::health::health_server::HealthServer;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer;
use bollard_buildkit_proto::moby::filesync::v1::file_send_server::FileSendServer;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic::transport::Channel;

pub use filesync::SyncedDir;

use super::error::Result;
use super::transport::contract::{SessionHeaders, Transport};

/// The gRPC methods every session serves, as announced to the daemon.
pub const SESSION_METHODS: [&str; 3] = [
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
];

/// The method a session with an `--output` serves as well.
pub const FILE_SEND_METHOD: &str = "/moby.filesync.v1.FileSend/DiffCopy";

/// What a session exposes.
#[derive(Debug, Clone, Default)]
pub struct SessionServices {
    /// Local directories by name (`context`).
    pub dirs: BTreeMap<String, SyncedDir>,
    /// Secret files by id.
    pub secrets: BTreeMap<String, crate::secret::SecretSource>,
    /// Where the tar exporter's stream goes, and where what it did is reported.
    pub output: Option<(crate::export::Output, filesend::Written)>,
}

/// A session being served; dropping it closes the session.
#[derive(Debug)]
pub struct RunningSession {
    id: String,
    shared_key: String,
    task: JoinHandle<()>,
}

impl RunningSession {
    /// The session id, for the solve request and `local.session` attributes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The shared key (the context directory's hint for the daemon's cache).
    pub fn shared_key(&self) -> &str {
        &self.shared_key
    }
}

impl Drop for RunningSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a session over `transport` and serves `services` on it until the returned value is
/// dropped or the daemon closes it.
pub async fn start(
    transport: &dyn Transport,
    channel: &Channel,
    services: SessionServices,
    shared_key: &str,
) -> Result<RunningSession> {
    let id = random_id();
    let headers = SessionHeaders {
        id: id.clone(),
        name: "stageplan".to_string(),
        shared_key: shared_key.to_string(),
        methods: SESSION_METHODS
            .iter()
            .chain(services.output.is_some().then_some(&FILE_SEND_METHOD))
            .map(|m| m.to_string())
            .collect(),
    };
    let stream = transport.open_session(channel, &headers).await?;
    let routes = Routes::new(HealthServer::new(health::HealthService))
        .add_service(FileSyncServer::new(filesync::FileSyncService::new(
            services.dirs,
        )))
        .add_service(SecretsServer::new(secrets::SecretsService::new(
            services.secrets,
        )));
    // Only an announced method is served.
    let routes = match services.output {
        Some((output, written)) => routes.add_service(FileSendServer::new(
            filesend::FileSendService::new(output, written),
        )),
        None => routes,
    };
    let task = tokio::spawn(async move {
        let service = TowerToHyperService::new(routes);
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service);
        // The connection ends when the daemon closes the session or the task is aborted.
        let _ = connection.await;
    });
    Ok(RunningSession {
        id,
        shared_key: shared_key.to_string(),
        task,
    })
}

/// A random identifier in BuildKit's style (25 base-36 characters, 128 bits).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No entropy source: fall back to the clock and the process id, still unique enough
        // to tell sessions and builds apart on one daemon.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    let mut value = u128::from_le_bytes(bytes);
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(25);
    for _ in 0..25 {
        out.push(alphabet[(value % 36) as usize]);
        value /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_25_base36_characters_and_differ() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 25);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_ne!(a, b);
    }
}
