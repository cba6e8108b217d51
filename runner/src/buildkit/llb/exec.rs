//! Exec ops: the process, its mounts in BuildKit's order, and secrets exposed as environment
//! variables on daemons that cannot set them.
//!
//! Input: the root filesystem, the process meta, the mounts and secret variables of one RUN.
//! Output: the `pb::ExecOp` and its inputs (llb's `ExecOp.Marshal`); for BuildKit < v0.13 the
//! command rewritten to read secret variables from mounted files.
//! Invariant: mounts are sorted by target with the root first, secrets last; only writable,
//! non-cache, non-tmpfs mounts have outputs; inputs are deduplicated.

use bollard_buildkit_proto::pb;
use planner::plan::Command;

use super::convert_runmount::{MountKind, RunMount};
use super::graph::Output;

/// Where secrets exposed as environment variables are mounted when the daemon cannot set them
/// itself (under `/dev`, a tmpfs of the step's container, so nothing reaches the image).
pub const SECRET_ENV_DIR: &str = "/dev/.stageplan-secret-env";

/// `--mount=type=secret,env=NAME` on a daemon without `exec.secretenv` (BuildKit < v0.13): each
/// secret is mounted as a file readable by the step's user, and a POSIX shell sets the variable
/// to the file's exact bytes before the command runs. Shell-form commands get the assignments
/// in front of their script; exec-form ones run through `/bin/sh -c '... exec "$@"'`.
pub fn secret_env_through_files(
    args: &[String],
    command: &Command,
    secrets: &[pb::SecretEnv],
    mounts: &mut Vec<RunMount>,
) -> Result<Vec<String>, String> {
    let mut prefix = String::new();
    for (index, secret) in secrets.iter().enumerate() {
        let name = &secret.name;
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "--mount type=secret,env={name}: not a valid environment variable name"
            ));
        }
        let path = format!("{SECRET_ENV_DIR}/{index}");
        mounts.push(RunMount {
            target: path.clone(),
            source: None,
            selector: String::new(),
            readonly: false,
            no_output: false,
            kind: MountKind::Secret(pb::SecretOpt {
                id: secret.id.clone(),
                uid: 0,
                gid: 0,
                mode: 0o444,
                optional: secret.optional,
            }),
        });
        prefix.push_str(&format!(
            "if [ -f {path} ]; then {name}=\"$(cat {path}; printf x)\"; {name}=\"${{{name}%x}}\"; export {name}; fi; "
        ));
    }
    match command {
        Command::Shell { .. } => {
            let posix_shell = args.len() >= 3
                && args[args.len() - 2] == "-c"
                && ["sh", "bash", "ash", "dash", "ksh", "zsh"]
                    .contains(&args[0].rsplit('/').next().unwrap_or(""));
            if !posix_shell {
                return Err(format!(
                    "--mount type=secret,env= with SHELL {:?} needs a BuildKit with exec.secretenv (v0.13 or later): use a POSIX shell, mount the secret as a file, or use --backend engine",
                    &args[..args.len().saturating_sub(1)]
                ));
            }
            let mut out = args.to_vec();
            let script = out.pop().unwrap_or_default();
            out.push(format!("{prefix}{script}"));
            Ok(out)
        }
        Command::Exec { .. } => {
            let mut out = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("{prefix}exec \"$@\""),
                "sh".to_string(),
            ];
            out.extend(args.iter().cloned());
            Ok(out)
        }
    }
}

/// The exec op with `root` at `/` and `mounts`; returns the op and its inputs.
pub fn exec_op(
    root: Option<Output>,
    meta: pb::Meta,
    mounts: Vec<RunMount>,
    secret_env: Vec<pb::SecretEnv>,
) -> (pb::ExecOp, Vec<Output>) {
    let root_mount = RunMount {
        target: "/".to_string(),
        source: root,
        selector: String::new(),
        readonly: false,
        no_output: false,
        kind: MountKind::Bind,
    };
    // Secret and ssh mounts go last, in their own order (BuildKit's `ExecOp.Marshal`).
    let (mut secrets, mut ordered): (Vec<RunMount>, Vec<RunMount>) = std::iter::once(root_mount)
        .chain(mounts)
        .partition(|m| matches!(m.kind, MountKind::Secret(_) | MountKind::Ssh(_)));
    secrets.sort_by_key(|m| matches!(m.kind, MountKind::Ssh(_)));
    ordered.sort_by(|a, b| a.target.cmp(&b.target));
    let mut inputs: Vec<Output> = Vec::new();
    let mut out_index = 0;
    let mut pb_mounts = Vec::new();
    for mount in ordered {
        let input = match mount.source {
            Some(source) => match inputs.iter().position(|i| *i == source) {
                Some(at) => at as i64,
                None => {
                    inputs.push(source);
                    (inputs.len() - 1) as i64
                }
            },
            None => -1,
        };
        let has_output = !mount.no_output
            && !mount.readonly
            && !matches!(
                mount.kind,
                MountKind::Cache { .. } | MountKind::Tmpfs { .. }
            );
        let output = if has_output {
            out_index += 1;
            out_index - 1
        } else {
            -1
        };
        let mut pb_mount = pb::Mount {
            input,
            selector: mount.selector,
            dest: mount.target,
            output,
            readonly: mount.readonly,
            ..pb::Mount::default()
        };
        match mount.kind {
            MountKind::Bind => {}
            MountKind::Cache { id, sharing } => {
                pb_mount.mount_type = pb::MountType::Cache as i32;
                pb_mount.cache_opt = Some(pb::CacheOpt { id, sharing });
            }
            MountKind::Tmpfs { size } => {
                pb_mount.mount_type = pb::MountType::Tmpfs as i32;
                if size > 0 {
                    pb_mount.tmpfs_opt = Some(pb::TmpfsOpt { size });
                }
            }
            MountKind::Secret(_) | MountKind::Ssh(_) => {}
        }
        pb_mounts.push(pb_mount);
    }
    for secret in secrets {
        match secret.kind {
            MountKind::Secret(opt) => pb_mounts.push(pb::Mount {
                dest: secret.target,
                mount_type: pb::MountType::Secret as i32,
                secret_opt: Some(opt),
                ..pb::Mount::default()
            }),
            MountKind::Ssh(opt) => pb_mounts.push(pb::Mount {
                dest: secret.target,
                mount_type: pb::MountType::Ssh as i32,
                ssh_opt: Some(opt),
                ..pb::Mount::default()
            }),
            _ => {}
        }
    }
    let exec = pb::ExecOp {
        meta: Some(meta),
        mounts: pb_mounts,
        secretenv: secret_env,
        ..pb::ExecOp::default()
    };
    (exec, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_mounts_are_sorted_with_outputs_for_writable_binds_only() {
        use super::super::graph::{LlbGraph, Output};
        let mut graph = LlbGraph::default();
        let a = graph.add(pb::Op::default(), vec![], pb::OpMetadata::default());
        let b = graph.add(pb::Op::default(), vec![], pb::OpMetadata::default());
        let root = Output { node: a, index: 0 };
        let other = Output { node: b, index: 0 };
        let mounts = vec![
            RunMount {
                target: "/src".into(),
                source: Some(other),
                selector: "/app".into(),
                readonly: true,
                no_output: false,
                kind: MountKind::Bind,
            },
            RunMount {
                target: "/run/secrets/token".into(),
                source: None,
                selector: String::new(),
                readonly: false,
                no_output: false,
                kind: MountKind::Secret(pb::SecretOpt {
                    id: "token".into(),
                    mode: 0o400,
                    ..pb::SecretOpt::default()
                }),
            },
            RunMount {
                target: "/cache".into(),
                source: None,
                selector: String::new(),
                readonly: false,
                no_output: false,
                kind: MountKind::Cache {
                    id: "//cache".into(),
                    sharing: 0,
                },
            },
        ];
        let (exec, inputs) = exec_op(Some(root), pb::Meta::default(), mounts, vec![]);
        assert_eq!(inputs, vec![root, other]);
        let summary: Vec<(String, i64, i64, i32)> = exec
            .mounts
            .iter()
            .map(|m| (m.dest.clone(), m.input, m.output, m.mount_type))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("/".into(), 0, 0, 0),
                ("/cache".into(), -1, -1, pb::MountType::Cache as i32),
                ("/src".into(), 1, -1, 0),
                (
                    "/run/secrets/token".into(),
                    0,
                    0,
                    pb::MountType::Secret as i32
                ),
            ]
        );
    }
}
