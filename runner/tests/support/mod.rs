//! Shared helpers of the runner's engine tests: the docker CLI and the raw Engine API, the
//! runner binary, plans made with the planner library from Dockerfile text, and image
//! snapshots (every file and the exact config) to compare.
//!
//! Input: the local engine (`scripts/setup.sh` starts it and imports `stageplan-test/busybox:1`)
//! and the `runner` binary cargo builds for these tests (`CARGO_BIN_EXE_runner`).
//! Output: helpers; every engine object a test creates is named with [`prefix`]
//! (`stageplan-rt-<pid>`), so tests of other processes and other helpers never collide with it.
//! Invariant: nothing here skips a test: a missing engine or base image fails it with a message
//! saying how to get it; every temporary directory is removed when its guard drops.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod faulted;
pub mod record;
pub mod snapshot;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[allow(unused_imports)]
pub use snapshot::{differences, filesystem, image_config, FileEntry};

/// The test base image (made by `setup_base_images` in scripts/lib.sh).
pub const BASE: &str = "stageplan-test/busybox:1";

/// The docker 20.10 client from Debian's docker.io; `DOCKER_BUILDKIT=1` makes it build with the
/// engine's BuildKit (v0.8), the reference the runner is compared with.
pub const DOCKER: &str = "/usr/bin/docker";

/// The prefix of every engine object (image, container, volume) and temporary directory these
/// tests create: `stageplan-rt-<pid>`.
pub fn prefix() -> String {
    format!("stageplan-rt-{}", std::process::id())
}

/// An image reference of this test process: `stageplan-rt-<pid>/<name>:1` (`name` lower case).
pub fn image_tag(name: &str) -> String {
    format!("{}/{}:1", prefix(), name)
}

/// Runs the docker CLI against `host` (None = the local socket) and returns its output.
pub fn docker_at(host: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(DOCKER);
    if let Some(host) = host {
        command.args(["-H", host]);
    }
    command.args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {DOCKER} (install docker.io: scripts/setup.sh): {e}")
    })
}

/// Runs the docker CLI on the local engine; panics with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = docker_at(None, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks the engine and the base image are there (fails the test with the fix otherwise).
pub fn require_engine() {
    let out = docker_at(None, &["image", "inspect", BASE]);
    assert!(
        out.status.success(),
        "the engine or the base image {BASE} is missing; run scripts/setup.sh first: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GETs `path` from the Engine API of `host` (None = the local socket, else `tcp://host:port`)
/// and returns the JSON body as the engine wrote it: unlike the docker CLI, which re-encodes
/// through its own types, this keeps null, `[]` and `{}` apart.
pub fn engine_get(host: Option<&str>, path: &str) -> Result<serde_json::Value, String> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
    let mut response = Vec::new();
    match host {
        None => {
            let mut stream = std::os::unix::net::UnixStream::connect("/var/run/docker.sock")
                .map_err(|e| format!("connect /var/run/docker.sock: {e}"))?;
            stream
                .write_all(request.as_bytes())
                .map_err(|e| e.to_string())?;
            stream
                .read_to_end(&mut response)
                .map_err(|e| e.to_string())?;
        }
        Some(host) => {
            let address = host.trim_start_matches("tcp://");
            let mut stream = std::net::TcpStream::connect(address)
                .map_err(|e| format!("connect {address}: {e}"))?;
            stream
                .write_all(request.as_bytes())
                .map_err(|e| e.to_string())?;
            stream
                .read_to_end(&mut response)
                .map_err(|e| e.to_string())?;
        }
    }
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path}: no HTTP header in the answer"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(format!("GET {path}: {status}: {body}"));
    }
    serde_json::from_str(body).map_err(|e| format!("GET {path}: bad JSON: {e}"))
}

/// The containers of the runner process `pid` (`all`: stopped ones too): names starting with
/// `stageplan-` that carry the pid as one of their dash-separated parts (the runner names its
/// temporary containers `stageplan-<…>-<pid>-<…>`), the tests' own `stageplan-rt-` ones left out.
pub fn containers_of_runner(pid: u32, all: bool) -> Vec<String> {
    let mut args = vec!["ps"];
    if all {
        args.push("-a");
    }
    args.extend(["--filter", "name=^/stageplan-", "--format", "{{.Names}}"]);
    let out = docker_at(None, &args);
    let pid = pid.to_string();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|name| name.starts_with("stageplan-") && !name.starts_with("stageplan-rt-"))
        .filter(|name| name.split('-').any(|part| part == pid))
        .map(str::to_string)
        .collect()
}

/// The runner binary cargo built for this test crate.
pub fn runner_bin() -> &'static str {
    env!("CARGO_BIN_EXE_runner")
}

/// `DOCKER_BUILDKIT=1 docker build -q ARGS CONTEXT`: the reference build with the engine's
/// BuildKit (output discarded); panics with its stderr when it fails.
pub fn buildkit_build(context: &Path, args: &[&str]) {
    let out = Command::new(DOCKER)
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q"])
        .args(args)
        .arg(context)
        .output()
        .expect("run docker build");
    assert!(
        out.status.success(),
        "docker build {args:?} with BuildKit failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the runner with `args`; returns its output.
pub fn run_runner(args: &[&str]) -> Output {
    Command::new(runner_bin())
        .args(args)
        .output()
        .expect("run the runner")
}

/// Asserts a runner run succeeded, showing its stderr otherwise.
pub fn assert_built(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: the runner failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A scratch directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/stageplan-rt-<pid>-<name>`, empty.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{}-{name}", prefix()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// The directory as a UTF-8 string (for command lines).
    pub fn path_str(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }

    /// Writes a file (creating parents) relative to the directory.
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Plans the Dockerfile at `dockerfile` with the planner library (as `planner plan` does) for
/// `targets` (empty = the last stage) and `build_args`, and returns the plan JSON; an error
/// lists the planner's diagnostics when there is no plan.
pub fn plan_json(
    dockerfile: &Path,
    targets: &[&str],
    build_args: &BTreeMap<String, String>,
) -> Result<String, String> {
    let text = std::fs::read_to_string(dockerfile)
        .map_err(|e| format!("read {}: {e}", dockerfile.display()))?;
    let options = planner::Options {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        build_args: build_args.clone(),
        // Recorded in the plan: the plan form finds <Dockerfile>.dockerignore through it.
        dockerfile: Some(dockerfile.display().to_string()),
        ..planner::Options::default()
    };
    let outcome = planner::plan(&text, &options);
    match outcome.plan {
        Some(plan) => serde_json::to_string_pretty(&plan).map_err(|e| e.to_string()),
        None => Err(format!(
            "the planner made no plan of {}: {:?}",
            dockerfile.display(),
            outcome.diagnostics
        )),
    }
}

/// [`plan_json`] written to `out`; returns `out` (panics when there is no plan).
pub fn write_plan(
    dockerfile: &Path,
    targets: &[&str],
    build_args: &BTreeMap<String, String>,
    out: &Path,
) -> PathBuf {
    let json = plan_json(dockerfile, targets, build_args).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out, json).expect("write plan");
    out.to_path_buf()
}

/// Names of the containers whose name starts with `name_prefix` (running or not).
pub fn containers_named(host: Option<&str>, name_prefix: &str) -> Vec<String> {
    let out = docker_at(
        host,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("name=^/{name_prefix}"),
            "--format",
            "{{.Names}}",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.starts_with(name_prefix))
        .map(str::to_string)
        .collect()
}

/// Removes images by reference, ignoring missing ones.
pub fn remove_images(host: Option<&str>, refs: &[&str]) {
    for reference in refs {
        let _ = docker_at(host, &["rmi", "-f", reference]);
    }
}

/// Removes the runner's step-cache tags (`stageplan-cache:<key>`) that point at `images` or
/// at their parents, and the stage records (`stageplan-record:<identity>`) among `images`, so a
/// test's builds do not pile up tags on a shared engine. Only images the test's own runner
/// built are walked (their parent chain ends at a base image).
pub fn forget_cache_tags(host: Option<&str>, images: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for image in images {
        let mut current = image.clone();
        while !current.is_empty() && seen.insert(current.clone()) {
            let Ok(inspect) = engine_get(host, &format!("/images/{current}/json")) else {
                break;
            };
            let tags = inspect["RepoTags"].as_array().cloned().unwrap_or_default();
            for tag in tags.iter().filter_map(|t| t.as_str()) {
                if tag.starts_with("stageplan-cache:") || tag.starts_with("stageplan-record:") {
                    let _ = docker_at(host, &["rmi", tag]);
                }
            }
            current = inspect["Parent"].as_str().unwrap_or_default().to_string();
        }
    }
}

/// The image ids of every stage a runner run built, from its `--progress json` events
/// (`stage_done`), the final image included, and the record images that keep the stages'
/// memories (`stageplan-record:<identity>`).
pub fn stage_images(json_progress: &[u8]) -> Vec<String> {
    let mut images = Vec::new();
    for line in String::from_utf8_lossy(json_progress).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields: &[&str] = match event["event"].as_str() {
            Some("stage_done") => &["image", "record"],
            Some("build_done") => &["image"],
            _ => &[],
        };
        for field in fields {
            if let Some(value) = event[*field].as_str().filter(|v| !v.is_empty()) {
                images.push(value.to_string());
            }
        }
    }
    images
}

/// A word no earlier run of the tests used: the engine keeps the step cache between runs, so a
/// test's inputs must be new for "this step ran" to mean anything.
pub fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{nanos:x}", std::process::id())
}
