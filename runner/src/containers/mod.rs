//! Temporary engine objects: who made them ([`identity`]) and their removal on every path
//! ([`reaper`]); the names and labels of cache-mount volumes and the sweep of dead runners'
//! unfinished fills ([`cache_volumes`]).
//!
//! Input/output: see each module.
//! Invariant: depends only on the engine module.

pub mod cache_volumes;
pub mod identity;
pub mod reaper;
