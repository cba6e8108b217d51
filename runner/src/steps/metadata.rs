//! Metadata instructions (ENV, ARG, LABEL, USER, EXPOSE, CMD, ENTRYPOINT, SHELL, VOLUME,
//! STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER): folded into the stage's in-memory config.
//!
//! Input: one metadata instruction and the stage state (config, ARGs, key).
//! Output: the changed config and ARGs, and the next key (covering the resolved values).
//! Invariant: no engine call; the config reaches the image with the next commit.

use planner::plan::{Command, HealthTest, Instruction, Op, Stage};

use crate::error::{Result, RunnerError};
use crate::image_config::{Healthcheck, ImageConfig};
use crate::stage::{Ctx, StageState};
use crate::vars;

/// Applies a metadata instruction to the config and advances the key.
pub fn apply_metadata(
    ctx: &Ctx,
    state: &mut StageState,
    stage: &Stage,
    instruction: &Instruction,
) -> Result<()> {
    let escape = ctx.plan.escape;
    let vars = state.lookup_vars();
    let stage_name = state.name.clone();
    let expand = |word: &str| {
        vars::expand_word(word, &vars, escape).map_err(|message| RunnerError::Instruction {
            stage: stage_name.clone(),
            line: instruction.line,
            message,
        })
    };
    let mut resolved: Vec<String> = Vec::new();
    let config = &mut state.config.clone();
    match &instruction.op {
        Op::Env { pairs } => {
            for pair in pairs {
                let key = expand(&pair.key)?;
                let value = expand(&pair.value)?;
                config.env_set(&key, &value);
                resolved.push(format!("{key}={value}"));
            }
        }
        Op::Arg { args } => {
            for decl in args {
                let value = arg_value(ctx, &decl.name, decl.default.as_deref(), &expand)?;
                if let Some(value) = value {
                    resolved.push(format!("{}={value}", decl.name));
                    state.args.insert(decl.name.clone(), value);
                } else {
                    resolved.push(decl.name.clone());
                    state.args.remove(&decl.name);
                }
            }
        }
        Op::Label { pairs } => {
            for pair in pairs {
                config
                    .labels
                    .insert(expand(&pair.key)?, expand(&pair.value)?);
            }
        }
        Op::User { user } => config.user = expand(user)?,
        Op::Expose { ports } => {
            for port in ports {
                let port = expand(port)?;
                let port = if port.contains('/') {
                    port
                } else {
                    format!("{port}/tcp")
                };
                if !config.exposed_ports.contains(&port) {
                    config.exposed_ports.push(port);
                    config.exposed_ports.sort();
                }
            }
        }
        Op::Cmd { command } => config.cmd = Some(command_args(command, config)),
        Op::Entrypoint { command } => {
            config.entrypoint = Some(command_args(command, config));
            // An ENTRYPOINT resets the CMD inherited from the base (Docker's rule).
            if !stage_sets_cmd_before(stage, instruction) {
                config.cmd = None;
            }
        }
        Op::Shell { shell } => config.shell = shell.clone(),
        Op::Volume { paths } => {
            for path in paths {
                let path = expand(path)?;
                if !config.volumes.contains(&path) {
                    config.volumes.push(path);
                    config.volumes.sort();
                }
            }
        }
        Op::Stopsignal { signal } => config.stop_signal = expand(signal)?,
        Op::Healthcheck {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let duration = |d: &Option<String>| -> Result<i64> {
                d.as_deref().map_or(Ok(0), |text| {
                    parse_duration(text).ok_or_else(|| RunnerError::Instruction {
                        stage: stage_name.clone(),
                        line: instruction.line,
                        message: format!("bad duration {text:?} (use e.g. 30s, 1m30s)"),
                    })
                })
            };
            let test = match test {
                HealthTest::None => vec!["NONE".to_string()],
                HealthTest::Shell { script } => vec!["CMD-SHELL".to_string(), script.clone()],
                HealthTest::Exec { args } => {
                    let mut test = vec!["CMD".to_string()];
                    test.extend(args.iter().cloned());
                    test
                }
            };
            config.healthcheck = Some(Healthcheck {
                test,
                interval: duration(interval)?,
                timeout: duration(timeout)?,
                start_period: duration(start_period)?,
                start_interval: duration(start_interval)?,
                retries: retries.as_deref().map_or(Ok(0), |r| {
                    r.parse().map_err(|_| RunnerError::Instruction {
                        stage: stage_name.clone(),
                        line: instruction.line,
                        message: format!("bad --retries {r:?} (use a whole number)"),
                    })
                })?,
            });
        }
        Op::Onbuild { trigger } => config.on_build.push(trigger.clone()),
        Op::Maintainer { .. } => {}
        Op::Run { .. } | Op::Copy(_) | Op::Add(_) | Op::Workdir { .. } => {
            unreachable!("filesystem steps are dispatched before apply_metadata")
        }
    }
    let changed = *config != state.config;
    state.config = config.clone();
    state.config_dirty |= changed;
    let resolved = resolved.join("\n");
    state.key = state.key.next(&["meta", &instruction.text, &resolved]);
    ctx.progress.step_meta(&state.name, state.step);
    Ok(())
}

/// Whether a CMD precedes `instruction` in the same stage (then ENTRYPOINT keeps it).
fn stage_sets_cmd_before(stage: &Stage, instruction: &Instruction) -> bool {
    stage
        .instructions
        .iter()
        .take_while(|i| !std::ptr::eq(*i, instruction))
        .any(|i| matches!(i.op, Op::Cmd { .. }))
}

/// The value of a stage `ARG`: the build argument, else the expanded default, else the
/// global ARG or predefined value of that name.
fn arg_value(
    ctx: &Ctx,
    name: &str,
    default: Option<&str>,
    expand: &dyn Fn(&str) -> Result<String>,
) -> Result<Option<String>> {
    if let Some(value) = ctx.build_args.get(name) {
        return Ok(Some(value.clone()));
    }
    if let Some(default) = default {
        return expand(default).map(Some);
    }
    if let Some(global) = ctx.plan.global_args.iter().rev().find(|g| g.name == name) {
        return Ok(global.value.clone());
    }
    Ok(ctx.plan.predefined_args.get(name).cloned())
}

/// The argument vector of CMD/ENTRYPOINT: exec form as is, shell form through the shell.
pub fn command_args(command: &Command, config: &ImageConfig) -> Vec<String> {
    match command {
        Command::Exec { args } => args.clone(),
        Command::Shell { script } => {
            let mut args = config.shell_or_default();
            args.push(script.clone());
            args
        }
    }
}

/// Parses a Go duration (`1h2m3.5s`, `300ms`) into nanoseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = text.trim();
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("3x"), None);
    }
}
