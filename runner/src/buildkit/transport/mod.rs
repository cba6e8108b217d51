//! How the backend reaches BuildKit: one trait, two implementations.
//!
//! Input: an address (the Docker engine's API socket, or a standalone `buildkitd`).
//! Output: a gRPC [`Channel`] for BuildKit's `Control` and `LlbBridge` services, and the byte
//! stream of a session on which this client serves its files and secrets.
//! Invariant: nothing above this module knows how the bytes travel; both implementations give
//! the same two things, so the solve and the session code are shared.
//!
//! * [`EngineTransport`]: the engine's embedded BuildKit. `POST /grpc` with `Upgrade: h2c` gives
//!   an HTTP/2 connection to BuildKit's gRPC server; `POST /session` with the session headers
//!   gives a connection on which the daemon is the HTTP/2 client and this process the server.
//! * [`DaemonTransport`]: a standalone `buildkitd` on `unix://` or `tcp://` (with the mTLS files
//!   of buildx's `remote` driver). The session travels inside the `Control.Session` gRPC stream,
//!   as BuildKit's own client does it.

mod daemon;
mod engine;
pub mod hijack;

use std::collections::HashMap;

use async_trait::async_trait;
use tonic::transport::Channel;

pub use daemon::{DaemonAddress, DaemonTls, DaemonTransport};
pub use engine::EngineTransport;
pub use hijack::EngineIo;

use super::error::Result;

/// The headers that announce a session and the gRPC methods it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHeaders {
    /// The session id (the `session` of a solve and of `local://` sources).
    pub id: String,
    /// A name for the daemon's logs.
    pub name: String,
    /// The shared key (cache key hint for `local://` sources).
    pub shared_key: String,
    /// The full method names served, such as `/moby.filesync.v1.FileSync/DiffCopy`.
    pub methods: Vec<String>,
}

impl SessionHeaders {
    /// The header name/value pairs, BuildKit's `X-Docker-Expose-Session-*`.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("X-Docker-Expose-Session-Uuid".to_string(), self.id.clone()),
            (
                "X-Docker-Expose-Session-Name".to_string(),
                self.name.clone(),
            ),
            (
                "X-Docker-Expose-Session-Sharedkey".to_string(),
                self.shared_key.clone(),
            ),
        ];
        for method in &self.methods {
            pairs.push((
                "X-Docker-Expose-Session-Grpc-Method".to_string(),
                method.clone(),
            ));
        }
        pairs
    }
}

/// The byte stream of a session: the daemon speaks HTTP/2 as client on it.
pub type SessionStream = Box<dyn EngineIo>;

/// A way to reach BuildKit.
#[async_trait]
pub trait Transport: Send + Sync {
    /// The address, for messages.
    fn describe(&self) -> String;

    /// Opens a gRPC channel to BuildKit (`Control`, `LlbBridge`).
    async fn channel(&self) -> Result<Channel>;

    /// The exporter that puts the result where this daemon's users expect it, and its
    /// attributes for `tags`: the engine's image store (`moby`) for the engine, the daemon's
    /// image store (`image`) for a standalone daemon.
    fn exporter(&self, tags: &[String]) -> (String, HashMap<String, String>);

    /// Opens a session stream announced with `headers`; `channel` is the one from
    /// [`Transport::channel`] (a standalone daemon carries the session inside it).
    async fn open_session(
        &self,
        channel: &Channel,
        headers: &SessionHeaders,
    ) -> Result<SessionStream>;
}
