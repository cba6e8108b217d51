//! `RUN --mount=type=ssh` with `--ssh` on a real engine, from Dockerfile text, against BuildKit:
//! a real `ssh-agent` holding a fresh key is forwarded into RUNs, where a real `ssh-add -l` (the
//! host's, copied into the context with its libraries) lists the key through the socket.
//!
//! Input: a context with the host's `ssh-add`, an `ssh-agent` on a socket in a scratch
//! directory, one Dockerfile built by the runner and by `DOCKER_BUILDKIT=1 docker build --ssh`.
//! Output: assertions on what the RUNs saw (socket path, owner, mode, the key), on the two
//! images being the same file for file, on key files loaded into an agent of the build's own,
//! and on the runner's errors and leftovers.
//! Invariant: the images carry `stageplan-rt-<pid>` and are removed; the agent is killed.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use support::faulted::{debris, start};
use support::snapshot::differences;
use support::{
    assert_built, buildkit_build, docker, image_tag, remove_images, require_engine, runner_bin,
    TempDir, BASE,
};

/// An `ssh-agent` in the foreground on `socket`, killed when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    /// Starts an agent and adds a fresh ed25519 key (made in `dir`) to it; returns the agent and
    /// the key's fingerprint as `ssh-add -l` prints it.
    fn start(dir: &Path) -> (Agent, String) {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start ssh-agent (Debian's openssh-client; scripts/setup.sh installs it)");
        let agent = Agent { child, socket };
        for _ in 0..100 {
            if agent.socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let key = dir.join("id_ed25519");
        let made = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "stageplan-ssh-test",
                "-f",
            ])
            .arg(&key)
            .output()
            .expect("run ssh-keygen");
        assert!(made.status.success(), "ssh-keygen: {made:?}");
        let added = agent.ssh_add(&[key.to_str().unwrap()]);
        assert!(added.status.success(), "ssh-add: {added:?}");
        let listed = agent.ssh_add(&["-l"]);
        let fingerprint = String::from_utf8_lossy(&listed.stdout).trim().to_string();
        assert!(fingerprint.contains("stageplan-ssh-test"), "{fingerprint}");
        (agent, fingerprint)
    }

    fn ssh_add(&self, args: &[&str]) -> Output {
        Command::new("ssh-add")
            .args(args)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .expect("run ssh-add")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the host's `ssh-add` and the libraries `ldd` names (the loader included) into
/// `tools/` of the context, so a busybox image can run it as `/tools/ssh-add`.
fn bundle_ssh_add(context: &TempDir) -> String {
    let tools = context.0.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let binary = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ssh-add"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let binary = binary.trim();
    let ldd = Command::new("ldd").arg(binary).output().expect("run ldd");
    let mut loader = None;
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            let name = Path::new(word)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            std::fs::copy(word, tools.join(&name)).unwrap();
            if name.starts_with("ld-linux") {
                loader = Some(name);
            }
        }
    }
    std::fs::copy(binary, tools.join("ssh-add")).unwrap();
    let loader = loader.expect("ldd names the loader");
    format!("/tools/{loader} --library-path /tools /tools/ssh-add")
}

/// The agents that runners run with `TMPDIR=tmp` started for key files (`ssh-agent sh -c …`,
/// with the runner's environment; this file's own agents run as `ssh-agent -D -a …`), by pid.
fn build_agents(tmp: &Path) -> Vec<u32> {
    let marker = format!("TMPDIR={}", tmp.display()).into_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            (cmdline.starts_with(b"ssh-agent\0sh\0-c\0")
                && environ
                    .split(|b| *b == 0)
                    .any(|var| var == marker.as_slice()))
            .then_some(pid)
        })
        .collect()
}

/// Runs `runner build` with `TMPDIR` set to `tmp` (where its sockets are made).
fn runner_build(args: &[&str], tmp: &Path) -> Output {
    Command::new(runner_bin())
        .arg("build")
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .expect("run the runner")
}

#[test]
fn forwards_agents_into_runs_as_buildkit_does() {
    require_engine();
    let scratch = TempDir::new("ssh-agent");
    let (agent, fingerprint) = Agent::start(&scratch.0);
    let context = TempDir::new("ssh-context");
    let ssh_add = bundle_ssh_add(&context);
    // Each RUN writes what it saw; the image files are compared with BuildKit's below.
    context.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\n\
             COPY tools /tools\n\
             RUN --mount=type=ssh sh -c 'echo \"$SSH_AUTH_SOCK\"; stat -c \"%a %u:%g\" /run/buildkit/ssh_agent.0; {ssh_add} -l; echo rc=$?' > /default\n\
             RUN --mount=type=ssh,id=deploy,target=/agent,uid=1000,gid=7,mode=0660 --mount=type=ssh sh -c 'echo \"$SSH_AUTH_SOCK\"; stat -c \"%a %u:%g\" /agent /run/buildkit/ssh_agent.1; SSH_AUTH_SOCK=/run/buildkit/ssh_agent.1 {ssh_add} -l; echo rc=$?' > /two\n\
             RUN --mount=type=ssh,id=absent sh -c 'echo \"$SSH_AUTH_SOCK\"; test -e \"$SSH_AUTH_SOCK\" || echo no socket' > /absent\n\
             USER 1000\n\
             RUN --mount=type=ssh sh -c '{ssh_add} -l 2>&1; echo rc=$?' > /tmp/not-owner\n\
             RUN --mount=type=ssh,uid=1000 sh -c '{ssh_add} -l; echo rc=$?' > /tmp/owner\n\
             USER 0\n\
             RUN rm -r /tools\n"
        ),
    );
    let socket = agent.socket.to_string_lossy().into_owned();
    let deploy = format!("deploy={socket}");
    let (ours, theirs) = (image_tag("ssh-runner"), image_tag("ssh-buildkit"));
    let tmp = TempDir::new("ssh-tmp");
    let ctx = context.path_str();
    // --no-cache: the steps' keys do not cover the agent's keys (nor do BuildKit's), and each
    // run of this test makes a new key.
    let built = runner_build(
        &[
            &ctx,
            "--no-cache",
            "--ssh",
            &format!("default={socket}"),
            "--ssh",
            &deploy,
            "-t",
            &ours,
        ],
        &tmp.0,
    );
    assert_built(&built, "runner build --ssh");
    buildkit_build(
        &context.0,
        &[
            "--no-cache",
            "--ssh",
            &format!("default={socket}"),
            "--ssh",
            &deploy,
            "-t",
            &theirs,
        ],
    );

    let file = |path: &str| docker(&["run", "--rm", &ours, "cat", path]);
    assert_eq!(
        file("/default"),
        format!("/run/buildkit/ssh_agent.0\n600 0:0\n{fingerprint}\nrc=0\n")
    );
    assert_eq!(
        file("/two"),
        format!("/agent\n660 1000:7\n600 0:0\n{fingerprint}\nrc=0\n")
    );
    assert_eq!(file("/absent"), "/run/buildkit/ssh_agent.0\nno socket\n");
    assert!(
        file("/tmp/not-owner").ends_with("rc=2\n"),
        "{}",
        file("/tmp/not-owner")
    );
    assert_eq!(file("/tmp/owner"), format!("{fingerprint}\nrc=0\n"));
    let problems = differences(None, &ours, &theirs);
    assert!(
        problems.is_empty(),
        "the runner's image differs from BuildKit's:\n{}",
        problems.join("\n")
    );
    // The sockets the runner served are gone with the build.
    let left: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    remove_images(None, &[&ours, &theirs]);
}

#[test]
fn a_required_agent_that_is_not_given_fails_the_step() {
    require_engine();
    let context = TempDir::new("ssh-required");
    context.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN --mount=type=ssh,id=deploy,required true\n"),
    );
    let tmp = TempDir::new("ssh-required-tmp");
    let out = runner_build(&[&context.path_str()], &tmp.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 2, as for a required secret that is not given: the build's inputs are incomplete.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 2")
            && stderr
                .contains("no SSH key \"deploy\" forwarded from the client; pass --ssh deploy"),
        "{stderr}"
    );
    // A file that is not a key: refused before anything is built, with ssh-add's words.
    let key = context.0.join("id_ed25519");
    std::fs::write(&key, "not a key").unwrap();
    let out = runner_build(
        &[
            &context.path_str(),
            "--ssh",
            &format!("deploy={}", key.display()),
        ],
        &tmp.0,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--ssh deploy: the key files could not be loaded"),
        "{stderr}"
    );
}

#[test]
fn sigterm_while_a_run_holds_the_agent_leaves_nothing_behind() {
    require_engine();
    let scratch = TempDir::new("ssh-sigterm");
    let (agent, _) = Agent::start(&scratch.0);
    let context = TempDir::new("ssh-sigterm-context");
    context.write(
        "Dockerfile",
        &format!("FROM {BASE}\nRUN --mount=type=ssh sleep 60\n"),
    );
    let socket = format!("default={}", agent.socket.display());
    let args: Vec<String> = ["build", &context.path_str(), "--no-cache", "--ssh", &socket]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let started = start(&args, &[], &scratch.0);
    // Signalled once the RUN's socket exists (its container is being made or runs).
    let tmp = std::env::temp_dir();
    let socket_made = || {
        std::fs::read_dir(&tmp).unwrap().flatten().any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(&started.prefix)
                && std::os::unix::fs::FileTypeExt::is_socket(&entry.file_type().unwrap())
        })
    };
    let waited = std::time::Instant::now();
    while !socket_made() {
        assert!(
            waited.elapsed().as_secs() < 60,
            "the RUN's socket never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    started.signal("TERM");
    let finished = started.finish();
    assert_eq!(finished.code, Some(130), "{}", finished.stderr);
    assert_eq!(debris(&finished.prefix), Vec::<String>::new());
    // The agent itself is untouched.
    assert!(agent.ssh_add(&["-l"]).status.success());
}

#[test]
fn key_files_are_loaded_into_an_agent_of_the_builds_own() {
    require_engine();
    let scratch = TempDir::new("ssh-keys");
    let keygen = |name: &str, passphrase: &str| {
        let key = scratch.0.join(name);
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f"])
            .arg(&key)
            .output()
            .expect("run ssh-keygen");
        assert!(made.status.success(), "ssh-keygen: {made:?}");
        key
    };
    let (plain, locked) = (
        keygen("plain-key", ""),
        keygen("locked-key", "a passphrase"),
    );
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&plain)
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&listed.stdout).trim().to_string();
    let context = TempDir::new("ssh-keys-context");
    let ssh_add = bundle_ssh_add(&context);
    context.write(
        "Dockerfile",
        &format!(
            "FROM {BASE}\nCOPY tools /tools\nRUN --mount=type=ssh,id=deploy {ssh_add} -l > /keys\nRUN rm -r /tools\n"
        ),
    );
    let image = image_tag("ssh-keys");
    let tmp = TempDir::new("ssh-keys-tmp");
    let ctx = context.path_str();
    let key_arg = format!("deploy={}", plain.display());
    let built = runner_build(
        &[&ctx, "--no-cache", "--ssh", &key_arg, "-t", &image],
        &tmp.0,
    );
    assert_built(&built, "runner build --ssh deploy=KEYFILE");
    assert_eq!(
        docker(&["run", "--rm", &image, "cat", "/keys"]),
        format!("{fingerprint}\n")
    );
    assert_eq!(
        build_agents(&tmp.0),
        Vec::<u32>::new(),
        "the agent outlived the build"
    );
    // A key with a passphrase cannot be loaded without a prompt: refused, with what to do.
    let locked_arg = format!("deploy={}", locked.display());
    let out = runner_build(&[&ctx, "--ssh", &locked_arg], &tmp.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a key with a passphrase needs your own agent"),
        "{stderr}"
    );
    assert_eq!(
        build_agents(&tmp.0),
        Vec::<u32>::new(),
        "the refused agent outlived the build"
    );
    remove_images(None, &[&image]);
}
