//! `RUN --mount`: each mount resolved (options expanded with the stage's variables), keyed, and
//! turned into what the RUN container is created with.
//!
//! Input: the RUN's `--mount` options, the stage state, `--secret` files.
//! Output: [`Mounts`]: the cache-key parts, and after [`prepare`] the container mounts plus
//! what to clean up.
//! `bind` = a temporary volume filled with the source (context, stage or image), or for a file
//! source a bind of a temporary host copy with the file's mode, owner and time, read-only unless
//! `rw` (local engine), or the file written into the running container and removed before the
//! commit (remote engine); `cache` = a named volume
//! `stageplan-cache-<hash of id>` kept between builds, created with its `uid`/`gid`/`mode`, or
//! with `from=` filled with that stage's or image's source directory, one volume per id and base
//! image (removed again when the build fails or stops before it is filled; emptied once by a
//! `--no-cache` build); `tmpfs` = tmpfs (with `size`); `secret` = a
//! file in memory: on a local engine a host file under `/dev/shm` (memory, never the engine's
//! disk) bound read-only, on a remote engine written through the running container into a
//! tmpfs at the target's directory when the image lacks it, else into the container's
//! `/dev/shm` and linked at the target; mode 0400 and owner 0:0 unless `mode`/`uid`/`gid` say otherwise, or an
//! environment variable with `env=`; `ssh` = a socket of the runner's own, passed through to the
//! `--ssh` agent, bound at the target (local engine; an optional mount with no agent is left
//! out, as in BuildKit).
//! Invariant: a mount's content never enters a commit: volumes, tmpfs and binds are outside
//! the container's writable layer, and the empty files a file mount leaves (and on a remote
//! engine the files placed for single-file binds) are removed before the commit; every
//! temporary volume and host file is removed on every path.
//!
//! The work is split in phases: [`resolve`] (options, sources and key parts, in
//! `resolve.rs`, with a bind mount's source in `bind_source.rs`), then on a cache miss
//! [`prepare`] and [`release`] (in `prepare.rs`, filling volumes through `fill.rs`).

mod bind_source;
mod fill;
mod prepare;
mod resolve;
mod ssh;

pub use prepare::{prepare, release, PlacedFile, Prepared, PIPES_DIR};
pub use resolve::{resolve, Mounts, Secret, CACHE_BASE_LABEL, CACHE_ID_LABEL};
