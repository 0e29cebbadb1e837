//! Live progress bars, one per running transfer, drawn on stderr. indicatif draws nothing
//! when stderr is not a terminal, so scripts and tests see only stdout.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rats::rats_transfer::{Direction, Progress, TransferId, TransferInfo};

use crate::transfer::print::{eta_text, rate_text, short_name};

/// Longest name shown in a bar's prefix, in characters.
const NAME_CHARS: usize = 24;

static MULTI: OnceLock<MultiProgress> = OnceLock::new();

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(MultiProgress::new)
}

/// Runs `f` (which prints on stdout) with the bars cleared, then draws them again.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match MULTI.get() {
        Some(m) => m.suspend(f),
        None => f(),
    }
}

/// The bars of the running transfers.
#[derive(Default)]
pub struct Bars {
    bars: Mutex<HashMap<TransferId, ProgressBar>>,
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{bar:28.cyan/blue}] {bytes}/{total_bytes} {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn prefix(info: &TransferInfo) -> String {
    let arrow = match info.direction {
        Direction::Outgoing => '↑',
        Direction::Incoming => '↓',
    };
    format!(
        "{} {arrow} {}",
        info.id.short(),
        short_name(&info.name, NAME_CHARS)
    )
}

impl Bars {
    fn lock(&self) -> MutexGuard<'_, HashMap<TransferId, ProgressBar>> {
        self.bars.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a bar for `info` unless it has one; true when it was added.
    pub fn start(&self, info: &TransferInfo) -> bool {
        let mut bars = self.lock();
        if bars.contains_key(&info.id) {
            return false;
        }
        let bar = ProgressBar::new(info.total_bytes)
            .with_style(style())
            .with_prefix(prefix(info))
            .with_position(info.progress.bytes_done);
        bars.insert(info.id, multi().add(bar));
        true
    }

    /// Whether `id` has a bar.
    pub fn has(&self, id: TransferId) -> bool {
        self.lock().contains_key(&id)
    }

    /// Moves the bar of `id` to `p`.
    pub fn progress(&self, id: TransferId, p: &Progress) {
        if let Some(bar) = self.lock().get(&id) {
            bar.set_length(p.total_bytes);
            bar.set_position(p.bytes_done);
            let eta = p.eta.map(|d| format!(", ETA {}", eta_text(d)));
            bar.set_message(format!(
                "{}{}",
                rate_text(p.current_rate),
                eta.unwrap_or_default()
            ));
        }
    }

    /// Shows `text` (paused, waiting...) in the bar of `id`.
    pub fn message(&self, id: TransferId, text: &str) {
        if let Some(bar) = self.lock().get(&id) {
            bar.set_message(text.to_string());
        }
    }

    /// Removes the bar of `id`.
    pub fn finish(&self, id: TransferId) {
        if let Some(bar) = self.lock().remove(&id) {
            bar.finish_and_clear();
            multi().remove(&bar);
        }
    }

    /// The transfers that have a bar.
    pub fn ids(&self) -> Vec<TransferId> {
        self.lock().keys().copied().collect()
    }
}
