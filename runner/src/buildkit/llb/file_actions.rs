//! File-op building blocks shared by the instructions that change files: the chained copy
//! actions of one COPY/ADD, a file made from bytes on an empty filesystem (heredocs, RUN
//! scripts), and owners given as `user[:group]`.
//!
//! Input: the root a file op works on, its actions' sources, the stage's platform.
//! Output: `pb::FileOp`s with their inputs, as llb's `FileOp.Marshal` lays them out.
//! Invariant: only the last action of a file op has an output; each later action reads the
//! previous one's result; inputs are deduplicated.

use bollard_buildkit_proto::pb;

use super::graph::Output;
use super::ops::op_metadata;
use super::state::{join, StageState};
use super::translator::Translator;

/// One copy action before it is placed in the file op.
pub struct CopyAction {
    /// The filesystem copied from (none for the empty one).
    pub source: Option<Output>,
    /// The action.
    pub copy: pb::FileActionCopy,
}

/// The file op that performs `actions` on `root`: the first action reads the root, each later
/// one the previous action's result; only the last has an output (llb's `FileOp.Marshal`).
pub fn file_op(
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

/// llb's `WithUser`: `user[:group]`, each a number (or `root`) or a name looked up in the
/// filesystem of input `base_input`.
pub fn chown_opt(spec: &str, base_input: i64) -> pb::ChownOpt {
    // As llb.WithUser marshals it: `root` and an empty part (`1234:`, `:5678`) are id 0.
    let user_opt = |part: &str| {
        let id = if part == "root" || part.is_empty() {
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
