//! Where one step's wall time goes: waiting (for the stages it reads or a `--jobs` slot),
//! transfer (archives into the container, mount contents), execution (the RUN process) and
//! commit; the rest is preparation (sources, hashing, the cache lookup, containers).
//!
//! Input: the step's phases as the steps time them. Output: [`StepTimes`] in whole milliseconds.
//! Invariant: the phases never add up to more than the step's wall time (preparation is the
//! remainder, never negative).

use std::time::{Duration, Instant};

use crate::record::types::StepTimes;

/// The clock of the step being performed.
#[derive(Debug, Clone, Copy)]
pub struct StepClock {
    started: Instant,
    wait: Duration,
    transfer: Duration,
    execute: Duration,
    commit: Duration,
}

impl Default for StepClock {
    fn default() -> Self {
        StepClock::start()
    }
}

impl StepClock {
    /// A clock started now.
    pub fn start() -> StepClock {
        StepClock {
            started: Instant::now(),
            wait: Duration::ZERO,
            transfer: Duration::ZERO,
            execute: Duration::ZERO,
            commit: Duration::ZERO,
        }
    }

    /// Time spent waiting for another stage or a `--jobs` slot.
    pub fn add_wait(&mut self, elapsed: Duration) {
        self.wait += elapsed;
    }

    /// Time spent moving files into the step's container.
    pub fn add_transfer(&mut self, elapsed: Duration) {
        self.transfer += elapsed;
    }

    /// Time the RUN process took.
    pub fn add_execute(&mut self, elapsed: Duration) {
        self.execute += elapsed;
    }

    /// Time the commit took.
    pub fn add_commit(&mut self, elapsed: Duration) {
        self.commit += elapsed;
    }

    /// The wall time since the step started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The split, in milliseconds, as of now.
    pub fn times(&self) -> StepTimes {
        let ms = |d: Duration| d.as_millis() as u64;
        let total = ms(self.started.elapsed());
        let (wait, transfer, execute, commit) = (
            ms(self.wait),
            ms(self.transfer),
            ms(self.execute),
            ms(self.commit),
        );
        let measured = wait + transfer + execute + commit;
        StepTimes {
            total_ms: total.max(measured),
            wait_ms: wait,
            prepare_ms: total.saturating_sub(measured),
            transfer_ms: transfer,
            execute_ms: execute,
            commit_ms: commit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_to_the_total() {
        let mut clock = StepClock::start();
        clock.add_wait(Duration::from_millis(5));
        clock.add_execute(Duration::from_millis(7));
        std::thread::sleep(Duration::from_millis(20));
        let times = clock.times();
        assert_eq!(times.wait_ms, 5);
        assert_eq!(times.execute_ms, 7);
        assert_eq!(
            times.total_ms,
            times.wait_ms
                + times.prepare_ms
                + times.transfer_ms
                + times.execute_ms
                + times.commit_ms
        );
        assert!(times.total_ms >= 20);
    }
}
