//! A coarse clock: milliseconds since node start, advanced by the sweeper tick, so the hot paths
//! stamp activity with one relaxed atomic store instead of a clock read or a timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct CoarseClock {
    start: Instant,
    now_ms: AtomicU64,
}

impl CoarseClock {
    pub(crate) fn new() -> Self {
        CoarseClock {
            start: Instant::now(),
            // Start at 1 so that 0 can mean "never" in activity stamps.
            now_ms: AtomicU64::new(1),
        }
    }

    /// The last ticked time in ms (never 0).
    pub(crate) fn now(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    /// Reads the real clock and stores it.
    pub(crate) fn tick(&self) -> u64 {
        let ms = self.start.elapsed().as_millis() as u64 + 1;
        self.now_ms.store(ms, Ordering::Relaxed);
        ms
    }

    /// Precise microseconds since start (for RTT probes).
    pub(crate) fn micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}
