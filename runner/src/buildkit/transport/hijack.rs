//! The engine's HTTP upgrade to HTTP/2 ("hijack"): how BuildKit is reached through a Docker
//! engine's API socket.
//!
//! Input: an engine address (`unix:///var/run/docker.sock`, `tcp://host:2376` with the Docker
//! TLS files), an endpoint (`/grpc`, `/session`) and extra request headers.
//! Output: the raw byte stream after `101 Switching Protocols`, on which the caller speaks
//! HTTP/2 with prior knowledge (as client for `/grpc`, as server for `/session`).
//! Invariant: one engine connection per upgrade; a non-101 answer is an error that carries the
//! engine's status and message; bytes the engine sent after its 101 head are kept (hyper's
//! `Upgraded` replays them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::buildkit::error::{BuildkitError, Result};

/// The default engine address.
pub const DEFAULT_ENGINE: &str = "unix:///var/run/docker.sock";

/// Where the engine listens, and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineAddress {
    /// A local socket.
    Unix(PathBuf),
    /// A TCP address, optionally with TLS client files.
    Tcp {
        /// `host:port`.
        authority: String,
        /// The host name (checked against the server certificate).
        host: String,
        /// The TLS files when the connection uses TLS.
        tls: Option<TlsFiles>,
    },
}

/// The Docker client TLS files: `ca.pem`, `cert.pem`, `key.pem` in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA bundle that signed the server's certificate.
    pub ca: PathBuf,
    /// The client certificate.
    pub cert: PathBuf,
    /// The client key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The three files of a Docker certificate directory.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

impl EngineAddress {
    /// Parses an engine URL: `unix:///path`, `tcp://host:port` or `https://host:port`; `tls` are
    /// the files to use for TCP (required for `https`).
    pub fn parse(url: &str, tls: Option<TlsFiles>) -> Result<EngineAddress> {
        let bad = |problem: &str| BuildkitError::BadAddress {
            address: url.to_string(),
            problem: problem.to_string(),
        };
        if let Some(path) = url.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad(
                    "the socket path is empty; use unix:///var/run/docker.sock",
                ));
            }
            return Ok(EngineAddress::Unix(PathBuf::from(path)));
        }
        let (rest, needs_tls) = if let Some(rest) = url.strip_prefix("tcp://") {
            (rest, false)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (rest, true)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (rest, false)
        } else {
            return Err(bad(
                "use unix:///path, tcp://host:port or https://host:port",
            ));
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(bad("expected host:port after the scheme"));
        }
        let host = host_of(authority).to_string();
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            || authority.ends_with(']')
        {
            authority.to_string()
        } else {
            let port = if needs_tls || tls.is_some() {
                2376
            } else {
                2375
            };
            format!("{authority}:{port}")
        };
        if needs_tls && tls.is_none() {
            return Err(bad(
                "https needs the TLS files: set DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)",
            ));
        }
        Ok(EngineAddress::Tcp {
            authority,
            host,
            tls,
        })
    }

    /// The engine named by `explicit`, else `DOCKER_HOST`, else the local socket; TLS when
    /// `DOCKER_TLS_VERIFY` is set or the scheme is `https`, with the files from
    /// `DOCKER_CERT_PATH` (default `~/.docker`), as the Docker CLI does.
    pub fn from_env(explicit: Option<&str>) -> Result<EngineAddress> {
        let url = explicit
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_ENGINE.to_string());
        let verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
        let tls = if verify || url.starts_with("https://") {
            let dir = match std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => match std::env::var_os("HOME") {
                    Some(home) => PathBuf::from(home).join(".docker"),
                    None => {
                        return Err(BuildkitError::BadAddress {
                            address: url,
                            problem: "TLS needs DOCKER_CERT_PATH (or HOME for ~/.docker)"
                                .to_string(),
                        })
                    }
                },
            };
            Some(TlsFiles::in_dir(&dir))
        } else {
            None
        };
        EngineAddress::parse(&url, tls)
    }

    /// The address for messages.
    pub fn describe(&self) -> String {
        match self {
            EngineAddress::Unix(path) => format!("unix://{}", path.display()),
            EngineAddress::Tcp { authority, tls, .. } => {
                let scheme = if tls.is_some() { "https" } else { "tcp" };
                format!("{scheme}://{authority}")
            }
        }
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// A byte stream to the engine (socket, TCP or TLS over TCP).
pub trait EngineIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> EngineIo for T {}

/// Opens one connection to the engine.
pub async fn dial(address: &EngineAddress) -> Result<Box<dyn EngineIo>> {
    let described = address.describe();
    let dial_error = |source| BuildkitError::Dial {
        address: described.clone(),
        source,
    };
    match address {
        EngineAddress::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(dial_error)?;
            Ok(Box::new(stream))
        }
        EngineAddress::Tcp {
            authority,
            host,
            tls,
        } => {
            let stream = tokio::net::TcpStream::connect(authority.as_str())
                .await
                .map_err(dial_error)?;
            let _ = stream.set_nodelay(true);
            match tls {
                None => Ok(Box::new(stream)),
                Some(files) => {
                    let config = client_tls_config(files)?;
                    let name = ServerName::try_from(host.clone()).map_err(|e| {
                        BuildkitError::BadAddress {
                            address: described.clone(),
                            problem: format!("{host:?} is not a valid TLS server name: {e}"),
                        }
                    })?;
                    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
                    let stream = connector.connect(name, stream).await.map_err(|source| {
                        BuildkitError::Tls {
                            address: described.clone(),
                            source,
                        }
                    })?;
                    Ok(Box::new(stream))
                }
            }
        }
    }
}

/// A rustls client configuration that trusts `files.ca` and presents `files.cert`/`files.key`.
pub fn client_tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig> {
    let file_error = |path: &Path, message: String| BuildkitError::TlsFile {
        path: path.to_path_buf(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(&files.ca)
        .map_err(|e| file_error(&files.ca, e.to_string()))?;
    for ca in cas {
        let ca = ca.map_err(|e| file_error(&files.ca, e.to_string()))?;
        roots
            .add(ca)
            .map_err(|e| file_error(&files.ca, e.to_string()))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error(&files.cert, e.to_string()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| file_error(&files.cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error(&files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| file_error(&files.ca, e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| file_error(&files.cert, e.to_string()))
}

/// `POST path` with `Upgrade: h2c` on a new engine connection; returns the upgraded stream.
pub async fn upgrade(
    address: &EngineAddress,
    path: &str,
    headers: &[(String, String)],
) -> Result<Upgraded> {
    let io = dial(address).await?;
    let upgrade_error = |message: String| BuildkitError::Upgrade {
        address: address.describe(),
        path: path.to_string(),
        message,
    };
    let http_error = |source| BuildkitError::UpgradeHttp {
        address: address.describe(),
        path: path.to_string(),
        source,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http_error)?;
    tokio::spawn(async move {
        // The connection task ends when the upgraded stream is handed over or fails; its error
        // reaches the caller through the response future.
        let _ = connection.with_upgrades().await;
    });
    let host = match address {
        EngineAddress::Unix(_) => "docker".to_string(),
        EngineAddress::Tcp { authority, .. } => authority.clone(),
    };
    let mut request = hyper::Request::post(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::CONNECTION, "Upgrade")
        .header(hyper::header::UPGRADE, "h2c");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| upgrade_error(format!("bad request header: {e}")))?;
    let mut response = sender.send_request(request).await.map_err(http_error)?;
    if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status();
        let body = response
            .body_mut()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        return Err(upgrade_error(format!(
            "the engine answered {status}: {} (the engine needs BuildKit support: Docker 18.09 or later)",
            text.trim()
        )));
    }
    hyper::upgrade::on(&mut response).await.map_err(http_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_addresses() {
        assert_eq!(
            EngineAddress::parse("unix:///var/run/docker.sock", None).unwrap(),
            EngineAddress::Unix(PathBuf::from("/var/run/docker.sock"))
        );
        assert_eq!(
            EngineAddress::parse("tcp://10.0.0.2", None).unwrap(),
            EngineAddress::Tcp {
                authority: "10.0.0.2:2375".into(),
                host: "10.0.0.2".into(),
                tls: None
            }
        );
        let files = TlsFiles::in_dir(Path::new("/certs"));
        let parsed = EngineAddress::parse("https://engine.example:2376/", Some(files.clone()));
        assert_eq!(
            parsed.unwrap(),
            EngineAddress::Tcp {
                authority: "engine.example:2376".into(),
                host: "engine.example".into(),
                tls: Some(files)
            }
        );
        let err = EngineAddress::parse("https://engine.example", None).unwrap_err();
        assert!(err.to_string().contains("DOCKER_CERT_PATH"), "{err}");
        let err = EngineAddress::parse("npipe:////./pipe/docker", None).unwrap_err();
        assert!(err.to_string().contains("unix:///path"), "{err}");
        assert_eq!(host_of("[::1]:2375"), "::1");
    }
}
