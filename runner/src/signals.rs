//! The signals that stop a build: SIGINT, SIGTERM and SIGHUP, all handled the same way.
//!
//! Input: the process's signals, from the moment [`Signals::early`] runs (the first thing
//! `main` does, before the async runtime exists).
//! Output: the name of the first signal that arrives.
//! Invariant: once registered, none of the three kills the process: the runner stops the build,
//! removes everything it made and exits with 130 (SIGKILL cannot be caught; the next runner's
//! start-up sweep removes what a killed runner left). A signal that arrives before the async
//! handlers exist is remembered and reported by the first [`Signals::recv`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The signals handled, with their names.
const HANDLED: [(i32, &str); 3] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")];

/// Flags set by signals that arrive before the async handlers are installed.
pub struct EarlySignals {
    flags: Vec<(Arc<AtomicBool>, &'static str)>,
}

/// The installed handlers.
pub struct Signals {
    early: EarlySignals,
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    /// Registers flag handlers for the three signals, so that from now on they no longer end
    /// the process; call it first in `main`.
    pub fn early() -> std::io::Result<EarlySignals> {
        let mut flags = Vec::new();
        for (number, name) in HANDLED {
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(number, flag.clone())?;
            flags.push((flag, name));
        }
        Ok(EarlySignals { flags })
    }

    /// Installs the async handlers (inside the runtime).
    pub fn install(early: EarlySignals) -> std::io::Result<Signals> {
        Ok(Signals {
            early,
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next signal (or reports one that came before the handlers); returns its
    /// name.
    pub async fn recv(&mut self) -> &'static str {
        for (flag, name) in &self.early.flags {
            if flag.swap(false, Ordering::SeqCst) {
                return name;
            }
        }
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
