//! Cross-crate integration tests.

mod conformance;

mod runner_compare;
mod runner_support;
