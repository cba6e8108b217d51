//! Temporary containers: naming, tracking and removal.
//!
//! Input: every container the runner creates goes through [`Reaper::create`].
//! Output: containers named `stageplan-<pid>-<n>`, removed by [`Reaper::remove`], by
//! [`Reaper::remove_all`] on failure or Ctrl-C, and by [`Reaper::sweep_dead`] at the next
//! start-up when a runner was killed (RUNNER-NOTES P15: a SIGKILLed runner leaves its RUN
//! container running).
//! Invariant: temporary containers carry no labels (they would leak into commits, P5); the
//! name prefix is the only mark, so only names with a dead runner's pid are swept.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::{ContainerSpec, Engine};
use crate::error::Result;

/// The name prefix of every temporary container.
pub const NAME_PREFIX: &str = "stageplan-";

/// Tracks the temporary containers of this process.
#[derive(Clone)]
pub struct Reaper {
    engine: Engine,
    live: Arc<Mutex<BTreeSet<String>>>,
    counter: Arc<AtomicU64>,
}

impl Reaper {
    /// A reaper for containers created on `engine`.
    pub fn new(engine: Engine) -> Reaper {
        Reaper {
            engine,
            live: Arc::new(Mutex::new(BTreeSet::new())),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Creates a container named `stageplan-<pid>-<n>`; returns its id.
    pub async fn create(&self, mut spec: ContainerSpec) -> Result<String> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        spec.name = format!("{NAME_PREFIX}{}-{n}", std::process::id());
        // Track the name before the request so a Ctrl-C during it still finds the container.
        self.lock().insert(spec.name.clone());
        match self.engine.create_container(&spec).await {
            Ok(id) => {
                let mut live = self.lock();
                live.remove(&spec.name);
                live.insert(id.clone());
                Ok(id)
            }
            Err(e) => {
                self.lock().remove(&spec.name);
                Err(e)
            }
        }
    }

    /// Removes one container.
    pub async fn remove(&self, id: &str) -> Result<()> {
        let result = self.engine.remove_container(id).await;
        if result.is_ok() {
            self.lock().remove(id);
        }
        result
    }

    /// Force-removes every container this process still tracks; returns how many.
    pub async fn remove_all(&self) -> usize {
        let ids: Vec<String> = std::mem::take(&mut *self.lock()).into_iter().collect();
        let removals = ids.iter().map(|id| self.engine.remove_container(id));
        futures_util::future::join_all(removals).await;
        // A create that was in flight may have finished meanwhile; sweep by name as well.
        let mine = format!("{NAME_PREFIX}{}-", std::process::id());
        let mut count = ids.len();
        if let Ok(left) = self.engine.list_containers_by_prefix(&mine).await {
            count += left.len();
            for container in left {
                let _ = self.engine.remove_container(&container.id).await;
            }
        }
        count
    }

    /// Removes containers left by runners whose process no longer exists on this machine.
    pub async fn sweep_dead(&self) -> Result<usize> {
        let mut swept = 0;
        for container in self.engine.list_containers_by_prefix(NAME_PREFIX).await? {
            let dead = container
                .names
                .iter()
                .filter_map(|name| owner_pid(name))
                .any(|pid| !runner_alive(pid));
            if dead {
                self.engine.remove_container(&container.id).await?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The pid in a `stageplan-<pid>-<n>` name.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether `pid` is a live runner process (a reused pid of another program counts as dead).
fn runner_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(argv0).contains("runner")
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owner_pids() {
        assert_eq!(owner_pid("stageplan-123-4"), Some(123));
        assert_eq!(owner_pid("stageplan-test-x"), None);
        assert_eq!(owner_pid("other-123-4"), None);
        assert!(runner_alive(std::process::id()));
        assert!(!runner_alive(u32::MAX - 1));
    }
}
