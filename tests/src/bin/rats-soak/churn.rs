//! When to kill which node. Every `every` one node goes: half of the time any node that is up,
//! the other half a node in the middle of a transfer: the kill then waits for the next
//! `transfer_started` (data moving) and strikes its sender or its receiver a random moment
//! (up to [`AIM_DELAY_MS`]) later, so that resuming from partial data gets tested (a 20 MiB
//! transfer takes tens of milliseconds on loopback: too quick to be hit often by chance).

use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::fleet::Fleet;

/// Longest delay between a transfer starting and the kill aimed at it.
pub const AIM_DELAY_MS: u64 = 60;

/// The kill schedule.
#[derive(Debug)]
pub struct Churn {
    every: Duration,
    next: Instant,
    /// Waiting for a transfer to start, until then (after that: a random node).
    aiming_until: Option<Instant>,
    /// A kill aimed at a transfer: when, and whom.
    aimed: Option<(Instant, usize)>,
}

impl Churn {
    /// A kill every `every`, the first at `first`.
    pub fn new(every: Duration, first: Instant) -> Self {
        Churn {
            every,
            next: first,
            aiming_until: None,
            aimed: None,
        }
    }

    /// The node to kill now, if any, and whether the kill was aimed at a transfer.
    pub fn due(&mut self, now: Instant, fleet: &Fleet, rng: &mut StdRng) -> Option<(usize, bool)> {
        if let Some((at, n)) = self.aimed
            && at <= now
        {
            self.aimed = None;
            if fleet.nodes[n].up {
                return Some((n, true));
            }
        }
        if let Some(until) = self.aiming_until
            && until <= now
        {
            // No transfer started in time: any node.
            self.aiming_until = None;
            return random_up(fleet, rng).map(|n| (n, false));
        }
        if now < self.next {
            return None;
        }
        self.next = now + self.every;
        if self.aiming_until.is_none() && self.aimed.is_none() && rng.gen_bool(0.5) {
            self.aiming_until = Some(now + self.every);
            return None;
        }
        random_up(fleet, rng).map(|n| (n, false))
    }

    /// A transfer from `from` to `to` started moving data.
    pub fn transfer_started(&mut self, from: usize, to: usize, now: Instant, rng: &mut StdRng) {
        if self.aiming_until.take().is_some() {
            let victim = if rng.gen_bool(0.5) { from } else { to };
            let delay = Duration::from_millis(rng.gen_range(0..AIM_DELAY_MS));
            self.aimed = Some((now + delay, victim));
        }
    }

    /// When the kill aimed at a transfer is due, if one is.
    pub fn aimed_at(&self) -> Option<Instant> {
        self.aimed.map(|(at, _)| at)
    }
}

fn random_up(fleet: &Fleet, rng: &mut StdRng) -> Option<usize> {
    let up: Vec<usize> = (0..fleet.nodes.len())
        .filter(|i| fleet.nodes[*i].up)
        .collect();
    up.choose(rng).copied()
}
