//! A bind mount's source: what it shows (build-context paths, a path of another stage's or an
//! image's filesystem, or nothing for scratch), whether it is a single file, and a digest of its
//! content for the step's key.
//!
//! Input: the mount's `from` and `source`, the stage's dependencies, the build context.
//! Output: a [`BindContent`], the single-file flag and the content digest.
//! Invariant: the digest covers the source path only, never the rest of the stage or image; a
//! stage's or image's path is read through a never-started holder as COPY --from reads it (the
//! image's own files where the holder shows the engine's), nothing is copied yet.

use planner::plan::Source;

use crate::context::{CopySources, SourceSet};
use crate::error::{Result, StepError};
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar as tarx;
use crate::steps::copy_from_image;
use crate::steps::piece::{self, Piece};

/// What a bind mount shows.
pub(super) enum BindContent {
    /// Build-context paths.
    Context(SourceSet),
    /// A path of a stage's or an image's filesystem.
    Image(Piece),
    /// Nothing (scratch).
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
        Source::Image { image } => match ctx.ensure_image(&state.name, image).await? {
            Ok(info) => Some(info.id),
            Err(unavailable) => return Ok(Err(unavailable)),
        },
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
    image_content(ctx, state, from, image.as_deref(), source).await
}

/// What a mount shows of `image` (the one `from` names; `None` for scratch): [`bind_content`]
/// once the image is known.
pub(super) async fn image_content(
    ctx: &Ctx,
    state: &StageState,
    from: Option<&Source>,
    image: Option<&str>,
    source: &str,
) -> Result<std::result::Result<(BindContent, bool, String), StepError>> {
    let Some(image) = image else {
        return Ok(Ok((BindContent::Empty, false, "empty".to_string())));
    };
    let path = format!("/{}", tarx::join_dest(source, ""));
    let holder = ctx.source_holder(image).await?;
    if ctx.engine.stat_path(&holder, &path).await?.is_none() {
        return Ok(Err(StepError::Invalid(format!(
            "bind source {source:?}: not found in the source image"
        ))));
    }
    // As COPY --from takes it: the image's own files where a holder shows the engine's
    // (`/etc/hosts`, `/.dockerenv`, `/dev`...), and the empty `/dev`, `/proc` and `/sys` of a
    // stage that ran a RUN.
    let ran_run = match from {
        Some(Source::Stage { stage }) => state.deps.get(stage).is_some_and(|dep| dep.ran_run),
        _ => false,
    };
    let piece = match copy_from_image::piece_at(ctx, image, &path, ran_run).await? {
        Ok(piece) => piece,
        Err(e) => return Ok(Err(e)),
    };
    // The key covers the content of the source path only (its own entry included), not the
    // rest of the stage.
    let (bytes, producer) = piece::stream(
        &ctx.engine,
        piece.content.clone(),
        |name: &str| Some(tarx::join_dest("root", name)),
        tarx::Overrides::default(),
    );
    let reader = pipe::blocking_reader(bytes);
    let digest = tokio::task::spawn_blocking(move || tarx::content_digest(reader)).await;
    let produced = producer.finish(Ok::<(), std::io::Error>(())).await;
    let digest = match (digest, produced) {
        (_, Uploaded::Producer(e)) => return Ok(Err(StepError::Tar(e))),
        (_, Uploaded::Worker(e)) | (Err(e), _) => return Ok(Err(StepError::Worker(e))),
        (Ok(Err(e)), _) => return Ok(Err(StepError::Tar(e))),
        (Ok(Ok(digest)), _) => digest,
    };
    let is_file = !piece.is_dir;
    Ok(Ok((BindContent::Image(piece), is_file, digest)))
}
