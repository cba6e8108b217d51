//! The signals that stop a build: the signals whose default action ends the process and that a
//! process may catch (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, and the others
//! in [`HANDLED`]), all handled the same way.
//!
//! Input: the process's signals, from the moment [`Signals::early`] runs (the first thing
//! `main` does, before the async runtime exists).
//! Output: the name of the first signal that arrives.
//! Invariant: once registered, none of them kills the process: the runner stops the build,
//! removes everything it made and exits with 130 (SIGKILL and SIGSTOP cannot be caught, and the
//! faults SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and SIGSYS are the process's own; the next
//! runner's start-up sweep removes what a killed runner left). SIGPIPE stays ignored, as Rust
//! sets it: a closed output is an error where it is written. A signal that arrives before the
//! async handlers exist is remembered and reported by the first [`Signals::recv`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::select_all;
use signal_hook::consts::signal::{
    SIGABRT, SIGALRM, SIGHUP, SIGINT, SIGIO, SIGPROF, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
    SIGVTALRM, SIGXCPU, SIGXFSZ,
};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The signals handled, with their names.
const HANDLED: [(i32, &str); 13] = [
    (SIGINT, "SIGINT"),
    (SIGTERM, "SIGTERM"),
    (SIGHUP, "SIGHUP"),
    (SIGQUIT, "SIGQUIT"),
    (SIGUSR1, "SIGUSR1"),
    (SIGUSR2, "SIGUSR2"),
    (SIGALRM, "SIGALRM"),
    (SIGVTALRM, "SIGVTALRM"),
    (SIGPROF, "SIGPROF"),
    (SIGXCPU, "SIGXCPU"),
    (SIGXFSZ, "SIGXFSZ"),
    (SIGIO, "SIGIO"),
    // Sent by another process (a real abort resets the handler and raises it again).
    (SIGABRT, "SIGABRT"),
];

/// Flags set by signals that arrive before the async handlers are installed.
pub struct EarlySignals {
    flags: Vec<(Arc<AtomicBool>, &'static str)>,
}

/// The installed handlers.
pub struct Signals {
    early: EarlySignals,
    streams: Vec<(Signal, &'static str)>,
}

impl Signals {
    /// Registers flag handlers for the signals, so that from now on they no longer end the
    /// process; call it first in `main`.
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
        let streams = HANDLED
            .iter()
            .map(|&(number, name)| Ok((signal(SignalKind::from_raw(number))?, name)))
            .collect::<std::io::Result<_>>()?;
        Ok(Signals { early, streams })
    }

    /// Waits for the next signal (or reports one that came before the handlers); returns its
    /// name.
    pub async fn recv(&mut self) -> &'static str {
        for (flag, name) in &self.early.flags {
            if flag.swap(false, Ordering::SeqCst) {
                // A delivery after the async handlers were installed is pending on its stream
                // too: taken now, so that it is not reported a second time.
                for (stream, stream_name) in &mut self.streams {
                    if *stream_name == *name {
                        let _ = futures_util::FutureExt::now_or_never(stream.recv());
                    }
                }
                return name;
            }
        }
        let waits = self.streams.iter_mut().map(|(stream, name)| {
            let name = *name;
            Box::pin(async move {
                stream.recv().await;
                name
            })
        });
        let name = select_all(waits).await.0;
        // The early flag of the same delivery is set too: cleared, so that one signal is
        // reported once (a second report would read as a second signal).
        for (flag, flag_name) in &self.early.flags {
            if *flag_name == name {
                flag.store(false, Ordering::SeqCst);
            }
        }
        name
    }
}
