//! The image configuration a stage builds up, in the JSON shape BuildKit's Dockerfile frontend
//! hands to the exporter (`containerimage.config`).
//!
//! Input: a base image's config JSON (from `ResolveImageConfig`), or nothing for `scratch`.
//! Output: [`Image`], serialized with the frontend's field order and its Go `omitempty` rules
//! (an unset `Cmd` is absent, `OnBuild` is always present and `null` when empty, maps have
//! sorted keys), so the engine stores the same config as for `docker build`.
//! Invariant: plain data; unknown fields of a base config are dropped, as the frontend's Go
//! structs drop them. This is the backend's one config module: the metadata instructions
//! change it through [`super::convert_metadata`], nothing else writes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The PATH BuildKit sets when an image has none (Linux).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The value type of `ExposedPorts` and `Volumes` (an empty JSON object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// An image (the OCI image config plus Docker's fields), as the frontend keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Creation time; the frontend clears the base's, the exporter sets the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<serde_json::Value>,
    /// `MAINTAINER`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Layers; the exporter replaces them.
    #[serde(default)]
    pub rootfs: RootFs,
    /// History entries; the base's, then one per instruction.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub history: Vec<History>,
    /// The runtime configuration.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: ImageConfig,
    /// CPU variant (`v8`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// The layers of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Uncompressed layer digests; `null` when there are none, as Go writes a nil slice.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub diff_ids: Vec<String>,
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran (kept as written for base entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<serde_json::Value>,
    /// The instruction.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// Author.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// `buildkit.dockerfile.v0` for the frontend's entries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The runtime part of an image config, with Docker's field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `USER`.
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `EXPOSE` as `port/proto` keys.
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// `KEY=VALUE` in order.
    #[serde(
        rename = "Env",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub env: Vec<String>,
    /// `ENTRYPOINT`.
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub entrypoint: Vec<String>,
    /// `CMD`.
    #[serde(
        rename = "Cmd",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub cmd: Vec<String>,
    /// `VOLUME` paths.
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub volumes: BTreeMap<String, Empty>,
    /// `WORKDIR`.
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// `LABEL`.
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    /// `HEALTHCHECK`.
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<HealthConfig>,
    /// Whether Cmd/Entrypoint are pre-escaped (set by `CMD` in BuildKit before v0.10).
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub args_escaped: bool,
    /// `ONBUILD` triggers; `null` when there are none (the frontend clears the base's).
    #[serde(
        rename = "OnBuild",
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub on_build: Vec<String>,
    /// Seconds to wait after the stop signal.
    #[serde(
        rename = "StopTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_timeout: Option<i64>,
    /// `SHELL`.
    #[serde(
        rename = "Shell",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub shell: Vec<String>,
}

/// A health check (durations in nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", script]`.
    #[serde(
        rename = "Test",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time one check may take.
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Grace period after start.
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Interval during the start period.
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Failures before unhealthy.
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn empty_as_null<S: Serializer>(value: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_empty() {
        serializer.serialize_none()
    } else {
        serializer.collect_seq(value)
    }
}

impl Image {
    /// Parses a base image's config as the frontend does (its `created` time dropped).
    pub fn from_base_config(bytes: &[u8]) -> Result<Image, serde_json::Error> {
        let mut image: Image = serde_json::from_slice(bytes)?;
        image.created = None;
        Ok(image)
    }

    /// The image of an empty stage (`FROM scratch`) for `os`/`architecture`/`variant`.
    pub fn empty(os: &str, architecture: &str, variant: &str) -> Image {
        Image {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.to_string(),
            rootfs: RootFs {
                kind: "layers".to_string(),
                diff_ids: Vec::new(),
            },
            config: ImageConfig {
                working_dir: "/".to_string(),
                env: vec![format!("PATH={DEFAULT_PATH}")],
                ..ImageConfig::default()
            },
            ..Image::default()
        }
    }

    /// Whether the image has no layer at all (the frontend then starts from scratch).
    pub fn has_no_layers(&self) -> bool {
        self.rootfs.diff_ids.is_empty() && self.history.iter().all(|h| h.empty_layer)
    }

    /// The JSON the exporter receives.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Dates the image and the history entries this build made (those without a time; a base
    /// image's keep theirs) with `SOURCE_DATE_EPOCH`, as the frontend's `commitToHistory` and
    /// the exporter do when it is set.
    pub fn date_new_entries(&mut self, seconds: i64) {
        let at = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(seconds.max(0) as u64);
        let time = serde_json::Value::String(humantime::format_rfc3339(at).to_string());
        for entry in self.history.iter_mut().filter(|h| h.created.is_none()) {
            entry.created = Some(time.clone());
        }
        self.created = Some(time);
    }

    /// Appends a history entry as the frontend's `commitToHistory` does; `with_state` adds the
    /// ` # buildkit` suffix of steps that ran through LLB.
    pub fn commit_to_history(&mut self, message: &str, with_layer: bool, with_state: bool) {
        let created_by = if with_state {
            format!("{message} # buildkit")
        } else {
            message.to_string()
        };
        self.history.push(History {
            created_by,
            comment: "buildkit.dockerfile.v0".to_string(),
            empty_layer: !with_layer,
            ..History::default()
        });
    }
}

impl ImageConfig {
    /// Sets `key` in Env, replacing the entry with that key in place, else appending.
    pub fn env_set(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        for existing in self.env.iter_mut() {
            let existing_key = existing
                .split_once('=')
                .map_or(existing.as_str(), |(k, _)| k);
            if existing_key == key {
                *existing = entry;
                return;
            }
        }
        self.env.push(entry);
    }

    /// Whether Env has `key`.
    pub fn env_has(&self, key: &str) -> bool {
        self.env
            .iter()
            .any(|entry| entry.split_once('=').map_or(entry.as_str(), |(k, _)| k) == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_like_the_frontend() {
        let mut image = Image::empty("linux", "amd64", "");
        image.config.cmd = vec!["sh".into()];
        image.config.exposed_ports.insert("80/tcp".into(), Empty {});
        let json: serde_json::Value = serde_json::from_slice(&image.to_json()).unwrap();
        assert_eq!(json["config"]["OnBuild"], serde_json::Value::Null);
        assert!(json["config"].get("Entrypoint").is_none());
        assert_eq!(
            json["config"]["ExposedPorts"]["80/tcp"],
            serde_json::json!({})
        );
        assert_eq!(json["rootfs"]["diff_ids"], serde_json::Value::Null);
        assert!(json.get("created").is_none());
        assert!(json.get("variant").is_none());
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert!(keys.contains(&&"architecture".to_string()));
    }

    #[test]
    fn reads_a_docker_image_config_and_drops_unknown_fields() {
        let base = br#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
            "config":{"Hostname":"","Env":["PATH=/bin","A=1"],"Cmd":null,"OnBuild":["RUN x"],
            "Labels":null,"WorkingDir":"/w","Healthcheck":{"Test":["CMD","true"],"Interval":5000000000}},
            "container_config":{"Cmd":["ignored"]},
            "rootfs":{"type":"layers","diff_ids":["sha256:abc"]},
            "history":[{"created":"2024-01-01T00:00:00Z","created_by":"x"}]}"#;
        let image = Image::from_base_config(base).unwrap();
        assert_eq!(image.created, None);
        assert_eq!(image.config.env, vec!["PATH=/bin", "A=1"]);
        assert_eq!(image.config.on_build, vec!["RUN x"]);
        assert_eq!(
            image.config.healthcheck.as_ref().unwrap().interval,
            5_000_000_000
        );
        assert!(!image.has_no_layers());
        let json = String::from_utf8(image.to_json()).unwrap();
        assert!(
            !json.contains("container_config") && !json.contains("Hostname"),
            "{json}"
        );
    }

    #[test]
    fn env_set_replaces_in_place() {
        let mut config = ImageConfig {
            env: vec!["A=1".into(), "B=2".into()],
            ..ImageConfig::default()
        };
        config.env_set("A", "x=y");
        config.env_set("C", "3");
        assert_eq!(config.env, vec!["A=x=y", "B=2", "C=3"]);
        assert!(config.env_has("C") && !config.env_has("D"));
    }
}
