//! The node's memory budget: what peers can make us hold before the application sees it
//! (partial messages being reassembled, messages queued for a service's task).
//!
//! Three limits apply at once to every byte a peer makes us hold: the node's whole budget, the
//! connection's share and the share of its IP address (so one peer, or many connections from
//! one address, cannot take it all). What is held is counted with a [`Reservation`] that gives
//! its bytes back when dropped, so no path can leak budget. A peer that would go over one of
//! the limits gets a [`BudgetError`]; the read loop then closes that connection with the reason,
//! and the node and its other peers carry on.
//!
//! ```
//! use rats_core::budget::{BudgetError, MemoryBudget, MemoryLimits};
//!
//! let budget = MemoryBudget::new(MemoryLimits { total: 100, per_connection: 60, per_ip: 80 });
//! let ip = "192.0.2.1".parse().ok();
//! let (a, b) = (budget.connection(ip), budget.connection(ip));
//! let held = a.reserve(50)?;
//! assert!(matches!(a.reserve(20), Err(BudgetError::Connection { .. })));
//! assert!(matches!(b.reserve(40), Err(BudgetError::Address { .. })));
//! drop(held);
//! assert_eq!(budget.used(), 0);
//! # Ok::<(), BudgetError>(())
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

/// The three limits, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Everything peers make the node hold, all together.
    pub total: usize,
    /// What one connection may make us hold.
    pub per_connection: usize,
    /// What all connections from one IP address may make us hold.
    pub per_ip: usize,
}

/// Which limit refused a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The node's whole budget is spent.
    #[error("the node's memory budget ({limit} bytes) is spent")]
    Node {
        /// The limit.
        limit: usize,
    },
    /// This connection's share is spent.
    #[error("the connection's memory share ({limit} bytes) is spent")]
    Connection {
        /// The limit.
        limit: usize,
    },
    /// The share of the connection's IP address is spent.
    #[error("the memory share of its address ({limit} bytes) is spent")]
    Address {
        /// The limit.
        limit: usize,
    },
}

/// The node-wide counters. Shared by every connection's [`PeerMemory`].
#[derive(Debug)]
pub struct MemoryBudget {
    limits: MemoryLimits,
    used: AtomicUsize,
    /// Messages dropped because a limit refused them.
    refusals: std::sync::atomic::AtomicU64,
    per_ip: DashMap<IpAddr, usize>,
}

impl MemoryBudget {
    /// A budget with these limits.
    pub fn new(limits: MemoryLimits) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limits,
            used: AtomicUsize::new(0),
            refusals: std::sync::atomic::AtomicU64::new(0),
            per_ip: DashMap::new(),
        })
    }

    /// The limits.
    pub fn limits(&self) -> MemoryLimits {
        self.limits
    }

    /// Bytes held now, all peers together.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Messages dropped since start because a limit refused to hold them.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Acquire)
    }

    /// Bytes held now for connections from `ip`.
    pub fn used_by(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).map(|n| *n).unwrap_or(0)
    }

    /// The account of one connection from `ip` (`None` for connections without an address
    /// of their own, such as relayed ones: only the connection and node limits apply).
    pub fn connection(self: &Arc<Self>, ip: Option<IpAddr>) -> Arc<PeerMemory> {
        Arc::new(PeerMemory {
            budget: self.clone(),
            ip,
            used: AtomicUsize::new(0),
        })
    }

    fn take_ip(&self, ip: IpAddr, n: usize) -> Result<(), BudgetError> {
        let mut held = self.per_ip.entry(ip).or_insert(0);
        if held.checked_add(n).is_none_or(|t| t > self.limits.per_ip) {
            let empty = *held == 0;
            drop(held);
            if empty {
                self.per_ip.remove_if(&ip, |_, v| *v == 0);
            }
            return Err(BudgetError::Address {
                limit: self.limits.per_ip,
            });
        }
        *held += n;
        Ok(())
    }

    fn give_ip(&self, ip: IpAddr, n: usize) {
        if let Some(mut held) = self.per_ip.get_mut(&ip) {
            *held = held.saturating_sub(n);
        }
        self.per_ip.remove_if(&ip, |_, v| *v == 0);
    }
}

/// One connection's account: reservations are charged to it, its address and the node.
#[derive(Debug)]
pub struct PeerMemory {
    budget: Arc<MemoryBudget>,
    ip: Option<IpAddr>,
    used: AtomicUsize,
}

impl PeerMemory {
    /// Holds `n` more bytes for this connection, or says which limit refuses them.
    pub fn reserve(self: &Arc<Self>, n: usize) -> Result<Reservation, BudgetError> {
        self.take(n)?;
        Ok(Reservation {
            owner: self.clone(),
            bytes: n,
        })
    }

    /// An empty reservation, to grow later.
    pub fn empty(self: &Arc<Self>) -> Reservation {
        Reservation {
            owner: self.clone(),
            bytes: 0,
        }
    }

    /// Bytes this connection holds now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn take(&self, n: usize) -> Result<(), BudgetError> {
        if n == 0 {
            return Ok(());
        }
        let limits = self.budget.limits;
        take_within(&self.used, n, limits.per_connection).map_err(|()| {
            BudgetError::Connection {
                limit: limits.per_connection,
            }
        })?;
        if take_within(&self.budget.used, n, limits.total).is_err() {
            self.used.fetch_sub(n, Ordering::AcqRel);
            return Err(BudgetError::Node {
                limit: limits.total,
            });
        }
        if let Some(ip) = self.ip
            && let Err(e) = self.budget.take_ip(ip, n)
        {
            self.budget.used.fetch_sub(n, Ordering::AcqRel);
            self.used.fetch_sub(n, Ordering::AcqRel);
            return Err(e);
        }
        Ok(())
    }

    fn give(&self, n: usize) {
        if n == 0 {
            return;
        }
        if let Some(ip) = self.ip {
            self.budget.give_ip(ip, n);
        }
        self.budget.used.fetch_sub(n, Ordering::AcqRel);
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Adds `n` to `counter` unless that would pass `limit` (or overflow): a refused attempt
/// never shows in the counter, so it cannot make a concurrent one fail.
fn take_within(counter: &AtomicUsize, n: usize, limit: usize) -> Result<(), ()> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(n).filter(|t| *t <= limit)
        })
        .map(|_| ())
        .map_err(|_| ())
}

/// Bytes held against a connection's account; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    owner: Arc<PeerMemory>,
    bytes: usize,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds `n` more bytes (nothing changes when a limit refuses them).
    pub fn grow(&mut self, n: usize) -> Result<(), BudgetError> {
        self.owner.take(n)?;
        // Cannot overflow: `take` kept the connection's total, which includes these bytes,
        // within its limit.
        self.bytes += n;
        Ok(())
    }
}

impl Reservation {
    /// Gives every byte back now (the reservation stays, empty, and may grow again).
    pub fn release(&mut self) {
        self.owner.give(std::mem::take(&mut self.bytes));
    }

    /// Counts a message dropped because a limit refused it.
    pub fn note_refusal(&self) {
        self.owner.budget.refusals.fetch_add(1, Ordering::AcqRel);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.owner.give(self.bytes);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn budget() -> Arc<MemoryBudget> {
        MemoryBudget::new(MemoryLimits {
            total: 1000,
            per_connection: 400,
            per_ip: 600,
        })
    }

    #[test]
    fn each_limit_refuses_with_its_own_error_and_nothing_is_charged() {
        let b = budget();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let a = b.connection(ip("192.0.2.1"));
        let mut r = a.reserve(300).unwrap();
        assert_eq!(
            r.grow(101).unwrap_err(),
            BudgetError::Connection { limit: 400 }
        );
        r.grow(100).unwrap();
        let a2 = b.connection(ip("192.0.2.1"));
        assert_eq!(
            a2.reserve(201).unwrap_err(),
            BudgetError::Address { limit: 600 }
        );
        let _a2 = a2.reserve(200).unwrap();
        let c = b.connection(ip("192.0.2.2"));
        let _c = c.reserve(400).unwrap();
        let relayed = b.connection(None);
        assert_eq!(
            relayed.reserve(1).unwrap_err(),
            BudgetError::Node { limit: 1000 }
        );
        // Refusals left no trace.
        assert_eq!(b.used(), 1000);
        assert_eq!(a.used(), 400);
        assert_eq!(relayed.used(), 0);
        assert_eq!(b.used_by("192.0.2.1".parse().unwrap()), 600);
    }

    #[test]
    fn sizes_that_would_overflow_are_refused() {
        let b = budget();
        let a = b.connection("192.0.2.3".parse().ok());
        let _held = a.reserve(10).unwrap();
        assert!(a.reserve(usize::MAX).is_err());
        assert!(a.reserve(usize::MAX - 5).is_err());
        assert_eq!(b.used(), 10);
    }

    #[test]
    fn dropping_reservations_gives_everything_back() {
        let b = budget();
        let ip = "192.0.2.9".parse().ok();
        let a = b.connection(ip);
        let held: Vec<_> = (0..4).map(|_| a.reserve(100).unwrap()).collect();
        let mut grown = a.empty();
        assert!(grown.grow(1).is_err(), "the connection is full");
        drop(held);
        grown.grow(400).unwrap();
        drop(grown);
        assert_eq!((b.used(), a.used()), (0, 0));
        assert!(
            b.per_ip.is_empty(),
            "no entry kept for an address holding nothing"
        );
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_limits() {
        let b = budget();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let conn = b.connection(Some(IpAddr::from([192, 0, 2, i % 2])));
                    let mut kept = Vec::new();
                    for _ in 0..1000 {
                        if let Ok(r) = conn.reserve(7) {
                            kept.push(r);
                        }
                        assert!(b.used() <= 1000);
                        if kept.len() > 20 {
                            kept.clear();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(b.used(), 0);
    }
}
