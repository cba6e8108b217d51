//! The BuildKit backend: performs a plan as LLB on BuildKit — the engine's embedded BuildKit
//! (through the engine API's `/grpc` and `/session` upgrades) or a standalone `buildkitd`.
//!
//! Input: a plan, the build context directory, build options, an address.
//! Output: the target image in the daemon's image store (tagged), progress, errors that name the
//! stage and Dockerfile line.
//! Invariant: the plan is translated by a pure function ([`llb::translate`]); everything that
//! talks to the daemon goes through [`transport`]; the session serves only the context
//! directory and the secrets given.

pub mod command;
pub mod error;
pub mod gateway;
pub mod llb;
pub mod session;
pub mod solve;
pub mod status;
pub mod transport;
