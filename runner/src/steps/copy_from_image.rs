//! COPY --from an image or stage: the sources found in a holder container of it.
//!
//! Input: the source image id, the (expanded) source paths with wildcards, `--exclude` patterns,
//! `--parents`.
//! Output: one [`Piece`] per source (per match of a wildcard), streamed from the holder when it
//! is written.
//! Invariant: symlinks named as sources are followed, and copied under the name they were
//! named by; owners are kept; the init layer's
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
    /// The source is a stage in which BuildKit's executor ran (a RUN): its filesystem has the
    /// empty `/dev`, `/proc` and `/sys` the executor mounts on.
    executor_dirs: bool,
}

/// Finds the sources of a COPY --from in a holder of `image`. A wildcard that matches nothing
/// contributes nothing (as BuildKit allows); a plain path that does not exist is an error.
pub async fn pieces(
    ctx: &Ctx,
    image: &str,
    sources: &[String],
    excludes: &[String],
    parents: bool,
    executor_dirs: bool,
) -> Result<std::result::Result<Vec<Piece>, StepError>> {
    let mut source_image = SourceImage::open(ctx, image, executor_dirs).await?;
    let excludes = match exclude_matcher(excludes) {
        Ok(matcher) => matcher,
        Err(e) => return Ok(Err(e)),
    };
    let mut pieces = Vec::new();
    for source in sources {
        let (pivot, rest) = split_pivot(source, parents);
        // A pivot with wildcards stands for each directory it matches; nothing is then
        // required to exist below it (BuildKit requires a path only without wildcards).
        let wild_pivot = contains_wildcards(&pivot);
        let pivots = if wild_pivot {
            match source_image.matches(&pivot).await? {
                Ok(found) => found,
                Err(e) => return Ok(Err(e)),
            }
        } else {
            vec![pivot]
        };
        for pivot in pivots {
            let path = format!("/{}", tarx::join_dest(&format!("{pivot}/{rest}"), ""));
            let found = if contains_wildcards(&path) {
                source_image.matches(&path).await?
            } else if wild_pivot && !source_image.exists(&path).await? {
                Ok(Vec::new())
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
    }
    Ok(Ok(pieces))
}

/// The path `path` (absolute, taken literally: no wildcards) of `image` as one [`Piece`], as a
/// COPY --from would take it: followed through symlinks, with the image's own entries where the
/// holder shows the engine's; used for the content of a mount from a stage or an image.
pub async fn piece_at(
    ctx: &Ctx,
    image: &str,
    path: &str,
    executor_dirs: bool,
) -> Result<std::result::Result<Piece, StepError>> {
    let mut source_image = SourceImage::open(ctx, image, executor_dirs).await?;
    let no_excludes = match exclude_matcher::<&str>(&[]) {
        Ok(matcher) => matcher,
        Err(e) => return Ok(Err(e)),
    };
    source_image.piece(path, no_excludes).await
}

/// The matcher of `--exclude` patterns.
fn exclude_matcher<S: AsRef<str>>(
    patterns: &[S],
) -> std::result::Result<std::sync::Arc<PatternMatcher>, StepError> {
    PatternMatcher::new(patterns)
        .map(std::sync::Arc::new)
        .map_err(|e| StepError::Invalid(format!("--exclude patterns: {e}")))
}

/// Whether path components match pattern components: each by Go's `path.Match`, and a `**`
/// component by any number of components (none included), as BuildKit's include patterns read
/// `**` for `COPY --parents`.
fn components_match(pattern: &[&str], name: &[&str]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((&"**", rest)) => {
            components_match(rest, name)
                || (!name.is_empty() && components_match(pattern, &name[1..]))
        }
        Some((first, rest)) => match name.split_first() {
            Some((component, name_rest)) => {
                go_match(first, component).unwrap_or(false) && components_match(rest, name_rest)
            }
            None => false,
        },
    }
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

impl<'a> SourceImage<'a> {
    /// A source image read through the build's holder of it.
    async fn open(ctx: &'a Ctx, image: &str, executor_dirs: bool) -> Result<SourceImage<'a>> {
        Ok(SourceImage {
            ctx,
            holder: ctx.source_holder(image).await?,
            image: image.to_string(),
            real: None,
            executor_dirs,
        })
    }

    /// The image's own entries where a holder shows the engine's (read only when a copy
    /// touches them; the saved image is streamed).
    async fn real_entries(
        &mut self,
    ) -> Result<std::result::Result<&BTreeMap<String, RealEntry>, StepError>> {
        if self.real.is_none() {
            // An image without layers (`FROM scratch` and only config) has no entries, and the
            // engine cannot save it ("empty export").
            let has_layers = self
                .ctx
                .engine
                .inspect_image(&self.image)
                .await?
                .is_none_or(|info| !info.diff_ids.is_empty());
            let scanned = if has_layers {
                let saved = pipe::blocking_reader(self.ctx.engine.save_image_stream(&self.image));
                tokio::task::spawn_blocking(move || init_files::real_entries(saved)).await
            } else {
                Ok(Ok(BTreeMap::new()))
            };
            match scanned {
                Ok(Ok(mut real)) => {
                    if self.executor_dirs {
                        // Dated when the image was made, so that every copy of the same image
                        // is the same (BuildKit's are dated by the RUN that mounted on them).
                        let made = self
                            .ctx
                            .engine
                            .image_history(&self.image)
                            .await?
                            .first()
                            .map_or(0, |item| item.created.max(0) as u64);
                        for tree in init_files::ENGINE_TREES {
                            real.entry(tree.to_string())
                                .or_insert_with(|| executor_dir(tree, made));
                        }
                    }
                    self.real = Some(real);
                }
                Ok(Err(e)) => {
                    return Ok(Err(StepError::Invalid(format!(
                        "reading the source image's own /etc, /dev, /proc and /sys entries: {e}"
                    ))))
                }
                Err(e) => return Ok(Err(StepError::Worker(e))),
            }
        }
        Ok(Ok(self.real.get_or_insert_with(BTreeMap::new)))
    }

    /// Whether `path` (absolute) exists in the image (a symlink counts, wherever it points).
    async fn exists(&self, path: &str) -> Result<bool> {
        Ok(self
            .ctx
            .engine
            .stat_path(&self.holder, path)
            .await?
            .is_some())
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
            // The listed directory's own entry (named "") is not below it: `*` would match it
            // and copy the whole directory again.
            .filter(|name| !name.is_empty())
            .filter(|name| {
                let components: Vec<&str> = name.split('/').collect();
                components_match(wanted, &components)
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
        // A followed symlink is copied under the name it was given (or matched) by, as
        // BuildKit names it; only its content comes from where it points.
        let named_rel_path = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string();
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
        let Some(stat) = stat else {
            return Ok(Err(not_found(&path)));
        };
        let is_dir = stat.is_dir();
        if !touches_watched(&rel_path, is_dir) {
            let keep = move |name: &str| -> bool {
                !(is_dir && !name.is_empty() && excludes.is_match(name))
            };
            return Ok(Ok(container_piece(
                &self.holder,
                &path,
                is_dir,
                named_rel_path,
                std::sync::Arc::new(keep),
                Vec::new(),
            )));
        }
        // Paths the holder shows from the engine come from the image itself.
        let real = match self.real_entries().await? {
            Ok(real) => real,
            Err(e) => return Ok(Err(e)),
        };
        if !is_dir {
            let Some(entry) = real.get(&rel_path) else {
                return Ok(Err(not_found(&path)));
            };
            let name = rel_path.rsplit('/').next().unwrap_or(&rel_path).to_string();
            let extra = vec![(name, entry.header.clone(), entry.data.clone())];
            let mut archive = Vec::new();
            let identity = |name: &str| Some(name.to_string());
            if let Err(e) = tarx::rewrite_stream(
                tarx::files(&[], (0, 0)).unwrap_or_default().as_slice(),
                &mut archive,
                &identity,
                tarx::Overrides::default(),
                &extra,
                &identity,
            ) {
                return Ok(Err(StepError::Tar(e)));
            }
            return Ok(Ok(Piece {
                is_dir: false,
                rel_path: named_rel_path,
                content: PieceContent::Bytes(archive),
                root_owned: false,
            }));
        }
        let prefix = if rel_path.is_empty() {
            String::new()
        } else {
            format!("{rel_path}/")
        };
        let extra: Vec<tarx::ExtraEntry> = real
            .iter()
            .filter_map(|(absolute, entry)| {
                let relative = absolute.strip_prefix(&prefix)?;
                (!relative.is_empty() && !excludes.is_match(relative)).then(|| {
                    (
                        relative.to_string(),
                        entry.header.clone(),
                        entry.data.clone(),
                    )
                })
            })
            .collect();
        let keep = move |name: &str| -> bool {
            if name.is_empty() {
                return true;
            }
            let absolute = format!("{prefix}{name}");
            !init_files::is_watched(&absolute) && !excludes.is_match(name)
        };
        Ok(Ok(container_piece(
            &self.holder,
            &path,
            true,
            named_rel_path,
            std::sync::Arc::new(keep),
            extra,
        )))
    }
}

/// An empty directory as BuildKit's executor leaves it for a mount point (0755, root), dated
/// `mtime` (Unix seconds).
fn executor_dir(name: &str, mtime: u64) -> RealEntry {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(0);
    header.set_mtime(mtime);
    let _ = header.set_path(format!("{name}/"));
    RealEntry {
        header,
        data: Vec::new(),
    }
}

/// Whether a copy of `rel_path` (relative to `/`) includes a path a holder shows from the
/// engine rather than the image.
fn touches_watched(rel_path: &str, is_dir: bool) -> bool {
    if init_files::is_watched(rel_path) || rel_path.is_empty() {
        return true;
    }
    is_dir
        && (init_files::MASKED
            .iter()
            .chain(init_files::ENGINE_TREES.iter())
            .chain(["etc"].iter())
            .any(|w| w.starts_with(&format!("{rel_path}/"))))
}

/// A piece streamed from `holder`.
fn container_piece(
    holder: &str,
    path: &str,
    is_dir: bool,
    rel_path: String,
    keep: std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>,
    extra: Vec<tarx::ExtraEntry>,
) -> Piece {
    let fetch = if is_dir {
        format!("{}/.", path.trim_end_matches('/'))
    } else {
        path.to_string()
    };
    Piece {
        is_dir,
        rel_path,
        content: PieceContent::Container {
            container: holder.to_string(),
            path: fetch,
            keep,
            extra,
        },
        root_owned: false,
    }
}

fn not_found(path: &str) -> StepError {
    StepError::Invalid(format!(
        "COPY --from source \"{path}\": not found in the source image"
    ))
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
