//! Temporary engine objects: who made them ([`identity`]) and their removal on every path
//! ([`reaper`]).
//!
//! Input/output: see each module.
//! Invariant: depends only on the engine module.

pub mod identity;
pub mod reaper;
