//! Shared helpers of the runner's engine tests: the docker CLI, the runner binary, a builder
//! that writes a Dockerfile and the matching plan side by side, and image snapshots to compare.
//!
//! Input: the local engine (`scripts/setup.sh` starts it and imports `stageplan-test/busybox:1`).
//! Output: helpers; every name a test creates carries `stageplan-it` and the test's own suffix.
//! Invariant: nothing here skips a test: a missing engine, base image or runner binary fails it
//! with a message saying how to get it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use planner::plan::{
    ArgDecl, Command as PlanCommand, CopySpec, Heredoc, Instruction, KeyValue, Location, Op, Plan,
    Source, Stage,
};
use sha2::{Digest, Sha256};

/// The test base image (made by `setup_base_images` in scripts/lib.sh).
pub const BASE: &str = "stageplan-test/busybox:1";

/// The docker 20.10 client from Debian's docker.io (its BuildKit is the comparison reference).
pub const DOCKER: &str = "/usr/bin/docker";

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

/// The runner binary built by `cargo test --workspace` (the runner crate's own CLI tests make
/// cargo build it).
pub fn runner_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::conformance::repo_root().join("target"));
    let bin = target.join("debug").join("runner");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p runner` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// A scratch directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/stageplan-it-<name>-<pid>`, empty.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("stageplan-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
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

/// Writes a Dockerfile and the plan the planner would make of it, instruction by instruction.
#[derive(Default)]
pub struct Df {
    text: String,
    line: u32,
    stages: Vec<Stage>,
}

impl Df {
    /// An empty Dockerfile.
    pub fn new() -> Df {
        Df::default()
    }

    fn next_line(&mut self, text: &str) -> u32 {
        self.text.push_str(text);
        self.text.push('\n');
        self.line += 1;
        let first = self.line;
        self.line += text.matches('\n').count() as u32;
        first
    }

    /// `FROM base [AS name]`; `base` is `scratch`, an earlier stage's name, or an image.
    pub fn from(&mut self, base: &str, name: &str) -> &mut Df {
        let line = self.next_line(&format!("FROM {base} AS {name}"));
        let source = if base == "scratch" {
            Source::Scratch
        } else if let Some(stage) = self.stage_index(base) {
            Source::Stage { stage }
        } else {
            Source::Image {
                image: base.to_string(),
            }
        };
        let depends_on = match source {
            Source::Stage { stage } => vec![stage],
            _ => Vec::new(),
        };
        self.stages.push(Stage {
            index: self.stages.len(),
            name: Some(name.to_string()),
            needed: false,
            base: source,
            base_text: base.to_string(),
            platform: None,
            depends_on,
            edges: Vec::new(),
            location: Location {
                line,
                column: 1,
                end_line: line,
                end_column: 2,
            },
            name_range: None,
            base_range: None,
            instructions: Vec::new(),
        });
        self
    }

    fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(name))
    }

    /// Appends an instruction: its Dockerfile text and its plan operation.
    pub fn ins(&mut self, text: &str, op: Op) -> &mut Df {
        let line = self.next_line(text);
        let end_line = self.line;
        let mut sources: Vec<&Source> = Vec::new();
        if let Op::Copy(spec) | Op::Add(spec) = &op {
            sources.extend(spec.from.iter());
        }
        if let Op::Run { mounts, .. } = &op {
            sources.extend(mounts.iter().filter_map(|m| m.from.as_ref()));
        }
        for source in sources {
            if let Source::Stage { stage } = source {
                let deps = &mut self.stages.last_mut().expect("FROM first").depends_on;
                if !deps.contains(stage) {
                    deps.push(*stage);
                    deps.sort();
                }
            }
        }
        let first_line = text.lines().next().unwrap_or("").to_string();
        self.stages
            .last_mut()
            .expect("FROM first")
            .instructions
            .push(Instruction {
                line,
                end_line,
                text: first_line,
                onbuild_from: None,
                op,
            });
        self
    }

    /// `RUN script` (shell form).
    pub fn run(&mut self, script: &str) -> &mut Df {
        let op = Op::Run {
            command: PlanCommand::Shell {
                script: script.to_string(),
            },
            mounts: Vec::new(),
            network: None,
            security: None,
            heredocs: Vec::new(),
        };
        self.ins(&format!("RUN {script}"), op)
    }

    /// `RUN <<EOF` style: `line` is the first line, `docs` the heredocs (name, body).
    pub fn run_heredoc(&mut self, line: &str, docs: &[(&str, &str)]) -> &mut Df {
        let mut text = format!("RUN {line}");
        for (name, body) in docs {
            text.push('\n');
            text.push_str(body);
            text.push_str(name);
        }
        let op = Op::Run {
            command: PlanCommand::Shell {
                script: line.to_string(),
            },
            mounts: Vec::new(),
            network: None,
            security: None,
            heredocs: docs.iter().map(|(n, b)| heredoc(n, b)).collect(),
        };
        self.ins(&text, op)
    }

    /// `ENV k=v ...` (values as written).
    pub fn env(&mut self, pairs: &[(&str, &str)]) -> &mut Df {
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let op = Op::Env {
            pairs: pairs.iter().map(|(k, v)| kv(k, v)).collect(),
        };
        self.ins(&format!("ENV {}", text.join(" ")), op)
    }

    /// `ARG name[=default]`.
    pub fn arg(&mut self, name: &str, default: Option<&str>) -> &mut Df {
        let text = match default {
            Some(d) => format!("ARG {name}={d}"),
            None => format!("ARG {name}"),
        };
        let op = Op::Arg {
            args: vec![ArgDecl {
                name: name.to_string(),
                default: default.map(str::to_string),
            }],
        };
        self.ins(&text, op)
    }

    /// `COPY [flags] sources... dest`; `flags` is the text of the flags, `spec` their meaning.
    pub fn copy(&mut self, flags: &str, sources: &[&str], dest: &str, spec: CopySpec) -> &mut Df {
        let mut words: Vec<&str> = sources.to_vec();
        words.push(dest);
        let text = format!(
            "COPY {flags}{}{}",
            if flags.is_empty() { "" } else { " " },
            words.join(" ")
        );
        let mut spec = spec;
        spec.sources = sources.iter().map(|s| s.to_string()).collect();
        spec.dest = dest.to_string();
        self.ins(&text, Op::Copy(spec))
    }

    /// The Dockerfile text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The plan for `target`: needed stages, dependencies and waves filled in.
    pub fn plan(&self, target: &str) -> Plan {
        let target = self.stage_index(target).expect("target stage");
        let mut stages = self.stages.clone();
        let mut needed = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if needed.insert(i) {
                todo.extend(stages[i].depends_on.iter().copied());
            }
        }
        let mut wave_of: BTreeMap<usize, usize> = BTreeMap::new();
        for i in needed.iter().copied() {
            let wave = stages[i]
                .depends_on
                .iter()
                .map(|d| wave_of[d] + 1)
                .max()
                .unwrap_or(0);
            wave_of.insert(i, wave);
        }
        let n_waves = wave_of.values().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); n_waves];
        for (i, w) in &wave_of {
            waves[*w].push(*i);
        }
        for stage in &mut stages {
            stage.needed = needed.contains(&stage.index);
        }
        let images: BTreeSet<String> = stages
            .iter()
            .filter(|s| s.needed)
            .filter_map(|s| match &s.base {
                Source::Image { image } => Some(image.clone()),
                _ => None,
            })
            .collect();
        Plan {
            version: planner::plan::PLAN_VERSION,
            targets: vec![target],
            stages,
            images: images.into_iter().collect(),
            waves,
            build_args: BTreeMap::new(),
            platform: "linux/amd64".to_string(),
            global_args: Vec::new(),
            predefined_args: BTreeMap::new(),
            escape: '\\',
            directives: BTreeMap::new(),
            diagnostics: Vec::new(),
        }
    }
}

/// A key/value pair as written.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// A heredoc that expands variables.
pub fn heredoc(name: &str, body: &str) -> Heredoc {
    Heredoc {
        name: name.to_string(),
        body: body.to_string(),
        expand: true,
        fd: None,
    }
}

/// A COPY spec with every flag off (sources and dest are filled in by [`Df::copy`]).
pub fn copy_spec() -> CopySpec {
    CopySpec {
        sources: Vec::new(),
        dest: String::new(),
        from: None,
        chown: None,
        chmod: None,
        link: false,
        parents: false,
        exclude: Vec::new(),
        checksum: None,
        keep_git_dir: false,
        unpack: None,
        heredocs: Vec::new(),
    }
}

/// Writes `plan` as JSON into `dir/plan.json` and returns the path.
pub fn write_plan(dir: &Path, plan: &Plan) -> PathBuf {
    let path = dir.join("plan.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(plan).expect("plan json"),
    )
    .expect("write plan");
    path
}

/// Runs the runner with `args`; returns its output.
pub fn run_runner(args: &[&str]) -> Output {
    Command::new(runner_bin())
        .args(args)
        .output()
        .expect("run the runner")
}

/// Runs the runner with `args`; returns its output and its pid (temporary containers are named
/// `stageplan-<pid>-<n>`).
pub fn run_runner_tracked(args: &[&str]) -> (Output, u32) {
    let child = Command::new(runner_bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the runner");
    let pid = child.id();
    (child.wait_with_output().expect("wait for the runner"), pid)
}

/// One file of an image, as compared between builders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `f`, `d`, `l` (symlink), `h` (hard link), `c`, `b`, `p`.
    pub kind: char,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Link target (symlinks; hard links are compared by content).
    pub link: String,
    /// sha256 of the content (regular files and hard links).
    pub digest: String,
}

/// Every file of `image` (via `docker create` + `docker export`) by path.
pub fn filesystem(host: Option<&str>, image: &str) -> BTreeMap<String, FileEntry> {
    let name = format!(
        "stageplan-it-export-{}-{}",
        std::process::id(),
        Sha256::digest(image.as_bytes())[0]
    );
    let _ = docker_at(host, &["rm", "-f", &name]);
    let created = docker_at(host, &["create", "--name", &name, image, "/nonexistent"]);
    assert!(
        created.status.success(),
        "docker create {image}: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let exported = docker_at(host, &["export", &name]);
    let _ = docker_at(host, &["rm", "-f", &name]);
    assert!(
        exported.status.success(),
        "docker export: {}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let mut files = BTreeMap::new();
    let mut contents: BTreeMap<String, String> = BTreeMap::new();
    let mut archive = tar::Archive::new(exported.stdout.as_slice());
    let mut hard_links = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry
            .path()
            .expect("path")
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let header = entry.header().clone();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Char => 'c',
            tar::EntryType::Block => 'b',
            tar::EntryType::Fifo => 'p',
            _ => 'f',
        };
        let link = entry
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut digest = String::new();
        if kind == 'f' {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            digest = hex::encode(Sha256::digest(&data));
            contents.insert(path.clone(), digest.clone());
        }
        if kind == 'h' {
            hard_links.push((path.clone(), link.clone()));
        }
        files.insert(
            path,
            FileEntry {
                kind: if kind == 'h' { 'f' } else { kind },
                mode: header.mode().unwrap_or(0) & 0o7777,
                uid: header.uid().unwrap_or(0),
                gid: header.gid().unwrap_or(0),
                link: if kind == 'l' { link } else { String::new() },
                digest,
            },
        );
    }
    for (path, target) in hard_links {
        let digest = contents
            .get(target.trim_end_matches('/'))
            .cloned()
            .unwrap_or_default();
        if let Some(entry) = files.get_mut(&path) {
            entry.digest = digest;
        }
    }
    files
}

/// The image config fields both builders must agree on, with null, `[]` and `{}` unified.
pub fn config(host: Option<&str>, image: &str) -> BTreeMap<String, serde_json::Value> {
    let out = docker_at(
        host,
        &["image", "inspect", "--format", "{{json .Config}}", image],
    );
    assert!(
        out.status.success(),
        "inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("config json");
    let mut fields = BTreeMap::new();
    for key in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Labels",
        "StopSignal",
        "Volumes",
        "OnBuild",
        "Healthcheck",
        "Shell",
    ] {
        let v = value.get(key).cloned().unwrap_or(serde_json::Value::Null);
        let empty = match &v {
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Object(o) => o.is_empty(),
            serde_json::Value::String(s) => s.is_empty(),
            serde_json::Value::Null => true,
            _ => false,
        };
        fields.insert(
            key.to_string(),
            if empty { serde_json::Value::Null } else { v },
        );
    }
    fields
}

/// Names of the containers whose name starts with `prefix` (running or not).
pub fn containers_named(host: Option<&str>, prefix: &str) -> Vec<String> {
    let out = docker_at(
        host,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("name=^/{prefix}"),
            "--format",
            "{{.Names}}",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Removes images by reference, ignoring missing ones.
pub fn remove_images(host: Option<&str>, refs: &[&str]) {
    for reference in refs {
        let _ = docker_at(host, &["rmi", "-f", reference]);
    }
}
