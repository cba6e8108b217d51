//! What a step needs, at the bottom of the runner's own code: the shared build context
//! ([`ctx`]), the stage's state ([`stage_state`]), a base image its containers can start from
//! ([`base_image`]), the step cache ([`cache`]), commits and cache lookups ([`commit`]), which
//! stages are being rebuilt ([`rebuilding`]) and waiting for them ([`stage_deps`]), the stage's
//! long-lived containers ([`keeper`], [`holders`]) and reading their files ([`container_fs`]).
//!
//! Input/output: see each module.
//! Invariant: nothing here knows a kind of step or the scheduler; `steps` and `stage` build on
//! this module, never the other way round.

pub mod base_image;
pub mod cache;
pub mod commit;
pub mod container_fs;
pub mod ctx;
pub mod holders;
pub mod insight;
pub mod keeper;
pub mod rebuilding;
pub mod stage_deps;
pub mod stage_state;
pub mod timing;
