//! The walk of a local directory that BuildKit's file sync expects (tonistiigi/fsutil `Walk`).
//!
//! Input: a directory and the daemon's request: include patterns, exclude patterns
//! (`.dockerignore` semantics) and follow paths (symlinks whose targets must be sent too).
//! Output: one [`Stat`] per entry in the order fsutil's receiver validates (depth first, names
//! sorted bytewise, a directory before its contents), with Go's `os.FileMode` bits, owners,
//! nanosecond mtimes, link targets, hard links as links to the first path, device numbers and
//! extended attributes; plus the host path of every regular file.
//! Invariant: nothing outside the directory is read (symlinks are reported, never followed), and
//! an excluded path is neither reported nor read.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::Stat;

use super::followpaths::{dedupe_paths, follow_links};
use crate::context::{clean as go_clean, go_match, PatternMatcher};

/// Go's `os.FileMode` type bits, as fsutil puts them on the wire.
pub mod go_mode {
    /// `os.ModeDir`.
    pub const DIR: u32 = 1 << 31;
    /// `os.ModeSymlink`.
    pub const SYMLINK: u32 = 1 << 27;
    /// `os.ModeDevice`.
    pub const DEVICE: u32 = 1 << 26;
    /// `os.ModeNamedPipe`.
    pub const NAMED_PIPE: u32 = 1 << 25;
    /// `os.ModeSocket`.
    pub const SOCKET: u32 = 1 << 24;
    /// `os.ModeSetuid`.
    pub const SETUID: u32 = 1 << 23;
    /// `os.ModeSetgid`.
    pub const SETGID: u32 = 1 << 22;
    /// `os.ModeCharDevice`.
    pub const CHAR_DEVICE: u32 = 1 << 21;
    /// `os.ModeSticky`.
    pub const STICKY: u32 = 1 << 20;
    /// Every type bit (`os.ModeType`).
    pub const TYPE: u32 = DIR | SYMLINK | NAMED_PIPE | SOCKET | DEVICE | CHAR_DEVICE | (1 << 19);
}

/// What the daemon asked for (the gRPC metadata of `DiffCopy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkRequest {
    /// `include-patterns`: only paths matching one of these (or below a matched directory).
    pub include_patterns: Vec<String>,
    /// `exclude-patterns` (or the session's own excludes): `.dockerignore` patterns.
    pub exclude_patterns: Vec<String>,
    /// `followpaths`: paths whose symlinks are resolved and their targets included.
    pub follow_paths: Vec<String>,
}

/// One walked entry.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkEntry {
    /// The stat sent to the daemon.
    pub stat: Stat,
    /// The host path, for entries whose content the daemon may request (regular files).
    pub content: Option<PathBuf>,
}

/// Why a walk failed.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// An exclude pattern is malformed.
    #[error("invalid exclude pattern: {0}")]
    BadPattern(#[from] crate::context::PatternError),
    /// A file system call failed.
    #[error("{path:?}: {source}")]
    Io {
        /// The host path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Walks `root` as fsutil's `Walk` does and calls `visit` for each entry in wire order.
pub fn walk(
    root: &Path,
    request: &WalkRequest,
    visit: &mut dyn FnMut(WalkEntry) -> bool,
) -> Result<(), WalkError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WalkError::Io { path, source }
    };
    let root = std::fs::canonicalize(root).map_err(io_error(root))?;
    let excludes = if request.exclude_patterns.is_empty() {
        None
    } else {
        Some(PatternMatcher::new(&request.exclude_patterns)?)
    };
    let mut includes: Option<Vec<String>> = if request.include_patterns.is_empty() {
        None
    } else {
        Some(
            request
                .include_patterns
                .iter()
                .map(|p| go_clean(p))
                .collect(),
        )
    };
    if !request.follow_paths.is_empty() {
        if let Some(targets) = follow_links(&root, &request.follow_paths) {
            let mut all = includes.take().unwrap_or_default();
            all.extend(targets);
            all.sort();
            includes = dedupe_paths(all);
        }
    }
    let mut walker = Walker {
        includes: includes.as_deref(),
        excludes: excludes.as_ref(),
        last_included_dir: None,
        inodes: HashMap::new(),
        visit,
    };
    walker.walk_dir(&root, "")?;
    Ok(())
}

struct Walker<'a> {
    includes: Option<&'a [String]>,
    excludes: Option<&'a PatternMatcher>,
    last_included_dir: Option<String>,
    inodes: HashMap<(u64, u64), String>,
    visit: &'a mut dyn FnMut(WalkEntry) -> bool,
}

enum Decision {
    Skip,
    SkipDir,
    Visit,
}

impl Walker<'_> {
    /// Walks the children of `dir` (host path), whose path relative to the root is `rel`.
    /// Returns false when the visitor asked to stop.
    fn walk_dir(&mut self, dir: &Path, rel: &str) -> Result<bool, WalkError> {
        let mut names: Vec<Vec<u8>> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok())
                .map(|entry| {
                    use std::os::unix::ffi::OsStrExt;
                    entry.file_name().as_bytes().to_vec()
                })
                .collect(),
            // A directory removed during the walk is skipped, as fsutil does.
            Err(err) if is_not_exist(&err) => return Ok(true),
            Err(source) => {
                return Err(WalkError::Io {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        };
        names.sort();
        for name in names {
            use std::os::unix::ffi::OsStrExt;
            let name_os = std::ffi::OsStr::from_bytes(&name);
            let host = dir.join(name_os);
            let name = String::from_utf8_lossy(&name).into_owned();
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let metadata = match std::fs::symlink_metadata(&host) {
                Ok(metadata) => metadata,
                Err(err) if is_not_exist(&err) => continue,
                Err(source) => return Err(WalkError::Io { path: host, source }),
            };
            let is_dir = metadata.is_dir();
            match self.decide(&rel_path, is_dir) {
                Decision::Skip | Decision::SkipDir => continue,
                Decision::Visit => {}
            }
            let entry = self.entry(&host, &rel_path, &metadata)?;
            if !(self.visit)(entry) {
                return Ok(false);
            }
            if is_dir && !self.walk_dir(&host, &rel_path)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// fsutil's include and exclude filters for one path.
    fn decide(&mut self, path: &str, is_dir: bool) -> Decision {
        if let Some(includes) = self.includes {
            let under_included = self
                .last_included_dir
                .as_ref()
                .is_some_and(|dir| path.starts_with(&format!("{dir}/")));
            if !under_included {
                let mut matched = false;
                let mut partial = true;
                for pattern in includes {
                    let (ok, is_partial) = match_prefix(pattern, path);
                    if ok {
                        matched = true;
                        if !is_partial {
                            partial = false;
                            break;
                        }
                    }
                }
                if !matched {
                    return if is_dir {
                        Decision::SkipDir
                    } else {
                        Decision::Skip
                    };
                }
                if !partial && is_dir {
                    self.last_included_dir = Some(path.to_string());
                }
            }
        }
        if let Some(excludes) = self.excludes {
            if excludes.is_match(path) {
                if !is_dir {
                    return Decision::Skip;
                }
                if !excludes.has_exclusions() {
                    return Decision::SkipDir;
                }
                // An exception below this directory means it must still be walked.
                let prefix = format!("{path}/");
                let exception_below = excludes
                    .patterns()
                    .filter(|(_, exception)| *exception)
                    .any(|(pattern, _)| format!("{pattern}/").starts_with(&prefix));
                if !exception_below {
                    return Decision::SkipDir;
                }
            }
        }
        Decision::Visit
    }

    /// fsutil's `mkstat`.
    fn entry(
        &mut self,
        host: &Path,
        rel_path: &str,
        metadata: &Metadata,
    ) -> Result<WalkEntry, WalkError> {
        let mut stat = Stat {
            path: rel_path.to_string(),
            mode: go_file_mode(metadata.mode()),
            uid: metadata.uid(),
            gid: metadata.gid(),
            mod_time: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            ..Stat::default()
        };
        let file_type = metadata.mode() & S_IFMT;
        let mut content = None;
        if !metadata.is_dir() {
            stat.size = metadata.size() as i64;
            if file_type == S_IFBLK || file_type == S_IFCHR {
                let rdev = metadata.rdev();
                stat.devmajor = ((rdev >> 8) & 0xfff) as i64;
                stat.devminor = ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as i64;
            }
            let key = (metadata.dev(), metadata.ino());
            let mut linked = false;
            if metadata.nlink() > 1 {
                if let Some(first) = self.inodes.get(&key) {
                    stat.linkname = first.clone();
                    stat.size = 0;
                    linked = true;
                }
            }
            if !linked {
                self.inodes.insert(key, rel_path.to_string());
            }
            if metadata.file_type().is_symlink() {
                let target = std::fs::read_link(host).map_err(|source| WalkError::Io {
                    path: host.to_path_buf(),
                    source,
                })?;
                use std::os::unix::ffi::OsStrExt;
                stat.linkname = String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned();
            }
        }
        stat.xattrs = read_xattrs(host)?;
        // fsutil clears the socket bit: a socket travels as an (empty) regular file.
        stat.mode &= !go_mode::SOCKET;
        if stat.mode & go_mode::TYPE == 0 {
            content = Some(host.to_path_buf());
        }
        Ok(WalkEntry { stat, content })
    }
}

const S_IFMT: u32 = 0o170000;
const S_IFBLK: u32 = 0o060000;
const S_IFCHR: u32 = 0o020000;
const S_IFDIR: u32 = 0o040000;
const S_IFIFO: u32 = 0o010000;
const S_IFLNK: u32 = 0o120000;
const S_IFSOCK: u32 = 0o140000;

/// Go's `os.FileMode` of a Unix `st_mode` (`os.fillFileStatFromSys`).
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & S_IFMT {
        S_IFBLK => go_mode::DEVICE,
        S_IFCHR => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        S_IFDIR => go_mode::DIR,
        S_IFIFO => go_mode::NAMED_PIPE,
        S_IFLNK => go_mode::SYMLINK,
        S_IFSOCK => go_mode::SOCKET,
        _ => 0,
    };
    if st_mode & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if st_mode & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if st_mode & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    mode
}

fn read_xattrs(host: &Path) -> Result<std::collections::HashMap<String, Vec<u8>>, WalkError> {
    let mut out = std::collections::HashMap::new();
    let names = match xattr::list(host) {
        Ok(names) => names,
        Err(err) if err.raw_os_error() == Some(95) => return Ok(out), // ENOTSUP
        Err(source) => {
            return Err(WalkError::Io {
                path: host.to_path_buf(),
                source,
            })
        }
    };
    for name in names {
        if let Ok(Some(value)) = xattr::get(host, &name) {
            out.insert(name.to_string_lossy().into_owned(), value);
        }
    }
    Ok(out)
}

fn is_not_exist(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound || err.raw_os_error() == Some(20)
    // ENOTDIR
}

/// fsutil's `matchPrefix`: the pattern cut to the depth of `name`, matched with Go's
/// `filepath.Match`; the second value tells whether the pattern was cut (a partial match of a
/// parent directory).
fn match_prefix(pattern: &str, name: &str) -> (bool, bool) {
    let depth = name.matches('/').count();
    let mut pattern = pattern;
    let mut partial = false;
    if pattern.matches('/').count() > depth {
        let cut = pattern
            .match_indices('/')
            .nth(depth)
            .map_or(pattern.len(), |(at, _)| at);
        pattern = &pattern[..cut];
        partial = true;
    }
    (go_match(pattern, name).unwrap_or(false), partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_modes_use_go_bits() {
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o040755), go_mode::DIR | 0o755);
        assert_eq!(go_file_mode(0o120777), go_mode::SYMLINK | 0o777);
        assert_eq!(go_file_mode(0o104755), go_mode::SETUID | 0o755);
        assert_eq!(
            go_file_mode(0o041777),
            go_mode::DIR | go_mode::STICKY | 0o777
        );
        assert_eq!(go_file_mode(0o010600), go_mode::NAMED_PIPE | 0o600);
    }

    #[test]
    fn include_patterns_match_parent_directories_partially() {
        assert_eq!(match_prefix("src/*.rs", "src"), (true, true));
        assert_eq!(match_prefix("src/*.rs", "src/a.rs"), (true, false));
        assert_eq!(match_prefix("src/*.rs", "docs"), (false, true));
        assert_eq!(match_prefix("src", "src"), (true, false));
        assert_eq!(match_prefix("src", "src/a.rs"), (false, false));
    }
}
