//! Helpers of the engine-fault tests: a runner run with a deadline (a hang fails the test), the
//! name prefix of that runner's temporary objects, and the debris it left, looked up on the
//! real engine and on the host.
//!
//! Input: the runner binary, the local engine.
//! Output: [`Finished`] (exit code, stdout, stderr, the runner's object prefix) and debris lists.
//! Invariant: a run that outlives its deadline is killed and reported as a hang, never waited
//! for; objects are matched by the exact name prefix of the runner process under test, so other
//! runners sharing the engine are never counted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{docker_at, runner_bin};

/// How long one runner run may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A runner run that ended by itself.
pub struct Finished {
    /// The exit code (None: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The name prefix of its temporary containers, volumes and host files.
    pub prefix: String,
    /// How long it took.
    pub took: Duration,
}

/// A started runner whose output goes to files (no pipe can fill up and block it).
pub struct Started {
    pub child: Child,
    pub prefix: String,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
}

/// Starts the runner with `args` (with `env` added), its output in files under `scratch`.
pub fn start(args: &[String], env: &[(&str, &str)], scratch: &Path) -> Started {
    let out = scratch.join(format!("runner-{}.out", next_run()));
    let err = out.with_extension("err");
    let mut command = Command::new(runner_bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("start the runner");
    let prefix = identity_prefix(child.id());
    Started {
        child,
        prefix,
        out,
        err,
        started: Instant::now(),
    }
}

fn next_run() -> u64 {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Started {
    /// Waits for the run to end; kills it and fails the test when it outlives [`DEADLINE`].
    pub fn finish(self) -> Finished {
        self.finish_or_hang()
            .unwrap_or_else(|hung| panic!("{hung}"))
    }

    /// Waits for the run to end; kills it when it outlives [`DEADLINE`] and returns what it
    /// printed until then.
    pub fn finish_or_hang(mut self) -> Result<Finished, String> {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the runner") {
                let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
                let finished = Finished {
                    code: status.code(),
                    stdout: read(&self.out),
                    stderr: read(&self.err),
                    prefix: self.prefix.clone(),
                    took: self.started.elapsed(),
                };
                let _ = std::fs::remove_file(&self.out);
                let _ = std::fs::remove_file(&self.err);
                return Ok(finished);
            }
            if self.started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "the runner hung: still running after {DEADLINE:?}; stderr so far:\n{}",
                    std::fs::read_to_string(&self.err).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The file the runner's standard output goes to (readable while it runs).
    pub fn out_path(&self) -> PathBuf {
        self.out.clone()
    }

    /// Sends the signal `name` (`TERM`, `INT`, …) to the runner.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {name}");
    }
}

/// Runs the runner with `args` to its end (see [`Started::finish`]).
pub fn run(args: &[String], scratch: &Path) -> Finished {
    start(args, &[], scratch).finish()
}

/// The name prefix of the temporary objects of the runner running as host pid `pid`, read from
/// `/proc` while it runs: boot id, its PID namespace, its pid in that namespace and its start
/// time, the fields the runner names its objects with. Readable from the moment `spawn`
/// returns, as long as the child is not waited for (a finished child stays a zombie until then).
pub fn identity_prefix(pid: u32) -> String {
    let boot: String = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot id")
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    let namespace = std::fs::read_link(format!("/proc/{pid}/ns/pid")).expect("pid namespace");
    let namespace = namespace
        .to_string_lossy()
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let namespace_pid = status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .and_then(|value| value.split_whitespace().last().map(str::to_string))
        .expect("NSpid");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the runner's stat");
    let start = stat[stat.rfind(')').expect(")") + 1..]
        .split_whitespace()
        .nth(19)
        .expect("start time")
        .to_string();
    format!("stageplan-tmp-{boot}-{namespace}-{namespace_pid}-{start}-")
}

/// Every container, volume and host file (in `/dev/shm` and the temporary directory) whose
/// name starts with `prefix`, on the real engine.
pub fn debris(prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let listed = |args: &[&str]| -> Vec<String> {
        let out = docker_at(None, args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|name| name.starts_with(prefix))
            .map(str::to_string)
            .collect()
    };
    let name_filter = format!("name=^/{prefix}");
    for name in listed(&[
        "ps",
        "-a",
        "--filter",
        &name_filter,
        "--format",
        "{{.Names}}",
    ]) {
        found.push(format!("container {name}"));
    }
    let volume_filter = format!("name={prefix}");
    for name in listed(&[
        "volume",
        "ls",
        "--filter",
        &volume_filter,
        "--format",
        "{{.Name}}",
    ]) {
        found.push(format!("volume {name}"));
    }
    for dir in [PathBuf::from("/dev/shm"), std::env::temp_dir()] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                found.push(format!("file {}", entry.path().display()));
            }
        }
    }
    found
}

/// Removes whatever [`debris`] finds for `prefix` (after a test that leaves some on purpose,
/// or failed).
pub fn remove_debris(prefix: &str) {
    for item in debris(prefix) {
        let (kind, name) = item.split_once(' ').expect("kind name");
        match kind {
            "container" => drop(docker_at(None, &["rm", "-f", "-v", name])),
            "volume" => drop(docker_at(None, &["volume", "rm", "-f", name])),
            _ => drop(std::fs::remove_file(name).or_else(|_| std::fs::remove_dir_all(name))),
        }
    }
}

/// The host files under `/dev/shm` and the temporary directory (one level, and the files of
/// this test's `scratch` excluded) whose content holds `text`.
pub fn files_holding(text: &str, scratch: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [PathBuf::from("/dev/shm"), std::env::temp_dir()] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.starts_with(scratch) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            // Small files only: a secret file is a few bytes.
            if entry.metadata().is_ok_and(|m| m.len() < 1 << 20)
                && std::fs::read(&path)
                    .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(text))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}
