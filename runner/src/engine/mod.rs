//! The Docker engine, through bollard: the only module that names bollard.
//!
//! Input: an engine address (`--engine`, `DOCKER_HOST`, or the local socket) and typed requests.
//! Output: thin typed wrappers over the Engine API calls the runner needs (containers, execs,
//! archives, images, volumes), returning the runner's own types and [`EngineError`].
//! Invariant: no build logic lives here; every call is one Engine API request (or one stream);
//! no other module imports bollard, and this module imports nothing of the runner but the
//! plain image-config type.

mod client;
mod common;
mod config;
mod containers;
mod files;
mod housekeeping;
mod images;
mod volumes;

pub use client::Engine;
pub use common::{EngineCause, EngineError, EngineResult, LogChunk, LogStream};
pub use containers::{ContainerListing, ContainerSpec, MountSpec};
pub use files::{ArchiveDownload, ArchiveUpload, PathStat};
pub use housekeeping::{Deletion, ImageListing, Storage};
pub use images::{HistoryItem, ImageInfo};
pub use volumes::VolumeListing;
