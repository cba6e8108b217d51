//! File and source-set digests, remembered between builds.
//!
//! Input: the entries of a [`SourceSet`]. Output: a sha256 per regular file, a digest of a whole
//! set (`sha256:<hex>`) for a step's cache key, and a cache file that maps (path, size, mtime,
//! ctime, inode) to a file's sha256 so a warm build does not read unchanged files again.
//! Invariant: a file is read at most once per build; a remembered digest is used only when size,
//! mtime and ctime (to the nanosecond) and inode all still agree — ctime changes on every write
//! and cannot be set back, so an in-place edit that keeps size and mtime is still noticed — and
//! a digest taken less than [`RACY_WINDOW_NS`] after the file's last change is never remembered
//! (the file could still change within the same tick).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::entries::{EntryKind, FileMeta, SourceEntry, SourceSet};
use super::error::ContextError;

/// Digests of files changed this recently before hashing are not written to the cache (a
/// change within the same timestamp tick would go unnoticed). Tests use a short window.
pub const RACY_WINDOW_NS: i64 = if cfg!(test) {
    100_000_000
} else {
    2_000_000_000
};

/// Version of the cache file format.
const CACHE_VERSION: u32 = 2;

/// One remembered file digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    sha256: String,
    /// Not written: whether the digest may be saved (see [`RACY_WINDOW_NS`]).
    #[serde(skip)]
    savable: bool,
}

/// The cache file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    root: String,
    entries: HashMap<String, Record>,
}

/// Remembered digests (from the cache file) and the ones of this build.
#[derive(Debug)]
pub(super) struct DigestStore {
    file: Option<PathBuf>,
    root: PathBuf,
    remembered: HashMap<String, Record>,
    this_build: Mutex<HashMap<String, Record>>,
}

impl DigestStore {
    /// Loads the cache file; a missing, unreadable or foreign file just means an empty cache.
    pub(super) fn load(file: Option<PathBuf>, root: &Path) -> Self {
        let remembered = file
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|cache| cache.version == CACHE_VERSION && Path::new(&cache.root) == root)
            .map(|cache| cache.entries)
            .unwrap_or_default();
        DigestStore {
            file,
            root: root.to_path_buf(),
            remembered,
            this_build: Mutex::new(HashMap::new()),
        }
    }

    /// The cache file, if there is one.
    pub(super) fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The sha256 (hex) of a regular file, from this build's memo, the cache, or by reading it.
    pub(super) fn file_digest(&self, entry: &SourceEntry) -> Result<String, ContextError> {
        let mtime_ns = mtime_ns(&entry.meta);
        let ctime_ns = entry.meta.ctime * 1_000_000_000 + entry.meta.ctime_nsec;
        let fits = |record: &Record| {
            record.size == entry.meta.size
                && record.mtime_ns == mtime_ns
                && record.ctime_ns == ctime_ns
                && record.ino == entry.meta.ino
        };
        if let Some(record) = self.lock().get(&entry.rel).filter(|r| fits(r)) {
            return Ok(record.sha256.clone());
        }
        if let Some(record) = self.remembered.get(&entry.rel).filter(|r| fits(r)) {
            let mut record = record.clone();
            record.savable = true;
            let sha256 = record.sha256.clone();
            self.lock().insert(entry.rel.clone(), record);
            return Ok(sha256);
        }
        let hashed_at = now_ns();
        let sha256 = hash_file(entry)?;
        let record = Record {
            size: entry.meta.size,
            mtime_ns,
            ctime_ns,
            ino: entry.meta.ino,
            sha256: sha256.clone(),
            savable: hashed_at - mtime_ns.max(ctime_ns) >= RACY_WINDOW_NS,
        };
        self.lock().insert(entry.rel.clone(), record);
        Ok(sha256)
    }

    /// Writes the remembered digests, updated with this build's, to the cache file (through a
    /// temporary file named `<temp_prefix><cache file name>` beside it and a rename, so
    /// concurrent builds never see a torn file).
    pub(super) fn save(&self, temp_prefix: &str) -> Result<(), ContextError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let mut entries = self.remembered.clone();
        for (rel, record) in self.lock().iter() {
            if record.savable {
                entries.insert(rel.clone(), record.clone());
            } else {
                entries.remove(rel);
            }
        }
        let cache = CacheFile {
            version: CACHE_VERSION,
            root: self.root.to_string_lossy().into_owned(),
            entries,
        };
        let write_err = |source| ContextError::CacheWrite {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let bytes = serde_json::to_vec(&cache).map_err(|e| write_err(std::io::Error::other(e)))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let temp = path.with_file_name(format!("{temp_prefix}{}", name.unwrap_or_default()));
        std::fs::write(&temp, bytes).map_err(write_err)?;
        std::fs::rename(&temp, path).map_err(write_err)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.this_build
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The digest of a whole source set: file contents are hashed first (in parallel, each file
/// once), then names, types, modes, link targets and contents are folded in entry order.
pub(super) fn set_digest(store: &DigestStore, set: &SourceSet) -> Result<String, ContextError> {
    let files: Vec<&SourceEntry> = set
        .entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::File)
        .collect();
    let digests = hash_parallel(store, &files)?;
    let mut contents = digests.into_iter();
    let mut hasher = Sha256::new();
    hasher.update(format!("stageplan-context-v1 parents={}\n", set.parents));
    for entry in &set.entries {
        let content = match entry.kind {
            EntryKind::File => contents.next().unwrap_or_default(),
            EntryKind::Symlink => entry.link_target.clone().unwrap_or_default(),
            EntryKind::CharDevice | EntryKind::BlockDevice => entry.meta.rdev.to_string(),
            EntryKind::Dir | EntryKind::Fifo | EntryKind::Socket => String::new(),
        };
        let line = format!(
            "{:?} {} {:o} {} {}\n",
            entry.kind,
            u8::from(entry.root_file),
            entry.meta.mode,
            content,
            entry.name.len()
        );
        hasher.update(line.as_bytes());
        hasher.update(entry.name.as_bytes());
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// One entry of a source set with what identifies its content, for the build record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDigest {
    /// Path relative to the context root.
    pub rel: String,
    /// The entry's type.
    pub kind: EntryKind,
    /// Size in bytes (files).
    pub size: u64,
    /// Type, mode and content (a file's sha256 in hex, a link's target) in one line: two
    /// entries with the same line copy the same thing.
    pub identity: String,
    /// A regular file's sha256 (hex); empty for other types.
    pub sha256: String,
}

/// Every entry of a set with its identity; file digests come from the store (already computed
/// for the set's digest, so nothing is read again).
pub(super) fn entry_digests(
    store: &DigestStore,
    set: &SourceSet,
) -> Result<Vec<EntryDigest>, ContextError> {
    set.entries
        .iter()
        .map(|entry| {
            let sha256 = match entry.kind {
                EntryKind::File => store.file_digest(entry)?,
                _ => String::new(),
            };
            let content = match entry.kind {
                EntryKind::File => sha256.clone(),
                EntryKind::Symlink => entry.link_target.clone().unwrap_or_default(),
                EntryKind::CharDevice | EntryKind::BlockDevice => entry.meta.rdev.to_string(),
                EntryKind::Dir | EntryKind::Fifo | EntryKind::Socket => String::new(),
            };
            Ok(EntryDigest {
                rel: entry.rel.clone(),
                kind: entry.kind,
                size: entry.meta.size,
                identity: format!("{:?} {:o} {content}", entry.kind, entry.meta.mode),
                sha256,
            })
        })
        .collect()
}

/// Hashes files on up to `available_parallelism` threads, keeping the input order.
fn hash_parallel(store: &DigestStore, files: &[&SourceEntry]) -> Result<Vec<String>, ContextError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    if threads <= 1 {
        return files.iter().map(|entry| store.file_digest(entry)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|e| store.file_digest(e))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(files.len());
        for handle in handles {
            let results = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for result in results {
                out.push(result?);
            }
        }
        Ok(out)
    })
}

/// The sha256 (hex) of a file's contents, which must be those its listed metadata describes
/// (checked on the open file before and after reading).
fn hash_file(entry: &SourceEntry) -> Result<String, ContextError> {
    let path = &entry.path;
    let io_err = |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    entry.meta.check_unchanged(&file, path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    entry.meta.check_unchanged(&file, path)?;
    Ok(hex::encode(hasher.finalize()))
}

/// A short stable name for a context root, used as the cache file name.
pub(super) fn root_key(root: &Path) -> String {
    let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..8])
}

fn mtime_ns(meta: &FileMeta) -> i64 {
    meta.mtime * 1_000_000_000 + meta.mtime_nsec
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
