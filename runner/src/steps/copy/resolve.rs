//! A COPY or ADD resolved before any container work: its words expanded with the stage's
//! variables (heredoc bodies as BuildKit expands them), its context sources resolved and
//! digested, its URLs downloaded, and the stage or image a `--from` names looked up.
//!
//! Input: the instruction's [`CopySpec`], the stage state, the build context.
//! Output: a [`Resolved`]: everything the step's key and, on a miss, its write need.
//! Invariant: no container is created or written here; a COPY of a URL and an ADD of a git
//! repository are refused before anything is downloaded.

use std::sync::Arc;

use planner::plan::{CopySpec, Source};

use crate::context::{BuildContext, Chmod, CopySources, EntryDigest, EntryKind, SourceSet};
use crate::error::{Result, StepError};
use crate::exec::cache::short_digest;
use crate::exec::container_fs;
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::record::memory::KeyPart;
use crate::record::recorder::ContextFile;
use crate::steps::add_source;

/// Everything a COPY/ADD step copies, expanded and resolved (before any container work).
pub(super) struct Resolved {
    /// The expanded destination as written (a trailing `/` matters).
    pub(super) dest_word: String,
    /// The absolute destination (relative ones joined to WORKDIR).
    pub(super) dest: String,
    pub(super) chown: Option<String>,
    /// `--chmod` as expanded (for the key) and parsed.
    pub(super) chmod_text: Option<String>,
    pub(super) chmod: Option<Chmod>,
    /// Context sources and their digest.
    pub(super) context: Option<(SourceSet, String)>,
    /// What the record keeps of the copied content: one part per context entry, or the stage
    /// or image it comes from.
    pub(super) origin_parts: Vec<KeyPart>,
    /// Heredoc sources: (name, body).
    pub(super) heredocs: Vec<(String, String)>,
    /// ADD URLs: (url, name, content).
    pub(super) downloads: Vec<add_source::Downloaded>,
    /// Paths in another stage or image.
    pub(super) image_paths: Vec<String>,
    /// The image a `--from` names (id), or none.
    pub(super) from_image: Option<String>,
    /// `--from` names a stage in which a RUN ran.
    pub(super) from_ran_run: bool,
    /// What identifies the copied content in the key.
    pub(super) origin: String,
}

/// Expands the instruction's words and resolves its sources into what the key needs.
pub(super) async fn resolve(
    ctx: &Ctx,
    state: &StageState,
    spec: &CopySpec,
    is_add: bool,
) -> Result<std::result::Result<Resolved, StepError>> {
    let vars = state.lookup_vars();
    let expand = |word: &str| ctx.expand(word, &vars);
    let mut sources = Vec::new();
    for source in &spec.sources {
        match expand(source) {
            Ok(s) => sources.push(s),
            Err(e) => return Ok(Err(e)),
        }
    }
    let dest_word = match expand(&spec.dest) {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let dest = container_fs::absolute(&state.config.working_dir, &dest_word);
    let chown = match spec.chown.as_deref().map(expand).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let chmod = match spec.chmod.as_deref().map(expand).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let chmod_text = chmod.clone();
    let chmod = match chmod.as_deref().map(Chmod::parse).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(Err(StepError::Context(e))),
    };
    let mut heredocs: Vec<(String, String)> = Vec::with_capacity(spec.heredocs.len());
    for heredoc in &spec.heredocs {
        let body = if heredoc.expand {
            match planner::expand::Lexer::heredoc().process_word(&heredoc.body, &vars) {
                Ok(expanded) => expanded.word.into_owned(),
                Err(source) => return Ok(Err(StepError::Expand { source })),
            }
        } else {
            heredoc.body.clone()
        };
        heredocs.push((heredoc.name.clone(), body));
    }
    let (urls, paths): (Vec<String>, Vec<String>) = sources
        .into_iter()
        .partition(|s| s.starts_with("http://") || s.starts_with("https://"));
    if !urls.is_empty() && !is_add {
        return Ok(Err(StepError::Invalid(
            "source can't be a URL for COPY; use ADD for URLs".to_string(),
        )));
    }
    if let Some(git) = urls.iter().find(|u| {
        let path = u.split(['#', '?']).next().unwrap_or(u);
        path.ends_with(".git") || spec.keep_git_dir
    }) {
        return Ok(Err(StepError::Invalid(format!(
            "ADD of a git repository ({git}) is not supported by the runner; clone it in a RUN step or add a release archive"
        ))));
    }
    // `--checksum=$DIGEST` is expanded, as BuildKit expands it.
    let checksum = match spec.checksum.as_deref().map(expand).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut downloads = Vec::new();
    for url in &urls {
        match add_source::download(url, checksum.as_deref()).await {
            Ok(download) => downloads.push(download),
            Err(e) => return Ok(Err(e)),
        }
    }
    let mut resolved = Resolved {
        dest_word,
        dest,
        chown,
        chmod_text,
        chmod,
        context: None,
        origin_parts: Vec::new(),
        heredocs,
        downloads,
        image_paths: Vec::new(),
        from_image: None,
        from_ran_run: false,
        origin: String::new(),
    };
    match &spec.from {
        None => {
            if !paths.is_empty() {
                match resolve_context(ctx, &paths, &spec.exclude, spec.parents).await {
                    Ok((set, digest, entries)) => {
                        resolved.origin = format!("context:{digest}");
                        resolved.origin_parts = entries
                            .iter()
                            .map(|entry| KeyPart {
                                label: format!("file:{}", entry.rel),
                                digest: short_digest(&entry.identity),
                            })
                            .collect();
                        ctx.recorder.context_files(
                            entries
                                .into_iter()
                                .filter(|entry| entry.kind == EntryKind::File)
                                .map(|entry| {
                                    let file = ContextFile {
                                        rel: entry.rel,
                                        size: entry.size,
                                    };
                                    (entry.sha256, file)
                                }),
                        );
                        resolved.context = Some((set, digest));
                    }
                    Err(e) => return Ok(Err(e)),
                }
            }
        }
        Some(from) => {
            resolved.image_paths = paths;
            match from {
                Source::Stage { stage } => {
                    let Some(dep) = state.deps.get(stage) else {
                        return Ok(Err(StepError::Invalid(format!(
                            "COPY --from uses stage {stage}, which is not among the stage's dependencies in the plan"
                        ))));
                    };
                    resolved.origin = format!("stage:{}", dep.key.as_str());
                    resolved.origin_parts = vec![KeyPart {
                        label: format!("stage:{stage}"),
                        digest: short_digest(dep.key.as_str()),
                    }];
                    resolved.from_image = dep.image.clone();
                    resolved.from_ran_run = dep.ran_run;
                }
                Source::Image { image } => {
                    let info = match ctx.ensure_image(&state.name, image).await? {
                        Ok(info) => info,
                        Err(unavailable) => return Ok(Err(unavailable)),
                    };
                    resolved.origin = format!("image:{}", info.id);
                    resolved.origin_parts = vec![KeyPart {
                        label: format!("image:{image}"),
                        digest: short_digest(&info.id),
                    }];
                    resolved.from_image = Some(info.id);
                }
                Source::Scratch => resolved.origin = "scratch".to_string(),
            }
        }
    }
    Ok(Ok(resolved))
}

/// Resolves and digests a step's context sources (blocking file I/O on a worker thread).
async fn resolve_context(
    ctx: &Ctx,
    sources: &[String],
    excludes: &[String],
    parents: bool,
) -> std::result::Result<(SourceSet, String, Vec<EntryDigest>), StepError> {
    let context: Arc<BuildContext> = ctx.context.clone();
    let request = CopySources {
        sources: sources.to_vec(),
        excludes: excludes.to_vec(),
        parents,
    };
    tokio::task::spawn_blocking(move || {
        let set = context.resolve(&request)?;
        let digest = context.digest(&set)?;
        let entries = context.entry_digests(&set)?;
        Ok((set, digest, entries))
    })
    .await
    .map_err(StepError::Worker)?
}
