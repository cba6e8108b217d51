//! The instructions that only change the image config or the LLB environment: ENV, ARG, LABEL,
//! USER, EXPOSE, CMD, ENTRYPOINT, SHELL, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER.
//!
//! Input: one such instruction and the stage state.
//! Output: the changed config and environment, and the history entry the frontend writes.
//! Invariant: no op is added; words are expanded with the stage's LLB environment exactly where
//! the frontend expands them (ENV, ARG, LABEL, USER, VOLUME, STOPSIGNAL; EXPOSE splits words).

use planner::plan::{Command, HealthTest, Op};

use super::image::{Empty, HealthConfig, Image};
use super::state::StageState;
use super::translator::{Step, Translator};
use super::values::{duration_flag, go_duration, go_quote, go_quote_list, parse_port_specs};
use super::words::{expand_word, expand_words};

/// Applies a metadata instruction.
pub fn convert_metadata(
    t: &mut Translator<'_>,
    state: &mut StageState,
    step: Step<'_>,
) -> Result<(), String> {
    let escape = t.plan().escape;
    let expand = |word: &str, state: &StageState| expand_word(word, &state.env, escape);
    match &step.instruction.op {
        Op::Env { pairs } => {
            // Every pair is expanded with the environment from before the instruction
            // (`ENV A=1 B=$A` gives B the A from before), as the frontend expands the whole
            // instruction at once.
            let mut expanded = Vec::with_capacity(pairs.len());
            for pair in pairs {
                expanded.push((expand(&pair.key, state)?, expand(&pair.value, state)?));
            }
            let mut message = String::from("ENV");
            for (key, value) in expanded {
                message.push_str(&format!(" {key}={value}"));
                state.env_add(&key, &value);
                state.image.config.env_set(&key, &value);
            }
            state.image.commit_to_history(&message, false, false);
        }
        Op::Arg { args } => apply_args(t, state, args)?,
        Op::Label { pairs } => {
            let mut message = String::from("LABEL");
            for pair in pairs {
                let key = expand(&pair.key, state)?;
                let value = expand(&pair.value, state)?;
                message.push_str(&format!(" {key}={value}"));
                state.image.config.labels.insert(key, value);
            }
            state.image.commit_to_history(&message, false, false);
        }
        Op::User { user } => {
            let user = expand(user, state)?;
            state.user = user.clone();
            state.image.config.user = user.clone();
            state
                .image
                .commit_to_history(&format!("USER {user}"), false, false);
        }
        Op::Expose { ports } => {
            let mut words = Vec::new();
            for port in ports {
                words.extend(expand_words(port, &state.env, escape)?);
            }
            let keys = parse_port_specs(&words)?;
            for key in &keys {
                state
                    .image
                    .config
                    .exposed_ports
                    .insert(key.clone(), Empty {});
            }
            let listed: Vec<String> = keys.iter().map(|k| format!("{k}:{{}}")).collect();
            state.image.commit_to_history(
                &format!("EXPOSE map[{}]", listed.join(" ")),
                false,
                false,
            );
        }
        Op::Cmd { command } => {
            let args = command_args(command, &state.image);
            state.image.config.cmd = args.clone();
            state.image.config.args_escaped = t.input.compat.cmd_sets_args_escaped;
            state.cmd_set = true;
            state
                .image
                .commit_to_history(&format!("CMD {}", go_quote_list(&args)), false, false);
        }
        Op::Entrypoint { command } => {
            let args = command_args(command, &state.image);
            state.image.config.entrypoint = args.clone();
            if !state.cmd_set {
                state.image.config.cmd.clear();
            }
            state.image.commit_to_history(
                &format!("ENTRYPOINT {}", go_quote_list(&args)),
                false,
                false,
            );
        }
        Op::Shell { shell } => {
            state.image.config.shell = shell.clone();
            state
                .image
                .commit_to_history(&format!("SHELL [{}]", shell.join(" ")), false, false);
        }
        Op::Volume { paths } => {
            let mut volumes = Vec::new();
            for path in paths {
                let path = expand(path, state)?;
                if path.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
                volumes.push(path);
            }
            for volume in &volumes {
                state.image.config.volumes.insert(volume.clone(), Empty {});
            }
            state
                .image
                .commit_to_history(&format!("VOLUME [{}]", volumes.join(" ")), false, false);
        }
        Op::Stopsignal { signal } => {
            let signal = expand(signal, state)?;
            planner::check_signal(&signal)?;
            state.image.config.stop_signal = signal.clone();
            state
                .image
                .commit_to_history(&format!("STOPSIGNAL {signal}"), false, false);
        }
        Op::Healthcheck {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let health = HealthConfig {
                test: match test {
                    HealthTest::None => vec!["NONE".to_string()],
                    HealthTest::Shell { script } => vec!["CMD-SHELL".to_string(), script.clone()],
                    HealthTest::Exec { args } => {
                        let mut test = vec!["CMD".to_string()];
                        test.extend(args.iter().cloned());
                        test
                    }
                },
                interval: duration_flag("interval", interval.as_deref())?,
                timeout: duration_flag("timeout", timeout.as_deref())?,
                start_period: duration_flag("start-period", start_period.as_deref())?,
                start_interval: duration_flag("start-interval", start_interval.as_deref())?,
                retries: retries_flag(retries.as_deref())?,
            };
            let message = format!("HEALTHCHECK {}", health_history(&health));
            state.image.config.healthcheck = Some(health);
            state.image.commit_to_history(&message, false, false);
        }
        Op::Onbuild { trigger } => state.image.config.on_build.push(trigger.clone()),
        Op::Maintainer { name } => {
            state.image.author = name.clone();
            state
                .image
                .commit_to_history(&format!("MAINTAINER {name}"), false, false);
        }
        Op::Run { .. } | Op::Copy(_) | Op::Add(_) | Op::Workdir { .. } => {
            return Err("internal: not a metadata instruction".to_string())
        }
    }
    Ok(())
}

/// `ARG name[=default] ...`: each value (build argument, else the expanded default, else the
/// global or predefined value) joins the LLB environment, not the image config.
fn apply_args(
    t: &Translator<'_>,
    state: &mut StageState,
    args: &[planner::plan::ArgDecl],
) -> Result<(), String> {
    let escape = t.plan().escape;
    let mut parts = Vec::new();
    for decl in args {
        let name = expand_word(&decl.name, &state.env, escape)?;
        // The frontend's `dispatchArg`: a build argument is taken as given and the default is
        // then never expanded (so `${FOO:?…}` in it cannot fail); the history shows the value.
        let value = match (t.input.build_args.get(&name), &decl.default) {
            (Some(given), _) => Some(given.clone()),
            (None, Some(default)) => Some(expand_word(default, &state.env, escape)?),
            (None, None) => meta_arg(t, &name),
        };
        parts.push(match &value {
            Some(value) => format!("{name}={value}"),
            None => name.clone(),
        });
        if let Some(value) = &value {
            state.env_add(&name, value);
        }
        state.build_args.push((name, value));
    }
    state
        .image
        .commit_to_history(&format!("ARG {}", parts.join(" ")), false, false);
    Ok(())
}

/// `HEALTHCHECK --retries=N`: a whole, non-negative number (0 when absent).
fn retries_flag(text: Option<&str>) -> Result<i64, String> {
    let Some(text) = text else {
        return Ok(0);
    };
    let value: i64 = text
        .parse()
        .map_err(|_| format!("invalid --retries value {text:?}: use a whole number"))?;
    if value < 0 {
        return Err("--retries cannot be negative".to_string());
    }
    Ok(value)
}

/// The value of a global or predefined ARG: the later declaration with a value wins; one
/// without a value keeps what came before (current BuildKit's buildMetaArgs).
fn meta_arg(t: &Translator<'_>, name: &str) -> Option<String> {
    let plan = t.plan();
    let mut value = plan.predefined_args.get(name).cloned();
    for global in &plan.global_args {
        if global.name == name && global.value.is_some() {
            value = global.value.clone();
        }
    }
    value
}

/// The argv of CMD/ENTRYPOINT: the exec form as is, the shell form through the image's SHELL.
pub fn command_args(command: &Command, image: &Image) -> Vec<String> {
    match command {
        Command::Exec { args } => args.clone(),
        Command::Shell { script } => with_shell(image, script),
    }
}

/// The frontend's `withShell`: the SHELL (default `/bin/sh -c`) and the script.
pub fn with_shell(image: &Image, script: &str) -> Vec<String> {
    let mut args = if image.config.shell.is_empty() {
        if image.os == "windows" {
            vec!["cmd".to_string(), "/S".to_string(), "/C".to_string()]
        } else {
            vec!["/bin/sh".to_string(), "-c".to_string()]
        }
    } else {
        image.config.shell.clone()
    };
    args.push(script.to_string());
    args
}

/// The history text of a health check (Go's `%q` of the frontend's `HealthConfig`).
fn health_history(health: &HealthConfig) -> String {
    format!(
        "&{{{} {} {} {} {}}}",
        go_quote_list(&health.test),
        go_quote(&go_duration(health.interval)),
        go_quote(&go_duration(health.timeout)),
        go_quote(&go_duration(health.start_period)),
        format_args!("'\\x{:02x}'", health.retries)
    )
}
