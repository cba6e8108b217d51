//! stageplan's runner: performs a plan (plan JSON v1 from the planner) on a Docker engine, step
//! by step through the Engine API, with its own step cache.
//!
//! Input: a plan, a build context directory, build options, an engine address.
//! Output: images in the engine (the target tagged as asked), progress, a size summary.
//! Invariant: only [`engine`] talks to the engine (and names bollard); the runner never parses a
//! Dockerfile itself (`runner build` asks the planner library for the plan). Modules depend one
//! way, top to bottom: `cli` → `prune` (the cache's housekeeping) and `build` (scheduler) → `conclude` (record, leak report) →
//! `stage` (dispatch) → `resume` (the look-ahead of a warm build) → `steps` → `exec` →
//! the leaves (`engine`, `containers`, `context`, `fs`, `progress`, `record`, `image_config`,
//! `plan_check`, `signals`, `error`).

pub mod build;
#[cfg(feature = "buildkit")]
pub mod buildkit;
pub mod cli;
pub mod conclude;
pub mod containers;
pub mod context;
pub mod engine;
pub mod error;
pub mod exec;
pub mod export;
pub mod fs;
pub mod image_config;
pub mod plan_check;
pub mod progress;
pub mod prune;
pub mod record;
pub mod resume;
pub mod secret;
pub mod signals;
pub mod stage;
pub mod steps;
