//! A scratch directory for unit tests (the context's, and the ssh proxy's).
//!
//! Input: file specs written by a test. Output: a fresh directory under the system temp dir.
//! Invariant: the directory is unique per test and removed when the value is dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory removed on drop.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates an empty, unique directory.
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("stageplan-ctx-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        TestDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `rel`, creating parent directories.
    pub fn file(&self, rel: &str, contents: &str) -> &Self {
        let path = self.path.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write file");
        self
    }

    /// Creates the directory `rel`.
    pub fn dir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.path.join(rel)).expect("mkdir");
        self
    }

    /// Creates a symlink at `rel` pointing to `target`.
    pub fn symlink(&self, rel: &str, target: &str) -> &Self {
        let path = self.path.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        self
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
