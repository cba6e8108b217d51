//! Build contexts of the differential cases: the case directory copied to a temporary place,
//! then prepared with what git cannot store (sockets, fifos, modes, owners, hard links, archives,
//! xattrs).
//!
//! Input: a case directory and its [`Setup`] steps.
//! Output: a ready build context directory.
//! Invariant: `case.json` and every entry whose name starts with `_` stay out of the context;
//! symlinks are copied as symlinks, never followed.

use std::path::Path;
use std::process::Command;

use crate::case::{Setup, TarMember};

/// Copies `from` into `to` (created), leaving out `case.json` and `_`-entries at the top.
pub fn copy_case(from: &Path, to: &Path) -> Result<(), String> {
    copy_tree(from, to, true)
}

/// Copies a whole directory (a `_`-directory of a case) into `to` (created).
pub fn copy_all(from: &Path, to: &Path) -> Result<(), String> {
    copy_tree(from, to, false)
}

fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("mkdir {}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if top && (name_text == "case.json" || name_text.starts_with('_')) {
            continue;
        }
        let source = entry.path();
        let dest = to.join(&name);
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&source).map_err(|e| e.to_string())?;
            std::os::unix::fs::symlink(&target, &dest)
                .map_err(|e| format!("symlink {}: {e}", dest.display()))?;
        } else if kind.is_dir() {
            copy_tree(&source, &dest, false)?;
        } else {
            std::fs::copy(&source, &dest).map_err(|e| format!("copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// Applies the setup steps to `context`; `case_dir` holds the `_`-directories archives are
/// made from.
pub fn prepare(context: &Path, case_dir: &Path, steps: &[Setup]) -> Result<(), String> {
    for step in steps {
        apply(context, case_dir, step).map_err(|e| format!("setup {step:?}: {e}"))?;
    }
    Ok(())
}

fn apply(context: &Path, case_dir: &Path, step: &Setup) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let at = |path: &str| {
        let full = context.join(path);
        if let Some(parent) = full.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        full
    };
    match step {
        Setup::Mkdir { path } => std::fs::create_dir_all(at(path)).map_err(|e| e.to_string()),
        Setup::Symlink { path, target } => {
            std::os::unix::fs::symlink(target, at(path)).map_err(|e| e.to_string())
        }
        Setup::Socket { path } => std::os::unix::net::UnixListener::bind(at(path))
            .map(drop)
            .map_err(|e| e.to_string()),
        Setup::Fifo { path } => run(Command::new("mkfifo").arg(at(path))),
        Setup::Chmod { path, mode } => {
            let bits = u32::from_str_radix(mode, 8).map_err(|e| format!("mode {mode}: {e}"))?;
            std::fs::set_permissions(at(path), std::fs::Permissions::from_mode(bits))
                .map_err(|e| e.to_string())
        }
        Setup::Chown { path, uid, gid } => {
            std::os::unix::fs::lchown(at(path), Some(*uid), Some(*gid)).map_err(|e| e.to_string())
        }
        Setup::Tar {
            path,
            from,
            compress,
            uid,
            gid,
        } => {
            let flag = match compress.as_str() {
                "none" => None,
                "gzip" => Some("--gzip"),
                "bzip2" => Some("--bzip2"),
                "xz" => Some("--xz"),
                other => return Err(format!("unknown compression {other:?}")),
            };
            let mut command = Command::new("tar");
            command.arg("--create").arg("--file").arg(at(path));
            if let Some(flag) = flag {
                command.arg(flag);
            }
            if let Some(uid) = uid {
                command.arg(format!("--owner={uid}"));
            }
            if let Some(gid) = gid {
                command.arg(format!("--group={gid}"));
            }
            command
                .arg("--numeric-owner")
                .arg("--sort=name")
                .arg("-C")
                .arg(case_dir.join(from))
                .arg(".");
            run(&mut command)
        }
        Setup::Hardlink { path, target } => {
            std::fs::hard_link(context.join(target), at(path)).map_err(|e| e.to_string())
        }
        Setup::TarMembers {
            path,
            gzip,
            members,
        } => {
            let archive = tar_of_members(members)?;
            let bytes = if *gzip {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut encoder, &archive).map_err(|e| e.to_string())?;
                encoder.finish().map_err(|e| e.to_string())?
            } else {
                archive
            };
            std::fs::write(at(path), bytes).map_err(|e| e.to_string())
        }
        Setup::Setcap { path, caps } => run(Command::new("setcap").arg(caps).arg(at(path))),
    }
}

/// The bytes of a tar archive holding exactly `members`, in order (mtime 0).
fn tar_of_members(members: &[TarMember]) -> Result<Vec<u8>, String> {
    let mut builder = tar::Builder::new(Vec::new());
    for member in members {
        let mut header = tar::Header::new_ustar();
        let (entry_type, default_mode) = match member.kind {
            'f' => (tar::EntryType::Regular, 0o644),
            'd' => (tar::EntryType::Directory, 0o755),
            'l' => (tar::EntryType::Symlink, 0o777),
            'h' => (tar::EntryType::Link, 0o644),
            other => return Err(format!("member {}: unknown kind {other:?}", member.name)),
        };
        let mode = match &member.mode {
            Some(text) => u32::from_str_radix(text, 8).map_err(|e| format!("mode {text}: {e}"))?,
            None => default_mode,
        };
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_uid(member.uid);
        header.set_gid(member.gid);
        header.set_mtime(0);
        let content = if member.kind == 'f' {
            member.content.as_bytes()
        } else {
            &[]
        };
        header.set_size(content.len() as u64);
        if matches!(member.kind, 'l' | 'h') {
            header
                .set_link_name(&member.link)
                .map_err(|e| format!("member {}: {e}", member.name))?;
        }
        if member.name.split('/').any(|part| part == "..") {
            // The tar crate refuses to write `..`; archives in the wild have it (BuildKit
            // unpacks such a member inside the destination), so the name is written as is.
            let name = member.name.as_bytes();
            let field = &mut header.as_old_mut().name;
            if name.len() > field.len() {
                return Err(format!("member {}: name too long", member.name));
            }
            field[..name.len()].copy_from_slice(name);
            header.set_cksum();
            builder
                .append(&header, content)
                .map_err(|e| format!("member {}: {e}", member.name))?;
        } else {
            builder
                .append_data(&mut header, &member.name, content)
                .map_err(|e| format!("member {}: {e}", member.name))?;
        }
    }
    builder.into_inner().map_err(|e| e.to_string())
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {command:?} (scripts/setup.sh installs it): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
