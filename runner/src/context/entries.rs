//! The values a COPY step's context sources resolve to.
//!
//! Input: none (plain data). Output: [`CopySources`] (what the step asks for) and [`SourceSet`]
//! (what it copies: entries with host path, name below the destination, type and metadata).
//! Invariant: these are the only context types the executor sees besides the tar options.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The context part of one COPY/ADD step, after ARG/ENV expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySources {
    /// The sources as written (relative to the context; may hold wildcards or `parent/./rest`).
    pub sources: Vec<String>,
    /// `--exclude` patterns (not expanded, as BuildKit does).
    pub excludes: Vec<String>,
    /// `--parents`: keep each source's path relative to the context root or pivot.
    pub parents: bool,
}

/// The type of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, kept as a link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A unix socket: copied as an empty regular file, mode 0600 (BuildKit's result).
    Socket,
}

/// The metadata of an entry that ends up in the tar stream or the digest cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission and special bits (`mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes (files only).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nsec: i64,
    /// Status-change time, seconds (changes on every write, and cannot be set back).
    pub ctime: i64,
    /// Status-change time, nanoseconds part.
    pub ctime_nsec: i64,
    /// Inode number.
    pub ino: u64,
    /// Device of the filesystem holding it.
    pub dev: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Device number, for device files.
    pub rdev: u64,
}

impl FileMeta {
    /// Whether `now` (the same file's metadata, later) still shows the content this described:
    /// the same inode, size, modification time and status-change time (which every write and
    /// every rename onto the path change).
    pub(super) fn same_content_as(&self, now: &FileMeta) -> bool {
        (
            self.dev,
            self.ino,
            self.size,
            self.mtime,
            self.mtime_nsec,
            self.ctime,
            self.ctime_nsec,
        ) == (
            now.dev,
            now.ino,
            now.size,
            now.mtime,
            now.mtime_nsec,
            now.ctime,
            now.ctime_nsec,
        )
    }

    /// Fails with [`ContextError::ChangedDuringBuild`] unless the open `file` still shows the
    /// content this described.
    pub(super) fn check_unchanged(
        &self,
        file: &std::fs::File,
        path: &std::path::Path,
    ) -> Result<(), super::ContextError> {
        let now = file.metadata().map_err(|source| super::ContextError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if self.same_content_as(&FileMeta::of(&now)) {
            Ok(())
        } else {
            Err(super::ContextError::ChangedDuringBuild {
                path: path.to_path_buf(),
            })
        }
    }

    pub(super) fn of(meta: &Metadata) -> Self {
        FileMeta {
            mode: meta.mode() & 0o7777,
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
            ino: meta.ino(),
            dev: meta.dev(),
            nlink: meta.nlink(),
            rdev: meta.rdev(),
        }
    }
}

/// One thing a COPY step writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Slash-separated name below the destination directory (for a file named as a source: its
    /// base name, which the destination may replace; see `root_file`).
    pub name: String,
    /// Path relative to the context root.
    pub rel: String,
    /// Absolute host path.
    pub path: PathBuf,
    /// File type.
    pub kind: EntryKind,
    /// Metadata from `lstat`.
    pub meta: FileMeta,
    /// The target of a symlink, as stored.
    pub link_target: Option<String>,
    /// True for a non-directory named directly as a source (or matched by a wildcard): copied
    /// to the destination itself when that is not a directory.
    pub root_file: bool,
    /// Index into [`SourceSet::roots`] of the source this entry comes from.
    pub root: usize,
}

/// One source after wildcard expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRoot {
    /// The source relative to the context root, before symlinks are followed.
    pub rel: String,
    /// The same after following symlinks.
    pub real: String,
    /// Absolute host path (of `real`).
    pub path: PathBuf,
    /// Whether it is a directory (its contents are copied).
    pub is_dir: bool,
    /// Its metadata (followed).
    pub meta: FileMeta,
}

/// Everything one COPY step copies from the context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSet {
    /// The entries, parents before children.
    pub entries: Vec<SourceEntry>,
    /// The sources after wildcard expansion, in order (for `--parents`: the pivot directories).
    pub roots: Vec<SourceRoot>,
    /// Whether the set was built with `--parents` (the destination is then always a directory).
    pub parents: bool,
}

impl SourceSet {
    /// How many sources (after wildcard expansion) contributed.
    pub fn n_roots(&self) -> usize {
        self.roots.len()
    }

    /// Whether any source is a directory (its contents go into the destination).
    pub fn has_dir_root(&self) -> bool {
        self.roots.iter().any(|root| root.is_dir)
    }

    /// Keeps only the last root and its entries (several files copied in turn to one file
    /// path leave the last one).
    pub fn keep_last_root(&mut self) {
        let Some(last) = self.roots.pop() else {
            return;
        };
        let index = self.roots.len();
        self.entries.retain(|entry| entry.root == index);
        for entry in &mut self.entries {
            entry.root = 0;
        }
        self.roots = vec![last];
    }

    /// Adds a root and gives every entry appended since `first_entry` its index.
    pub(super) fn push_root(&mut self, root: SourceRoot, first_entry: usize) {
        let index = self.roots.len();
        for entry in &mut self.entries[first_entry..] {
            entry.root = index;
        }
        self.roots.push(root);
    }
}
