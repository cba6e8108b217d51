//! Metadata instructions (ENV, ARG, LABEL, USER, EXPOSE, CMD, ENTRYPOINT, SHELL, VOLUME,
//! STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER): folded into the stage's config, as a pure
//! function any backend can use ([`apply`]), and into the engine backend's stage state ([`fold`]).
//!
//! Input: one metadata instruction, the stage's config and ARGs in scope, where ARG values come
//! from ([`ArgSources`]), the plan's escape character.
//! Output: the changed config and ARGs, and the resolved values (for the step's cache key).
//! Invariant: no I/O and no engine: the config reaches the image with the next commit (or the
//! target's final image); a folded stage's config is marked as not yet in its image.

use std::collections::BTreeMap;

use planner::plan::{Command, GlobalArg, HealthTest, Instruction, Op};

use crate::error::{RunnerError, StepError};
use crate::exec::ctx::Ctx;
use crate::exec::stage_state::{StageArgs, StageState};
use crate::image_config::{Healthcheck, ImageConfig};

/// Where a stage `ARG` without a build argument gets its value.
pub struct ArgSources<'a> {
    /// `--build-arg` values (the plan's, overridden by the command line).
    pub build_args: &'a BTreeMap<String, String>,
    /// The plan's global ARGs with their resolved values.
    pub global_args: &'a [GlobalArg],
    /// The predefined ARGs (`TARGETPLATFORM`, ...).
    pub predefined: &'a BTreeMap<String, String>,
}

/// Folds a metadata instruction into the stage's config and ARGs (`earlier`: the stage's
/// instructions before it).
pub fn fold(
    ctx: &Ctx,
    state: &mut StageState,
    instruction: &Instruction,
    earlier: &[&Instruction],
) -> crate::error::Result<()> {
    let sources = ArgSources {
        build_args: &ctx.build_args,
        global_args: &ctx.plan.global_args,
        predefined: &ctx.plan.predefined_args,
    };
    apply(
        &mut state.config,
        &mut state.args,
        instruction,
        earlier,
        &sources,
        ctx.plan.escape,
    )
    .map_err(|source| RunnerError::Instruction {
        stage: state.name.clone(),
        line: instruction.line,
        source,
    })?;
    state.config_dirty = true;
    Ok(())
}

/// Applies a metadata instruction to `config` and `args`; `earlier` are the instructions of the
/// stage before this one (an ENTRYPOINT keeps a CMD set earlier in the same stage). Returns the
/// resolved values for the cache key.
pub fn apply(
    config: &mut ImageConfig,
    args: &mut StageArgs,
    instruction: &Instruction,
    earlier: &[&Instruction],
    sources: &ArgSources<'_>,
    escape: char,
) -> Result<Vec<String>, StepError> {
    let vars = args.scope(config);
    let expand = |word: &str| {
        planner::expand::expand_word(word, &vars, escape)
            .map_err(|source| StepError::Expand { source })
    };
    let mut resolved: Vec<String> = Vec::new();
    match &instruction.op {
        Op::Env { pairs } => {
            for pair in pairs {
                let key = expand(&pair.key)?;
                let value = expand(&pair.value)?;
                resolved.push(format!("{key}={value}"));
                config.env_set(&key, &value);
                args.env_set(&key);
            }
        }
        Op::Arg { args: decls } => {
            for decl in decls {
                // Each ARG sees the ones declared before it on the same line.
                let scope = args.scope(config);
                let value =
                    arg_value(&decl.name, decl.default.as_deref(), sources, &scope, escape)?;
                match value {
                    Some(value) => {
                        resolved.push(format!("{}={value}", decl.name));
                        args.set(&decl.name, value);
                    }
                    None => {
                        resolved.push(decl.name.clone());
                        args.unset(&decl.name);
                    }
                }
            }
        }
        Op::Label { pairs } => {
            for pair in pairs {
                let key = expand(&pair.key)?;
                let value = expand(&pair.value)?;
                resolved.push(format!("{key}={value}"));
                config.labels.insert(key, value);
            }
        }
        Op::User { user } => {
            config.user = expand(user)?;
            resolved.push(config.user.clone());
        }
        Op::Expose { ports } => {
            for word in ports {
                let words = planner::expand::expand_words(word, &vars, escape)
                    .map_err(|source| StepError::Expand { source })?;
                for spec in words {
                    for port in exposed_ports(&spec).map_err(StepError::Invalid)? {
                        resolved.push(port.clone());
                        if !config.exposed_ports.contains(&port) {
                            config.exposed_ports.push(port);
                        }
                    }
                }
            }
            config.exposed_ports.sort();
        }
        Op::Cmd { command } => {
            let argv = command_args(command, config);
            resolved.extend(argv.iter().cloned());
            config.cmd = Some(argv);
            // BuildKit marks CMD arguments as escaped (ENTRYPOINT leaves the flag as it is).
            config.args_escaped = true;
        }
        Op::Entrypoint { command } => {
            let argv = command_args(command, config);
            resolved.extend(argv.iter().cloned());
            config.entrypoint = Some(argv);
            // An ENTRYPOINT resets the CMD inherited from the base (Docker's rule).
            if !earlier.iter().any(|i| matches!(i.op, Op::Cmd { .. })) {
                config.cmd = None;
            }
        }
        Op::Shell { shell } => {
            resolved.extend(shell.iter().cloned());
            config.shell = shell.clone();
        }
        Op::Volume { paths } => {
            for path in paths {
                let path = expand(path)?;
                resolved.push(path.clone());
                if !config.volumes.contains(&path) {
                    config.volumes.push(path);
                }
            }
            config.volumes.sort();
        }
        Op::Stopsignal { signal } => {
            config.stop_signal = expand(signal)?;
            planner::check_signal(&config.stop_signal).map_err(StepError::Invalid)?;
            resolved.push(config.stop_signal.clone());
        }
        Op::Healthcheck {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let health = healthcheck(
                test,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            )?;
            resolved.extend(health.test.iter().cloned());
            resolved.push(format!(
                "{} {} {} {} {}",
                health.interval,
                health.timeout,
                health.start_period,
                health.start_interval,
                health.retries
            ));
            config.healthcheck = Some(health);
        }
        Op::Onbuild { trigger } => {
            resolved.push(trigger.clone());
            config.on_build.push(trigger.clone());
        }
        Op::Maintainer { name } => {
            resolved.push(name.clone());
            config.author = name.clone();
        }
        Op::Run { .. } | Op::Copy(_) | Op::Add(_) | Op::Workdir { .. } => {
            return Err(StepError::Invalid(format!(
                "{} is a filesystem step, not metadata",
                instruction.text
            )))
        }
    }
    Ok(resolved)
}

/// The value of a stage `ARG`: the build argument, else the default expanded with the stage's
/// variables, else the last global ARG of that name with a value, else the predefined value.
fn arg_value(
    name: &str,
    default: Option<&str>,
    sources: &ArgSources<'_>,
    scope: &BTreeMap<String, String>,
    escape: char,
) -> Result<Option<String>, StepError> {
    if let Some(value) = sources.build_args.get(name) {
        return Ok(Some(value.clone()));
    }
    if let Some(default) = default {
        return planner::expand::expand_word(default, scope, escape)
            .map(Some)
            .map_err(|source| StepError::Expand { source });
    }
    // The last global ARG of that name with a value; one without a value keeps what came before
    // (a predefined `TARGETOS` stays), as current BuildKit's buildMetaArgs reads them.
    if let Some(value) = sources
        .global_args
        .iter()
        .rev()
        .filter(|g| g.name == name)
        .find_map(|g| g.value.clone())
    {
        return Ok(Some(value));
    }
    Ok(sources.predefined.get(name).cloned())
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

/// The `port/proto` keys of one EXPOSE word, as BuildKit reads it (nat.ParsePortSpecs): a
/// protocol in lower case (`tcp` by default), ranges expanded, and of `ip:host:container` or
/// `host:container` only the container port kept.
pub fn exposed_ports(spec: &str) -> Result<Vec<String>, String> {
    let (port_part, proto) = match spec.rsplit_once('/') {
        Some((port, proto)) => (port, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    // An IPv6 address may be bracketed; the container port is always the last `:` part.
    let container = port_part.rsplit(':').next().unwrap_or(port_part);
    let parse = |text: &str| -> Result<u32, String> {
        text.parse::<u32>()
            .ok()
            .filter(|p| *p <= 65535)
            .ok_or_else(|| format!("invalid containerPort: {container}"))
    };
    let (start, end) = match container.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let port = parse(container)?;
            (port, port)
        }
    };
    if end < start {
        return Err(format!(
            "invalid range specified for container port: {container}"
        ));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// A HEALTHCHECK as stored in the image config.
fn healthcheck(
    test: &HealthTest,
    interval: &Option<String>,
    timeout: &Option<String>,
    start_period: &Option<String>,
    start_interval: &Option<String>,
    retries: &Option<String>,
) -> Result<Healthcheck, StepError> {
    let duration = |flag: &str, value: &Option<String>| -> Result<i64, StepError> {
        value.as_deref().map_or(Ok(0), |text| {
            parse_duration(text).ok_or_else(|| {
                StepError::Invalid(format!(
                    "HEALTHCHECK --{flag}={text}: not a duration (use e.g. 30s, 1m30s)"
                ))
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
    Ok(Healthcheck {
        test,
        interval: duration("interval", interval)?,
        timeout: duration("timeout", timeout)?,
        start_period: duration("start-period", start_period)?,
        start_interval: duration("start-interval", start_interval)?,
        retries: retries.as_deref().map_or(Ok(0), |r| {
            r.parse().map_err(|_| {
                StepError::Invalid(format!("HEALTHCHECK --retries={r}: not a whole number"))
            })
        })?,
    })
}

/// Parses a Go duration (`1h2m3.5s`, `300ms`) into nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = text.trim();
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
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

    #[test]
    fn expose_reads_ports_as_buildkit_does() {
        assert_eq!(exposed_ports("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(exposed_ports("82/TCP").unwrap(), vec!["82/tcp"]);
        assert_eq!(
            exposed_ports("127.0.0.1:80:8080").unwrap(),
            vec!["8080/tcp"]
        );
        assert_eq!(exposed_ports("8000:80/udp").unwrap(), vec!["80/udp"]);
        assert_eq!(
            exposed_ports("7000-7002").unwrap(),
            vec!["7000/tcp", "7001/tcp", "7002/tcp"]
        );
        assert!(exposed_ports("http").is_err());
        assert!(exposed_ports("80/xyz").is_err());
    }

    #[test]
    fn expose_splits_a_variable_into_several_ports() {
        let mut config = ImageConfig::default();
        config.env_set("P", "80 81/udp");
        let mut args = StageArgs::default();
        let instruction: Instruction = serde_json::from_value(serde_json::json!({
            "line": 3, "end_line": 3, "text": "EXPOSE $P 82/TCP", "kind": "expose",
            "ports": ["$P", "82/TCP"]
        }))
        .expect("instruction");
        let empty = BTreeMap::new();
        let sources = ArgSources {
            build_args: &empty,
            global_args: &[],
            predefined: &empty,
        };
        apply(&mut config, &mut args, &instruction, &[], &sources, '\\').expect("apply");
        assert_eq!(config.exposed_ports, vec!["80/tcp", "81/udp", "82/tcp"]);
    }
}
