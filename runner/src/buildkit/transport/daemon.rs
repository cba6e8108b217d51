//! A standalone `buildkitd`, reached over `unix://` or `tcp://` (plain or mutual TLS), the
//! addresses and TLS options of buildx's `remote` driver.
//!
//! Input: a [`DaemonAddress`] and, for TCP, optional [`DaemonTls`] files.
//! Output: a gRPC channel; sessions carried inside `Control.Session` (a bidirectional stream of
//! byte chunks that is the session's HTTP/2 connection, as BuildKit's `grpchijack` does it).
//! Invariant: the session stream is a plain byte pipe: nothing is added or dropped between the
//! gRPC messages and the HTTP/2 bytes. Not exercised against a real daemon in this repository's
//! tests (none can be run here); see docs/buildkit-backend.md.

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

use super::contract::{SessionHeaders, SessionStream, Transport};
use crate::buildkit::error::{BuildkitError, Result};

/// Bytes per chunk of a session carried over `Control.Session`.
const SESSION_CHUNK: usize = 32 * 1024;

/// Where a standalone daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAddress {
    /// `unix:///run/buildkit/buildkitd.sock`.
    Unix(PathBuf),
    /// `tcp://host:port`.
    Tcp {
        /// `host:port`.
        authority: String,
    },
}

impl DaemonAddress {
    /// Parses `unix:///path` or `tcp://host:port`.
    pub fn parse(address: &str) -> Result<DaemonAddress> {
        let bad = |problem: &str| BuildkitError::BadAddress {
            address: address.to_string(),
            problem: problem.to_string(),
        };
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad(
                    "the socket path is empty; use unix:///run/buildkit/buildkitd.sock",
                ));
            }
            return Ok(DaemonAddress::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = address.strip_prefix("tcp://") {
            let authority = rest.trim_end_matches('/');
            let has_port = authority
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !has_port {
                return Err(bad("use tcp://host:port (buildkitd has no default port)"));
            }
            return Ok(DaemonAddress::Tcp {
                authority: authority.to_string(),
            });
        }
        Err(bad(
            "use unix:///path/to/buildkitd.sock or tcp://host:port (the addresses of buildx's remote driver)",
        ))
    }

    /// The address for messages.
    pub fn describe(&self) -> String {
        match self {
            DaemonAddress::Unix(path) => format!("unix://{}", path.display()),
            DaemonAddress::Tcp { authority } => format!("tcp://{authority}"),
        }
    }
}

/// Mutual-TLS files for a TCP daemon, named as buildx's `remote` driver names them
/// (`cacert=`, `cert=`, `key=`, `servername=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonTls {
    /// The CA that signed the daemon's certificate.
    pub cacert: Option<PathBuf>,
    /// The client certificate.
    pub cert: Option<PathBuf>,
    /// The client key.
    pub key: Option<PathBuf>,
    /// The name to check the daemon's certificate against (default: the host).
    pub servername: Option<String>,
}

impl DaemonTls {
    /// Parses `cacert=FILE,cert=FILE,key=FILE[,servername=NAME]`.
    pub fn parse(options: &str) -> Result<DaemonTls> {
        let mut tls = DaemonTls::default();
        for option in options.split(',').filter(|o| !o.is_empty()) {
            let bad = || {
                BuildkitError::BadAddress {
                address: options.to_string(),
                problem: format!(
                    "unknown tls option {option:?}; use cacert=FILE,cert=FILE,key=FILE[,servername=NAME]"
                ),
            }
            };
            let (key, value) = option.split_once('=').ok_or_else(bad)?;
            match key {
                "cacert" => tls.cacert = Some(PathBuf::from(value)),
                "cert" => tls.cert = Some(PathBuf::from(value)),
                "key" => tls.key = Some(PathBuf::from(value)),
                "servername" => tls.servername = Some(value.to_string()),
                _ => return Err(bad()),
            }
        }
        if tls.cert.is_some() != tls.key.is_some() {
            return Err(BuildkitError::BadAddress {
                address: options.to_string(),
                problem: "cert= and key= go together".to_string(),
            });
        }
        Ok(tls)
    }

    /// tonic's TLS configuration for these files.
    fn client_config(&self) -> Result<ClientTlsConfig> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| BuildkitError::Io {
                what: "reading the buildkit tls file",
                path: path.clone(),
                source,
            })
        };
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.cacert {
            config = config.ca_certificate(Certificate::from_pem(read(ca)?));
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        if let Some(name) = &self.servername {
            config = config.domain_name(name.clone());
        }
        Ok(config)
    }
}

/// A standalone BuildKit daemon.
#[derive(Debug, Clone)]
pub struct DaemonTransport {
    address: DaemonAddress,
    tls: Option<DaemonTls>,
}

impl DaemonTransport {
    /// A transport to the daemon at `address`; `tls` only applies to TCP.
    pub fn new(address: DaemonAddress, tls: Option<DaemonTls>) -> DaemonTransport {
        DaemonTransport { address, tls }
    }
}

#[async_trait]
impl Transport for DaemonTransport {
    fn describe(&self) -> String {
        format!("buildkitd at {}", self.address.describe())
    }

    fn exporter(&self, tags: &[String]) -> (String, HashMap<String, String>) {
        let mut attrs = HashMap::new();
        if !tags.is_empty() {
            attrs.insert("name".to_string(), tags.join(","));
        }
        ("image".to_string(), attrs)
    }

    async fn channel(&self) -> Result<Channel> {
        let channel_error = |source| BuildkitError::Channel {
            address: self.address.describe(),
            source,
        };
        match &self.address {
            DaemonAddress::Unix(path) => {
                let path = path.clone();
                let connector = tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        tokio::net::UnixStream::connect(path)
                            .await
                            .map(TokioIo::new)
                    }
                });
                Endpoint::from_static("http://buildkitd")
                    .connect_with_connector(connector)
                    .await
                    .map_err(channel_error)
            }
            DaemonAddress::Tcp { authority } => match &self.tls {
                None => Endpoint::from_shared(format!("http://{authority}"))
                    .map_err(channel_error)?
                    .connect()
                    .await
                    .map_err(channel_error),
                Some(tls) => Endpoint::from_shared(format!("https://{authority}"))
                    .map_err(channel_error)?
                    .tls_config(tls.client_config()?)
                    .map_err(channel_error)?
                    .connect()
                    .await
                    .map_err(channel_error),
            },
        }
    }

    async fn open_session(
        &self,
        channel: &Channel,
        headers: &SessionHeaders,
    ) -> Result<SessionStream> {
        let (ours, theirs) = tokio::io::duplex(4 * SESSION_CHUNK);
        let (mut to_daemon_reader, mut from_daemon_writer) = tokio::io::split(theirs);
        let (chunk_sender, chunk_receiver) = tokio::sync::mpsc::channel::<BytesMessage>(16);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; SESSION_CHUNK];
            loop {
                match to_daemon_reader.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let message = BytesMessage {
                            data: buffer[..n].to_vec(),
                        };
                        if chunk_sender.send(message).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let outgoing = tokio_stream::wrappers::ReceiverStream::new(chunk_receiver);
        let mut request = tonic::Request::new(outgoing);
        for (name, value) in headers.pairs() {
            let key =
                MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
                    BuildkitError::Solve {
                        message: format!("invalid session header name {name:?}"),
                    }
                })?;
            let value =
                MetadataValue::try_from(value.as_str()).map_err(|_| BuildkitError::Solve {
                    message: format!("invalid session header value {value:?}"),
                })?;
            request.metadata_mut().append(key, value);
        }
        let mut client = ControlClient::new(channel.clone());
        let mut incoming = client
            .session(request)
            .await
            .map_err(|status| BuildkitError::call("Control.Session", status))?
            .into_inner();
        tokio::spawn(async move {
            while let Ok(Some(message)) = incoming.message().await {
                if from_daemon_writer.write_all(&message.data).await.is_err() {
                    break;
                }
            }
            let _ = from_daemon_writer.shutdown().await;
        });
        Ok(Box::new(ours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_daemon_addresses_and_tls_options() {
        assert_eq!(
            DaemonAddress::parse("unix:///run/buildkit/buildkitd.sock").unwrap(),
            DaemonAddress::Unix(PathBuf::from("/run/buildkit/buildkitd.sock"))
        );
        assert_eq!(
            DaemonAddress::parse("tcp://builder.internal:1234").unwrap(),
            DaemonAddress::Tcp {
                authority: "builder.internal:1234".into()
            }
        );
        let err = DaemonAddress::parse("tcp://builder.internal").unwrap_err();
        assert!(err.to_string().contains("host:port"), "{err}");
        let err = DaemonAddress::parse("docker-container://buildx_buildkit").unwrap_err();
        assert!(err.to_string().contains("remote driver"), "{err}");
        let tls =
            DaemonTls::parse("cacert=/c/ca.pem,cert=/c/cert.pem,key=/c/key.pem,servername=bk")
                .unwrap();
        assert_eq!(tls.cacert, Some(PathBuf::from("/c/ca.pem")));
        assert_eq!(tls.servername.as_deref(), Some("bk"));
        assert!(DaemonTls::parse("cert=/c/cert.pem").is_err());
        assert!(DaemonTls::parse("ca=/c/ca.pem").is_err());
    }
}
