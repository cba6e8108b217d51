//! `--ssh ID=KEYFILE[,KEYFILE…]`: key files loaded into an `ssh-agent` of the build's own, as
//! `docker build --ssh` loads them into an agent of the CLI's.
//!
//! Input: the `--ssh` specs, each an agent socket or key files.
//! Output: the agent socket per id (the given one, or the started agent's), and [`KeyAgents`],
//! which stops the started agents when dropped.
//! Invariant: a key is read by `ssh-add` only, straight into the agent's memory (never copied
//! anywhere); an agent lives no longer than the build: dropping [`KeyAgents`] ends it, and a
//! runner killed with SIGKILL closes the agent's parent's input, which ends it within ten
//! seconds (`ssh-agent` runs as the child of a `cat` that waits on the runner's pipe). A key
//! with a passphrase is refused (no prompt), with what to do instead.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::error::{Result, RunnerError};

/// Where an `--ssh` id's agent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshSource {
    /// A running agent's socket.
    Socket(PathBuf),
    /// Key files to load into an agent of the build's own.
    Keys(Vec<PathBuf>),
}

/// The agents started for key files; dropping this stops them.
#[derive(Default)]
pub struct KeyAgents {
    agents: Vec<(Child, i32)>,
}

impl KeyAgents {
    /// Starts one agent per id given key files and loads them; returns the socket per id.
    pub fn start(
        specs: BTreeMap<String, SshSource>,
    ) -> Result<(KeyAgents, BTreeMap<String, PathBuf>)> {
        let mut agents = KeyAgents::default();
        let mut sockets = BTreeMap::new();
        for (id, source) in specs {
            let socket = match source {
                SshSource::Socket(socket) => socket,
                SshSource::Keys(keys) => agents.load(&id, &keys)?,
            };
            sockets.insert(id, socket);
        }
        Ok((agents, sockets))
    }

    /// Starts an agent for `id` and adds `keys` to it; returns its socket.
    fn load(&mut self, id: &str, keys: &[PathBuf]) -> Result<PathBuf> {
        let failed = |what: String| RunnerError::Usage(format!("--ssh {id}: {what}"));
        // The agent announces itself to its command, which prints its pid and socket and then
        // waits on the runner's pipe: when the runner goes, so does the agent.
        let mut child = Command::new("ssh-agent")
            .args([
                "sh",
                "-c",
                "printf '%s %s\\n' \"$SSH_AGENT_PID\" \"$SSH_AUTH_SOCK\"; exec cat >/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                failed(format!(
                    "cannot start ssh-agent to hold the key files ({e}); install OpenSSH's client, or start an agent, ssh-add the keys and pass --ssh {id}"
                ))
            })?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| std::io::BufReader::new(out).read_line(&mut line));
        let announced = line
            .split_once(' ')
            .and_then(|(pid, socket)| Some((pid.parse::<i32>().ok()?, socket.trim())))
            .filter(|(pid, socket)| *pid > 0 && !socket.is_empty());
        let Some((pid, socket)) = announced else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "ssh-agent did not start ({read:?}, said {line:?})"
            )));
        };
        let socket = PathBuf::from(socket);
        self.agents.push((child, pid));
        let added = Command::new("ssh-add")
            .arg("-q")
            .args(keys)
            .env("SSH_AUTH_SOCK", &socket)
            .env("SSH_ASKPASS_REQUIRE", "never")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| failed(format!("cannot run ssh-add: {e}")))?;
        if !added.status.success() {
            let said = String::from_utf8_lossy(&added.stderr).trim().to_string();
            return Err(failed(format!(
                "the key files could not be loaded ({said}); a key with a passphrase needs your own agent: ssh-add KEY, then --ssh {id}"
            )));
        }
        Ok(socket)
    }
}

impl Drop for KeyAgents {
    fn drop(&mut self) {
        for (child, pid) in &mut self.agents {
            // `ssh-agent -k` stops the agent SSH_AGENT_PID names (it removes its socket).
            let _ = Command::new("ssh-agent")
                .arg("-k")
                .env("SSH_AGENT_PID", pid.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            // The agent ends on its own time after `-k`: wait (briefly) until it has, so that
            // nothing of the build runs on after the runner (a dead agent, not yet reaped,
            // shows an empty command line).
            let alive = |pid: i32| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| !line.is_empty())
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while alive(*pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
