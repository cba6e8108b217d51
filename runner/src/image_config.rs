//! The image configuration a stage builds up, instruction by instruction.
//!
//! Input: the base image's config (from the engine) and metadata instructions.
//! Output: the config every commit writes in full (the engine merges the container's own
//! config into any field left empty, so nothing may be left implicit), and the exact image
//! JSON of a finished target ([`image_json`]), written the way BuildKit writes it: every
//! empty list, map or string left out.
//! Invariant: plain data; `BTreeMap`s so hashing and printing are deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The PATH the engines' builders write into images that have none (BuildKit adds it too).
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
    /// The image's author (`MAINTAINER`); image-level, not part of the container config.
    #[serde(default)]
    pub author: String,
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

/// One entry of an image's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// RFC 3339 time.
    pub created: String,
    /// The instruction that made it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// A comment.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// True when the entry made no layer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// What an image is made of besides its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFrame {
    /// `linux`.
    pub os: String,
    /// `amd64`.
    pub architecture: String,
    /// `v8`, or empty.
    pub variant: String,
    /// The digests of its uncompressed layers, bottom first.
    pub diff_ids: Vec<String>,
    /// Its history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// RFC 3339 creation time.
    pub created: String,
}

/// The image JSON (the `docker save`/OCI config document) of an image with `config`, in
/// BuildKit's shape: field order as BuildKit writes it, empty values left out (an image
/// inspect shows them as null), `OnBuild` always written.
pub fn image_json(config: &ImageConfig, frame: &ImageFrame) -> Vec<u8> {
    use serde_json::{json, Map, Value};
    let mut c = Map::new();
    let mut put = |key: &str, value: Value| {
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Bool(b) => !b,
            Value::Number(_) => false,
        };
        if !empty {
            c.insert(key.to_string(), value);
        }
    };
    let set = |items: &[String]| -> Value {
        Value::Object(items.iter().map(|k| (k.clone(), json!({}))).collect())
    };
    put("User", json!(config.user));
    put("ExposedPorts", set(&config.exposed_ports));
    put("Env", json!(config.env));
    put("Entrypoint", json!(config.entrypoint));
    put("Cmd", json!(config.cmd));
    put("Volumes", set(&config.volumes));
    put("WorkingDir", json!(config.working_dir));
    put("Labels", json!(config.labels));
    put("StopSignal", json!(config.stop_signal));
    if let Some(health) = &config.healthcheck {
        let mut h = Map::new();
        h.insert("Test".into(), json!(health.test));
        for (key, value) in [
            ("Interval", health.interval),
            ("Timeout", health.timeout),
            ("StartPeriod", health.start_period),
            ("StartInterval", health.start_interval),
        ] {
            if value != 0 {
                h.insert(key.into(), json!(value));
            }
        }
        if health.retries != 0 {
            h.insert("Retries".into(), json!(health.retries));
        }
        put("Healthcheck", Value::Object(h));
    }
    put("ArgsEscaped", json!(config.args_escaped));
    put("Shell", json!(config.shell));
    // BuildKit's struct has no omitempty on OnBuild.
    let on_build = if config.on_build.is_empty() {
        Value::Null
    } else {
        json!(config.on_build)
    };
    c.insert("OnBuild".into(), on_build);
    let mut image = Map::new();
    image.insert("created".into(), json!(frame.created));
    if !config.author.is_empty() {
        image.insert("author".into(), json!(config.author));
    }
    image.insert("architecture".into(), json!(frame.architecture));
    if !frame.variant.is_empty() {
        image.insert("variant".into(), json!(frame.variant));
    }
    image.insert("os".into(), json!(frame.os));
    image.insert("config".into(), Value::Object(c));
    image.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": frame.diff_ids}),
    );
    if !frame.history.is_empty() {
        image.insert("history".into(), json!(frame.history));
    }
    serde_json::to_vec(&Value::Object(image)).unwrap_or_default()
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

    #[test]
    fn image_json_leaves_empty_values_out_like_buildkit() {
        let config = ImageConfig {
            env: vec!["PATH=/bin".into()],
            cmd: Some(vec!["sh".into()]),
            working_dir: "/app/".into(),
            exposed_ports: vec!["80/tcp".into()],
            ..ImageConfig::default()
        };
        let frame = ImageFrame {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: String::new(),
            diff_ids: vec!["sha256:aa".into()],
            history: vec![],
            created: "2026-01-01T00:00:00Z".into(),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&image_json(&config, &frame)).expect("json");
        assert_eq!(
            json["config"],
            serde_json::json!({"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/app/",
                "ExposedPorts": {"80/tcp": {}}, "OnBuild": null})
        );
        assert_eq!(json["rootfs"]["diff_ids"][0], "sha256:aa");
        let with_health = ImageConfig {
            healthcheck: Some(Healthcheck {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval: 30_000_000_000,
                start_interval: 2_000_000_000,
                ..Healthcheck::default()
            }),
            ..ImageConfig::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&image_json(&with_health, &frame)).expect("json");
        assert_eq!(
            json["config"]["Healthcheck"],
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000i64,
                "StartInterval": 2_000_000_000i64})
        );
        assert!(json.get("history").is_none() && json.get("variant").is_none());
    }
}
