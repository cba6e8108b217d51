//! Helpers of the build-record tests (`insight.rs`, `leaks.rs`): a runner build with `--record`
//! and `--progress json`, the record's steps and reasons, and cleanup of what the builds made.
//!
//! Input: the runner binary and the local engine. Output: [`Built`] (record, events, summary).
//! Invariant: every image, cache tag and record image a test's builds make is removed when its
//! [`Cleanup`] drops.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::{assert_built, forget_cache_tags, remove_images, runner_bin, stage_images, TempDir};

/// One runner build of `dir` with `--record`, and what it left to clean up.
pub struct Built {
    pub record: Value,
    pub events: Vec<Value>,
    /// The summary lines (`build_done`'s `summary`).
    pub summary: String,
}

/// Everything a test's builds made, removed when dropped.
#[derive(Default)]
pub struct Cleanup {
    pub images: Vec<String>,
    pub tags: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        forget_cache_tags(None, &self.images);
        let tags: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        remove_images(None, &tags);
    }
}

/// Removes the cache tags of every step in `record` (`stageplan-cache:<key>`): the step images
/// a stage's final image does not name as its parent (a final image written with its own config
/// has none), which [`forget_cache_tags`] cannot reach.
pub fn forget_step_tags(record: &Value) {
    for stage in record["stages"].as_array().into_iter().flatten() {
        for step in stage["steps"].as_array().into_iter().flatten() {
            if let Some(key) = step["key"].as_str().filter(|key| !key.is_empty()) {
                let _ = super::docker_at(None, &["rmi", &format!("stageplan-cache:{key}")]);
            }
        }
    }
}

/// Runs `runner build DIR --record FILE --progress json ARGS` (with `env`), asserts it built.
pub fn build(dir: &Path, args: &[&str], env: &[(&str, &Path)], cleanup: &mut Cleanup) -> Built {
    let record_file = dir.with_extension("record.json");
    let out = runner(dir, &record_file, "json", args, env);
    assert_built(&out, &format!("runner build {} {args:?}", dir.display()));
    cleanup.images.extend(stage_images(&out.stdout));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON event per line"))
        .collect();
    let summary = events
        .iter()
        .find(|e| e["event"] == "build_done")
        .and_then(|e| e["summary"].as_array())
        .map(|lines| {
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let record = read_record(&record_file);
    Built {
        record,
        events,
        summary,
    }
}

pub fn runner(
    dir: &Path,
    record_file: &Path,
    progress: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Output {
    let mut command = Command::new(runner_bin());
    command
        .arg("build")
        .arg(dir)
        .args(["--progress", progress, "--record"])
        .arg(record_file)
        .args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run the runner")
}

/// The stage images a record names.
pub fn record_images(record: &Value) -> Vec<String> {
    record["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["image"].as_str().map(str::to_string))
        .collect()
}

pub fn read_record(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the record file");
    let record: Value = serde_json::from_str(&text).expect("the record is JSON");
    assert_eq!(record["version"], 1);
    record
}

/// The record of step `step` of stage `stage`, if the record has it.
pub fn find_step<'a>(record: &'a Value, stage: &str, step: u64) -> Option<&'a Value> {
    record["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == stage)
        .and_then(|s| {
            s["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .find(|t| t["step"] == step)
        })
}

/// The record of step `step` of stage `stage`.
pub fn step<'a>(record: &'a Value, stage: &str, step: u64) -> &'a Value {
    find_step(record, stage, step)
        .unwrap_or_else(|| panic!("no step {stage} #{step} in {record:#}"))
}

/// The miss reason of a step that ran (its `kind` and the whole reason).
pub fn miss<'a>(record: &'a Value, stage: &str, number: u64) -> &'a Value {
    let found = step(record, stage, number);
    assert_eq!(
        found["status"], "ran",
        "{stage} #{number} did not run: {found:#}"
    );
    &found["miss"]
}

pub fn cached(record: &Value, stage: &str, number: u64) {
    let found = step(record, stage, number);
    assert_eq!(found["status"], "cached", "{stage} #{number}: {found:#}");
}

/// A project directory named `name` under a fresh parent `parent`.
pub fn project(parent: &TempDir, name: &str) -> PathBuf {
    let dir = parent.0.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

pub fn write(dir: &Path, rel: &str, content: &str) {
    std::fs::write(dir.join(rel), content).expect("write");
}
