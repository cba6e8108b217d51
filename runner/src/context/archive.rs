//! The tar stream of a COPY from the context.
//!
//! Input: a [`SourceSet`], the destination as the executor found it in the target image, and the
//! step's `--chown`/`--chmod`. Output: a tar stream whose entries carry absolute image paths
//! (without the leading `/`), meant for `PUT /containers/{id}/archive?path=/`.
//! Invariant: every entry has the owner given (0:0 by default), the context's mode (or the
//! `--chmod` result) and mtime; symlinks stay symlinks; hard links inside one source stay hard
//! links (files linked across two sources are copied twice, as BuildKit copies each source on its
//! own); a file whose size changes while it is read is an error, never a corrupt stream.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tar::{Builder, EntryType, Header};

use super::chmod::Chmod;
use super::entries::{EntryKind, SourceEntry, SourceSet};
use super::error::ContextError;
use planner::patterns::clean;

/// What the destination path is in the target image before the copy (the executor finds out
/// with a HEAD on the archive endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestState {
    /// Nothing exists there.
    Missing,
    /// A directory exists there (a file source then goes inside it).
    Directory,
    /// A file or symlink exists there.
    NotDirectory,
}

/// The destination of a COPY step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Absolute path in the image, after WORKDIR and variable expansion; a trailing `/` (as
    /// written) marks a directory.
    pub path: String,
    /// What exists there now.
    pub state: DestState,
}

/// Ownership and mode options of the step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarOptions {
    /// `--chown` resolved to numeric (uid, gid); `None` means 0:0.
    pub owner: Option<(u64, u64)>,
    /// `--chmod`.
    pub chmod: Option<Chmod>,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TarSummary {
    /// Number of tar entries.
    pub entries: usize,
    /// Bytes of file content.
    pub content_bytes: u64,
}

pub(super) fn write_tar<W: Write>(
    set: &SourceSet,
    dest: &Destination,
    options: &TarOptions,
    out: W,
) -> Result<TarSummary, ContextError> {
    let dest_path = clean(&format!("/{}", dest.path));
    let is_dir = dest.path.ends_with('/')
        || dest.path.ends_with("/.")
        || dest.state == DestState::Directory
        || dest_path == "/";
    if dest.state == DestState::NotDirectory && (set.has_dir_root() || set.parents) {
        return Err(ContextError::DestNotDirectory {
            dest: dest.path.clone(),
            what: "a directory".to_string(),
        });
    }
    if !is_dir && !set.parents && set.n_roots() > 1 {
        return Err(ContextError::DestNotDirectory {
            dest: dest.path.clone(),
            what: format!("{} sources", set.n_roots()),
        });
    }
    let mut writer = TarWriter {
        builder: Builder::new(out),
        owner: options.owner.unwrap_or((0, 0)),
        chmod: options.chmod.as_ref(),
        links: HashMap::new(),
        summary: TarSummary::default(),
    };
    let dir_expected = is_dir || set.has_dir_root() || set.parents;
    // A wildcard that matched nothing copies nothing, not even the destination directory.
    let copies_something = set.n_roots() > 0;
    if dest.state == DestState::Missing && dir_expected && copies_something && dest_path != "/" {
        writer.created_dir(&dest_path)?;
    }
    for entry in &set.entries {
        let target = if entry.root_file && !is_dir && !set.parents {
            dest_path.clone()
        } else {
            join_abs(&dest_path, &entry.name)
        };
        writer.entry(entry, &target)?;
    }
    let io_err = |source| ContextError::Io {
        path: dest.path.clone().into(),
        source,
    };
    writer.builder.finish().map_err(io_err)?;
    Ok(writer.summary)
}

struct TarWriter<'a, W: Write> {
    builder: Builder<W>,
    owner: (u64, u64),
    chmod: Option<&'a Chmod>,
    /// (source, device, inode) of multiply linked files already written, with their tar name:
    /// a link is kept within one source, as BuildKit copies each source on its own.
    links: HashMap<(usize, u64, u64), String>,
    summary: TarSummary,
}

impl<W: Write> TarWriter<'_, W> {
    fn header(&self, kind: EntryType, mode: u32, mtime: i64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(self.owner.0);
        header.set_gid(self.owner.1);
        header.set_mtime(u64::try_from(mtime).unwrap_or(0));
        header.set_size(0);
        header
    }

    /// Writes a PAX extended header carrying the nanoseconds of the next entry's mtime (the
    /// ustar field holds whole seconds; BuildKit keeps the context's full precision).
    fn pax_mtime(&mut self, secs: i64, nsec: i64) -> std::io::Result<()> {
        let record = pax_record("mtime", &format!("{secs}.{nsec:09}"));
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::XHeader);
        header.set_path("PaxHeaders/mtime")?;
        header.set_mode(0o644);
        header.set_size(record.len() as u64);
        header.set_cksum();
        self.builder.append(&header, record.as_bytes())
    }

    /// The destination directory the copy creates.
    fn created_dir(&mut self, path: &str) -> Result<(), ContextError> {
        let mode = self.chmod.map_or(0o755, Chmod::created_dir_mode);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut header = self.header(EntryType::Directory, mode, now);
        let name = tar_name(path, true);
        self.builder
            .append_data(&mut header, &name, std::io::empty())
            .map_err(|source| ContextError::Io {
                path: path.into(),
                source,
            })?;
        self.summary.entries += 1;
        Ok(())
    }

    fn entry(&mut self, entry: &SourceEntry, target: &str) -> Result<(), ContextError> {
        let io_err = |source| ContextError::Io {
            path: entry.path.clone(),
            source,
        };
        let is_dir = entry.kind == EntryKind::Dir;
        let mode = match (self.chmod, entry.kind) {
            (None, EntryKind::Socket) => 0o600,
            (_, EntryKind::Symlink) | (None, _) => entry.meta.mode,
            (Some(chmod), _) => chmod.apply(entry.meta.mode, is_dir),
        };
        let name = tar_name(target, is_dir);
        let kind = match entry.kind {
            EntryKind::File | EntryKind::Socket => EntryType::Regular,
            EntryKind::Dir => EntryType::Directory,
            EntryKind::Symlink => EntryType::Symlink,
            EntryKind::Fifo => EntryType::Fifo,
            EntryKind::CharDevice => EntryType::Char,
            EntryKind::BlockDevice => EntryType::Block,
        };
        let mut header = self.header(kind, mode, entry.meta.mtime);
        self.summary.entries += 1;
        if entry.meta.mtime_nsec != 0 {
            self.pax_mtime(entry.meta.mtime, entry.meta.mtime_nsec)
                .map_err(io_err)?;
        }
        match entry.kind {
            EntryKind::File => {
                let key = (entry.root, entry.meta.dev, entry.meta.ino);
                if entry.meta.nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        header.set_entry_type(EntryType::Link);
                        let first = first.clone();
                        return self
                            .builder
                            .append_link(&mut header, &name, &first)
                            .map_err(io_err);
                    }
                    self.links.insert(key, name.clone());
                }
                let file = File::open(&entry.path).map_err(io_err)?;
                // The content must be what the step's key was made from: the file as listed,
                // before and after it is read (a same-size rewrite or a rename onto it between
                // the digest and the copy would otherwise be cached under the other content).
                entry.meta.check_unchanged(&file, &entry.path)?;
                header.set_size(entry.meta.size);
                let reader = ExactReader {
                    inner: (&file).take(entry.meta.size),
                    left: entry.meta.size,
                };
                self.builder
                    .append_data(&mut header, &name, reader)
                    .map_err(io_err)?;
                entry.meta.check_unchanged(&file, &entry.path)?;
                self.summary.content_bytes += entry.meta.size;
                Ok(())
            }
            EntryKind::Symlink => {
                let link = entry.link_target.clone().unwrap_or_default();
                self.builder
                    .append_link(&mut header, &name, &link)
                    .map_err(io_err)
            }
            EntryKind::CharDevice | EntryKind::BlockDevice => {
                let rdev = entry.meta.rdev;
                let major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff);
                let minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff);
                header.set_device_major(major as u32).map_err(io_err)?;
                header.set_device_minor(minor as u32).map_err(io_err)?;
                self.builder
                    .append_data(&mut header, &name, std::io::empty())
                    .map_err(io_err)
            }
            EntryKind::Dir | EntryKind::Fifo | EntryKind::Socket => self
                .builder
                .append_data(&mut header, &name, std::io::empty())
                .map_err(io_err),
        }
    }
}

/// A reader that fails instead of ending early when the file shrank after it was listed.
struct ExactReader<R: Read> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file changed size while it was being read; retry the build",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// One PAX record, `"<length> <key>=<value>\n"`, where the length counts the whole record.
pub(super) fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut length = body.len() + 1;
    while format!("{length}{body}").len() != length {
        length += 1;
    }
    format!("{length}{body}")
}

/// An image path as a tar entry name: no leading `/`, directories with a trailing `/`.
fn tar_name(path: &str, is_dir: bool) -> String {
    let trimmed = path.trim_start_matches('/');
    if is_dir {
        format!("{trimmed}/")
    } else {
        trimmed.to_string()
    }
}

fn join_abs(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}
