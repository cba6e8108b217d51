//! stageplan's runner: performs a plan (plan JSON v1 from the planner) on a Docker engine, step
//! by step through the Engine API, with its own step cache.
//!
//! Input: a plan, a build context directory, build options, an engine address.
//! Output: images in the engine (the target tagged as asked), progress, a size summary.
//! Invariant: only [`engine`] talks to the engine (and names bollard); the runner never parses a
//! Dockerfile itself (`runner build` asks the planner library for the plan).

pub mod add_source;
pub mod build;
#[cfg(feature = "buildkit")]
pub mod buildkit;
pub mod cache;
pub mod cli;
pub mod context;
pub mod copy_step;
pub mod engine;
pub mod error;
pub mod from_image;
pub mod glob;
pub mod holders;
pub mod image_config;
pub mod init_files;
pub mod keeper;
pub mod metadata;
pub mod mounts;
pub mod progress;
pub mod reaper;
pub mod run_step;
pub mod stage;
pub mod tarx;
pub mod users;
pub mod vars;
pub mod workdir;
