//! `RUN`: an exec op on the stage's filesystem.
//!
//! Input: the command (shell or exec form, heredocs), `--mount`, `--network`, `--security` and
//! the stage state (environment with ARG values, working directory, user, SHELL).
//! Output: the exec op whose root output becomes the stage's filesystem, the entitlements it
//! needs, and the history entry (`RUN |n K=V ... cmd # buildkit`).
//! Invariant: BuildKit's `dispatchRun` and `ExecOp.Marshal`: mounts sorted by target with the
//! root first, inputs deduplicated, outputs only for writable non-cache mounts, secrets last;
//! build arguments reach the process through its environment and the proxy variables through
//! the exec's proxy settings, never through the image config.

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;
use planner::plan::{Command, Heredoc, Op};

use super::convert_copy::inline_file;
use super::convert_metadata::with_shell;
use super::convert_runmount::{run_mounts, MountKind, RunMount};
use super::convert_workdir::uppercase_command;
use super::dispatch::{Step, Translator};
use super::graph::Output;
use super::image::DEFAULT_PATH;
use super::op_metadata;
use super::state::StageState;
use super::words::display_text;

/// Where a RUN's `#!` heredoc script is mounted.
const PIPES_DIR: &str = "/dev/pipes/";

/// Translates `RUN`.
pub fn convert_run(
    t: &mut Translator<'_>,
    state: &mut StageState,
    step: Step<'_>,
) -> Result<(), String> {
    let Op::Run {
        command,
        mounts,
        network,
        security,
        heredocs,
    } = &step.instruction.op
    else {
        return Err("internal: not a RUN instruction".to_string());
    };
    let mut run_mounts = run_mounts(t, state, mounts)?;
    let args = match command {
        Command::Exec { args } => args.clone(),
        Command::Shell { script } => {
            let script = match heredoc_script(script, heredocs) {
                HeredocScript::Plain(script) => script,
                HeredocScript::File { name, body } => {
                    let file = inline_file(t, state, &name, body.into_bytes(), 0o755);
                    run_mounts.mounts.push(RunMount {
                        target: PIPES_DIR.to_string(),
                        source: Some(file),
                        selector: "/".to_string(),
                        readonly: true,
                        no_output: false,
                        kind: MountKind::Bind,
                    });
                    run_mounts.caps.push("exec.mount.bind");
                    run_mounts.caps.push("exec.mount.selector");
                    format!("{PIPES_DIR}{name}")
                }
            };
            with_shell(&state.image, &script)
        }
    };
    let network_mode = match network.as_deref() {
        None | Some("default") => pb::NetMode::Unset,
        Some("none") => pb::NetMode::None,
        Some("host") => {
            t.entitlement("network.host");
            pb::NetMode::Host
        }
        Some(other) => {
            return Err(format!(
                "unsupported network mode {other:?}: use default, none or host"
            ))
        }
    };
    let security_mode = match security.as_deref() {
        None | Some("sandbox") => pb::SecurityMode::Sandbox,
        Some("insecure") => {
            t.entitlement("security.insecure");
            pb::SecurityMode::Insecure
        }
        Some(other) => {
            return Err(format!(
                "unsupported security mode {other:?}: use sandbox or insecure"
            ))
        }
    };
    let mut env = state.env.clone();
    let mut caps: Vec<&str> = vec!["exec.meta.base"];
    if state.root.is_some() {
        caps.push("exec.mount.bind");
    }
    if t.has_cap("exec.meta.setsdefaultpath") {
        caps.push("exec.meta.setsdefaultpath");
    } else if !env.iter().any(|(key, _)| key == "PATH") {
        env.push(("PATH".to_string(), DEFAULT_PATH.to_string()));
    }
    let proxy = proxy_env(t.input.build_args);
    if proxy.is_some() {
        caps.push("exec.meta.proxyenv");
    }
    if network_mode != pb::NetMode::Unset {
        caps.push("exec.meta.network");
    }
    if security_mode != pb::SecurityMode::Sandbox {
        caps.push("exec.meta.security");
    }
    caps.extend(run_mounts.caps.iter().copied());
    let meta = pb::Meta {
        args: args.clone(),
        env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        cwd: state.dir.clone(),
        user: state.user.clone(),
        proxy_env: proxy,
        ..pb::Meta::default()
    };
    let mut secret_env = run_mounts.secret_env;
    let mut mounts = run_mounts.mounts;
    let mut meta = meta;
    if !secret_env.is_empty() && !t.has_cap("exec.secretenv") {
        meta.args = secret_env_through_files(&meta.args, command, &secret_env, &mut mounts)?;
        caps.push("exec.mount.secret");
        secret_env.clear();
    }
    let (exec, inputs) = exec_op(state.root, meta, mounts, secret_env);
    let exec = pb::ExecOp {
        network: network_mode as i32,
        security: security_mode as i32,
        ..exec
    };
    let op = pb::Op {
        op: Some(pb::op::Op::Exec(exec)),
        platform: t.platform(state),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let escape = t.plan().escape;
    let text = display_text(&step.instruction.text, &state.env, escape, true);
    let name = state.step_name(&uppercase_command(&text));
    caps.sort_unstable();
    caps.dedup();
    let metadata = op_metadata(&name, Some(&step.instruction.text), &caps, t.input.no_cache);
    let node = t.graph.add(op, inputs, metadata);
    t.record_step(node, state, step);
    state.root = Some(Output { node, index: 0 });
    let history = run_history(&args, &state.build_args, &state.env);
    state
        .image
        .commit_to_history(&format!("RUN {history}"), true, true);
    Ok(())
}

/// Where secrets exposed as environment variables are mounted when the daemon cannot set them
/// itself (under `/dev`, a tmpfs of the step's container, so nothing reaches the image).
const SECRET_ENV_DIR: &str = "/dev/.stageplan-secret-env";

/// `--mount=type=secret,env=NAME` on a daemon without `exec.secretenv` (BuildKit < v0.13): each
/// secret is mounted as a file readable by the step's user, and a POSIX shell sets the variable
/// to the file's exact bytes before the command runs. Shell-form commands get the assignments
/// in front of their script; exec-form ones run through `/bin/sh -c '... exec "$@"'`.
fn secret_env_through_files(
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

/// How a shell-form RUN with heredocs runs (the newer frontend's rules).
#[derive(Debug, PartialEq, Eq)]
enum HeredocScript {
    /// Hand this text to the shell.
    Plain(String),
    /// Mount this `#!` script and run it.
    File {
        /// The heredoc's name (the file name under `/dev/pipes/`).
        name: String,
        /// The script.
        body: String,
    },
}

fn heredoc_script(script: &str, heredocs: &[Heredoc]) -> HeredocScript {
    if heredocs.is_empty() {
        return HeredocScript::Plain(script.to_string());
    }
    if heredocs.len() == 1 && is_lone_heredoc(script) {
        let heredoc = &heredocs[0];
        if heredoc.body.starts_with("#!") {
            return HeredocScript::File {
                name: heredoc.name.clone(),
                body: heredoc.body.clone(),
            };
        }
        return HeredocScript::Plain(heredoc.body.clone());
    }
    let mut text = script.to_string();
    for heredoc in heredocs {
        text.push('\n');
        text.push_str(&heredoc.body);
        text.push_str(&heredoc.name);
    }
    HeredocScript::Plain(text)
}

/// Whether the whole command is one heredoc marker (`<<EOF`, `<<-"EOF"`, `3<<EOF`): BuildKit's
/// `^(\d*)<<(-?)\s*([^<]*)$` with a single word after it.
fn is_lone_heredoc(script: &str) -> bool {
    let rest = script.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    !rest.is_empty() && !rest.contains('<') && !rest.trim().contains(char::is_whitespace)
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
    let (secrets, mut ordered): (Vec<RunMount>, Vec<RunMount>) = std::iter::once(root_mount)
        .chain(mounts)
        .partition(|m| matches!(m.kind, MountKind::Secret(_)));
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
            MountKind::Secret(_) => {}
        }
        pb_mounts.push(pb_mount);
    }
    for secret in secrets {
        if let MountKind::Secret(opt) = secret.kind {
            pb_mounts.push(pb::Mount {
                dest: secret.target,
                mount_type: pb::MountType::Secret as i32,
                secret_opt: Some(opt),
                ..pb::Mount::default()
            });
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

/// The proxy settings from build arguments (case-insensitive names), as the frontend passes
/// them: to the process, not into the image or the cache key.
fn proxy_env(build_args: &BTreeMap<String, String>) -> Option<pb::ProxyEnv> {
    let mut proxy = pb::ProxyEnv::default();
    let mut any = false;
    for (key, value) in build_args {
        let slot = match key.to_ascii_lowercase().as_str() {
            "http_proxy" => &mut proxy.http_proxy,
            "https_proxy" => &mut proxy.https_proxy,
            "ftp_proxy" => &mut proxy.ftp_proxy,
            "no_proxy" => &mut proxy.no_proxy,
            "all_proxy" => &mut proxy.all_proxy,
            _ => continue,
        };
        *slot = value.clone();
        any = true;
    }
    any.then_some(proxy)
}

/// The frontend's `runCommandString`: `|n K=V ...` for the stage's ARGs (their values as the
/// environment has them), then the argv.
fn run_history(
    args: &[String],
    build_args: &[(String, Option<String>)],
    env: &[(String, String)],
) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (key, value) in build_args {
        let value = env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| value.clone())
            .unwrap_or_default();
        parts.push(format!("{key}={value}"));
    }
    if !parts.is_empty() {
        parts.insert(0, format!("|{}", parts.len()));
    }
    parts.extend(args.iter().cloned());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, body: &str) -> Heredoc {
        Heredoc {
            name: name.to_string(),
            body: body.to_string(),
            expand: true,
            fd: None,
        }
    }

    #[test]
    fn heredocs_follow_buildkit() {
        assert!(is_lone_heredoc("<<EOF"));
        assert!(is_lone_heredoc("<<-\"EOF\""));
        assert!(is_lone_heredoc("3<<EOF"));
        assert!(!is_lone_heredoc("cat <<EOF"));
        assert_eq!(
            heredoc_script("<<EOF", &[doc("EOF", "echo hi\n")]),
            HeredocScript::Plain("echo hi\n".into())
        );
        assert_eq!(
            heredoc_script("<<EOF", &[doc("EOF", "#!/bin/sh\necho hi\n")]),
            HeredocScript::File {
                name: "EOF".into(),
                body: "#!/bin/sh\necho hi\n".into()
            }
        );
        assert_eq!(
            heredoc_script("cat <<A > /x", &[doc("A", "a\n")]),
            HeredocScript::Plain("cat <<A > /x\na\nA".into())
        );
    }

    #[test]
    fn history_lists_build_args_with_environment_values() {
        let env = vec![("A".to_string(), "from-env".to_string())];
        let args = vec!["/bin/sh".to_string(), "-c".to_string(), "true".to_string()];
        let build_args = vec![
            ("A".to_string(), Some("1".to_string())),
            ("B".to_string(), None),
        ];
        assert_eq!(
            run_history(&args, &build_args, &env),
            "|2 A=from-env B= /bin/sh -c true"
        );
        assert_eq!(run_history(&args, &[], &env), "/bin/sh -c true");
    }

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
