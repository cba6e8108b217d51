//! What one RUN executes in the stage's current state (the argv through the stage's SHELL or a
//! heredoc, the environment, working directory, user, host name, network, privilege, a `#!`
//! script) and its cache key, which covers exactly that.
//!
//! Input: the RUN instruction's parts, the stage state (config, ARGs, key), the build arguments,
//! the resolved mounts' key parts.
//! Output: an [`Execution`] and the step's [`KeyBuilder`].
//! Invariant: nothing here touches the engine (a warm build predicts a RUN's key ahead with it);
//! the process sees the stage's ENV, then its ARGs (those ENV does not override), then the proxy
//! build arguments, which only reach the key when declared with ARG.

use planner::plan::{Command, Heredoc, Instruction, Op, Source};

use crate::exec::cache::KeyBuilder;
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::StageState;
use crate::steps::mounts::PIPES_DIR;

/// The build arguments BuildKit passes to every RUN without an ARG (either case).
const PROXY_ARGS: [&str; 5] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// What one RUN executes.
pub(super) struct Execution {
    pub(super) argv: Vec<String>,
    pub(super) env: Vec<String>,
    pub(super) working_dir: String,
    pub(super) user: String,
    pub(super) hostname: String,
    pub(super) network: Option<String>,
    pub(super) privileged: bool,
    /// A `#!` heredoc to mount as an executable file at [`PIPES_DIR`].
    pub(super) script: Option<(String, String)>,
}

/// The parts of a RUN instruction its execution and key are made from.
pub(super) struct RunParts<'a> {
    command: &'a Command,
    heredocs: &'a [Heredoc],
    network: &'a Option<String>,
    security: &'a Option<String>,
    pub(super) mount_specs: &'a [planner::plan::Mount],
}

impl<'a> RunParts<'a> {
    /// Whether the RUN asks to run privileged (`--security=insecure`).
    pub(super) fn privileged(&self) -> bool {
        self.security.as_deref() == Some("insecure")
    }

    /// The parts of `instruction`, if it is a RUN.
    pub(super) fn of(instruction: &'a Instruction) -> Option<RunParts<'a>> {
        let Op::Run {
            command,
            mounts,
            network,
            security,
            heredocs,
        } = &instruction.op
        else {
            return None;
        };
        Some(RunParts {
            command,
            heredocs,
            network,
            security,
            mount_specs: mounts,
        })
    }
}

/// What a RUN executes in the stage's current state, and its key: exactly what it executes
/// (`mount_key_parts` are the resolved mounts' parts of it).
pub(super) fn execution_and_key(
    ctx: &Ctx,
    state: &StageState,
    parts: RunParts<'_>,
    mount_key_parts: &[String],
) -> (Execution, KeyBuilder) {
    let (argv, script) = command_line(
        parts.command,
        parts.heredocs,
        &state.config.shell_or_default(),
    );
    let (env, key_env) = environment(ctx, state);
    let execution = Execution {
        argv,
        env,
        working_dir: if state.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            state.config.working_dir.clone()
        },
        user: state.config.user.clone(),
        hostname: ctx.sandbox_hostname(),
        // `RUN --network=default` (or none given) takes the build's `--network`.
        network: parts
            .network
            .clone()
            .filter(|n| n != "default")
            .or_else(|| ctx.options.network.clone()),
        privileged: parts.privileged(),
        script,
    };
    let mount_labels: Vec<String> = parts
        .mount_specs
        .iter()
        .enumerate()
        .map(|(index, mount)| match &mount.from {
            Some(Source::Stage { stage }) => format!("stage:{stage}"),
            _ => index.to_string(),
        })
        .collect();
    let key = state
        .key
        .step("run")
        .list("argv", &execution.argv)
        .labelled_list("env", &key_env, |_, item| {
            let name = item.split('=').next().unwrap_or(item);
            match state.config.env_get(name) {
                Some(_) => format!("env:{name}"),
                None => format!("arg:{name}"),
            }
        })
        .text("workdir", &execution.working_dir)
        .text("user", &execution.user)
        .text("hostname", &execution.hostname)
        .optional("network", execution.network.as_deref())
        .flag("privileged", execution.privileged)
        .optional(
            "script",
            execution.script.as_ref().map(|(_, body)| body.as_str()),
        )
        .labelled_list("mounts", mount_key_parts, |index, _| {
            mount_labels.get(index).cloned().unwrap_or_default()
        });
    // `--add-host` entries are part of what runs (BuildKit keys them with the exec); a build
    // without them keeps the keys it always had.
    let key = if ctx.options.add_hosts.is_empty() {
        key
    } else {
        key.list("hosts", &ctx.options.add_hosts)
    };
    (execution, key)
}

/// The process environment of a RUN, and the part of it its cache key covers.
fn environment(ctx: &Ctx, state: &StageState) -> (Vec<String>, Vec<String>) {
    let mut env = state.config.env.clone();
    for (name, value) in state.run_args() {
        // An ARG set after the ENV of its name replaces it (BuildKit's build environment).
        let entry = format!("{name}={value}");
        match env
            .iter_mut()
            .find(|kv| kv.split('=').next() == Some(name.as_str()))
        {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
    let key_env = env.clone();
    // Proxy build arguments reach every RUN (in both cases, the lower-case value winning);
    // declared with ARG they are already in `env` and in the key.
    for name in PROXY_ARGS {
        let lower = name.to_ascii_lowercase();
        let value = ctx
            .build_args
            .get(&lower)
            .or_else(|| ctx.build_args.get(name))
            .cloned();
        if let Some(value) = value {
            for key in [name.to_string(), lower] {
                if !env
                    .iter()
                    .any(|kv| kv.split('=').next() == Some(key.as_str()))
                {
                    env.push(format!("{key}={value}"));
                }
            }
        }
    }
    (env, key_env)
}

/// The process argv of a RUN, and the script file to mount for a `#!` heredoc.
///
/// Shell form goes through the stage's SHELL; a lone heredoc runs its body (as a file when it
/// starts with `#!`), other heredocs are put back into the script for the shell (BuildKit's
/// rules). Exec form is the argv as written.
pub fn command_line(
    command: &Command,
    heredocs: &[Heredoc],
    shell: &[String],
) -> (Vec<String>, Option<(String, String)>) {
    match command {
        Command::Exec { args } => (args.clone(), None),
        Command::Shell { script } => {
            let lone_heredoc = heredocs.len() == 1 && is_lone_heredoc(script, &heredocs[0].name);
            if lone_heredoc && heredocs[0].body.starts_with("#!") {
                let name = heredocs[0].name.clone();
                let argv = vec![format!("{PIPES_DIR}/{name}")];
                return (argv, Some((name, heredocs[0].body.clone())));
            }
            let body = if lone_heredoc {
                heredocs[0].body.clone()
            } else {
                let mut text = script.clone();
                for heredoc in heredocs {
                    text.push('\n');
                    text.push_str(&heredoc.body);
                    text.push_str(&heredoc.name);
                }
                text
            };
            let mut argv = shell.to_vec();
            argv.push(body);
            (argv, None)
        }
    }
}

/// Whether a RUN script is nothing but `<<NAME` (any of `<<-`, quotes).
fn is_lone_heredoc(script: &str, name: &str) -> bool {
    let rest = script.trim();
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    rest.trim_matches(|c| c == '"' || c == '\'') == name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    #[test]
    fn shell_and_exec_forms() {
        let command = Command::Shell {
            script: "echo $V".into(),
        };
        assert_eq!(
            command_line(&command, &[], &sh()).0,
            vec!["/bin/sh", "-c", "echo $V"]
        );
        let command = Command::Exec {
            args: vec!["ls".into(), "/".into()],
        };
        assert_eq!(command_line(&command, &[], &sh()).0, vec!["ls", "/"]);
    }

    #[test]
    fn heredocs_follow_buildkit() {
        let doc = |name: &str, body: &str| Heredoc {
            name: name.into(),
            body: body.into(),
            expand: true,
            fd: None,
        };
        let lone = Command::Shell {
            script: "<<EOF".into(),
        };
        let (argv, file) = command_line(&lone, &[doc("EOF", "echo hi\n")], &sh());
        assert_eq!(argv, vec!["/bin/sh", "-c", "echo hi\n"]);
        assert!(file.is_none());
        let (argv, file) = command_line(&lone, &[doc("EOF", "#!/bin/sh\necho hi\n")], &sh());
        assert_eq!(argv, vec![format!("{PIPES_DIR}/EOF")]);
        assert_eq!(file.unwrap().0, "EOF");
        let piped = Command::Shell {
            script: "cat <<EOF > /x".into(),
        };
        let (argv, _) = command_line(&piped, &[doc("EOF", "a\n")], &sh());
        assert_eq!(argv[2], "cat <<EOF > /x\na\nEOF");
    }
}
