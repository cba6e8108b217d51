//! BuildKit inside a Docker engine, reached through the engine's API socket.
//!
//! Input: an [`EngineAddress`].
//! Output: a gRPC channel over `POST /grpc` upgraded to HTTP/2, and session streams over
//! `POST /session` upgraded the same way.
//! Invariant: every channel connection and every session is its own engine connection; the
//! channel reconnects by upgrading again.

use std::collections::HashMap;

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use super::contract::{SessionHeaders, SessionStream, Transport};
use super::hijack::{upgrade, EngineAddress};
use crate::buildkit::error::{BuildkitError, Result};

/// The engine's embedded BuildKit.
#[derive(Debug, Clone)]
pub struct EngineTransport {
    address: EngineAddress,
}

impl EngineTransport {
    /// A transport to the engine at `address`.
    pub fn new(address: EngineAddress) -> EngineTransport {
        EngineTransport { address }
    }
}

#[async_trait]
impl Transport for EngineTransport {
    fn describe(&self) -> String {
        format!("the engine's buildkit at {}", self.address.describe())
    }

    fn exporter(&self, tags: &[String]) -> (String, HashMap<String, String>) {
        let mut attrs = HashMap::new();
        if !tags.is_empty() {
            attrs.insert("name".to_string(), tags.join(","));
        }
        ("moby".to_string(), attrs)
    }

    async fn channel(&self) -> Result<Channel> {
        let address = self.address.clone();
        let connector = tower::service_fn(move |_: Uri| {
            let address = address.clone();
            async move { upgrade(&address, "/grpc", &[]).await }
        });
        // The URI is never dialed: the connector above opens the connection.
        Endpoint::from_static("http://buildkit.engine")
            .connect_with_connector(connector)
            .await
            .map_err(|source| BuildkitError::Channel {
                address: self.address.describe(),
                source,
            })
    }

    async fn open_session(
        &self,
        _channel: &Channel,
        headers: &SessionHeaders,
    ) -> Result<SessionStream> {
        let upgraded = upgrade(&self.address, "/session", &headers.pairs()).await?;
        Ok(Box::new(TokioIo::new(upgraded)))
    }
}
