//! `COPY` and `ADD`: one file op whose actions copy each source onto the stage's filesystem.
//!
//! Input: the COPY/ADD spec (sources, destination, `--from`, `--chown`, `--chmod`, `--link`,
//! `--parents`, `--exclude`, `--checksum`, `--unpack`, heredocs) and the stage state.
//! Output: a file op (or, with `--link` on a daemon with MergeOp, a copy onto an empty
//! filesystem merged on top) and the history entry.
//! Invariant: the actions carry the frontend's copy flags (follow symlinks, copy directory
//! contents, create the destination path, wildcards that may match nothing, unpack archives for
//! ADD); a feature the daemon lacks is either done with older ops that give the same files, or
//! refused with a message that names the instruction and the alternative — never dropped.

use bollard_buildkit_proto::pb;
use planner::plan::CopySpec;

use super::convert_source::{context_output, filtered_context_output, source_root};
use super::convert_workdir::uppercase_command;
use super::file_actions::{chown_opt, file_op, inline_file, CopyAction};
use super::graph::Output;
use super::ops::op_metadata;
use super::state::{join, normalize_path, StageState};
use super::translator::{Step, Translator};
use super::words::{display_text, expand_heredoc, expand_word};
use crate::context::{clean as go_clean, contains_wildcards};

/// The daemon capability for `--parents` and `--exclude` in file ops.
const CAP_PATTERNS: &str = "file.copy.includeexcludepatterns";
/// The daemon capability for symbolic `--chmod`.
const CAP_MODE_STRING: &str = "file.copy.modestring";

/// A COPY/ADD with its words expanded.
struct Request<'a> {
    spec: &'a CopySpec,
    keyword: &'static str,
    is_add: bool,
    /// Path and URL sources, expanded.
    sources: Vec<String>,
    /// The destination as written (expanded).
    dest_written: String,
    /// The destination as the copy actions name it.
    dest: String,
    chown: Option<String>,
    chmod: Option<String>,
    /// `--checksum`, expanded and checked as a digest.
    checksum: Option<String>,
    /// `--chmod` as an octal mode (-1: none) or a symbolic one.
    mode: i32,
    mode_str: String,
    owner: Option<pb::ChownOpt>,
}

impl Request<'_> {
    /// Whether the copy filters with `--parents`/`--exclude`.
    fn filters(&self) -> bool {
        self.spec.parents || !self.spec.exclude.is_empty()
    }

    /// A copy action from `src` with this request's destination, owner and mode.
    fn action(&self, src: String) -> pb::FileActionCopy {
        pb::FileActionCopy {
            src,
            dest: self.dest.clone(),
            owner: self.owner.clone(),
            mode: self.mode,
            mode_str: self.mode_str.clone(),
            create_dest_path: true,
            timestamp: -1,
            ..pb::FileActionCopy::default()
        }
    }
}

/// Translates `COPY` (`is_add` false) or `ADD`.
pub fn convert_copy(
    t: &mut Translator<'_>,
    state: &mut StageState,
    step: Step<'_>,
    spec: &CopySpec,
    is_add: bool,
) -> Result<(), String> {
    let request = expand_request(t, state, spec, is_add)?;
    let mut caps = vec!["file.base"];
    let mut actions = Vec::new();
    for source in &request.sources {
        actions.push(source_action(t, &request, source, &mut caps)?);
    }
    for heredoc in &spec.heredocs {
        let body = if heredoc.expand {
            expand_heredoc(&heredoc.body, &state.env)?
        } else {
            heredoc.body.clone()
        };
        let file = inline_file(t, state, &heredoc.name, body.into_bytes(), 0o644);
        actions.push(CopyAction {
            source: Some(file),
            copy: request.action(join(&["/", &heredoc.name])),
        });
    }
    if actions.is_empty() {
        return Err(format!("{} has no source", request.keyword));
    }
    if !request.mode_str.is_empty() {
        caps.push(CAP_MODE_STRING);
    }
    let text = display_text(&step.instruction.text, &state.env, t.plan().escape, false);
    let name = state.step_name(&uppercase_command(&text));
    let metadata = op_metadata(&name, Some(&step.instruction.text), &caps, t.input.no_cache);
    let link = spec.link && request.chmod.is_none() && t.has_cap("mergeop");
    add_copy_op(t, state, step, actions, metadata, link);
    let message = history_message(t, &request);
    state.image.commit_to_history(&message, true, true);
    Ok(())
}

/// Expands the words of `spec` with the stage's environment and works out the destination,
/// owner and mode.
fn expand_request<'a>(
    t: &Translator<'_>,
    state: &StageState,
    spec: &'a CopySpec,
    is_add: bool,
) -> Result<Request<'a>, String> {
    let escape = t.plan().escape;
    let keyword = if is_add { "ADD" } else { "COPY" };
    let expand_optional = |word: &Option<String>| -> Result<Option<String>, String> {
        Ok(match word {
            Some(word) => Some(expand_word(word, &state.env, escape)?).filter(|w| !w.is_empty()),
            None => None,
        })
    };
    let heredoc_names: Vec<&str> = spec.heredocs.iter().map(|h| h.name.as_str()).collect();
    let mut sources = Vec::new();
    for source in &spec.sources {
        // A plan that lists heredoc sources as `<<NAME` keeps them in `heredocs` as well.
        let is_heredoc = source.strip_prefix("<<").is_some_and(|rest| {
            heredoc_names.contains(&rest.trim_start_matches('-').trim_matches(['"', '\'']))
        });
        if !is_heredoc {
            sources.push(expand_word(source, &state.env, escape)?);
        }
    }
    let dest_written = expand_word(&spec.dest, &state.env, escape)?;
    let mut dest = join(&["/", &state.relative_to_dir(&dest_written)]);
    if dest_written == "." || dest_written.is_empty() || dest_written.ends_with('/') {
        dest.push('/');
    }
    let chown = expand_optional(&spec.chown)?;
    let chmod = expand_optional(&spec.chmod)?;
    let checksum = expand_optional(&spec.checksum)?;
    if let Some(checksum) = &checksum {
        planner::check_digest(checksum)?;
    }
    let (mode, mode_str) = chmod_fields(t, chmod.as_deref())?;
    if (spec.parents || !spec.exclude.is_empty()) && spec.from.is_some() && !t.has_cap(CAP_PATTERNS)
    {
        return Err(format!(
            "{keyword} --from with {} needs a BuildKit whose file ops filter by pattern ({CAP_PATTERNS}, BuildKit v0.12 or later); this daemon lacks it: use --backend engine",
            if spec.parents { "--parents" } else { "--exclude" }
        ));
    }
    let base_input = if state.root.is_some() { 0 } else { -1 };
    Ok(Request {
        spec,
        keyword,
        is_add,
        sources,
        dest: normalize_path(&state.dir, &dest, true),
        dest_written,
        owner: chown.as_deref().map(|c| chown_opt(c, base_input)),
        chown,
        chmod,
        checksum,
        mode,
        mode_str,
    })
}

/// The copy action of one path or URL source.
fn source_action(
    t: &mut Translator<'_>,
    request: &Request<'_>,
    source: &str,
    caps: &mut Vec<&'static str>,
) -> Result<CopyAction, String> {
    let spec = request.spec;
    if source.starts_with("http://") || source.starts_with("https://") {
        if !request.is_add {
            return Err("source can't be a URL for COPY".to_string());
        }
        return url_action(t, request, source);
    }
    if source.starts_with("git@") || source.ends_with(".git") || spec.keep_git_dir {
        return Err(format!(
            "{} of a git repository ({source:?}) is not supported by the buildkit backend: clone it in a RUN step, or use --backend engine",
            request.keyword
        ));
    }
    if request.checksum.is_some() {
        return Err("--checksum requires an HTTP(S) source".to_string());
    }
    let mut copy = pb::FileActionCopy {
        follow_symlink: true,
        dir_copy_contents: true,
        attempt_unpack_docker_compatibility: request.is_add && spec.unpack.unwrap_or(true),
        allow_wildcard: true,
        allow_empty_wildcard: true,
        ..request.action(join(&["/", source]))
    };
    let source_output = match &spec.from {
        None => {
            t.context_paths.insert(join(&["/", source]));
            if request.filters() && !t.has_cap(CAP_PATTERNS) {
                Some(filtered_context_copy(t, source, spec, &mut copy)?)
            } else {
                Some(context_output(t))
            }
        }
        Some(from) => source_root(t, from)?,
    };
    if request.filters() && t.has_cap(CAP_PATTERNS) {
        apply_patterns(source, spec, &mut copy);
        caps.push(CAP_PATTERNS);
        if !copy.required_paths.is_empty() {
            caps.push("file.copy.requiredpaths");
        }
    }
    let action = CopyAction {
        source: source_output,
        copy,
    };
    if copy_owner_lost_in_unpack(t, &action.copy) {
        return Ok(unpack_then_own(t, action));
    }
    Ok(action)
}

/// Whether the daemon would leave the members of an unpacked archive with their archive owners
/// although the step has `--chown` (BuildKit's unpack passes the owner on only since v0.13; the
/// daemons without MergeOp, Docker 20.10's v0.8 among them, are known to drop it).
fn copy_owner_lost_in_unpack(t: &Translator<'_>, copy: &pb::FileActionCopy) -> bool {
    copy.attempt_unpack_docker_compatibility && copy.owner.is_some() && !t.has_cap("mergeop")
}

/// `ADD --chown` of a possible archive as current BuildKit performs it, with older ops: the
/// source is copied (and unpacked) at the destination path of an empty filesystem, without an
/// owner; then what landed there is copied onto the stage with the owner, which owns every
/// member (and, as before, the directories the copy creates).
fn unpack_then_own(t: &mut Translator<'_>, action: CopyAction) -> CopyAction {
    let owned = action.copy.clone();
    let unowned = pb::FileActionCopy {
        owner: None,
        mode: -1,
        mode_str: String::new(),
        ..action.copy
    };
    let (op, inputs) = file_op(
        None,
        vec![CopyAction {
            source: action.source,
            copy: unowned,
        }],
        super::ops::parse_platform(&t.plan().platform),
    );
    let metadata = op_metadata(
        "[internal] unpacking before setting the owner",
        None,
        &["file.base"],
        t.input.no_cache,
    );
    let node = t.graph.add(op, inputs, metadata);
    let landed = owned.dest.trim_end_matches('/');
    CopyAction {
        source: Some(Output { node, index: 0 }),
        copy: pb::FileActionCopy {
            src: if landed.is_empty() {
                "/".to_string()
            } else {
                landed.to_string()
            },
            follow_symlink: false,
            attempt_unpack_docker_compatibility: false,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            dir_copy_contents: true,
            ..owned
        },
    }
}

/// Adds the file op (and with `link`, the merge of its result onto the stage) and makes it the
/// stage's root.
fn add_copy_op(
    t: &mut Translator<'_>,
    state: &mut StageState,
    step: Step<'_>,
    actions: Vec<CopyAction>,
    metadata: pb::OpMetadata,
    link: bool,
) {
    let platform = t.platform(state);
    let (op, inputs) = file_op(
        if link { None } else { state.root },
        actions,
        platform.clone(),
    );
    let node = t.graph.add(op, inputs, metadata.clone());
    t.record_step(node, state, step);
    let copied = Output { node, index: 0 };
    state.root = Some(match (link, state.root) {
        (true, Some(root)) => {
            let merge = pb::Op {
                op: Some(pb::op::Op::Merge(pb::MergeOp {
                    inputs: vec![pb::MergeInput { input: 0 }, pb::MergeInput { input: 1 }],
                })),
                platform,
                constraints: Some(pb::WorkerConstraints::default()),
                ..pb::Op::default()
            };
            let mut merge_metadata = metadata;
            merge_metadata.caps.insert("mergeop".to_string(), true);
            let merged = t.graph.add(merge, vec![root, copied], merge_metadata);
            t.record_step(merged, state, step);
            Output {
                node: merged,
                index: 0,
            }
        }
        _ => copied,
    });
}

/// The history entry: `COPY src... dest`; newer frontends also list the flags.
fn history_message(t: &Translator<'_>, request: &Request<'_>) -> String {
    let mut message = String::from(request.keyword);
    if t.input.compat.copy_history_lists_flags {
        if request.spec.parents {
            message.push_str(" --parents");
        }
        if let Some(chown) = &request.chown {
            message.push_str(&format!(" --chown={chown}"));
        }
        if let Some(chmod) = &request.chmod {
            message.push_str(&format!(" --chmod={chmod}"));
        }
    }
    for source in &request.sources {
        message.push_str(&format!(" {source}"));
    }
    for heredoc in &request.spec.heredocs {
        message.push_str(&format!(" <<{}", heredoc.name));
    }
    message.push_str(&format!(" {}", request.dest_written));
    message
}

/// `ADD https://...`: an HTTP source copied to the destination.
fn url_action(
    t: &mut Translator<'_>,
    request: &Request<'_>,
    url: &str,
) -> Result<CopyAction, String> {
    let spec = request.spec;
    let filename = planner::http_file_name(url);
    let mut attrs =
        std::collections::BTreeMap::from([("http.filename".to_string(), filename.clone())]);
    let mut caps = vec!["source.http"];
    if let Some(checksum) = &request.checksum {
        if !t.has_cap("source.http.checksum") {
            return Err(
                "ADD --checksum needs a BuildKit with source.http.checksum (v0.10 or later); this daemon lacks it: use --backend engine"
                    .to_string(),
            );
        }
        attrs.insert("http.checksum".to_string(), checksum.clone());
        caps.push("source.http.checksum");
    }
    let op = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp {
            identifier: url.to_string(),
            attrs,
        })),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let metadata = op_metadata(
        &format!("[internal] load {url}"),
        None,
        &caps,
        t.input.no_cache,
    );
    let node = t.graph.add(op, Vec::new(), metadata);
    Ok(CopyAction {
        source: Some(Output { node, index: 0 }),
        copy: pb::FileActionCopy {
            attempt_unpack_docker_compatibility: spec.unpack.unwrap_or(false),
            ..request.action(join(&["/", &filename]))
        },
    })
}

/// `--parents`/`--exclude` on a daemon without pattern filters in file ops, for a context
/// source: a context transfer limited by the same patterns, copied as a whole.
fn filtered_context_copy(
    t: &mut Translator<'_>,
    source: &str,
    spec: &CopySpec,
    copy: &mut pb::FileActionCopy,
) -> Result<Output, String> {
    let relative = go_clean(source.trim_start_matches('/'));
    let mut include = Vec::new();
    if spec.parents {
        match source.split_once("/./") {
            Some((pivot, pattern)) => {
                let pivot = go_clean(pivot.trim_start_matches('/'));
                include.push(join(&[&pivot, pattern]));
                copy.src = join(&["/", &pivot]);
            }
            None => {
                include.push(relative.clone());
                copy.src = "/".to_string();
            }
        }
    }
    let mut excludes = Vec::new();
    if !spec.exclude.is_empty() {
        if contains_wildcards(source) {
            return Err(format!(
                "COPY --exclude with the wildcard source {source:?} needs a BuildKit whose file ops filter by pattern ({CAP_PATTERNS}, v0.12 or later); this daemon lacks it: name the directory instead, or use --backend engine"
            ));
        }
        for pattern in &spec.exclude {
            let (negated, pattern) = match pattern.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, pattern.as_str()),
            };
            let prefixed = if relative == "." {
                go_clean(pattern)
            } else {
                join(&[&relative, pattern])
            };
            excludes.push(if negated {
                format!("!{prefixed}")
            } else {
                prefixed
            });
        }
    }
    Ok(filtered_context_output(t, &include, &excludes))
}

/// `--parents`/`--exclude` as file-op patterns (the newer frontend's `dispatchCopy`).
fn apply_patterns(source: &str, spec: &CopySpec, copy: &mut pb::FileActionCopy) {
    if spec.parents {
        let (src, pattern) = match source.split_once("/./") {
            Some((pivot, pattern)) => (pivot.to_string(), pattern.to_string()),
            None => ("/".to_string(), source.to_string()),
        };
        let pattern = join(&["/", &pattern]);
        copy.include_patterns = vec![pattern.trim_start_matches('/').to_string()];
        if !contains_wildcards(&src) && !contains_wildcards(&pattern) {
            copy.required_paths = vec![join(&["/", &src, &pattern])];
        }
        copy.src = join(&["/", &src]);
    }
    copy.exclude_patterns = spec.exclude.clone();
}

/// `--chmod`: octal into `mode`, symbolic into `mode_str` (needs the daemon's support).
fn chmod_fields(t: &Translator<'_>, chmod: Option<&str>) -> Result<(i32, String), String> {
    let Some(chmod) = chmod else {
        return Ok((-1, String::new()));
    };
    if let Ok(mode) = u32::from_str_radix(chmod, 8) {
        if mode > 0o7777 {
            return Err(format!(
                "invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777"
            ));
        }
        return Ok((mode as i32, String::new()));
    }
    if chmod.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777"
        ));
    }
    crate::context::Chmod::parse(chmod).map_err(|e| e.to_string())?;
    if !t.has_cap(CAP_MODE_STRING) {
        return Err(format!(
            "symbolic --chmod={chmod} needs a BuildKit with {CAP_MODE_STRING} (v0.14 or later); this daemon lacks it: use an octal mode, or --backend engine"
        ));
    }
    Ok((-1, chmod.to_string()))
}
