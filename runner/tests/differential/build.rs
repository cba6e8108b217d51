//! The builds a differential case compares: this engine's BuildKit (`DOCKER_BUILDKIT=1 docker
//! build`), the runner (`runner build`, warm or with `--no-cache`), its plan form (the planner
//! library's plan run as `runner plan.json`) and its BuildKit backend (`runner build --backend
//! buildkit`), all from one [`BuildInput`].
//!
//! Input: a [`BuildInput`] (context, Dockerfile, target, build args, secrets), a tag, the
//! runner's extra arguments.
//! Output: the image at the tag; for runner builds the stage images it made (to remove), or the
//! failure with its exit code, stderr and the steps' output.
//! Invariant: a Dockerfile with no `FROM` line is never sent to the engine's BuildKit (it
//! panics and takes dockerd down); no build outlives [`BUILD_TIMEOUT`] (it is interrupted, then
//! killed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support;
use crate::support::stage_images;

/// The longest a single build may take before the case fails (and the build is killed).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// What a build needs besides its context: file, target, build args, secrets.
#[derive(Clone, Copy)]
pub struct BuildInput<'a> {
    /// The build context directory.
    pub context: &'a Path,
    /// The Dockerfile, relative to the context, when it is not the default one.
    pub dockerfile: Option<&'a str>,
    /// The target stage, or none for the last one.
    pub target: Option<&'a str>,
    /// The build arguments (`--build-arg`).
    pub build_args: &'a BTreeMap<String, String>,
    /// The secrets (`--secret id=…,src=…`): id and file.
    pub secrets: &'a [(String, PathBuf)],
}

/// The Dockerfile a build reads: the given one, else `Dockerfile`, else `dockerfile`.
fn dockerfile_of(input: &BuildInput) -> PathBuf {
    match input.dockerfile {
        Some(file) => input.context.join(file),
        None if input.context.join("Dockerfile").exists() => input.context.join("Dockerfile"),
        None => input.context.join("dockerfile"),
    }
}

/// Checks the Dockerfile has a `FROM` line before it goes to the engine's BuildKit, which
/// panics (and takes dockerd down) on a Dockerfile with no stage.
fn has_stage(dockerfile: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dockerfile)
        .map_err(|e| format!("read {}: {e}", dockerfile.display()))?;
    let found = text.lines().any(|line| {
        let line = line.trim_start();
        line.len() > 5 && line[..5].eq_ignore_ascii_case("from ")
    });
    if found {
        Ok(())
    } else {
        Err(format!(
            "{} has no FROM line; it is not sent to BuildKit",
            dockerfile.display()
        ))
    }
}

/// `DOCKER_BUILDKIT=1 docker build --no-cache -t tag …`.
pub fn buildkit_build(input: &BuildInput, tag: &str) -> Result<(), String> {
    has_stage(&dockerfile_of(input))?;
    let mut command = Command::new(support::DOCKER);
    command
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q", "--no-cache", "-t", tag]);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    command.arg(input.context);
    let out = output_within(&mut command)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn add_common_args(command: &mut Command, input: &BuildInput) {
    if let Some(target) = input.target {
        command.args(["--target", target]);
    }
    for (key, value) in input.build_args {
        command.arg("--build-arg").arg(format!("{key}={value}"));
    }
    for (id, path) in input.secrets {
        command
            .arg("--secret")
            .arg(format!("id={id},src={}", path.display()));
    }
}

/// The name of the BuildKit backend's build in reports.
pub const LLB_FORM: &str = "runner --backend buildkit";

/// `runner build --backend buildkit CONTEXT …` when the runner has the BuildKit backend.
pub fn llb_backend_build(input: &BuildInput, tag: &str) -> Option<Result<Vec<String>, String>> {
    if !cfg!(feature = "buildkit") {
        return None;
    }
    let mut command = Command::new(support::runner_bin());
    command
        .arg("build")
        .arg(input.context)
        .args(["--backend", "buildkit"]);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    Some(runner_finish(&mut command, &[], tag))
}

/// `runner build CONTEXT [-f FILE]` with the case's common arguments.
fn runner_build_command(input: &BuildInput) -> Command {
    let mut command = Command::new(support::runner_bin());
    command.arg("build").arg(input.context);
    if let Some(file) = input.dockerfile {
        command.arg("-f").arg(input.context.join(file));
    }
    add_common_args(&mut command, input);
    command
}

/// `runner build CONTEXT [-f FILE] … -t tag --no-cache`; returns the stage images it built.
pub fn runner_build(
    input: &BuildInput,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    runner_finish(&mut runner_build_command(input), extra, tag)
}

/// `runner build CONTEXT … -t tag` again, with the cache the cold build just filled.
pub fn runner_warm_build(
    input: &BuildInput,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    runner_finish_with_cache(&mut runner_build_command(input), extra, tag)
}

/// The plan form: the planner library plans the Dockerfile (as `planner plan` would), then
/// `runner plan.json --context CONTEXT … -t tag --no-cache`.
pub fn runner_plan_build(
    input: &BuildInput,
    extra: &[String],
    work: &Path,
    tag: &str,
) -> Result<Vec<String>, String> {
    let targets: Vec<&str> = input.target.into_iter().collect();
    let json = support::plan_json(&dockerfile_of(input), &targets, input.build_args)?;
    let plan = work.join("plan.json");
    std::fs::write(&plan, json).map_err(|e| format!("write {}: {e}", plan.display()))?;
    let mut command = Command::new(support::runner_bin());
    command.arg(&plan).arg("--context").arg(input.context);
    for (key, value) in input.build_args {
        command.arg("--build-arg").arg(format!("{key}={value}"));
    }
    for (id, path) in input.secrets {
        command
            .arg("--secret")
            .arg(format!("id={id},src={}", path.display()));
    }
    runner_finish(&mut command, extra, tag)
}

fn runner_finish(
    command: &mut Command,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    command.arg("--no-cache");
    runner_finish_with_cache(command, extra, tag)
}

/// Runs a runner build to `tag` as it is (a warm build when `--no-cache` is not given).
fn runner_finish_with_cache(
    command: &mut Command,
    extra: &[String],
    tag: &str,
) -> Result<Vec<String>, String> {
    command.args(["-t", tag, "--progress", "json"]).args(extra);
    let out = output_within(command)?;
    let stages = stage_images(&out.stdout);
    if out.status.success() {
        Ok(stages)
    } else {
        let logs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "log")
            .filter_map(|e| e["line"].as_str().map(str::to_string))
            .collect();
        Err(format!(
            "exit {:?}: {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim_end(),
            if logs.is_empty() {
                String::new()
            } else {
                format!("\n  output: {}", logs.join("\n  output: "))
            }
        ))
    }
}

/// Runs `command` to completion with its output captured, killing it after [`BUILD_TIMEOUT`].
fn output_within(command: &mut Command) -> Result<Output, String> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(BUILD_TIMEOUT) {
        Ok(output) => output.map_err(|e| e.to_string()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
            let output = receiver.recv_timeout(Duration::from_secs(30));
            if output.is_err() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            Err(format!(
                "{command:?} did not finish within {} s",
                BUILD_TIMEOUT.as_secs()
            ))
        }
    }
}
