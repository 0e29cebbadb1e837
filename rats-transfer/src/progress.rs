//! Progress bookkeeping: bytes and chunks done, current and average rate, ETA, and when the
//! next progress event is due.

use std::time::{Duration, Instant};

use crate::event::Progress;

pub(crate) struct Tracker {
    progress: Progress,
    started: Instant,
    bytes_at_start: u64,
    last_emit: Instant,
    bytes_at_last_emit: u64,
    interval: Duration,
}

impl Tracker {
    pub(crate) fn new(total_bytes: u64, total_chunks: u64, interval: Duration) -> Self {
        let now = Instant::now();
        Tracker {
            progress: Progress {
                total_bytes,
                total_chunks,
                ..Progress::default()
            },
            started: now,
            bytes_at_start: 0,
            last_emit: now,
            bytes_at_last_emit: 0,
            interval,
        }
    }

    /// Restarts the rate measurement (after a pause or a reconnect) with `bytes_done` and
    /// `chunks_done` already there.
    pub(crate) fn restart(&mut self, bytes_done: u64, chunks_done: u64, files_done: usize) {
        let now = Instant::now();
        self.progress.bytes_done = bytes_done;
        self.progress.chunks_done = chunks_done;
        self.progress.files_done = files_done;
        self.started = now;
        self.bytes_at_start = bytes_done;
        self.last_emit = now;
        self.bytes_at_last_emit = bytes_done;
    }

    pub(crate) fn bytes_done(&self) -> u64 {
        self.progress.bytes_done
    }

    pub(crate) fn add_chunk(&mut self, bytes: u64) {
        self.progress.bytes_done += bytes;
        self.progress.chunks_done += 1;
    }

    pub(crate) fn file_done(&mut self) {
        self.progress.files_done += 1;
    }

    /// A progress snapshot if the interval passed since the last one (or `force`).
    pub(crate) fn due(&mut self, force: bool) -> Option<Progress> {
        let now = Instant::now();
        let since = now.duration_since(self.last_emit);
        if !force && since < self.interval {
            return None;
        }
        let secs = since.as_secs_f64().max(1e-6);
        self.progress.current_rate =
            (self.progress.bytes_done - self.bytes_at_last_emit) as f64 / secs;
        self.last_emit = now;
        self.bytes_at_last_emit = self.progress.bytes_done;
        Some(self.snapshot())
    }

    pub(crate) fn snapshot(&mut self) -> Progress {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-6);
        let moved = self.progress.bytes_done.saturating_sub(self.bytes_at_start);
        self.progress.average_rate = moved as f64 / elapsed;
        let left = self
            .progress
            .total_bytes
            .saturating_sub(self.progress.bytes_done);
        self.progress.eta = if left == 0 {
            Some(Duration::ZERO)
        } else if moved > 0 {
            Some(Duration::from_secs_f64(
                left as f64 / self.progress.average_rate,
            ))
        } else {
            None
        };
        self.progress.clone()
    }
}
