//! Filesystem-level helpers that know nothing of the engine or the build: tar rewriting and
//! streaming, the files an image hides behind a container's init layer, user and group names.
//!
//! Input/output: see each module.
//! Invariant: no module here calls the engine or knows about stages.

pub mod init_files;
pub mod pipe;
pub mod tar;
pub mod users;
