//! The image configuration a stage builds up, instruction by instruction.
//!
//! Input: the base image's config (from the engine) and metadata instructions.
//! Output: the config every commit writes in full (RUNNER-NOTES P5: the engine merges the
//! container's own config into any field left empty, so nothing may be left implicit).
//! Invariant: plain data; `BTreeMap`s so hashing and printing are deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The PATH the engines' builders write into images that have none (RUNNER-NOTES P8).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A container health check as stored in an image config (durations in nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", script]`.
    pub test: Vec<String>,
    /// Time between checks, nanoseconds (0 = inherit).
    pub interval: i64,
    /// Time one check may take, nanoseconds.
    pub timeout: i64,
    /// Grace period after start, nanoseconds.
    pub start_period: i64,
    /// Interval during the start period, nanoseconds.
    pub start_interval: i64,
    /// Failures before unhealthy.
    pub retries: i64,
}

/// The fields of an image config the runner reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `KEY=VALUE` strings in order.
    pub env: Vec<String>,
    /// The default command; `None` when unset.
    pub cmd: Option<Vec<String>>,
    /// The entrypoint; `None` when unset.
    pub entrypoint: Option<Vec<String>>,
    /// The working directory ("" = `/`).
    pub working_dir: String,
    /// The user ("" = root).
    pub user: String,
    /// `port/proto` keys.
    pub exposed_ports: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The stop signal, "" when unset.
    pub stop_signal: String,
    /// Volume paths.
    pub volumes: Vec<String>,
    /// The shell for shell-form commands; empty = `/bin/sh -c`.
    pub shell: Vec<String>,
    /// The health check, if any.
    pub healthcheck: Option<Healthcheck>,
    /// ONBUILD triggers recorded for children.
    pub on_build: Vec<String>,
    /// Whether the exec-form Cmd/Entrypoint arguments are already escaped (Windows only).
    pub args_escaped: bool,
}

impl ImageConfig {
    /// The value of environment variable `name`, if set.
    pub fn env_get(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            let (key, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            (key == name).then_some(value)
        })
    }

    /// Sets `name` to `value`, replacing an existing entry in place or appending.
    pub fn env_set(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        for kv in self.env.iter_mut() {
            let key = kv.split_once('=').map(|(k, _)| k).unwrap_or(kv.as_str());
            if key == name {
                *kv = entry;
                return;
            }
        }
        self.env.push(entry);
    }

    /// Adds `PATH` with [`DEFAULT_PATH`] when the config has none, as the engines' builders do.
    pub fn ensure_path(&mut self) {
        if self.env_get("PATH").is_none() {
            self.env.push(format!("PATH={DEFAULT_PATH}"));
        }
    }

    /// The shell used for shell-form commands.
    pub fn shell_or_default(&self) -> Vec<String> {
        if self.shell.is_empty() {
            vec!["/bin/sh".to_string(), "-c".to_string()]
        } else {
            self.shell.clone()
        }
    }

    /// The environment as a map (later entries win), for word expansion.
    pub fn env_map(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .map(|kv| {
                let (key, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                (key.to_string(), value.to_string())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_set_replaces_in_place_and_appends() {
        let mut config = ImageConfig {
            env: vec!["A=1".into(), "B=2".into()],
            ..ImageConfig::default()
        };
        config.env_set("A", "x=y");
        config.env_set("C", "3");
        assert_eq!(config.env, vec!["A=x=y", "B=2", "C=3"]);
        assert_eq!(config.env_get("A"), Some("x=y"));
        config.ensure_path();
        assert_eq!(config.env[3], format!("PATH={DEFAULT_PATH}"));
        config.env_set("PATH", "/bin");
        config.ensure_path();
        assert_eq!(config.env_get("PATH"), Some("/bin"));
    }
}
