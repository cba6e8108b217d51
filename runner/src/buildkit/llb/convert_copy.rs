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

use super::convert_source::{context_output, filtered_context_output};
use super::convert_workdir::uppercase_command;
use super::dispatch::{Step, Translator};
use super::graph::Output;
use super::op_metadata;
use super::state::{join, normalize_path, StageState};
use super::words::{display_text, expand_heredoc, expand_word};
use crate::context::{clean as go_clean, contains_wildcards};

/// The daemon capability for `--parents` and `--exclude` in file ops.
const CAP_PATTERNS: &str = "file.copy.includeexcludepatterns";
/// The daemon capability for symbolic `--chmod`.
const CAP_MODE_STRING: &str = "file.copy.modestring";

/// One copy action before it is placed in the file op.
struct CopyAction {
    source: Option<Output>,
    copy: pb::FileActionCopy,
}

/// Translates `COPY` (`is_add` false) or `ADD`.
pub fn convert_copy(
    t: &mut Translator<'_>,
    state: &mut StageState,
    step: Step<'_>,
    spec: &CopySpec,
    is_add: bool,
) -> Result<(), String> {
    let escape = t.plan().escape;
    let keyword = if is_add { "ADD" } else { "COPY" };
    let heredoc_names: Vec<&str> = spec.heredocs.iter().map(|h| h.name.as_str()).collect();
    let mut sources = Vec::new();
    for source in &spec.sources {
        if source.strip_prefix("<<").is_some_and(|rest| {
            heredoc_names.contains(&rest.trim_start_matches('-').trim_matches(['"', '\'']))
        }) {
            continue;
        }
        sources.push(expand_word(source, &state.env, escape)?);
    }
    let dest_written = expand_word(&spec.dest, &state.env, escape)?;
    let chown = match &spec.chown {
        Some(chown) => Some(expand_word(chown, &state.env, escape)?),
        None => None,
    }
    .filter(|c| !c.is_empty());
    let chmod = match &spec.chmod {
        Some(chmod) => Some(expand_word(chmod, &state.env, escape)?),
        None => None,
    }
    .filter(|c| !c.is_empty());

    let mut dest = join(&["/", &state.relative_to_dir(&dest_written)]);
    if dest_written == "." || dest_written.is_empty() || dest_written.ends_with('/') {
        dest.push('/');
    }
    let dest = normalize_path(&state.dir, &dest, true);

    let (mode, mode_str) = chmod_fields(t, chmod.as_deref())?;
    if (spec.parents || !spec.exclude.is_empty()) && spec.from.is_some() && !t.has_cap(CAP_PATTERNS)
    {
        return Err(format!(
            "{keyword} --from with {} needs a BuildKit whose file ops filter by pattern ({CAP_PATTERNS}, BuildKit v0.12 or later); this daemon lacks it: use --backend engine",
            if spec.parents { "--parents" } else { "--exclude" }
        ));
    }
    let base_input = if state.root.is_some() { 0 } else { -1 };
    let owner = chown.as_deref().map(|c| chown_opt(c, base_input));

    let mut message = String::from(keyword);
    if t.input.compat.copy_history_lists_flags {
        if spec.parents {
            message.push_str(" --parents");
        }
        if let Some(chown) = &chown {
            message.push_str(&format!(" --chown={chown}"));
        }
        if let Some(chmod) = &chmod {
            message.push_str(&format!(" --chmod={chmod}"));
        }
    }
    let mut actions: Vec<CopyAction> = Vec::new();
    let mut caps = vec!["file.base"];
    for source in &sources {
        message.push_str(&format!(" {source}"));
        if source.starts_with("http://") || source.starts_with("https://") {
            if !is_add {
                return Err("source can't be a URL for COPY".to_string());
            }
            actions.push(url_action(
                t,
                state,
                source,
                spec,
                &dest,
                mode,
                &mode_str,
                owner.clone(),
            )?);
            continue;
        }
        if source.starts_with("git@") || source.ends_with(".git") || spec.keep_git_dir {
            return Err(format!(
                "{keyword} of a git repository ({source:?}) is not supported by the buildkit backend: clone it in a RUN step, or use --backend engine"
            ));
        }
        if spec.checksum.is_some() {
            return Err("--checksum requires an HTTP(S) source".to_string());
        }
        let unpack = is_add && spec.unpack.unwrap_or(true);
        let mut copy = pb::FileActionCopy {
            src: join(&["/", source]),
            dest: dest.clone(),
            owner: owner.clone(),
            mode,
            mode_str: mode_str.clone(),
            follow_symlink: true,
            dir_copy_contents: true,
            attempt_unpack_docker_compatibility: unpack,
            create_dest_path: true,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            timestamp: -1,
            ..pb::FileActionCopy::default()
        };
        let source_output = match &spec.from {
            None => {
                t.context_paths.insert(join(&["/", source]));
                if (spec.parents || !spec.exclude.is_empty()) && !t.has_cap(CAP_PATTERNS) {
                    Some(filtered_context_copy(t, source, spec, &mut copy)?)
                } else {
                    Some(context_output(t))
                }
            }
            Some(from) => t.source_root(from)?,
        };
        if t.has_cap(CAP_PATTERNS) && (spec.parents || !spec.exclude.is_empty()) {
            apply_patterns(source, spec, &mut copy);
            caps.push(CAP_PATTERNS);
            if !copy.required_paths.is_empty() {
                caps.push("file.copy.requiredpaths");
            }
        }
        actions.push(CopyAction {
            source: source_output,
            copy,
        });
    }
    for heredoc in &spec.heredocs {
        message.push_str(&format!(" <<{}", heredoc.name));
        let body = if heredoc.expand {
            expand_heredoc(&heredoc.body, &state.env)?
        } else {
            heredoc.body.clone()
        };
        let file = inline_file(t, state, &heredoc.name, body.into_bytes(), 0o644);
        actions.push(CopyAction {
            source: Some(file),
            copy: pb::FileActionCopy {
                src: join(&["/", &heredoc.name]),
                dest: dest.clone(),
                owner: owner.clone(),
                mode,
                mode_str: mode_str.clone(),
                create_dest_path: true,
                timestamp: -1,
                ..pb::FileActionCopy::default()
            },
        });
    }
    if actions.is_empty() {
        return Err(format!("{keyword} has no source"));
    }
    if !mode_str.is_empty() {
        caps.push(CAP_MODE_STRING);
    }
    message.push_str(&format!(" {dest_written}"));

    let text = display_text(&step.instruction.text, &state.env, escape, false);
    let name = state.step_name(&uppercase_command(&text));
    let metadata = op_metadata(&name, Some(&step.instruction.text), &caps, t.input.no_cache);
    let link = spec.link && chmod.is_none() && t.has_cap("mergeop");
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
    state.image.commit_to_history(&message, true, true);
    Ok(())
}

/// The file op that performs `actions` on `root`: the first action reads the root, each later
/// one the previous action's result; only the last has an output (llb's `FileOp.Marshal`).
fn file_op(
    root: Option<Output>,
    actions: Vec<CopyAction>,
    platform: Option<pb::Platform>,
) -> (pb::Op, Vec<Output>) {
    let mut inputs: Vec<Output> = Vec::new();
    let input_index = |output: Output, inputs: &mut Vec<Output>| -> i64 {
        match inputs.iter().position(|existing| *existing == output) {
            Some(at) => at as i64,
            None => {
                inputs.push(output);
                (inputs.len() - 1) as i64
            }
        }
    };
    let mut placed = Vec::new();
    for action in actions {
        let base = root.map_or(-1, |root| input_index(root, &mut inputs));
        let secondary = action
            .source
            .map_or(-1, |source| input_index(source, &mut inputs));
        placed.push((base, secondary, action.copy));
    }
    let n_inputs = inputs.len() as i64;
    let n_actions = placed.len();
    let file_actions = placed
        .into_iter()
        .enumerate()
        .map(|(at, (base, secondary, copy))| pb::FileAction {
            input: if at == 0 {
                base
            } else {
                n_inputs + at as i64 - 1
            },
            secondary_input: secondary,
            output: if at + 1 == n_actions { 0 } else { -1 },
            action: Some(pb::file_action::Action::Copy(copy)),
        })
        .collect();
    let op = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: file_actions,
        })),
        platform,
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    (op, inputs)
}

/// A file `name` with `data` on an empty filesystem (heredoc sources, RUN script files).
pub fn inline_file(
    t: &mut Translator<'_>,
    state: &StageState,
    name: &str,
    data: Vec<u8>,
    mode: i32,
) -> Output {
    let mkfile = pb::FileActionMkFile {
        path: join(&["/", name]),
        mode,
        data,
        owner: None,
        timestamp: -1,
    };
    let op = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: vec![pb::FileAction {
                input: -1,
                secondary_input: -1,
                output: 0,
                action: Some(pb::file_action::Action::Mkfile(mkfile)),
            }],
        })),
        platform: t.platform(state),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let metadata = op_metadata(
        "[internal] preparing inline document",
        None,
        &["file.base"],
        false,
    );
    let node = t.graph.add(op, Vec::new(), metadata);
    Output { node, index: 0 }
}

/// `ADD https://...`: an HTTP source copied to the destination.
#[allow(clippy::too_many_arguments)]
fn url_action(
    t: &mut Translator<'_>,
    state: &StageState,
    url: &str,
    spec: &CopySpec,
    dest: &str,
    mode: i32,
    mode_str: &str,
    owner: Option<pb::ChownOpt>,
) -> Result<CopyAction, String> {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['?', '#']).next().unwrap_or(rest))
        .and_then(|rest| rest.split_once('/').map(|(_, path)| path))
        .unwrap_or("");
    let base = path.rsplit('/').next().unwrap_or("");
    let filename = if base.is_empty() || base == "." {
        "__unnamed__".to_string()
    } else {
        base.to_string()
    };
    let mut attrs =
        std::collections::BTreeMap::from([("http.filename".to_string(), filename.clone())]);
    let mut caps = vec!["source.http"];
    if let Some(checksum) = &spec.checksum {
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
    let _ = state;
    Ok(CopyAction {
        source: Some(Output { node, index: 0 }),
        copy: pb::FileActionCopy {
            src: join(&["/", &filename]),
            dest: dest.to_string(),
            owner,
            mode,
            mode_str: mode_str.to_string(),
            create_dest_path: true,
            attempt_unpack_docker_compatibility: spec.unpack.unwrap_or(false),
            timestamp: -1,
            ..pb::FileActionCopy::default()
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

/// llb's `WithUser`: `user[:group]`, each a number (or `root`) or a name looked up in the
/// filesystem of input `base_input`.
pub fn chown_opt(spec: &str, base_input: i64) -> pb::ChownOpt {
    let user_opt = |part: &str| {
        let id = if part == "root" {
            Some(0)
        } else {
            part.parse::<i32>().ok().map(|n| n as u32)
        };
        pb::UserOpt {
            user: Some(match id {
                Some(id) => pb::user_opt::User::ById(id),
                None => pb::user_opt::User::ByName(pb::NamedUserOpt {
                    name: part.to_string(),
                    input: base_input,
                }),
            }),
        }
    };
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    pb::ChownOpt {
        user: Some(user_opt(user)),
        group: group.map(user_opt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_by_id_and_name() {
        let opt = chown_opt("1000:staff", 0);
        assert_eq!(opt.user.unwrap().user, Some(pb::user_opt::User::ById(1000)));
        assert_eq!(
            opt.group.unwrap().user,
            Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: "staff".into(),
                input: 0
            }))
        );
        let opt = chown_opt("root", -1);
        assert_eq!(opt.user.unwrap().user, Some(pb::user_opt::User::ById(0)));
        assert!(opt.group.is_none());
    }

    #[test]
    fn file_op_chains_actions() {
        use super::super::graph::{LlbGraph, Output};
        let mut graph = LlbGraph::default();
        let a = graph.add(pb::Op::default(), vec![], pb::OpMetadata::default());
        let b = graph.add(pb::Op::default(), vec![], pb::OpMetadata::default());
        let root = Output { node: a, index: 0 };
        let source = Output { node: b, index: 0 };
        let actions = vec![
            CopyAction {
                source: Some(source),
                copy: pb::FileActionCopy::default(),
            },
            CopyAction {
                source: Some(root),
                copy: pb::FileActionCopy::default(),
            },
        ];
        let (op, inputs) = file_op(Some(root), actions, None);
        assert_eq!(inputs, vec![root, source]);
        let Some(pb::op::Op::File(file)) = op.op else {
            panic!("not a file op")
        };
        assert_eq!(
            file.actions
                .iter()
                .map(|a| (a.input, a.secondary_input, a.output))
                .collect::<Vec<_>>(),
            vec![(0, 1, -1), (2, 0, 0)]
        );
    }
}
