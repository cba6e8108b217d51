//! `WORKDIR`: the working directory of later steps, created in the filesystem.
//!
//! Input: the path (unexpanded) and the stage state.
//! Output: the new working directory in the state and the config, and a file op that creates
//! it (with parents, 0755, owned by the stage's USER) unless it is `/`.
//! Invariant: the frontend's `dispatchWorkdir` with file ops: the directory is created even when
//! no later step runs in it, and a relative path is joined to the previous one.

use bollard_buildkit_proto::pb;

use super::file_actions::chown_opt;
use super::graph::Output;
use super::ops::op_metadata;
use super::state::{join, normalize_path, StageState};
use super::translator::{Step, Translator};
use super::words::{display_text, expand_word};

/// Translates `WORKDIR path`.
pub fn convert_workdir(
    t: &mut Translator<'_>,
    state: &mut StageState,
    step: Step<'_>,
    path: &str,
) -> Result<(), String> {
    let escape = t.plan().escape;
    let path = expand_word(path, &state.env, escape)?;
    state.set_dir(&path);
    let working_dir = if path.starts_with('/') {
        path.clone()
    } else {
        join(&["/", &state.image.config.working_dir, &path])
    };
    state.image.config.working_dir = working_dir.clone();
    let mut with_layer = false;
    if working_dir != "/" {
        let owner = if state.image.config.user.is_empty() {
            None
        } else {
            Some(chown_opt(
                &state.image.config.user,
                if state.root.is_some() { 0 } else { -1 },
            ))
        };
        let mkdir = pb::FileActionMkDir {
            path: normalize_path(&state.dir, &working_dir, false),
            mode: 0o755,
            make_parents: true,
            owner,
            timestamp: -1,
        };
        let action = pb::FileAction {
            input: if state.root.is_some() { 0 } else { -1 },
            secondary_input: -1,
            output: 0,
            action: Some(pb::file_action::Action::Mkdir(mkdir)),
        };
        let op = pb::Op {
            op: Some(pb::op::Op::File(pb::FileOp {
                actions: vec![action],
            })),
            platform: t.platform(state),
            constraints: Some(pb::WorkerConstraints::default()),
            ..pb::Op::default()
        };
        let text = display_text(&step.instruction.text, &state.env, escape, false);
        let name = state.step_name(&uppercase_command(&text));
        let metadata = op_metadata(&name, Some(&step.instruction.text), &["file.base"], false);
        let inputs: Vec<Output> = state.root.into_iter().collect();
        let node = t.graph.add(op, inputs, metadata);
        t.record_step(node, state, step);
        state.root = Some(Output { node, index: 0 });
        with_layer = true;
    }
    state
        .image
        .commit_to_history(&format!("WORKDIR {working_dir}"), with_layer, false);
    Ok(())
}

/// The frontend's `uppercaseCmd`: the instruction keyword upper-cased.
pub fn uppercase_command(text: &str) -> String {
    match text.split_once(' ') {
        Some((keyword, rest)) => format!("{} {rest}", keyword.to_ascii_uppercase()),
        None => text.to_ascii_uppercase(),
    }
}
