//! `COPY` and `ADD`: resolve the sources (build context, heredocs, URLs, another stage or an
//! image), key the step by what it copies, and on a miss write them into a holder of the stage's
//! image and commit.
//!
//! Input: the instruction's [`CopySpec`], the stage state, source stage results, the context.
//! Output: the stage's new image (or the cached one).
//! Invariant: BuildKit's copy rules: the destination is resolved through symlinks inside the
//! image; missing directories up to it are created owned by the `--chown` user (root
//! otherwise) with the octal `--chmod` mode (0755 without one); a directory source copies its
//! contents; a file goes inside the destination when
//! it ends in `/` or is a directory; context files, heredocs and downloads become root-owned,
//! files from another stage keep their owner, `--chown` overrides both; heredocs are copied
//! after the paths, as files named after their delimiter.

use std::sync::Arc;
use std::time::Instant;

use planner::plan::{CopySpec, Instruction, Source};

use super::add_source;
use super::copy_dest::{self, DestPlan};
use super::copy_from_image;
use super::piece::{self, Piece, PieceContent, Placement, UploadError};
use crate::context::{
    BuildContext, Chmod, CopySources, DestState, Destination, EntryDigest, EntryKind, SourceSet,
    TarOptions,
};
use crate::error::{Result, StepError};
use crate::exec::cache::{short_digest, Key};
use crate::exec::commit::{cached_or_started, commit_step};
use crate::exec::container_fs;
use crate::exec::ctx::Ctx;
use crate::exec::holders::{after_target, target_container};
use crate::exec::stage_state::StageState;
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar as tarx;
use crate::record::memory::{KeyField, KeyPart};
use crate::record::recorder::ContextFile;

/// The mode of a file made from a heredoc (BuildKit's `llb.Mkfile(name, 0644, ...)`).
const HEREDOC_MODE: u32 = 0o644;

/// Everything a COPY/ADD step copies, expanded and resolved (before any container work).
struct Resolved {
    /// The expanded destination as written (a trailing `/` matters).
    dest_word: String,
    /// The absolute destination (relative ones joined to WORKDIR).
    dest: String,
    chown: Option<String>,
    /// `--chmod` as expanded (for the key) and parsed.
    chmod_text: Option<String>,
    chmod: Option<Chmod>,
    /// Context sources and their digest.
    context: Option<(SourceSet, String)>,
    /// What the record keeps of the copied content: one part per context entry, or the stage
    /// or image it comes from.
    origin_parts: Vec<KeyPart>,
    /// Heredoc sources: (name, body).
    heredocs: Vec<(String, String)>,
    /// ADD URLs: (url, name, content).
    downloads: Vec<add_source::Downloaded>,
    /// Paths in another stage or image.
    image_paths: Vec<String>,
    /// The image a `--from` names (id), or none.
    from_image: Option<String>,
    /// `--from` names a stage in which a RUN ran.
    from_ran_run: bool,
    /// What identifies the copied content in the key.
    origin: String,
}

/// A COPY or ADD resolved and keyed, before any container work.
pub struct Prepared {
    /// The step's cache key (chained from the stage's key at the time).
    pub key: Key,
    /// The key's named fields, for the build record.
    pub fields: Vec<KeyField>,
    resolved: Resolved,
}

impl Prepared {
    /// Whether the step copies from the build context.
    pub fn reads_context(&self) -> bool {
        self.resolved.context.is_some()
    }
}

/// Resolves a COPY or ADD against `state` (expanding its words, digesting its context sources)
/// and computes its cache key; touches no container.
pub async fn prepare(
    ctx: &Ctx,
    state: &StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    is_add: bool,
) -> Result<Prepared> {
    let fail = state.fail_at(instruction.line);
    let resolved = resolve(ctx, state, spec, is_add).await?.map_err(&fail)?;
    let mut key = state
        .key
        .step(if is_add { "add" } else { "copy" })
        .text("dest", &resolved.dest)
        .flag("dest-is-dir", resolved.dest_word.ends_with('/'))
        .optional("chown", resolved.chown.as_deref())
        .optional("chmod", resolved.chmod_text.as_deref())
        .flag("parents", spec.parents)
        .list("exclude", &spec.exclude)
        .optional(
            "unpack",
            spec.unpack.map(|u| if u { "true" } else { "false" }),
        )
        .list("from-paths", &resolved.image_paths)
        .text("origin", &resolved.origin)
        .detail(resolved.origin_parts.clone());
    for (name, body) in &resolved.heredocs {
        key = key.text("heredoc", name).text("body", body);
    }
    for download in &resolved.downloads {
        key = key
            .text("download", &download.name)
            .text("sha256", &download.digest);
    }
    let (key, fields) = key.finish_fields();
    Ok(Prepared {
        key,
        fields,
        resolved,
    })
}

/// Performs a COPY or ADD (or takes its result from the cache). With `defer`, a written step
/// is not committed: the next COPY/ADD of the stage writes into the same container and the
/// last one of the run commits them all ([`StageState::pending`]).
pub async fn perform(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    is_add: bool,
    defer: bool,
) -> Result<()> {
    let fail = state.fail_at(instruction.line);
    let Prepared {
        key,
        fields,
        resolved,
    } = prepare(ctx, state, instruction, spec, is_add).await?;
    state.key = key;
    state.insight.step.fields = fields;
    state.insight.step.reads_context = resolved.context.is_some();
    if cached_or_started(ctx, state, instruction).await? {
        // A cached result replaces whatever a run of uncommitted steps had written.
        if let Some(container) = state.pending.take() {
            after_target(ctx, state, &container, false).await?;
        }
        return Ok(());
    }
    let holder = match state.pending.take() {
        Some(container) => container,
        None => target_container(ctx, state).await?,
    };
    let writing = Instant::now();
    let written = write(ctx, state, &holder, spec, is_add, resolved).await;
    state.insight.step.clock.add_transfer(writing.elapsed());
    let result = match written {
        Ok(Ok(())) if defer => {
            state.pending = Some(holder);
            state.executed = true;
            state.all_cached = false;
            return Ok(());
        }
        Ok(Ok(())) => commit_step(ctx, state, &holder, instruction).await,
        Ok(Err(e)) => Err(fail(e)),
        Err(e) => Err(e),
    };
    let settled = after_target(ctx, state, &holder, result.is_ok()).await;
    result.and(settled)
}

/// Expands the instruction's words and resolves its sources into what the key needs.
async fn resolve(
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
    let heredocs: Vec<(String, String)> = spec
        .heredocs
        .iter()
        .map(|h| {
            let body = if h.expand {
                expand_heredoc(&h.body, &vars, ctx.plan.escape)
            } else {
                h.body.clone()
            };
            (h.name.clone(), body)
        })
        .collect();
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
    let mut downloads = Vec::new();
    for url in &urls {
        match add_source::download(url, spec.checksum.as_deref()).await {
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
                    let info = ctx.ensure_image(&state.name, image).await?;
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

/// Writes every source into `holder` (on a cache miss).
async fn write(
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
            Some(chown) => container_fs::resolve_owner(&ctx.engine, holder, chown)
                .await
                .map(|found| found.map(Some).map_err(|m| (chown.clone(), m))),
            None => Ok(Ok(None)),
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
    let owner = match owner? {
        Ok(owner) => owner,
        Err((chown, message)) => {
            return Ok(Err(StepError::Invalid(format!(
                "--chown={chown}: {message}"
            ))))
        }
    };
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
        let archive = match tarx::files(&[(download.name.clone(), download.content, 0o600)], (0, 0))
        {
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
    let n_roots = context_set.as_ref().map_or(0, |s| s.n_roots()) + pieces.len() + archives.len();
    if n_roots == 0 {
        // Wildcards that matched nothing: BuildKit copies nothing and succeeds.
        return Ok(Ok(()));
    }
    let any_dir = context_set.as_ref().is_some_and(|s| s.has_dir_root())
        || pieces.iter().any(|p| p.is_dir)
        || !archives.is_empty();
    let plan = match destination?.and_then(|destination| {
        copy_dest::plan(
            &resolved.dest,
            &destination,
            resolved.dest_word.ends_with('/')
                || resolved.dest_word.ends_with("/.")
                || resolved.dest_word == ".",
            spec.parents || n_roots > 1 || any_dir,
        )
    }) {
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

/// Expands a heredoc body as BuildKit does when its delimiter is unquoted: variables (`$NAME`,
/// `${...}`) are replaced and the escape character escapes the next character (`\\` is `\`, `\$`
/// is `$`, an escaped newline is a newline), but quotes are ordinary characters.
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
        if c == escape {
            if let Some(&next) = chars.get(pos + 1) {
                out.push(next);
            }
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
                out.push_str(&planner::expand::expand_word(&token, vars, escape).unwrap_or(token));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_bodies_expand_variables_but_keep_quotes() {
        let vars: std::collections::BTreeMap<String, String> =
            [("A".to_string(), "1".to_string())].into();
        assert_eq!(
            expand_heredoc("x='$A' \"${A}\" \\$A $B\n", &vars, '\\'),
            "x='1' \"1\" $A \n"
        );
        assert_eq!(expand_heredoc("\\\n", &vars, '\\'), "\n");
        assert_eq!(expand_heredoc("\\\\\n", &vars, '\\'), "\\\n");
    }
}
