//! The build record: why each step ran, where the time and the bytes went, what ships that
//! should not; kept for people (`--record FILE`, `--report FILE`, progress phrases) and, per
//! stage, in the engine for the next build's cache-miss reasons.
//!
//! Input: what the stages report while they run ([`recorder`]), the engine (stage memories,
//! image layers). Output: [`types::BuildRecord`] (record JSON v1), the report page, the leak
//! warnings.
//! Invariant: a leaf of the runner: it depends only on the engine, the fs helpers and the plan
//! types, never on the scheduler, the stages or the steps that feed it; everything but
//! [`store`], [`layers`] and [`layers_disk`] is a pure function of its input.

pub mod critical;
pub mod diff;
pub mod layers;
pub mod layers_disk;
pub mod leaks;
pub mod memory;
pub mod phrase;
pub mod recorder;
pub mod report;
pub mod schema;
pub mod store;
pub mod types;
