//! One module per kind of step: `RUN` ([`run`], its mounts in [`mounts`]), `COPY`/`ADD`
//! ([`copy`], with [`copy_dest`], [`copy_from_image`], [`piece`] and [`add_source`]),
//! `WORKDIR` ([`workdir`]) and the metadata instructions ([`metadata`]).
//!
//! Input: one instruction of the plan and the stage state.
//! Output: the stage state after the instruction.
//! Invariant: a step module uses only `exec` (below it) and the leaf modules (engine,
//! context, fs, progress, image config); no step module imports the scheduler or another kind
//! of step, except the COPY family's own helpers.

pub mod add_source;
pub mod copy;
pub mod copy_dest;
pub mod copy_from_image;
pub mod metadata;
pub mod mounts;
pub mod piece;
pub mod run;
pub mod workdir;
