//! Refused offers and pulls, shown to the owner of `--accept-dir` / `--share-dir`: one line
//! each, at most a few per window so that a flooding peer cannot flood the terminal. Offers
//! the accept callback answered are already shown by it and are not repeated.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rats::PeerId;
use rats::rats_transfer::TransferId;

/// Lines shown per window; the rest are counted and mentioned with the next line shown.
const LINES_PER_WINDOW: usize = 5;
const WINDOW: Duration = Duration::from_secs(10);
/// Offers remembered as seen by the accept callback.
const OFFERS_KEPT: usize = 256;

/// Decides which refusals get a line.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Offers that reached the accept callback (it reports its own answer).
    offered: VecDeque<TransferId>,
    /// When the last lines were shown.
    shown: VecDeque<Instant>,
    /// Refusals not shown since the last line.
    suppressed: usize,
}

/// A refusal to show.
pub struct Shown {
    pub id: TransferId,
    pub peer: PeerId,
    pub pull: bool,
    pub reason: String,
    /// Refusals left out before this one.
    pub suppressed: usize,
}

impl Refusals {
    /// An offer went to the accept callback.
    pub fn offered(&mut self, id: TransferId) {
        if self.offered.len() >= OFFERS_KEPT {
            self.offered.pop_front();
        }
        self.offered.push_back(id);
    }

    /// A refusal: `Some` when it gets a line now.
    pub fn refused(
        &mut self,
        id: TransferId,
        peer: PeerId,
        pull: bool,
        reason: &str,
        now: Instant,
    ) -> Option<Shown> {
        if !pull && self.offered.contains(&id) {
            return None;
        }
        while self
            .shown
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.shown.pop_front();
        }
        if self.shown.len() >= LINES_PER_WINDOW {
            self.suppressed += 1;
            return None;
        }
        self.shown.push_back(now);
        Some(Shown {
            id,
            peer,
            pull,
            reason: reason.to_string(),
            suppressed: std::mem::take(&mut self.suppressed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_a_few_lines_and_counted() {
        let mut r = Refusals::default();
        let peer = rats::core::Identity::generate().peer_id();
        let t0 = Instant::now();
        let shown = (0..50)
            .filter(|_| {
                r.refused(TransferId::random(), peer, true, "x", t0)
                    .is_some()
            })
            .count();
        assert_eq!(shown, LINES_PER_WINDOW);
        let next = r
            .refused(TransferId::random(), peer, true, "x", t0 + WINDOW)
            .expect("a new window");
        assert_eq!(next.suppressed, 50 - LINES_PER_WINDOW);
    }

    #[test]
    fn offers_the_callback_answered_are_not_repeated() {
        let mut r = Refusals::default();
        let peer = rats::core::Identity::generate().peer_id();
        let id = TransferId::random();
        r.offered(id);
        assert!(
            r.refused(id, peer, false, "rejected", Instant::now())
                .is_none()
        );
        assert!(
            r.refused(TransferId::random(), peer, false, "limit", Instant::now())
                .is_some()
        );
    }
}
