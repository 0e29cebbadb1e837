//! A time-stamped record of what the soak did and saw (kills, restarts, transfer steps), kept
//! in the run's folder as `soak.log` to explain a failure afterwards. Bounded in lines.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Lines written at most.
const MAX_LINES: u64 = 500_000;

/// The journal.
pub struct Journal {
    out: Option<std::io::BufWriter<std::fs::File>>,
    start: Instant,
    lines: u64,
}

impl Journal {
    /// A journal in `path` (none if it cannot be created) with times from `start`.
    pub fn create(path: &Path, start: Instant) -> Self {
        let out = std::fs::File::create(path)
            .ok()
            .map(std::io::BufWriter::new);
        Journal {
            out,
            start,
            lines: 0,
        }
    }

    /// Writes one line.
    pub fn note(&mut self, text: std::fmt::Arguments<'_>) {
        if self.lines >= MAX_LINES {
            return;
        }
        self.lines += 1;
        let t = self.start.elapsed().as_secs_f64();
        if let Some(out) = &mut self.out
            && writeln!(out, "{t:9.3} {text}").is_err()
        {
            self.out = None;
        }
    }

    /// Flushes what was written.
    pub fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            let _ = out.flush();
        }
    }
}
