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

use super::convert_metadata::with_shell;
use super::convert_runmount::{run_mounts, MountKind, RunMount, RunMounts};
use super::convert_workdir::uppercase_command;
use super::exec::{exec_op, secret_env_through_files};
use super::file_actions::inline_file;
use super::graph::Output;
use super::image::DEFAULT_PATH;
use super::ops::op_metadata;
use super::state::StageState;
use super::translator::{Step, Translator};
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
    let args = run_args(t, state, command, heredocs, &mut run_mounts);
    // `RUN --network=default` (or none given) takes the build's `--network`.
    let network = network
        .as_deref()
        .filter(|n| *n != "default")
        .or(t.input.network);
    let (network_mode, security_mode) = modes(t, network, security.as_deref())?;
    let mut caps: Vec<&str> = vec!["exec.meta.base"];
    if state.root.is_some() {
        caps.push("exec.mount.bind");
    }
    let mut env = state.env.clone();
    if let Some(socket) = &run_mounts.ssh_auth_sock {
        if !env.iter().any(|(key, _)| key == "SSH_AUTH_SOCK") {
            env.push(("SSH_AUTH_SOCK".to_string(), socket.clone()));
        }
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
    let mut meta = pb::Meta {
        args: args.clone(),
        env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        cwd: state.dir.clone(),
        user: state.user.clone(),
        proxy_env: proxy,
        hostname: sandbox_hostname(t),
        extra_hosts: t
            .input
            .add_hosts
            .iter()
            .filter_map(|entry| entry.split_once(':'))
            .map(|(host, ip)| pb::HostIp {
                host: host.to_string(),
                ip: ip.to_string(),
            })
            .collect(),
        ..pb::Meta::default()
    };
    let mut secret_env = run_mounts.secret_env;
    let mut mounts = run_mounts.mounts;
    if !secret_env.is_empty() && !t.has_cap("exec.secretenv") {
        meta.args = secret_env_through_files(&meta.args, command, &secret_env, &mut mounts)?;
        caps.push("exec.mount.secret");
        secret_env.clear();
    }
    let (exec, inputs) = exec_op(state.root, meta, mounts, secret_env);
    let op = pb::Op {
        op: Some(pb::op::Op::Exec(pb::ExecOp {
            network: network_mode as i32,
            security: security_mode as i32,
            ..exec
        })),
        platform: t.platform(state),
        constraints: Some(pb::WorkerConstraints::default()),
        ..pb::Op::default()
    };
    let text = display_text(&step.instruction.text, &state.env, t.plan().escape, true);
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

/// The process argv: the exec form as is; the shell form through SHELL, with heredocs as the
/// newer frontend runs them (a `#!` script is mounted at `/dev/pipes/`).
fn run_args(
    t: &mut Translator<'_>,
    state: &StageState,
    command: &Command,
    heredocs: &[Heredoc],
    run_mounts: &mut RunMounts,
) -> Vec<String> {
    let script = match command {
        Command::Exec { args } => return args.clone(),
        Command::Shell { script } => script,
    };
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

/// The build argument `BUILDKIT_SANDBOX_HOSTNAME`: the host name of every RUN, as current
/// BuildKit's frontend sets it (BuildKit v0.8's ignores it; the project follows current BuildKit
/// there, as the engine backend does); empty for BuildKit's default (`buildkitsandbox`).
fn sandbox_hostname(t: &Translator<'_>) -> String {
    t.input
        .build_args
        .get("BUILDKIT_SANDBOX_HOSTNAME")
        .cloned()
        .unwrap_or_default()
}

/// `--network` and `--security`, noting the entitlements they need.
fn modes(
    t: &mut Translator<'_>,
    network: Option<&str>,
    security: Option<&str>,
) -> Result<(pb::NetMode, pb::SecurityMode), String> {
    let network = match network {
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
    let security = match security {
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
    Ok((network, security))
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
}
