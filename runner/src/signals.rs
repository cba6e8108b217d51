//! The signals that stop a build: SIGINT, SIGTERM and SIGHUP, all handled the same way.
//!
//! Input: the process's signals, from the moment [`Signals::install`] runs.
//! Output: the name of the first signal that arrives.
//! Invariant: once installed, none of the three kills the process: the runner stops the build,
//! removes everything it made and exits with 130 (SIGKILL cannot be caught; the next runner's
//! start-up sweep removes what a killed runner left).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// The installed handlers.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next signal; returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
