//! Fault injection on the real engine: a build stopped by any signal, failing, or killed leaves
//! no container, volume or host file behind, never leaks a secret to the engine's disk, and the
//! start-up sweep never touches the objects of a runner it cannot prove dead (another PID
//! namespace sharing the engine).
//!
//! Input: the local engine and `stageplan-test/busybox:1` (scripts/setup.sh), the runner binary,
//! Dockerfile text (planned by `runner build`).
//! Output: pass/fail per fault, with the debris found.
//! Invariant: every object is matched by the exact name prefix of the runner process under test
//! (boot id, PID namespace, pid, start time), so builds of other tests and other users of the
//! engine are never counted or touched.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::faulted::{debris, identity_prefix, remove_debris};

const BASE: &str = "stageplan-test/busybox:1";
const DOCKER: &str = "/usr/bin/docker";

fn docker(args: &[&str]) -> Output {
    Command::new(DOCKER)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {DOCKER} (scripts/setup.sh installs it): {e}"))
}

fn require_engine() {
    let out = docker(&["image", "inspect", BASE]);
    assert!(
        out.status.success(),
        "the engine or {BASE} is missing; run scripts/setup.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A build context directory with a Dockerfile, removed when dropped.
struct Context(PathBuf);

impl Context {
    fn new(name: &str, dockerfile: &str) -> Context {
        let dir =
            std::env::temp_dir().join(format!("stageplan-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("context dir");
        std::fs::write(dir.join("Dockerfile"), dockerfile).expect("Dockerfile");
        Context(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runner(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runner"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits until the runner has started `n` containers (its RUN steps are running).
fn wait_for_running(prefix: &str, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = docker(&[
            "ps",
            "--filter",
            &format!("name=^/{prefix}"),
            "--format",
            "{{.Names}}",
        ]);
        let running = String::from_utf8_lossy(&out.stdout).lines().count();
        if running >= n {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(pipe) = child.stderr.as_mut() {
                let _ = std::io::Read::read_to_string(pipe, &mut stderr);
            }
            panic!("the runner exited early ({status}): {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "the build never started {n} containers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `runner build` of `ctx` with `--secret secret_arg` and waits until `running` of its
/// containers run; returns the child and its objects' name prefix.
fn start_with_secret(ctx: &Context, secret_arg: &str, running: usize) -> (Child, String) {
    let mut child = runner(&[
        "build",
        ctx.path(),
        "--no-cache",
        "--progress",
        "plain",
        "--secret",
        secret_arg,
    ])
    .spawn()
    .expect("runner");
    let prefix = identity_prefix(child.id());
    wait_for_running(&prefix, running, &mut child);
    (child, prefix)
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -s {name} {pid}");
}

/// Two slow stages in parallel, each with a secret mount and a cache mount.
const SLOW: &str = "FROM stageplan-test/busybox:1 AS a
RUN --mount=type=secret,id=token --mount=type=cache,target=/c sleep 60
FROM stageplan-test/busybox:1 AS b
RUN --mount=type=secret,id=token,target=/etc/token sleep 61
FROM stageplan-test/busybox:1
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
";

fn secret_file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "stageplan-faults-secret-{name}-{}",
        std::process::id()
    ));
    std::fs::write(&path, content).expect("secret");
    path
}

#[test]
fn every_stopping_signal_removes_everything_and_exits_130() {
    require_engine();
    // The three a terminal or a supervisor sends, and others whose default action would kill
    // the runner and leave its containers to the next one.
    for sig in ["TERM", "HUP", "INT", "QUIT", "USR1", "USR2", "ALRM"] {
        let ctx = Context::new(&format!("sig{sig}"), SLOW);
        let secret = secret_file(sig, "not-on-disk");
        let secret_arg = format!("id=token,src={}", secret.display());
        let (child, prefix) = start_with_secret(&ctx, &secret_arg, 2);
        signal(child.id(), sig);
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "SIG{sig}: {stderr}");
        assert!(
            stderr.contains(&format!("SIG{sig}")),
            "SIG{sig}: the error names the signal: {stderr}"
        );
        // Nothing may appear later either (a creation in flight when the signal came).
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(
            debris(&prefix),
            Vec::<String>::new(),
            "SIG{sig} left debris"
        );
        let _ = std::fs::remove_file(secret);
    }
}

#[test]
fn a_signal_at_any_moment_leaves_nothing_behind() {
    require_engine();
    // Four stages whose containers are created at different moments; the signal comes at a
    // different time in each run, early ones while creations are still in flight.
    let dockerfile = "FROM stageplan-test/busybox:1 AS a\nRUN sleep 20\nFROM stageplan-test/busybox:1 AS b\nRUN --mount=type=tmpfs,target=/t sleep 21\nFROM stageplan-test/busybox:1 AS c\nRUN --mount=type=bind,target=/ctx sleep 22\nFROM stageplan-test/busybox:1 AS d\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\nCOPY --from=c /etc/passwd /c\n";
    let ctx = Context::new("anytime", dockerfile);
    for delay_ms in [0u64, 40, 90, 150, 250, 400, 700, 1100] {
        let child = runner(&["build", ctx.path(), "--no-cache", "--progress", "plain"])
            .spawn()
            .expect("runner");
        let prefix = identity_prefix(child.id());
        std::thread::sleep(Duration::from_millis(delay_ms));
        signal(child.id(), "TERM");
        let out = child.wait_with_output().expect("wait");
        // At 0 ms the signal can come before the process has reached its first line of code
        // (then it dies of it, having made nothing); from there on it must exit with 130.
        let killed_before_start =
            delay_ms == 0 && std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(15);
        assert!(
            out.status.code() == Some(130) || killed_before_start,
            "after {delay_ms} ms: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(debris(&prefix), Vec::<String>::new(), "after {delay_ms} ms");
    }
}

#[test]
fn a_failing_step_with_mounts_leaves_nothing_and_no_secret_on_disk() {
    require_engine();
    // The Dockerfile (bound into the RUN, and in the container's stored command) holds only the
    // secret's digest, so a search of the engine's disk for the secret itself can only find a leak.
    let secret_text = format!("s3cr3t-canary-{}", std::process::id());
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(secret_text.as_bytes()))
    };
    let dockerfile = format!("FROM stageplan-test/busybox:1\nRUN --mount=type=secret,id=token --mount=type=secret,id=token,target=/etc/token,mode=0440,uid=1000 --mount=type=bind,target=/src sh -c 'test \"$(stat -c %a:%u /etc/token)\" = 440:1000 && test \"$(stat -c %a /run/secrets/token)\" = 400 && sha256sum /run/secrets/token | grep -q {digest} && sleep 3 && exit 7'\n");
    let ctx = Context::new("failing", &dockerfile);
    let secret = secret_file("failing", &secret_text);
    let secret_arg = format!("id=token,src={}", secret.display());
    let (child, prefix) = start_with_secret(&ctx, &secret_arg, 1);
    // While the step runs, the secret is nowhere on the engine's disk.
    let on_disk = Command::new("grep")
        .args([
            "-r",
            "-l",
            "-s",
            &secret_text,
            "/var/lib/docker/volumes",
            "/var/lib/docker/containers",
            "/var/lib/docker/overlay2",
        ])
        .output()
        .expect("grep");
    assert!(
        on_disk.stdout.is_empty(),
        "the secret is on the engine's disk: {}",
        String::from_utf8_lossy(&on_disk.stdout)
    );
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exited with code 7"),
        "the mounts were as BuildKit makes them: {stderr}"
    );
    assert_eq!(debris(&prefix), Vec::<String>::new());
    let _ = std::fs::remove_file(secret);
}

/// The files under the engine's container directory whose content holds `text`, and the log
/// files of the containers whose name starts with `prefix` (`docker inspect`'s `LogPath`, empty
/// for a container without a log) that hold it.
fn engine_files_holding(text: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let listed = docker(&["ps", "-a", "-q", "--filter", &format!("name=^/{prefix}")]);
    for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        let inspected = docker(&["inspect", "-f", "{{.LogPath}}", id]);
        let log_path = String::from_utf8_lossy(&inspected.stdout)
            .trim()
            .to_string();
        if !log_path.is_empty()
            && std::fs::read(&log_path)
                .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(text))
        {
            found.push(format!("log of container {id}: {log_path}"));
        }
    }
    let grep = Command::new("grep")
        .args(["-r", "-l", "-s", "-F", text, "/var/lib/docker/containers"])
        .output()
        .expect("grep");
    found.extend(
        String::from_utf8_lossy(&grep.stdout)
            .lines()
            .map(str::to_string),
    );
    found
}

/// Waits until the runner runs a container whose id is not in `seen`; returns its id.
fn wait_for_new_container(prefix: &str, seen: &[String], child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = docker(&["ps", "-q", "--filter", &format!("name=^/{prefix}")]);
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(id) = listed
            .split_whitespace()
            .find(|id| !seen.iter().any(|s| s == id))
        {
            return id.to_string();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the runner exited early ({status})");
        }
        assert!(
            Instant::now() < deadline,
            "the build never started a container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_run_that_prints_its_secrets_leaves_them_in_no_container_log() {
    require_engine();
    // The RUN prints both secrets (a file and an environment variable) and goes on running: its
    // output streams to the runner, and the engine's disk never holds it.
    let file_text = format!("file-canary-{}", std::process::id());
    let env_text = format!("env-canary-{}", std::process::id());
    let dockerfile = "FROM stageplan-test/busybox:1\n\
        RUN --mount=type=secret,id=token cat /run/secrets/token; echo; sleep 4; echo done\n\
        RUN --mount=type=secret,id=token --mount=type=secret,id=envtoken,env=TOKEN sh -c 'echo \"$TOKEN\"; cat /run/secrets/token; echo; sleep 4; echo done'\n";
    let ctx = Context::new("printed", dockerfile);
    let secret = secret_file("printed", &file_text);
    let mut child = runner(&[
        "build",
        ctx.path(),
        "--no-cache",
        "--progress",
        "plain",
        "--secret",
        &format!("id=token,src={}", secret.display()),
        "--secret",
        "id=envtoken,env=STAGEPLAN_FAULTS_ENV_SECRET",
    ])
    .env("STAGEPLAN_FAULTS_ENV_SECRET", &env_text)
    .spawn()
    .expect("runner");
    let prefix = identity_prefix(child.id());
    // While each RUN runs (it sleeps 4 s after printing), its container's log holds nothing.
    let mut seen = Vec::new();
    for step in 1..=2 {
        seen.push(wait_for_new_container(&prefix, &seen, &mut child));
        let until = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < until {
            for text in [&file_text, &env_text] {
                let found = engine_files_holding(text, &prefix);
                assert!(
                    found.is_empty(),
                    "step {step}: the secret is on the engine's disk: {found:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let out = child.wait_with_output().expect("wait");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(secret);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    // The output still reaches the runner, line by line.
    assert_eq!(
        shown.matches(&format!("| {file_text}")).count(),
        2,
        "{shown}"
    );
    assert_eq!(
        shown.matches(&format!("| {env_text}")).count(),
        1,
        "{shown}"
    );
    assert_eq!(shown.matches("| done").count(), 2, "{shown}");
    for text in [&file_text, &env_text] {
        let found = engine_files_holding(text, &prefix);
        assert!(found.is_empty(), "after the build: {found:?}");
    }
    assert_eq!(debris(&prefix), Vec::<String>::new());
}

#[test]
fn a_killed_runners_debris_is_swept_by_the_next_runner_of_its_namespace() {
    require_engine();
    let ctx = Context::new("killed", SLOW);
    let secret = secret_file("killed", "x");
    let secret_arg = format!("id=token,src={}", secret.display());
    let (mut child, prefix) = start_with_secret(&ctx, &secret_arg, 2);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let left = debris(&prefix);
    assert!(
        left.iter().any(|d| d.starts_with("container")),
        "a SIGKILLed runner leaves its RUN containers: {left:?}"
    );
    // The next runner of this namespace proves the first one dead and removes its debris.
    let quick = Context::new("sweeper", "FROM stageplan-test/busybox:1\nRUN true\n");
    let out = runner(&["build", quick.path(), "--progress", "plain"])
        .output()
        .expect("runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("left by runners that were killed"),
        "the sweep is reported: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(debris(&prefix), Vec::<String>::new());
    let _ = std::fs::remove_file(secret);
}

/// Runs `runner build` inside a new PID namespace (`unshare --pid --fork --mount-proc`);
/// returns the unshare process and the host pid of the runner inside it.
// The child is handed to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
fn runner_in_new_pid_namespace(args: &[&str]) -> (Child, u32) {
    let mut child = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            env!("CARGO_BIN_EXE_runner"),
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux)");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id()))
                .unwrap_or_default();
        if let Some(pid) = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
        {
            return (child, pid);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the runner never started in its namespace");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn runners_in_other_pid_namespaces_are_never_swept() {
    require_engine();
    let slow = Context::new("ns-slow", "FROM stageplan-test/busybox:1 AS a\nRUN sleep 8 && echo done > /done\nFROM stageplan-test/busybox:1\nCOPY --from=a /done /done\n");
    let (mut other, other_pid) =
        runner_in_new_pid_namespace(&["build", slow.path(), "--no-cache", "--progress", "plain"]);
    let other_prefix = identity_prefix(other_pid);
    wait_for_running(&other_prefix, 1, &mut other);
    // A runner of this namespace starts meanwhile; the other runner's pid means nothing here.
    let quick = Context::new("ns-quick", "FROM stageplan-test/busybox:1\nRUN true\n");
    let out = runner(&["build", quick.path(), "--no-cache", "--progress", "plain"])
        .output()
        .expect("runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = other.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "the build in the other namespace was not disturbed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(debris(&other_prefix), Vec::<String>::new());

    // Killed in its namespace, its debris cannot be proven dead from here: it stays.
    let (mut other, other_pid) =
        runner_in_new_pid_namespace(&["build", slow.path(), "--no-cache", "--progress", "plain"]);
    let other_prefix = identity_prefix(other_pid);
    wait_for_running(&other_prefix, 1, &mut other);
    other.kill().expect("kill the namespace");
    let _ = other.wait();
    let out = runner(&["build", quick.path(), "--progress", "plain"])
        .output()
        .expect("runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = debris(&other_prefix);
    assert!(
        left.iter().any(|d| d.starts_with("container")),
        "a runner of another namespace is never swept: {left:?}"
    );
    remove_debris(&other_prefix);
}

#[test]
fn a_plan_with_a_cycle_fails_before_reaching_the_engine() {
    let plan = planner::plan(
        "FROM stageplan-test/busybox:1 AS a\nRUN true\nFROM stageplan-test/busybox:1 AS b\nCOPY --from=a /x /x\n",
        &planner::Options::default(),
    )
    .plan
    .expect("plan");
    let mut value = serde_json::to_value(plan).expect("json");
    value["stages"][0]["depends_on"] = serde_json::json!([1]);
    value["stages"][0]["needed"] = serde_json::json!(true);
    let dir = Context::new("cycle", "FROM scratch\n");
    let plan_path = Path::new(&dir.0).join("plan.json");
    std::fs::write(&plan_path, value.to_string()).expect("plan");
    let out = runner(&[plan_path.to_str().expect("path"), "--context", dir.path()])
        // An engine that does not exist: the plan must be refused before any connection.
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("runner");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("dependency cycle") && stderr.contains("\"a\""),
        "{stderr}"
    );
    assert!(
        !stderr.contains("cannot reach the docker engine"),
        "{stderr}"
    );
}

#[test]
fn a_reader_that_goes_away_neither_stops_the_build_nor_leaves_anything() {
    require_engine();
    // `runner build . 2>&1 | head -3`: the progress keeps coming after the reader has gone.
    let ctx = Context::new(
        "closed-output",
        "FROM stageplan-test/busybox:1\nRUN for i in $(seq 1 40); do echo line $i; sleep 0.05; done\nRUN sleep 1 && echo done > /done\n",
    );
    let mut child = runner(&["build", ctx.path(), "--no-cache", "--progress", "plain"])
        .spawn()
        .expect("runner");
    let prefix = identity_prefix(child.id());
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).expect("a first line");
    drop(stderr);
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(0),
        "the build goes on to its end (no panic on the closed output): {status:?}"
    );
    assert_eq!(debris(&prefix), Vec::<String>::new());
}

#[test]
fn a_signal_stops_a_runner_waiting_for_standard_input_that_never_ends() {
    require_engine();
    let context = std::env::temp_dir().to_string_lossy().into_owned();
    // `-f -` waits for the Dockerfile, `build -` for the context; the input stays open.
    for args in [
        vec!["build", "-f", "-", context.as_str()],
        vec!["build", "-"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runner");
        let _input_kept_open = child.stdin.take();
        std::thread::sleep(Duration::from_millis(500));
        signal(child.id(), "TERM");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{args:?}: the runner ignored SIGTERM while reading its input"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(130), "{args:?}");
    }
}

#[test]
fn a_signal_while_a_context_from_standard_input_is_unpacked_leaves_no_copy_of_it() {
    require_engine();
    // Many small files: unpacking them takes seconds.
    let source = Context::new(
        "stdin-unpacked",
        "FROM stageplan-test/busybox:1\nCOPY files /files\n",
    );
    let files = source.0.join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    for n in 0..20_000 {
        std::fs::write(files.join(format!("f{n}")), n.to_string()).expect("file");
    }
    let archive = Command::new("tar")
        .args(["cf", "-", "-C", source.path(), "."])
        .output()
        .expect("tar");
    // The runner's own temporary directory, to see what it leaves there.
    let tmp = Context::new("stdin-unpacked-tmp", "unused");
    std::fs::remove_file(tmp.0.join("Dockerfile")).expect("an empty directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["build", "-", "--progress", "plain"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner");
    let mut input = child.stdin.take().expect("stdin");
    let bytes = archive.stdout;
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut input, &bytes);
    });
    let prefix = identity_prefix(child.id());
    let left = || -> Vec<String> {
        std::fs::read_dir(&tmp.0)
            .expect("read the temporary directory")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !left().iter().any(|name| name.starts_with(&prefix)) {
        assert!(Instant::now() < deadline, "the context was never unpacked");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(child.id(), "TERM");
    let out = child.wait_with_output().expect("wait");
    let _ = feeder.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(
        left(),
        Vec::<String>::new(),
        "the copy of the context from standard input stayed: {stderr}"
    );
}

#[test]
fn what_a_killed_runner_left_beside_an_output_and_from_standard_input_is_swept() {
    require_engine();
    let slow = Context::new(
        "stdin-killed",
        "FROM stageplan-test/busybox:1\nRUN sleep 60\n",
    );
    let archive = Command::new("tar")
        .args(["cf", "-", "-C", slow.path(), "."])
        .output()
        .expect("tar");
    let out_dir = Context::new("stdin-killed-out", "unused");
    let dest = format!("{}/out.tar", out_dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["build", "-", "-o", &format!("type=tar,dest={dest}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runner");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &archive.stdout)
        .expect("write the context");
    let prefix = identity_prefix(child.id());
    // Killed while its RUN runs: the unpacked context and the container are left.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !debris(&prefix).iter().any(|d| d.starts_with("container")) {
        assert!(Instant::now() < deadline, "the RUN never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(
        debris(&prefix).iter().any(|d| d.contains("stdin")),
        "a SIGKILLed runner leaves its context from standard input: {:?}",
        debris(&prefix)
    );
    // What a runner killed during the export leaves beside the destination: its tracked
    // temporary file (the runner names them `<its prefix>f<n>`).
    let partial = format!("{}/{prefix}f1", out_dir.path());
    std::fs::write(&partial, b"a partial tar").expect("partial tar");
    // And one killed while it saved its context digests: the temporary cache file beside the
    // digest cache (named `<its prefix><cache file>`).
    let digest_dir = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cache")))
        .expect("a cache directory")
        .join("stageplan/context");
    std::fs::create_dir_all(&digest_dir).expect("digest cache directory");
    let digest_temp = digest_dir.join(format!("{prefix}0123456789abcdef.json"));
    std::fs::write(&digest_temp, b"{").expect("temporary digest file");
    // The next runner exporting there removes both.
    let quick = Context::new("stdin-sweeper", "FROM stageplan-test/busybox:1\nRUN true\n");
    let out = runner(&[
        "build",
        quick.path(),
        "--progress",
        "plain",
        "-o",
        &format!("type=tar,dest={}/next.tar", out_dir.path()),
    ])
    .output()
    .expect("runner");
    let left = debris(&prefix);
    remove_debris(&prefix);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(left, Vec::<String>::new());
    assert!(
        !std::path::Path::new(&partial).exists(),
        "the killed runner's partial tar is still beside the output"
    );
    assert!(
        !digest_temp.exists(),
        "the killed runner's temporary digest file is still beside the digest cache"
    );
}

#[test]
fn a_failed_run_that_printed_its_secret_keeps_it_out_of_the_error_the_record_and_the_report() {
    require_engine();
    let text = format!("printed-canary-{}", std::process::id());
    let dockerfile = "FROM stageplan-test/busybox:1\n\
        RUN --mount=type=secret,id=token echo \"token is $(cat /run/secrets/token)\"; exit 3\n";
    let ctx = Context::new("printed-fail", dockerfile);
    let secret = secret_file("printed-fail", &format!("{text}\n"));
    let record =
        std::env::temp_dir().join(format!("stageplan-faults-rec-{}.json", std::process::id()));
    let report = record.with_extension("html");
    let out = runner(&[
        "build",
        ctx.path(),
        "--no-cache",
        "--progress",
        "plain",
        "--secret",
        &format!("id=token,src={}", secret.display()),
        "--record",
        record.to_str().expect("utf-8 path"),
        "--report",
        report.to_str().expect("utf-8 path"),
    ])
    .output()
    .expect("run the runner");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let written = [
        std::fs::read_to_string(&record).unwrap_or_default(),
        std::fs::read_to_string(&report).unwrap_or_default(),
    ];
    let _ = std::fs::remove_file(&secret);
    let _ = std::fs::remove_file(&record);
    let _ = std::fs::remove_file(&report);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error = &stderr[stderr.find("error:").expect("an error line")..];
    assert!(error.contains("token is ****"), "{error}");
    assert!(
        !error.contains(&text),
        "the error holds the secret: {error}"
    );
    for (file, content) in ["--record", "--report"].iter().zip(&written) {
        assert!(
            content.contains("token is ****"),
            "{file} lacks the masked line"
        );
        assert!(!content.contains(&text), "{file} holds the secret");
    }
}
