//! An `--ssh` agent made available to one RUN: a socket of the runner's own, with the owner and
//! mode the mount asks for, that passes each connection through to the agent's socket (BuildKit
//! also serves a socket of its own per mount rather than the agent's).
//!
//! Input: where to make the socket, the agent's socket, the owner and mode.
//! Output: a [`Proxy`] serving the socket (bound into the RUN's container by `prepare`).
//! Invariant: the proxy serves only while its RUN runs: dropping the [`Proxy`] stops it and every
//! connection through it; the socket file is a tracked host file, removed on every path. The
//! socket is made under the process's umask (0022: nobody else may connect) and then given its
//! owner and mode before any container exists.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::{UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};

/// A running proxy; dropping it stops it.
pub(super) struct Proxy {
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Makes the socket at `path` (owner and mode as given) and serves it: each connection is
/// joined to a new connection to `agent`.
pub(super) fn serve(
    path: &Path,
    agent: &Path,
    mode: u32,
    owner: (u64, u64),
) -> std::io::Result<Proxy> {
    let listener = UnixListener::bind(path)?;
    std::os::unix::fs::chown(path, Some(owner.0 as u32), Some(owner.1 as u32))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    let agent = agent.to_path_buf();
    let task = tokio::spawn(async move {
        // Dropped with the task, which aborts every connection still open.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut client, _)) = accepted else { break };
                    let agent = agent.clone();
                    connections.spawn(async move {
                        // An agent that cannot be reached closes the connection, which the
                        // client in the RUN reports as it would a missing agent.
                        if let Ok(mut upstream) = UnixStream::connect(&agent).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok(Proxy { task })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stand-in agent that answers each request with the request reversed.
    fn agent(path: &Path) -> JoinHandle<()> {
        let listener = UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    buf[..n].reverse();
                    let _ = stream.write_all(&buf[..n]).await;
                });
            }
        })
    }

    #[tokio::test]
    async fn passes_connections_through_with_the_asked_owner_and_mode() {
        let dir = crate::context::testdir::TestDir::new();
        let (agent_path, proxy_path) = (dir.path().join("agent"), dir.path().join("proxy"));
        let _agent = agent(&agent_path);
        let owner = (4321, 8765);
        let proxy = serve(&proxy_path, &agent_path, 0o640, owner).unwrap();
        let meta = std::fs::metadata(&proxy_path).unwrap();
        assert_eq!(
            (
                meta.mode() & 0o7777,
                u64::from(meta.uid()),
                u64::from(meta.gid())
            ),
            (0o640, owner.0, owner.1)
        );
        for request in [&b"abc"[..], b"hello"] {
            let mut client = UnixStream::connect(&proxy_path).await.unwrap();
            client.write_all(request).await.unwrap();
            let mut answer = vec![0u8; request.len()];
            client.read_exact(&mut answer).await.unwrap();
            answer.reverse();
            assert_eq!(answer, request);
        }
        // Stopped with the RUN: a connection made afterwards is refused.
        drop(proxy);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(UnixStream::connect(&proxy_path).await.is_err());
    }
}
