//! Cross-crate integration tests.

mod conformance;
mod conformance_generated;
mod roundtrip;
mod semantics;

mod runner_behaviour;
mod runner_compare;
mod runner_mounts;
mod runner_remote;
mod runner_support;
