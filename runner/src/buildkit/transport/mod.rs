//! How the backend reaches BuildKit: one trait, two implementations.
//!
//! Input: an address (the Docker engine's API socket, or a standalone `buildkitd`).
//! Output: a gRPC channel for BuildKit's `Control` and `LlbBridge` services, and the byte
//! stream of a session on which this client serves its files and secrets.
//! Invariant: nothing above this module knows how the bytes travel; both implementations give
//! the same two things, so the solve and the session code are shared.
//!
//! * [`engine::EngineTransport`]: the engine's embedded BuildKit. `POST /grpc` with
//!   `Upgrade: h2c` gives an HTTP/2 connection to BuildKit's gRPC server; `POST /session` with
//!   the session headers gives a connection on which the daemon is the HTTP/2 client and this
//!   process the server.
//! * [`daemon::DaemonTransport`]: a standalone `buildkitd` on `unix://` or `tcp://` (with the
//!   mTLS files of buildx's `remote` driver). The session travels inside the `Control.Session`
//!   gRPC stream, as BuildKit's own client does it.
//!
//! The trait and the session headers live in [`contract`]; this file only declares the modules.

pub mod contract;
pub mod daemon;
pub mod engine;
pub mod hijack;
