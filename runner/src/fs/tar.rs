//! Tar rewriting for uploads: re-rooting archive entries to their destination in the image.
//!
//! Input: a tar stream (from the engine's GET archive or the build context) and a rule that maps
//! each entry name to its destination path (or drops it), plus `--chown`/`--chmod`.
//! Output: a tar whose entry names are paths relative to `/`, ready for PUT archive at `/`.
//! Invariant: modes, mtimes, device numbers, xattrs and sub-second times (PAX records) are kept
//! (the tar crate drops PAX records unless they are forwarded); hard-link targets are mapped
//! like names, symlink targets are not; names with a `.wh.` component are refused, since the
//! engine reads them as whiteouts. Rewriting streams: entries are read and written one at a
//! time.

use std::io::Read;

use tar::{Archive, Builder, EntryType, Header};

use crate::context::Chmod;

/// Ownership and mode overrides of a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--chown` uid and gid.
    pub owner: Option<(u64, u64)>,
    /// `--chmod` (octal or symbolic); symlinks keep their mode.
    pub chmod: Option<Chmod>,
}

/// Why a rewrite failed.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The input is not a readable tar.
    #[error("reading archive: {0}")]
    Read(std::io::Error),
    /// Writing the output failed.
    #[error("writing archive: {0}")]
    Write(std::io::Error),
    /// A name the image format cannot hold.
    #[error("{0:?} has a component starting with \".wh.\", which image layers reserve for deletions; rename it")]
    Whiteout(String),
}

/// Joins `dest` (absolute) and a relative name into a name relative to `/`, normalised.
pub fn join_dest(dest: &str, name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in dest.split('/').chain(name.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Copies every entry of `input` whose name `map` accepts into a new tar under the mapped name,
/// applying `overrides`. `map` gets the entry name without a leading `./` or `/`.
pub fn rewrite(
    input: &[u8],
    map: &dyn Fn(&str) -> Option<String>,
    overrides: Overrides,
) -> Result<Vec<u8>, TarError> {
    let mut out = Vec::new();
    rewrite_stream(input, &mut out, map, overrides, &[], map)?;
    Ok(out)
}

/// An entry to add to a rewritten archive: its (relative) name, header and content.
pub type ExtraEntry = (String, Header, Vec<u8>);

/// [`rewrite`] from a reader into a writer, entry by entry (file contents stream through), then
/// `extra` entries mapped by `extra_map` (they may stand for input entries `map` drops) and
/// overridden the same way.
pub fn rewrite_stream<R: Read, W: std::io::Write>(
    input: R,
    output: W,
    map: &dyn Fn(&str) -> Option<String>,
    overrides: Overrides,
    extra: &[ExtraEntry],
    extra_map: &dyn Fn(&str) -> Option<String>,
) -> Result<(), TarError> {
    let mut archive = Archive::new(input);
    let mut builder = Builder::new(output);
    for entry in archive.entries().map_err(TarError::Read)? {
        let mut entry = entry.map_err(TarError::Read)?;
        let name = clean_name(&entry.path_bytes());
        let Some(target) = map(&name) else { continue };
        if target.is_empty() {
            // The root directory itself: its mode and owner belong to the image.
            continue;
        }
        if target.split('/').any(|part| part.starts_with(".wh.")) {
            return Err(TarError::Whiteout(target));
        }
        let mut header = entry.header().clone();
        apply_overrides(&mut header, &overrides);
        forward_pax(&mut entry, &mut builder)?;
        let kind = header.entry_type();
        if kind == EntryType::Link {
            let link = entry
                .link_name_bytes()
                .map(|l| clean_name(&l))
                .unwrap_or_default();
            // A hard link to something the map drops cannot be kept as a link.
            match map(&link) {
                Some(mapped) => builder
                    .append_link(&mut header, &target, mapped)
                    .map_err(TarError::Write)?,
                None => continue,
            }
        } else if kind == EntryType::Symlink {
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            builder
                .append_link(&mut header, &target, link)
                .map_err(TarError::Write)?;
        } else if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        } else {
            let target = if kind == EntryType::Directory {
                format!("{target}/")
            } else {
                target
            };
            builder
                .append_data(&mut header, &target, &mut entry)
                .map_err(TarError::Write)?;
        }
    }
    for (name, header, data) in extra {
        let Some(target) = extra_map(name) else {
            continue;
        };
        if target.split('/').any(|part| part.starts_with(".wh.")) {
            return Err(TarError::Whiteout(target));
        }
        let mut header = header.clone();
        apply_overrides(&mut header, &overrides);
        let kind = header.entry_type();
        if kind == EntryType::Symlink || kind == EntryType::Link {
            let link = header
                .link_name()
                .ok()
                .flatten()
                .map(|l| l.into_owned())
                .unwrap_or_default();
            builder
                .append_link(&mut header, &target, link)
                .map_err(TarError::Write)?;
        } else {
            header.set_size(data.len() as u64);
            builder
                .append_data(&mut header, &target, data.as_slice())
                .map_err(TarError::Write)?;
        }
    }
    builder.finish().map_err(TarError::Write)
}

fn apply_overrides(header: &mut Header, overrides: &Overrides) {
    if let Some((uid, gid)) = overrides.owner {
        header.set_uid(uid);
        header.set_gid(gid);
        // Owner names would win over the numeric ids on extraction.
        let _ = header.set_username("");
        let _ = header.set_groupname("");
    }
    let kind = header.entry_type();
    if let (Some(chmod), false) = (&overrides.chmod, kind == EntryType::Symlink) {
        let mode = header.mode().unwrap_or(0);
        let permissions = chmod.apply(mode & 0o7777, kind == EntryType::Directory);
        header.set_mode((mode & !0o7777) | permissions);
    }
}

/// Forwards an entry's PAX records other than path, link path and size (which the builder
/// writes itself): xattrs, sub-second times, long owner names.
fn forward_pax<R: Read, W: std::io::Write>(
    entry: &mut tar::Entry<'_, R>,
    builder: &mut Builder<W>,
) -> Result<(), TarError> {
    let Some(extensions) = entry.pax_extensions().map_err(TarError::Read)? else {
        return Ok(());
    };
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for extension in extensions {
        let extension = extension.map_err(TarError::Read)?;
        let Ok(key) = extension.key() else { continue };
        if matches!(key, "path" | "linkpath" | "size") {
            continue;
        }
        records.push((key.to_string(), extension.value_bytes().to_vec()));
    }
    if records.is_empty() {
        return Ok(());
    }
    builder
        .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
        .map_err(TarError::Write)
}

/// An entry name without leading `./` or `/` and without a trailing `/` (empty for the root).
pub fn clean_name(raw: &[u8]) -> String {
    let name = String::from_utf8_lossy(raw);
    let mut name = name.as_ref();
    loop {
        if let Some(rest) = name.strip_prefix("./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix('/') {
            name = rest;
        } else {
            break;
        }
    }
    if name == "." {
        return String::new();
    }
    name.trim_end_matches('/').to_string()
}

/// A tar holding one directory entry per path (each relative to `/`), e.g. for `WORKDIR`.
pub fn directories(paths: &[String], owner: (u64, u64), mode: u32) -> Result<Vec<u8>, TarError> {
    let mut builder = Builder::new(Vec::new());
    for path in paths {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Directory);
        header.set_mode(mode);
        header.set_uid(owner.0);
        header.set_gid(owner.1);
        header.set_mtime(now_secs());
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{path}/"), std::io::empty())
            .map_err(TarError::Write)?;
    }
    builder.into_inner().map_err(TarError::Write)
}

/// A tar holding regular files (path relative to `/`, content, mode), owned by `owner`.
pub fn files(entries: &[(String, Vec<u8>, u32)], owner: (u64, u64)) -> Result<Vec<u8>, TarError> {
    files_at(entries, owner, now_secs())
}

/// [`files`] with the modification time `mtime` (seconds since the epoch) on every file.
pub fn files_at(
    entries: &[(String, Vec<u8>, u32)],
    owner: (u64, u64),
    mtime: u64,
) -> Result<Vec<u8>, TarError> {
    let mut builder = Builder::new(Vec::new());
    for (path, content, mode) in entries {
        if path.split('/').any(|part| part.starts_with(".wh.")) {
            return Err(TarError::Whiteout(path.clone()));
        }
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(*mode);
        header.set_uid(owner.0);
        header.set_gid(owner.1);
        header.set_mtime(mtime);
        header.set_size(content.len() as u64);
        builder
            .append_data(&mut header, path, content.as_slice())
            .map_err(TarError::Write)?;
    }
    builder.into_inner().map_err(TarError::Write)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The entry names of a tar (cleaned), in order; used to list what a download contains.
pub fn entry_names<R: Read>(input: R) -> Result<Vec<(String, EntryType)>, TarError> {
    let mut archive = Archive::new(input);
    let mut names = Vec::new();
    for entry in archive.entries().map_err(TarError::Read)? {
        let entry = entry.map_err(TarError::Read)?;
        names.push((clean_name(&entry.path_bytes()), entry.header().entry_type()));
    }
    Ok(names)
}

/// A digest of what a tar holds: every entry's name, type, permission bits, owner, link target
/// and content, in order; not its times (a cache key must not change when nothing but an mtime
/// did).
pub fn content_digest<R: Read>(input: R) -> Result<String, TarError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut archive = Archive::new(input);
    let mut buffer = vec![0u8; 64 * 1024];
    for entry in archive.entries().map_err(TarError::Read)? {
        let mut entry = entry.map_err(TarError::Read)?;
        let header = entry.header().clone();
        let name = clean_name(&entry.path_bytes());
        let link = entry
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        let meta = format!(
            "{name}\0{:?}\0{:o}\0{}\0{}\0",
            header.entry_type().as_byte(),
            header.mode().unwrap_or(0) & 0o7777,
            header.uid().unwrap_or(0),
            header.gid().unwrap_or(0),
        );
        hasher.update((meta.len() as u64).to_le_bytes());
        hasher.update(meta.as_bytes());
        hasher.update((link.len() as u64).to_le_bytes());
        hasher.update(&link);
        hasher.update(entry.size().to_le_bytes());
        loop {
            let n = entry.read(&mut buffer).map_err(TarError::Read)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// The content of the first regular file in a tar (a single-file download).
pub fn first_file(input: &[u8]) -> Result<Option<Vec<u8>>, TarError> {
    Ok(first_file_entry(input)?.map(|file| file.data))
}

/// A regular file read from a tar: its content and what its header says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The content.
    pub data: Vec<u8>,
    /// Permission and special bits (`mode & 0o7777`).
    pub mode: u32,
    /// Owner uid and gid.
    pub owner: (u64, u64),
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// The first regular file in a tar, with its mode, owner and modification time.
pub fn first_file_entry(input: &[u8]) -> Result<Option<FileEntry>, TarError> {
    let mut archive = Archive::new(input);
    for entry in archive.entries().map_err(TarError::Read)? {
        let mut entry = entry.map_err(TarError::Read)?;
        let header = entry.header();
        if header.entry_type() == EntryType::Regular {
            let mode = header.mode().map_err(TarError::Read)? & 0o7777;
            let owner = (
                header.uid().map_err(TarError::Read)?,
                header.gid().map_err(TarError::Read)?,
            );
            let mtime = header.mtime().map_err(TarError::Read)?;
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(TarError::Read)?;
            return Ok(Some(FileEntry {
                data,
                mode,
                owner,
                mtime,
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_root() {
        assert_eq!(clean_name(b"./bin/sh"), "bin/sh");
        assert_eq!(clean_name(b"/etc/"), "etc");
        assert_eq!(clean_name(b"./"), "");
        assert_eq!(clean_name(b"."), "");
    }

    fn sample() -> Vec<u8> {
        let mut builder = Builder::new(Vec::new());
        let fresh = || {
            let mut header = Header::new_gnu();
            header.set_mode(0o755);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header
        };
        let mut dir = fresh();
        dir.set_entry_type(EntryType::Directory);
        dir.set_mode(0o700);
        dir.set_size(0);
        builder
            .append_data(&mut dir, "out/", std::io::empty())
            .unwrap();
        let mut file = fresh();
        file.set_mode(0o644);
        file.set_uid(1000);
        file.set_gid(1000);
        file.set_size(2);
        builder.append_data(&mut file, "out/a", &b"hi"[..]).unwrap();
        let mut link = fresh();
        link.set_entry_type(EntryType::Link);
        link.set_size(0);
        builder.append_link(&mut link, "out/b", "out/a").unwrap();
        let mut sym = fresh();
        sym.set_entry_type(EntryType::Symlink);
        sym.set_size(0);
        builder.append_link(&mut sym, "out/c", "../etc/x").unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn first_file_entry_keeps_mode_owner_and_time() {
        let file = first_file_entry(&sample()).unwrap().unwrap();
        assert_eq!(
            file,
            FileEntry {
                data: b"hi".to_vec(),
                mode: 0o644,
                owner: (1000, 1000),
                mtime: 0,
            }
        );
    }

    #[test]
    fn reroots_names_and_hard_links_but_not_symlinks() {
        let map = |name: &str| {
            name.strip_prefix("out")
                .map(|rest| join_dest("/app", rest.trim_start_matches('/')))
        };
        let out = rewrite(&sample(), &map, Overrides::default()).unwrap();
        let mut archive = Archive::new(out.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            seen.push((
                entry.path().unwrap().to_string_lossy().into_owned(),
                entry.header().uid().unwrap(),
                link,
            ));
        }
        assert_eq!(
            seen,
            vec![
                ("app/".to_string(), 0, None),
                ("app/a".to_string(), 1000, None),
                ("app/b".to_string(), 0, Some("app/a".to_string())),
                ("app/c".to_string(), 0, Some("../etc/x".to_string())),
            ]
        );
    }

    #[test]
    fn applies_overrides_and_refuses_whiteout_names() {
        let map = |name: &str| Some(name.to_string());
        let overrides = Overrides {
            owner: Some((5, 6)),
            chmod: Some(Chmod::Octal(0o600)),
        };
        let out = rewrite(&sample(), &map, overrides).unwrap();
        let mut archive = Archive::new(out.as_slice());
        let first = archive.entries().unwrap().nth(1).unwrap().unwrap();
        assert_eq!(first.header().uid().unwrap(), 5);
        assert_eq!(first.header().mode().unwrap() & 0o7777, 0o600);
        let bad = |name: &str| Some(format!("x/.wh.{name}"));
        assert!(matches!(
            rewrite(&sample(), &bad, Overrides::default()),
            Err(TarError::Whiteout(_))
        ));
    }

    #[test]
    fn keeps_xattrs_and_subsecond_times_from_pax_records() {
        let mut builder = Builder::new(Vec::new());
        builder
            .append_pax_extensions([
                ("SCHILY.xattr.security.capability", &b"\x01\x00\x00\x02"[..]),
                ("mtime", &b"1700000000.123456789"[..]),
            ])
            .unwrap();
        let mut header = Header::new_gnu();
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_size(1);
        builder
            .append_data(&mut header, "bin/ping", &b"x"[..])
            .unwrap();
        let input = builder.into_inner().unwrap();
        let out = rewrite(&input, &|n| Some(format!("app/{n}")), Overrides::default()).unwrap();
        let mut archive = Archive::new(out.as_slice());
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_string_lossy(), "app/bin/ping");
        let records: Vec<(String, Vec<u8>)> = entry
            .pax_extensions()
            .unwrap()
            .expect("pax records kept")
            .map(|e| {
                let e = e.unwrap();
                (e.key().unwrap().to_string(), e.value_bytes().to_vec())
            })
            .collect();
        assert!(records.contains(&(
            "SCHILY.xattr.security.capability".to_string(),
            b"\x01\x00\x00\x02".to_vec()
        )));
        assert!(records
            .iter()
            .any(|(k, v)| k == "mtime" && v == b"1700000000.123456789"));
    }

    #[test]
    fn join_dest_normalises() {
        assert_eq!(join_dest("/app/", "x/y"), "app/x/y");
        assert_eq!(join_dest("/", ""), "");
        assert_eq!(join_dest("/a/./b", "../c"), "a/c");
    }
}
