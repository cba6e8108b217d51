//! What every way of reaching BuildKit provides: the [`Transport`] trait, the session headers
//! and the session's byte stream.
//!
//! Input: nothing (definitions).
//! Output: [`Transport`], [`SessionHeaders`], [`SessionStream`].
//! Invariant: knows neither implementation; [`super::engine`] and [`super::daemon`] implement
//! it and the solve and session code use only it.

use std::collections::HashMap;

use async_trait::async_trait;
use tonic::transport::Channel;

use super::hijack::EngineIo;
use crate::buildkit::error::Result;

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
