//! Which runner process made a temporary container or volume, provably.
//!
//! Input: this process's boot id, PID namespace, pid and start time (from `/proc`); the names
//! of engine objects.
//! Output: the name prefix of this process's temporary objects, and for a name made by another
//! runner whether that runner is provably dead.
//! Invariant: a runner is called dead only when its object was made on this boot of this host
//! (same kernel boot id), in this PID namespace, and the pid it names is gone or now belongs to
//! a process that started at another time. Anything else (another host sharing the engine,
//! another PID namespace, an unreadable `/proc`) is never called dead.

use std::sync::OnceLock;

/// The prefix of every temporary container and volume a runner makes.
pub const TEMP_PREFIX: &str = "stageplan-tmp-";

/// The identity of one runner process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerIdentity {
    /// The first 12 hex digits of the kernel's boot id.
    pub boot: String,
    /// The inode number of the PID namespace.
    pub pid_namespace: u64,
    /// The process id within that namespace.
    pub pid: u32,
    /// The process start time, in clock ticks since boot.
    pub start_time: u64,
}

impl RunnerIdentity {
    /// This process's identity, or `None` when `/proc` cannot tell it (then nothing is ever
    /// swept, and objects are named with the pid only).
    pub fn current() -> Option<&'static RunnerIdentity> {
        static CURRENT: OnceLock<Option<RunnerIdentity>> = OnceLock::new();
        CURRENT
            .get_or_init(|| {
                Some(RunnerIdentity {
                    boot: boot_id()?,
                    pid_namespace: pid_namespace("self")?,
                    pid: std::process::id(),
                    start_time: start_time("self")?,
                })
            })
            .as_ref()
    }

    /// The name prefix of this identity's objects: `stageplan-tmp-<boot>-<pidns>-<pid>-<start>-`.
    pub fn prefix(&self) -> String {
        format!(
            "{TEMP_PREFIX}{}-{}-{}-{}-",
            self.boot, self.pid_namespace, self.pid, self.start_time
        )
    }

    /// Parses the identity out of an object name made with [`RunnerIdentity::prefix`].
    pub fn from_name(name: &str) -> Option<RunnerIdentity> {
        let rest = name.strip_prefix(TEMP_PREFIX)?;
        let mut parts = rest.splitn(5, '-');
        let boot = parts.next()?.to_string();
        let pid_namespace = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let start_time = parts.next()?.parse().ok()?;
        let counter = parts.next()?;
        if boot.len() != 12 || counter.is_empty() {
            return None;
        }
        Some(RunnerIdentity {
            boot,
            pid_namespace,
            pid,
            start_time,
        })
    }

    /// Whether the runner named by `other` is provably dead, as seen from `self`.
    pub fn proves_dead(&self, other: &RunnerIdentity) -> bool {
        if other.boot != self.boot || other.pid_namespace != self.pid_namespace {
            return false;
        }
        if other.pid == self.pid {
            return other.start_time != self.start_time;
        }
        let path = other.pid.to_string();
        match (pid_namespace(&path), start_time(&path)) {
            // The pid is free: the runner is gone.
            (None, None) => !std::path::Path::new(&format!("/proc/{path}")).exists(),
            // The pid was reused by a process that started at another time.
            (Some(ns), Some(started)) => ns == self.pid_namespace && started != other.start_time,
            _ => false,
        }
    }
}

/// The first 12 hex digits of `/proc/sys/kernel/random/boot_id`.
fn boot_id() -> Option<String> {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let hex: String = text
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    (hex.len() == 12).then_some(hex)
}

/// The inode of a process's PID namespace (`/proc/<pid>/ns/pid` links to `pid:[<inode>]`).
fn pid_namespace(pid: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
    let text = link.to_string_lossy();
    text.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// Field 22 of `/proc/<pid>/stat`: the start time in clock ticks since boot.
fn start_time(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_foreign_names_are_not_parsed() {
        let me = RunnerIdentity::current()
            .expect("/proc is readable in tests")
            .clone();
        let name = format!("{}7", me.prefix());
        assert_eq!(RunnerIdentity::from_name(&name), Some(me.clone()));
        assert_eq!(RunnerIdentity::from_name("stageplan-cache-0123"), None);
        assert_eq!(RunnerIdentity::from_name("stageplan-123-4"), None);
        assert_eq!(RunnerIdentity::from_name("stageplan-tmp-abc-1-2-3-4"), None);
    }

    #[test]
    fn only_provably_dead_runners_are_dead() {
        let me = RunnerIdentity::current()
            .expect("/proc is readable")
            .clone();
        assert!(!me.proves_dead(&me), "this process is alive");
        let restarted = RunnerIdentity {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(me.proves_dead(&restarted), "same pid, other start: dead");
        let other_namespace = RunnerIdentity {
            pid_namespace: me.pid_namespace + 1,
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(
            !me.proves_dead(&other_namespace),
            "another namespace is never provable"
        );
        let other_host = RunnerIdentity {
            boot: "000000000000".to_string(),
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(
            !me.proves_dead(&other_host),
            "another boot is never provable"
        );
        let gone = RunnerIdentity {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(me.proves_dead(&gone), "a free pid in this namespace: dead");
        let parent = std::os::unix::process::parent_id();
        let parent_start = start_time(&parent.to_string()).expect("parent stat");
        let live_parent = RunnerIdentity {
            pid: parent,
            start_time: parent_start,
            ..me.clone()
        };
        assert!(!me.proves_dead(&live_parent), "a live process is not dead");
    }
}
