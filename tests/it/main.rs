//! Cross-crate integration tests.

mod conformance;
