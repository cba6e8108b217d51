//! Cross-crate integration tests.

mod conformance;
mod conformance_generated;
mod roundtrip;
mod semantics;
