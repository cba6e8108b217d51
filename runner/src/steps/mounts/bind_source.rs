//! A bind mount's source: what it shows (build-context paths, a path of another stage's or an
//! image's filesystem, or nothing for scratch), whether it is a single file, and a digest of its
//! content for the step's key.
//!
//! Input: the mount's `from` and `source`, the stage's dependencies, the build context.
//! Output: a [`BindContent`], the single-file flag and the content digest.
//! Invariant: the digest covers the source path only, never the rest of the stage or image; a
//! stage's or image's path is read through a never-started holder, nothing is copied yet.

use planner::plan::Source;

use crate::context::{CopySources, SourceSet};
use crate::error::{Result, StepError};
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::fs::pipe;
use crate::fs::tar as tarx;

/// What a bind mount shows.
pub(super) enum BindContent {
    Context(SourceSet),
    Container { container: String, path: String },
    Empty,
}

/// The image a mount's `from` names: a stage's image (a dependency of this stage), an external
/// image (pulled or loaded as needed), or `None` for scratch.
pub(super) async fn source_image(
    ctx: &Ctx,
    state: &StageState,
    from: &Source,
) -> Result<std::result::Result<Option<String>, StepError>> {
    Ok(Ok(match from {
        Source::Stage { stage } => match state.deps.get(stage) {
            Some(dep) => dep.image.clone(),
            None => {
                return Ok(Err(StepError::Invalid(format!(
                    "the mount uses stage {stage}, which the plan does not list among this stage's dependencies"
                ))))
            }
        },
        Source::Image { image } => Some(ctx.ensure_image(&state.name, image).await?.id),
        Source::Scratch => None,
    }))
}

/// What a bind mount shows, whether it is a single file, and a digest of it for the key.
pub(super) async fn bind_content(
    ctx: &Ctx,
    state: &StageState,
    from: Option<&Source>,
    source: &str,
) -> Result<std::result::Result<(BindContent, bool, String), StepError>> {
    let image = match from {
        None => {
            let context = ctx.context.clone();
            let request = CopySources {
                sources: vec![source.to_string()],
                excludes: Vec::new(),
                parents: false,
            };
            let found = tokio::task::spawn_blocking(move || {
                let set = context.resolve(&request)?;
                let digest = context.digest(&set)?;
                Ok::<_, crate::context::ContextError>((set, digest))
            })
            .await;
            return Ok(match found {
                Ok(Ok((set, digest))) => {
                    let is_file = set.n_roots() == 1 && !set.has_dir_root();
                    Ok((BindContent::Context(set), is_file, digest))
                }
                Ok(Err(e)) => Err(StepError::Context(e)),
                Err(e) => Err(StepError::Worker(e)),
            });
        }
        Some(from) => match source_image(ctx, state, from).await? {
            Ok(image) => image,
            Err(e) => return Ok(Err(e)),
        },
    };
    let Some(image) = image else {
        return Ok(Ok((BindContent::Empty, false, "empty".to_string())));
    };
    let holder = ctx.source_holder(&image).await?;
    let path = format!("/{}", tarx::join_dest(source, ""));
    let Some(stat) = ctx.engine.stat_path(&holder, &path).await? else {
        return Ok(Err(StepError::Invalid(format!(
            "bind source {source:?} does not exist in the source image"
        ))));
    };
    let is_file = !stat.is_dir();
    let fetch = if is_file {
        path.clone()
    } else {
        format!("{}/.", path.trim_end_matches('/'))
    };
    // The key covers the content of the source path only, not the rest of the stage.
    let download = ctx.engine.get_archive_stream(&holder, &fetch);
    let reader = pipe::blocking_reader(download);
    let digest = tokio::task::spawn_blocking(move || tarx::content_digest(reader)).await;
    let digest = match digest {
        Ok(Ok(digest)) => digest,
        Ok(Err(e)) => return Ok(Err(StepError::Tar(e))),
        Err(e) => return Ok(Err(StepError::Worker(e))),
    };
    Ok(Ok((
        BindContent::Container {
            container: holder,
            path: fetch,
        },
        is_file,
        digest,
    )))
}
