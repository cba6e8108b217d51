//! `COPY` and `ADD`: collect the sources as tars, re-root them at the destination, upload them
//! into a never-started holder of the stage's image, commit.
//!
//! Input: the instruction's [`CopySpec`], the stage state, source stage results, the context.
//! Output: the stage's new image (or the cached one).
//! Invariant: Docker's COPY rules: a directory source copies its contents; the destination is a
//! directory when it ends in `/`, when there are several sources or a wildcard, or when it
//! already is one in the image (RUNNER-NOTES P10a); context files become root-owned, files from
//! another stage keep their owner (P10b), `--chown` overrides both; symlinked sources are
//! followed (P10c); the init layer's placeholders are never copied (P11).

use std::collections::HashMap;
use std::sync::Arc;

use planner::plan::{CopySpec, Instruction, Source};
use sha2::{Digest, Sha256};

use crate::context::{
    BuildContext, Chmod, CopySources, DestState, Destination, EntryKind, SourceSet, TarOptions,
};
use crate::error::{Result, RunnerError};
use crate::holders::{after_target, target_container};
use crate::stage::{commit_step, ensure_image, resolve_owner, Ctx, StageResult, StageState};
use crate::tarx::{self, Overrides};
use crate::{add_source, glob, vars};

/// One source, ready to be re-rooted.
pub(crate) struct Piece {
    /// Directory (contents copied) or single entry.
    pub(crate) is_dir: bool,
    /// The source's path relative to its root (context or image), for `--parents`.
    pub(crate) rel_path: String,
    /// Entries relative to the source (a directory's contents) or one entry (a file).
    pub(crate) tar: Vec<u8>,
    /// Whether the owner defaults to root (context, heredoc, URL) rather than kept.
    pub(crate) root_owned: bool,
    /// For ADD: an archive to unpack at the destination instead of copying.
    pub(crate) unpack: bool,
}

/// Performs a COPY or ADD (or takes its result from the cache).
pub async fn perform(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    is_add: bool,
    deps: &HashMap<usize, Arc<StageResult>>,
) -> Result<()> {
    let stage_name = state.name.clone();
    let fail = |message: String| RunnerError::Instruction {
        stage: stage_name.clone(),
        line: instruction.line,
        message,
    };
    let lookup = state.lookup_vars();
    let expand = |word: &str| vars::expand_word(word, &lookup, ctx.plan.escape).map_err(&fail);
    let mut sources = Vec::new();
    for source in &spec.sources {
        sources.push(expand(source)?);
    }
    let dest_word = expand(&spec.dest)?;
    let dest = absolute_dest(&state.config.working_dir, &dest_word);
    let chown = spec.chown.as_deref().map(&expand).transpose()?;
    let chmod_text = spec.chmod.as_deref().map(&expand).transpose()?;
    let context_chmod = chmod_text
        .as_deref()
        .map(Chmod::parse)
        .transpose()
        .map_err(|e| fail(e.to_string()))?;
    let chmod = match chmod_text.as_deref() {
        Some(text) => match u32::from_str_radix(text, 8) {
            Ok(mode) => Some(mode),
            Err(_) if spec.from.is_none() && spec.heredocs.is_empty() => None,
            Err(_) => {
                return Err(fail(format!(
                    "--chmod={text}: only octal modes are supported here (use e.g. 755)"
                )))
            }
        },
        None => None,
    };
    let heredocs: Vec<(String, String)> = spec
        .heredocs
        .iter()
        .map(|h| {
            let body = if h.expand {
                expand_heredoc(&h.body, &lookup, ctx.plan.escape)
            } else {
                h.body.clone()
            };
            (h.name.clone(), body)
        })
        .collect();
    let (heredoc_sources, url_sources, path_sources) = split_sources(&sources, &heredocs);
    if !url_sources.is_empty() && !is_add {
        return Err(fail("COPY does not accept URLs; use ADD".into()));
    }
    if let Some(git) = url_sources.iter().find(|u| {
        let path = u.split(['#', '?']).next().unwrap_or(u);
        path.ends_with(".git") || spec.keep_git_dir
    }) {
        return Err(fail(format!(
            "ADD of a git repository ({git}) is not supported by the runner; clone it in a RUN step or add a release archive"
        )));
    }
    // The cache key: everything that determines the files written.
    let context_set = match &spec.from {
        None if !path_sources.is_empty() => Some(
            resolve_context(ctx, &path_sources, &spec.exclude, spec.parents)
                .await
                .map_err(&fail)?,
        ),
        _ => None,
    };
    let origin = match &spec.from {
        None => match &context_set {
            Some((_, digest)) => digest.clone(),
            None => String::new(),
        },
        Some(Source::Stage { stage }) => deps
            .get(stage)
            .map(|d| d.key.as_str().to_string())
            .ok_or_else(|| fail(format!("COPY --from uses stage {stage}, which is not among the stage's dependencies in the plan")))?,
        Some(Source::Image { image }) => ensure_image(ctx, &state.name, image).await?.id,
        Some(Source::Scratch) => "scratch".to_string(),
    };
    let flags = format!(
        "{:?}|{:?}|{}|{}|{:?}|{:?}|{:?}",
        chown, chmod, spec.link, spec.parents, spec.exclude, spec.checksum, spec.unpack
    );
    let heredoc_text: Vec<String> = heredocs.iter().map(|(n, b)| format!("{n}\0{b}")).collect();
    state.key = state.key.next(&[
        if is_add { "add" } else { "copy" },
        &instruction.text,
        &sources.join("\0"),
        &dest,
        &flags,
        &origin,
        &heredoc_text.join("\0"),
        &state.config.user,
    ]);
    if crate::stage::cached_or_started(ctx, state, instruction).await? {
        return Ok(());
    }
    let holder = target_container(ctx, state).await?;
    let result = async {
        let owner = match &chown {
            Some(spec_text) => {
                Some(resolve_owner(ctx, state, &holder, spec_text, instruction).await?)
            }
            None => None,
        };
        let mut pieces = Vec::new();
        for (name, body) in &heredoc_sources {
            let tar = tarx::files(&[(name.clone(), body.clone().into_bytes(), 0o644)], (0, 0))
                .map_err(|e| fail(e.to_string()))?;
            pieces.push(Piece {
                is_dir: false,
                rel_path: name.clone(),
                tar,
                root_owned: true,
                unpack: false,
            });
        }
        for url in &url_sources {
            let file = add_source::download(url, spec.checksum.as_deref())
                .await
                .map_err(&fail)?;
            let tar = tarx::files(&[(file.name.clone(), file.content, 0o600)], (0, 0))
                .map_err(|e| fail(e.to_string()))?;
            pieces.push(Piece {
                is_dir: false,
                rel_path: file.name,
                tar,
                root_owned: true,
                unpack: false,
            });
        }
        let wildcard = path_sources.iter().any(|s| glob::has_wildcard(s));
        let dest_state = match ctx.engine.stat_path(&holder, &dest).await? {
            None => DestState::Missing,
            Some(stat) if stat.is_dir() => DestState::Directory,
            Some(_) => DestState::NotDirectory,
        };
        match &spec.from {
            None => {
                if let Some((set, _)) = context_set {
                    let set = if is_add && spec.unpack != Some(false) {
                        split_archives(set, &mut pieces)
                    } else {
                        set
                    };
                    if set.entries.is_empty() {
                        // Only archives to unpack: nothing else to write.
                    } else {
                        let destination = Destination {
                            path: absolute_dest(&state.config.working_dir, &dest_word),
                            state: dest_state,
                        };
                        let options = TarOptions {
                            owner,
                            chmod: context_chmod.clone(),
                        };
                        let tar = context_tar(ctx, set, destination, options)
                            .await
                            .map_err(&fail)?;
                        ctx.engine.put_archive(&holder, tar).await?;
                    }
                }
            }
            Some(from) => {
                let image = match from {
                    Source::Stage { stage } => deps.get(stage).and_then(|d| d.image.clone()),
                    Source::Image { image } => {
                        Some(ensure_image(ctx, &state.name, image).await?.id)
                    }
                    Source::Scratch => None,
                };
                let Some(image) = image else {
                    return Err(fail(
                        "COPY --from a stage with an empty filesystem: nothing to copy".into(),
                    ));
                };
                pieces.extend(
                    crate::from_image::image_pieces(ctx, &image, &path_sources, &spec.exclude)
                        .await
                        .map_err(|e| match e {
                            PieceError::Message(m) => fail(m),
                            PieceError::Runner(r) => r,
                        })?,
                );
            }
        }
        let dest_is_dir = dest_word.ends_with('/')
            || spec.parents
            || wildcard
            || pieces.len() > 1
            || dest_state == DestState::Directory;
        if let (Some(owner), true, DestState::Missing) = (owner, dest_is_dir, dest_state) {
            // BuildKit creates a missing destination directory (and its missing parents) owned
            // by the --chown user.
            if !pieces.is_empty() {
                let missing = crate::workdir::missing_components(ctx, &holder, &dest).await?;
                let tar =
                    tarx::directories(&missing, owner, 0o755).map_err(|e| fail(e.to_string()))?;
                ctx.engine.put_archive(&holder, tar).await?;
            }
        }
        for piece in &pieces {
            upload_piece(
                ctx,
                &holder,
                piece,
                &dest,
                dest_is_dir,
                spec.parents,
                owner,
                chmod,
            )
            .await
            .map_err(|e| match e {
                PieceError::Message(m) => fail(m),
                PieceError::Runner(r) => r,
            })?;
        }
        commit_step(ctx, state, &holder, instruction).await
    }
    .await;
    let settled = after_target(ctx, state, &holder, result.is_ok()).await;
    result.and(settled)
}

/// Resolves and digests a step's context sources (blocking file I/O on a worker thread).
async fn resolve_context(
    ctx: &Ctx,
    sources: &[String],
    excludes: &[String],
    parents: bool,
) -> std::result::Result<(SourceSet, String), String> {
    let context: Arc<BuildContext> = ctx.context.clone();
    let request = CopySources {
        sources: sources.to_vec(),
        excludes: excludes.to_vec(),
        parents,
    };
    tokio::task::spawn_blocking(move || {
        let set = context.resolve(&request).map_err(|e| e.to_string())?;
        let digest = context.digest(&set).map_err(|e| e.to_string())?;
        Ok((set, digest))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Writes the tar of a context source set for an upload at `/`.
async fn context_tar(
    ctx: &Ctx,
    set: SourceSet,
    destination: Destination,
    options: TarOptions,
) -> std::result::Result<Vec<u8>, String> {
    let context: Arc<BuildContext> = ctx.context.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        context
            .write_tar(&set, &destination, &options, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// ADD: takes the local archives named as sources out of `set` as pieces to unpack.
fn split_archives(mut set: SourceSet, pieces: &mut Vec<Piece>) -> SourceSet {
    set.entries.retain(|entry| {
        if !(entry.root_file && entry.kind == EntryKind::File) {
            return true;
        }
        let Ok(content) = std::fs::read(&entry.path) else {
            return true;
        };
        if !add_source::is_archive_bytes(&content) {
            return true;
        }
        pieces.push(Piece {
            is_dir: false,
            rel_path: entry.rel.clone(),
            tar: content,
            root_owned: true,
            unpack: true,
        });
        false
    });
    set
}

pub(crate) enum PieceError {
    Message(String),
    Runner(RunnerError),
}

impl From<RunnerError> for PieceError {
    fn from(e: RunnerError) -> Self {
        PieceError::Runner(e)
    }
}

/// Re-roots one piece at the destination and uploads it (or unpacks an ADD archive).
#[allow(clippy::too_many_arguments)]
async fn upload_piece(
    ctx: &Ctx,
    holder: &str,
    piece: &Piece,
    dest: &str,
    dest_is_dir: bool,
    parents: bool,
    owner: Option<(u64, u64)>,
    chmod: Option<u32>,
) -> std::result::Result<(), PieceError> {
    if piece.unpack {
        let content = piece.tar.clone();
        let dir = tarx::join_dest(dest, "");
        if !dir.is_empty() {
            let tar = tarx::directories(std::slice::from_ref(&dir), (0, 0), 0o755)
                .map_err(|e| PieceError::Message(e.to_string()))?;
            if ctx
                .engine
                .stat_path(holder, &format!("/{dir}"))
                .await?
                .is_none()
            {
                ctx.engine.put_archive(holder, tar).await?;
            }
        }
        ctx.engine
            .put_archive_at(holder, &format!("/{dir}"), content)
            .await?;
        return Ok(());
    }
    let base = if parents {
        tarx::join_dest(dest, &piece.rel_path)
    } else if piece.is_dir {
        tarx::join_dest(dest, "")
    } else if dest_is_dir {
        let name = piece.rel_path.rsplit('/').next().unwrap_or(&piece.rel_path);
        tarx::join_dest(dest, name)
    } else {
        tarx::join_dest(dest, "")
    };
    let is_dir = piece.is_dir;
    let map = move |name: &str| -> Option<String> {
        if is_dir {
            Some(if name.is_empty() {
                base.clone()
            } else {
                tarx::join_dest(&base, name)
            })
        } else {
            Some(base.clone())
        }
    };
    let overrides = Overrides {
        owner: owner.or(if piece.root_owned { Some((0, 0)) } else { None }),
        mode: chmod,
    };
    let tar = tarx::rewrite(&piece.tar, &map, overrides)
        .map_err(|e| PieceError::Message(e.to_string()))?;
    ctx.engine.put_archive(holder, tar).await?;
    Ok(())
}

/// Splits expanded sources into heredocs (name, body), URLs and context/image paths.
fn split_sources(
    sources: &[String],
    heredocs: &[(String, String)],
) -> (Vec<(String, String)>, Vec<String>, Vec<String>) {
    let mut docs = Vec::new();
    let mut urls = Vec::new();
    let mut paths = Vec::new();
    for source in sources {
        let bare = source
            .trim_start_matches("<<")
            .trim_start_matches('-')
            .trim_matches(|c| c == '"' || c == '\'');
        if source.starts_with("<<") {
            if let Some(doc) = heredocs.iter().find(|(n, _)| n == bare) {
                docs.push(doc.clone());
                continue;
            }
        }
        if source.starts_with("http://") || source.starts_with("https://") {
            urls.push(source.clone());
        } else {
            paths.push(source.clone());
        }
    }
    (docs, urls, paths)
}

/// Expands `$NAME` and `${...}` in a heredoc body, leaving quotes and backslashes as they are.
fn expand_heredoc(
    body: &str,
    vars: &std::collections::BTreeMap<String, String>,
    escape: char,
) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    while pos < chars.len() {
        let c = chars[pos];
        if c == escape && chars.get(pos + 1) == Some(&'$') {
            out.push('$');
            pos += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            pos += 1;
            continue;
        }
        let end = if chars.get(pos + 1) == Some(&'{') {
            chars[pos..]
                .iter()
                .position(|&ch| ch == '}')
                .map(|n| pos + n + 1)
        } else {
            let n = chars[pos + 1..]
                .iter()
                .take_while(|ch| ch.is_ascii_alphanumeric() || **ch == '_')
                .count();
            (n > 0).then_some(pos + 1 + n)
        };
        match end {
            Some(end) => {
                let token: String = chars[pos..end].iter().collect();
                out.push_str(&vars::expand_word(&token, vars, escape).unwrap_or(token));
                pos = end;
            }
            None => {
                out.push('$');
                pos += 1;
            }
        }
    }
    out
}

/// The absolute destination: relative ones are joined to the working directory.
fn absolute_dest(workdir: &str, dest: &str) -> String {
    if dest.starts_with('/') {
        dest.to_string()
    } else {
        let base = if workdir.is_empty() { "/" } else { workdir };
        format!("/{}", tarx::join_dest(base, dest))
    }
}

/// A short digest of bytes (used by tests and ADD).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
