//! A COPY or ADD written into the step's target container on a cache miss: the `--chown` owner,
//! the destination (through the image's symlinks) and another image's sources looked up at
//! once, the missing directories created, then the context files, the local archives to unpack
//! and the pieces (another image's paths, downloads, heredocs) uploaded.
//!
//! Input: the [`Resolved`] step, the instruction's [`CopySpec`], the target container.
//! Output: the container written; the caller commits it.
//! Invariant: BuildKit's copy rules (see the `copy` module); what the engine refuses for what the
//! image already has at the destination is the step's own error naming the destination, not an
//! engine error.

use planner::plan::CopySpec;

use super::resolve::Resolved;
use crate::context::{contains_wildcards, Chmod, DestState, Destination, TarOptions};
use crate::error::{Result, StepError};
use crate::exec::container_fs;
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar as tarx;
use crate::steps::add_source;
use crate::steps::copy_dest::{self, DestPlan};
use crate::steps::copy_from_image;
use crate::steps::piece::{self, Piece, PieceContent, Placement, UploadError};

/// The mode of a file made from a heredoc (BuildKit's `llb.Mkfile(name, 0644, ...)`).
const HEREDOC_MODE: u32 = 0o644;

/// Writes every source into `holder` (on a cache miss).
pub(super) async fn write(
    ctx: &Ctx,
    state: &StageState,
    holder: &str,
    spec: &CopySpec,
    is_add: bool,
    resolved: Resolved,
) -> Result<std::result::Result<(), StepError>> {
    // The owner (the target's /etc/passwd), the destination (the target's symlinks) and the
    // sources in another image are looked up at the same time: each is an engine round trip.
    let owner = async {
        match &resolved.chown {
            Some(chown) => {
                let owner = container_fs::resolve_owner(&ctx.engine, holder, chown).await?;
                for unknown in &owner.unknown {
                    ctx.progress
                        .note(&state.name, &format!("warning: --chown={chown}: {unknown}"));
                }
                Ok::<_, crate::engine::EngineError>(Some(owner.ids))
            }
            None => Ok(None),
        }
    };
    let destination = copy_dest::resolve(&ctx.engine, holder, &resolved.dest);
    let image_pieces = async {
        match &resolved.from_image {
            Some(image) => copy_from_image::pieces(
                ctx,
                image,
                &resolved.image_paths,
                &spec.exclude,
                spec.parents,
                resolved.from_ran_run,
            )
            .await
            .map(Some),
            None => Ok(None),
        }
    };
    let (owner, destination, image_pieces) = tokio::join!(owner, destination, image_pieces);
    let owner = owner?;
    // Pieces: heredocs, downloads, local archives to unpack, paths of another image.
    let mut pieces: Vec<Piece> = Vec::new();
    let mut archives: Vec<add_source::LocalArchive> = Vec::new();
    let mut context_set = resolved.context.map(|(set, _)| set);
    if let Some(set) = context_set.take() {
        let (set, found) = if is_add && spec.unpack != Some(false) {
            add_source::split_archives(set)
        } else {
            (set, Vec::new())
        };
        archives = found;
        // An empty directory source has no entries but still makes its destination; a set
        // whose only sources were archives has nothing left to write.
        context_set = (!set.entries.is_empty() || set.has_dir_root()).then_some(set);
    }
    if let Some(found) = image_pieces? {
        match found {
            Ok(found) => pieces.extend(found),
            Err(e) => return Ok(Err(e)),
        }
    } else if spec.from.is_some() && !resolved.image_paths.is_empty() {
        return Ok(Err(StepError::Invalid(
            "COPY --from a stage with an empty filesystem: nothing to copy".to_string(),
        )));
    }
    for download in resolved.downloads {
        // `ADD --unpack=true <url>` unpacks a downloaded archive (a file that is none is copied).
        if spec.unpack == Some(true) {
            if let Some(compression) = add_source::archive_kind(&download.content) {
                archives.push(add_source::LocalArchive {
                    source: add_source::ArchiveSource::Bytes(download.content),
                    compression,
                });
                continue;
            }
        }
        let archive = match tarx::files_at(
            &[(download.name.clone(), download.content, 0o600)],
            (0, 0),
            download.modified,
        ) {
            Ok(archive) => archive,
            Err(e) => return Ok(Err(StepError::Tar(e))),
        };
        pieces.push(Piece {
            is_dir: false,
            rel_path: download.name,
            content: PieceContent::Bytes(archive),
            root_owned: true,
        });
    }
    for (name, body) in &resolved.heredocs {
        let archive = match tarx::files(
            &[(name.clone(), body.clone().into_bytes(), HEREDOC_MODE)],
            (0, 0),
        ) {
            Ok(archive) => archive,
            Err(e) => return Ok(Err(StepError::Tar(e))),
        };
        pieces.push(Piece {
            is_dir: false,
            rel_path: name.clone(),
            content: PieceContent::Bytes(archive),
            root_owned: true,
        });
    }
    let destination = match destination? {
        Ok(destination) => destination,
        Err(e) => return Ok(Err(e)),
    };
    let hinted_dir = resolved.dest_word.ends_with('/')
        || resolved.dest_word.ends_with("/.")
        || resolved.dest_word == ".";
    // BuildKit copies the sources one after the other to a destination written without a
    // trailing `/`. When that is not a directory yet, the first source decides: a directory
    // makes it one (as several sources always do here), a file makes it a file, which each
    // later file replaces, and a directory after it cannot be copied.
    if !hinted_dir
        && !spec.parents
        && archives.is_empty()
        && !destination.stat.as_ref().is_some_and(|stat| stat.is_dir())
    {
        let kinds: Option<Vec<bool>> = match (&context_set, pieces.is_empty()) {
            (Some(set), true) => Some(set.roots.iter().map(|root| root.is_dir).collect()),
            (None, false) => Some(pieces.iter().map(|piece| piece.is_dir).collect()),
            _ => None,
        };
        if let Some(kinds) = kinds.filter(|kinds| kinds.len() > 1 && !kinds[0]) {
            if kinds.iter().any(|is_dir| *is_dir) {
                return Ok(Err(StepError::Invalid(format!(
                    "cannot copy to non-directory: {}: the first source made it a file; end the destination with / to copy into a directory",
                    resolved.dest
                ))));
            }
            if let Some(set) = context_set.as_mut() {
                set.keep_last_root();
            }
            if pieces.len() > 1 {
                pieces.drain(..pieces.len() - 1);
            }
        }
    }
    let n_roots = context_set.as_ref().map_or(0, |s| s.n_roots()) + pieces.len() + archives.len();
    // `COPY --from --parents` copies from its pivot directory (the root without `/./`), which
    // exists, so BuildKit makes the destination even when nothing below it matches; other
    // wildcards that matched nothing copy nothing and succeed.
    let from_pivot = spec.parents
        && resolved
            .image_paths
            .iter()
            .any(|path| !contains_wildcards(path.split_once("/./").map_or("", |(pivot, _)| pivot)));
    if n_roots == 0 && !from_pivot {
        return Ok(Ok(()));
    }
    let any_dir = context_set.as_ref().is_some_and(|s| s.has_dir_root())
        || pieces.iter().any(|p| p.is_dir)
        || !archives.is_empty();
    let plan = match copy_dest::plan(
        &resolved.dest,
        &destination,
        hinted_dir,
        spec.parents || n_roots > 1 || any_dir,
    ) {
        Ok(plan) => plan,
        Err(e) => return Ok(Err(e)),
    };
    let dir_mode = resolved
        .chmod
        .as_ref()
        .map_or(0o755, Chmod::created_dir_mode);
    if let Err(e) = copy_dest::create_missing(
        &ctx.engine,
        holder,
        &plan,
        owner.unwrap_or((0, 0)),
        dir_mode,
    )
    .await?
    {
        return Ok(Err(e));
    }
    let DestPlan { real, is_dir, .. } = &plan;
    if let Some(set) = context_set {
        let destination = Destination {
            path: if *is_dir {
                format!("{real}/")
            } else {
                real.clone()
            },
            state: if *is_dir {
                DestState::Directory
            } else {
                plan.state
            },
        };
        let options = TarOptions {
            owner,
            chmod: resolved.chmod.clone(),
        };
        let context = ctx.context.clone();
        let (upload, producer) =
            pipe::spawn_producer(move |out| context.write_tar(&set, &destination, &options, out));
        let uploaded = ctx.engine.put_archive(holder, "/", upload).await;
        match producer.finish(uploaded).await {
            Uploaded::Done(_) => {}
            Uploaded::Producer(e) => return Ok(Err(StepError::Context(e))),
            Uploaded::Worker(e) => return Ok(Err(StepError::Worker(e))),
            Uploaded::Upload(e) => {
                return match refused(&e, real) {
                    Some(problem) => Ok(Err(problem)),
                    None => Err(e.into()),
                };
            }
        }
    }
    for archive in archives {
        if let Err(e) = add_source::unpack(&ctx.engine, holder, archive, real, owner).await? {
            return Ok(Err(e));
        }
    }
    let placement = Placement {
        dest: real,
        dest_is_dir: *is_dir,
        parents: spec.parents,
        owner,
        chmod: resolved.chmod.clone(),
    };
    for piece in pieces {
        match piece::upload(&ctx.engine, holder, piece, &placement).await {
            Ok(()) => {}
            Err(UploadError::Step(e)) => return Ok(Err(e)),
            Err(UploadError::Engine(e)) => {
                return match refused(&e, real) {
                    Some(problem) => Ok(Err(problem)),
                    None => Err(e.into()),
                }
            }
        }
    }
    let _ = state;
    Ok(Ok(()))
}

/// The step's own problem when the engine refused the copy for what the image already has at
/// `dest` (BuildKit fails the step too: "cannot copy to non-directory").
fn refused(error: &crate::engine::EngineError, dest: &str) -> Option<StepError> {
    error.refused_archive().map(|message| {
        StepError::Invalid(format!(
            "cannot copy into {dest}: {message}; remove or rename what is in the way first"
        ))
    })
}
