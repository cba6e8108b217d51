//! COPY --from an image or stage: the sources downloaded out of a holder container of it.
//!
//! Input: the source image id, the (expanded) source paths with wildcards, `--exclude` patterns.
//! Output: one [`Piece`] per source: a tar of the directory's contents or of the file.
//! Invariant: symlinks named as sources are followed (RUNNER-NOTES P10c); owners are kept
//! (P10b); the init layer's placeholders never get copied: the image's own `/etc/hosts`,
//! `/etc/hostname`, `/etc/resolv.conf`, `/etc/mtab` and `/.dockerenv` come from the saved
//! image (P11), and the contents of `dev`, `proc` and `sys` are left out (P18).

use std::collections::BTreeMap;

use crate::copy_step::{Piece, PieceError};
use crate::glob;
use crate::init_files::{self, RealEntry};
use crate::stage::Ctx;
use crate::tarx::{self, Overrides};

/// Downloads the sources of a COPY --from out of a holder of `image`.
pub(crate) async fn image_pieces(
    ctx: &Ctx,
    image: &str,
    sources: &[String],
    excludes: &[String],
) -> std::result::Result<Vec<Piece>, PieceError> {
    let holder = ctx.source_holder(image).await?;
    let mut source_image = SourceImage {
        holder: holder.clone(),
        image: image.to_string(),
        real: None,
    };
    let mut pieces = Vec::new();
    let mut result = Ok(());
    for source in sources {
        let path = format!("/{}", tarx::join_dest(source, ""));
        let found = if glob::has_wildcard(&path) {
            glob_pieces(ctx, &mut source_image, &path, excludes).await
        } else {
            one_piece(ctx, &mut source_image, &path, excludes)
                .await
                .map(|p| vec![p])
        };
        match found {
            Ok(found) => pieces.extend(found),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    result.map(|_| pieces)
}

/// One named source path of a holder: followed through symlinks, downloaded, filtered.
/// A holder of a COPY --from source image, and the image's own copies of the files the
/// holder's init layer masks (read only when a copy touches them).
struct SourceImage {
    holder: String,
    image: String,
    real: Option<BTreeMap<String, RealEntry>>,
}

impl SourceImage {
    async fn real_entries(
        &mut self,
        ctx: &Ctx,
    ) -> std::result::Result<&BTreeMap<String, RealEntry>, PieceError> {
        if self.real.is_none() {
            let saved = ctx.engine.save_image(&self.image).await?;
            let real = init_files::real_entries(&saved).map_err(|e| {
                PieceError::Message(format!(
                    "reading the masked /etc files of the source image: {e}"
                ))
            })?;
            self.real = Some(real);
        }
        Ok(self.real.get_or_insert_with(BTreeMap::new))
    }
}

async fn one_piece(
    ctx: &Ctx,
    source: &mut SourceImage,
    path: &str,
    excludes: &[String],
) -> std::result::Result<Piece, PieceError> {
    let holder = source.holder.clone();
    let holder = holder.as_str();
    let mut path = path.to_string();
    let mut stat = ctx.engine.stat_path(holder, &path).await?;
    for _ in 0..16 {
        match &stat {
            Some(s) if s.is_symlink() && !s.link_target.is_empty() => {
                path = s.link_target.clone();
                stat = ctx.engine.stat_path(holder, &path).await?;
            }
            _ => break,
        }
    }
    let stat = stat.ok_or_else(|| {
        PieceError::Message(format!(
            "COPY --from source {path} does not exist in the source image"
        ))
    })?;
    let is_dir = stat.is_dir();
    let fetch = if is_dir {
        format!("{}/.", path.trim_end_matches('/'))
    } else {
        path.clone()
    };
    let raw = ctx
        .engine
        .get_archive(holder, &fetch)
        .await?
        .ok_or_else(|| {
            PieceError::Message(format!(
                "COPY --from source {path} vanished while being read"
            ))
        })?;
    let root_level = path == "/" || path.is_empty();
    let rel_path = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string();
    // Masked files inside the copied tree (or the file itself), relative to the piece.
    let masked: Vec<(String, String)> = init_files::MASKED
        .iter()
        .filter_map(|m| {
            if !is_dir {
                return (*m == rel_path)
                    .then(|| (m.to_string(), m.rsplit('/').next().unwrap_or(m).to_string()));
            }
            if rel_path.is_empty() {
                return Some((m.to_string(), m.to_string()));
            }
            m.strip_prefix(&format!("{rel_path}/"))
                .map(|rest| (m.to_string(), rest.to_string()))
        })
        .collect();
    let mut extra = Vec::new();
    if !masked.is_empty() {
        let real = source.real_entries(ctx).await?;
        for (absolute, relative) in &masked {
            if let Some(entry) = real.get(absolute) {
                extra.push((relative.clone(), entry.header.clone(), entry.data.clone()));
            }
        }
        if !is_dir && extra.is_empty() {
            return Err(PieceError::Message(format!(
                "COPY --from source {path} does not exist in the source image"
            )));
        }
    }
    let excludes = excludes.to_vec();
    let masked_names: Vec<String> = masked.iter().map(|(_, r)| r.clone()).collect();
    let keep = move |name: &str| -> Option<String> {
        if root_level && is_init_placeholder(name) {
            return None;
        }
        if masked_names.iter().any(|m| m == name) {
            return None;
        }
        if excludes.iter().any(|p| glob::matches_path(p, name)) {
            return None;
        }
        Some(name.to_string())
    };
    let tar = if !is_dir && !extra.is_empty() {
        tarx::with_entries(Vec::new(), &extra)
    } else {
        tarx::rewrite(&raw, &keep, Overrides::default())
            .and_then(|tar| tarx::with_entries(tar, &extra))
    }
    .map_err(|e| PieceError::Message(e.to_string()))?;
    Ok(Piece {
        is_dir,
        rel_path,
        tar,
        root_owned: false,
        unpack: false,
    })
}

/// Sources with a wildcard in the last component: every match in the parent directory.
async fn glob_pieces(
    ctx: &Ctx,
    source: &mut SourceImage,
    path: &str,
    excludes: &[String],
) -> std::result::Result<Vec<Piece>, PieceError> {
    let (parent, pattern) = path.rsplit_once('/').unwrap_or(("", path));
    if glob::has_wildcard(parent) {
        return Err(PieceError::Message(format!(
            "COPY --from {path}: wildcards are supported in the last path component only"
        )));
    }
    let parent = if parent.is_empty() { "/" } else { parent };
    let listing = ctx
        .engine
        .get_archive(
            &source.holder,
            &format!("{}/.", parent.trim_end_matches('/')),
        )
        .await?
        .ok_or_else(|| {
            PieceError::Message(format!(
                "COPY --from {path}: {parent} does not exist in the source image"
            ))
        })?;
    let names = tarx::entry_names(&listing).map_err(|e| PieceError::Message(e.to_string()))?;
    let mut matched: Vec<String> = names
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !n.is_empty() && !n.contains('/') && glob::matches(pattern, n))
        .collect();
    matched.sort();
    matched.dedup();
    if matched.is_empty() {
        return Err(PieceError::Message(format!(
            "COPY --from {path}: no source files were specified (the pattern matched nothing)"
        )));
    }
    let mut pieces = Vec::new();
    for name in matched {
        let full = format!("{}/{name}", parent.trim_end_matches('/'));
        pieces.push(one_piece(ctx, source, &full, excludes).await?);
    }
    Ok(pieces)
}

/// Entries a holder's merged view of `/` shows that come from the container's init layer and
/// its mounts, not the image (RUNNER-NOTES P11, P18): the contents of `dev`, `proc` and `sys`.
/// The directories themselves are kept, as BuildKit's copy of a stage that ran a RUN has them
/// (the masked files are replaced by [`init_files`]).
fn is_init_placeholder(name: &str) -> bool {
    ["dev", "proc", "sys"]
        .iter()
        .any(|d| name.starts_with(&format!("{d}/")))
}
