//! COPY --from an image or stage: the sources found in a holder container of it.
//!
//! Input: the source image id, the (expanded) source paths with wildcards, `--exclude` patterns,
//! `--parents`.
//! Output: one [`Piece`] per source (per match of a wildcard), streamed from the holder when it
//! is written.
//! Invariant: symlinks named as sources are followed; owners are kept; the init layer's
//! placeholders never get copied: the image's own `/etc/hosts`, `/etc/hostname`,
//! `/etc/resolv.conf`, `/etc/mtab` and `/.dockerenv` come from the saved image, and the
//! contents of `dev`, `proc` and `sys` are left out.

use std::collections::BTreeMap;

use crate::context::{contains_wildcards, go_match, PatternMatcher};
use crate::error::{Result, StepError};
use crate::exec::ctx::Ctx;
use crate::fs::init_files::{self, RealEntry};
use crate::fs::{pipe, tar as tarx};

use super::piece::{Piece, PieceContent};

/// What a source path names in a source image.
struct SourceImage<'a> {
    ctx: &'a Ctx,
    holder: String,
    image: String,
    real: Option<BTreeMap<String, RealEntry>>,
}

/// Finds the sources of a COPY --from in a holder of `image`. A wildcard that matches nothing
/// contributes nothing (as BuildKit allows); a plain path that does not exist is an error.
pub async fn pieces(
    ctx: &Ctx,
    image: &str,
    sources: &[String],
    excludes: &[String],
    parents: bool,
) -> Result<std::result::Result<Vec<Piece>, StepError>> {
    let holder = ctx.source_holder(image).await?;
    let mut source_image = SourceImage {
        ctx,
        holder,
        image: image.to_string(),
        real: None,
    };
    let excludes = match PatternMatcher::new(excludes) {
        Ok(matcher) => std::sync::Arc::new(matcher),
        Err(e) => return Ok(Err(StepError::Invalid(format!("--exclude patterns: {e}")))),
    };
    let mut pieces = Vec::new();
    for source in sources {
        let (pivot, rest) = split_pivot(source, parents);
        let path = format!("/{}", tarx::join_dest(&format!("{pivot}/{rest}"), ""));
        let found = if contains_wildcards(&path) {
            source_image.matches(&path).await?
        } else {
            Ok(vec![path])
        };
        let paths = match found {
            Ok(paths) => paths,
            Err(e) => return Ok(Err(e)),
        };
        for path in paths {
            let rel_to_pivot = path
                .trim_start_matches('/')
                .strip_prefix(tarx::join_dest(&pivot, "").as_str())
                .map(|r| r.trim_start_matches('/').to_string())
                .unwrap_or_else(|| path.trim_start_matches('/').to_string());
            match source_image.piece(&path, excludes.clone()).await? {
                Ok(mut piece) => {
                    if parents {
                        piece.rel_path = rel_to_pivot;
                    }
                    pieces.push(piece);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
    }
    Ok(Ok(pieces))
}

/// `--parents` keeps the path below a pivot written as `parent/./rest` (the root otherwise).
fn split_pivot(source: &str, parents: bool) -> (String, String) {
    if parents {
        if let Some((pivot, rest)) = source.split_once("/./") {
            return (format!("/{}", tarx::join_dest(pivot, "")), rest.to_string());
        }
    }
    ("/".to_string(), source.to_string())
}

impl SourceImage<'_> {
    /// The image's own copies of the files a holder's init layer masks (read only when a copy
    /// touches them).
    async fn real_entries(
        &mut self,
    ) -> Result<std::result::Result<&BTreeMap<String, RealEntry>, StepError>> {
        if self.real.is_none() {
            let saved = self.ctx.engine.save_image(&self.image).await?;
            match init_files::real_entries(&saved) {
                Ok(real) => self.real = Some(real),
                Err(e) => {
                    return Ok(Err(StepError::Invalid(format!(
                        "reading the masked /etc files of the source image: {e}"
                    ))))
                }
            }
        }
        Ok(Ok(self.real.get_or_insert_with(BTreeMap::new)))
    }

    /// Every path of the image that `pattern` (absolute, wildcards in any component) matches,
    /// sorted; found by listing the deepest wildcard-free directory.
    async fn matches(&self, pattern: &str) -> Result<std::result::Result<Vec<String>, StepError>> {
        let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        let first_wild = parts
            .iter()
            .position(|p| contains_wildcards(p))
            .unwrap_or(0);
        let base = format!("/{}", parts[..first_wild].join("/"));
        let Some(stat) = self.ctx.engine.stat_path(&self.holder, &base).await? else {
            return Ok(Ok(Vec::new()));
        };
        if !stat.is_dir() {
            return Ok(Ok(Vec::new()));
        }
        let listing = self
            .ctx
            .engine
            .get_archive_stream(&self.holder, &format!("{}/.", base.trim_end_matches('/')));
        let reader = pipe::blocking_reader(listing);
        let names = match tokio::task::spawn_blocking(move || tarx::entry_names(reader)).await {
            Ok(Ok(names)) => names,
            Ok(Err(e)) => return Ok(Err(StepError::Tar(e))),
            Err(e) => return Ok(Err(StepError::Worker(e))),
        };
        let wanted = &parts[first_wild..];
        let mut matched: Vec<String> = names
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| {
                let components: Vec<&str> = name.split('/').collect();
                components.len() == wanted.len()
                    && components
                        .iter()
                        .zip(wanted)
                        .all(|(c, p)| go_match(p, c).unwrap_or(false))
            })
            .map(|name| format!("{}/{name}", base.trim_end_matches('/')))
            .collect();
        matched.sort();
        matched.dedup();
        Ok(Ok(matched))
    }

    /// One named source path: followed through symlinks, filtered, with masked files replaced.
    async fn piece(
        &mut self,
        path: &str,
        excludes: std::sync::Arc<PatternMatcher>,
    ) -> Result<std::result::Result<Piece, StepError>> {
        let engine = &self.ctx.engine;
        let mut path = path.to_string();
        let mut stat = engine.stat_path(&self.holder, &path).await?;
        for _ in 0..40 {
            match &stat {
                Some(s) if s.is_symlink() && !s.link_target.is_empty() => {
                    path = s.link_target.clone();
                    stat = engine.stat_path(&self.holder, &path).await?;
                }
                _ => break,
            }
        }
        let rel_path = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string();
        let masked: Vec<(String, String)> = init_files::MASKED
            .iter()
            .filter_map(|m| {
                let is_dir = stat.as_ref().is_some_and(|s| s.is_dir());
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
            let real = match self.real_entries().await? {
                Ok(real) => real,
                Err(e) => return Ok(Err(e)),
            };
            for (absolute, relative) in &masked {
                if let Some(entry) = real.get(absolute) {
                    extra.push((relative.clone(), entry.header.clone(), entry.data.clone()));
                }
            }
        }
        let Some(stat) = stat else {
            return Ok(Err(not_found(&path)));
        };
        let is_dir = stat.is_dir();
        if !is_dir && !masked.is_empty() {
            // A masked file itself: the holder shows a placeholder, the image has the content.
            if extra.is_empty() {
                return Ok(Err(not_found(&path)));
            }
            let mut archive = Vec::new();
            if let Err(e) = tarx::rewrite_stream(
                tarx::files(&[], (0, 0)).unwrap_or_default().as_slice(),
                &mut archive,
                &|name: &str| Some(name.to_string()),
                tarx::Overrides::default(),
                &extra,
            ) {
                return Ok(Err(StepError::Tar(e)));
            }
            return Ok(Ok(Piece {
                is_dir: false,
                rel_path,
                content: PieceContent::Bytes(archive),
                root_owned: false,
            }));
        }
        let root_level = rel_path.is_empty();
        let masked_names: Vec<String> = masked.into_iter().map(|(_, r)| r).collect();
        let keep = move |name: &str| -> bool {
            if root_level && is_init_placeholder(name) {
                return false;
            }
            if masked_names.iter().any(|m| m == name) {
                return false;
            }
            !(is_dir && !name.is_empty() && excludes.is_match(name))
        };
        let fetch = if is_dir {
            format!("{}/.", path.trim_end_matches('/'))
        } else {
            path.clone()
        };
        Ok(Ok(Piece {
            is_dir,
            rel_path,
            content: PieceContent::Container {
                container: self.holder.clone(),
                path: fetch,
                keep: Box::new(keep),
                extra,
            },
            root_owned: false,
        }))
    }
}

fn not_found(path: &str) -> StepError {
    StepError::Invalid(format!(
        "COPY --from source {path} does not exist in the source image"
    ))
}

/// Entries a holder's merged view of `/` shows that come from the container's init layer and
/// its mounts, not the image: the contents of `dev`, `proc` and `sys`. The directories
/// themselves are kept, as BuildKit's copy of a stage that ran a RUN has them.
fn is_init_placeholder(name: &str) -> bool {
    ["dev", "proc", "sys"]
        .iter()
        .any(|d| name.starts_with(&format!("{d}/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_pivots_split_at_dot_components() {
        assert_eq!(
            split_pivot("/t/a/./b/c", true),
            ("/t/a".to_string(), "b/c".to_string())
        );
        assert_eq!(
            split_pivot("/t/a/b", true),
            ("/".to_string(), "/t/a/b".to_string())
        );
        assert_eq!(
            split_pivot("/t/./b", false),
            ("/".to_string(), "/t/./b".to_string())
        );
    }
}
