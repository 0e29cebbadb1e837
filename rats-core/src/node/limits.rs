//! Connection limits: peer slots (connected peers plus connections in handshake) and pending
//! handshakes (global and per IP). Guards release on drop, so no path can leak a slot.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How far replacement connections may exceed `max_peers` while both connections exist.
const REPLACEMENT_EXTRA: usize = 4;

use dashmap::DashMap;

use crate::connect::LimitError;

/// The counters. Shared by guards through an `Arc`.
#[derive(Debug)]
pub(crate) struct Limits {
    max_peers: usize,
    max_pending: usize,
    max_per_ip: usize,
    max_conns_per_ip: usize,
    peer_slots: AtomicUsize,
    pending: AtomicUsize,
    per_ip: DashMap<IpAddr, usize>,
    conns_per_ip: DashMap<IpAddr, usize>,
}

impl Limits {
    pub(crate) fn new(
        max_peers: usize,
        max_pending: usize,
        max_per_ip: usize,
        max_conns_per_ip: usize,
    ) -> Arc<Self> {
        Arc::new(Limits {
            max_peers,
            max_pending,
            max_per_ip,
            max_conns_per_ip,
            peer_slots: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            per_ip: DashMap::new(),
            conns_per_ip: DashMap::new(),
        })
    }

    /// Takes one of the connection slots of an IP address, for the life of a connection.
    pub(crate) fn ip_slot(self: &Arc<Self>, ip: IpAddr) -> Result<IpSlot, LimitError> {
        let mut n = self.conns_per_ip.entry(ip).or_insert(0);
        if *n >= self.max_conns_per_ip {
            return Err(LimitError::TooManyConnectionsFromIp);
        }
        *n += 1;
        Ok(IpSlot {
            limits: self.clone(),
            ip,
        })
    }

    /// Takes one of the `max_peers` slots.
    pub(crate) fn peer_slot(self: &Arc<Self>) -> Result<PeerSlot, LimitError> {
        take(&self.peer_slots, self.max_peers).ok_or(LimitError::TooManyPeers)?;
        Ok(PeerSlot {
            limits: self.clone(),
        })
    }

    /// A peer slot for a second connection to a peer we already have (a direct connection
    /// replacing a relayed one): may exceed `max_peers` by a few, briefly, since the old
    /// connection frees its slot when it is retired.
    pub(crate) fn replacement_slot(self: &Arc<Self>) -> Result<PeerSlot, LimitError> {
        take(
            &self.peer_slots,
            self.max_peers.saturating_add(REPLACEMENT_EXTRA),
        )
        .ok_or(LimitError::TooManyPeers)?;
        Ok(PeerSlot {
            limits: self.clone(),
        })
    }

    /// Takes a pending-handshake slot (and a per-IP one when the IP is known).
    pub(crate) fn pending(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
    ) -> Result<PendingGuard, LimitError> {
        take(&self.pending, self.max_pending).ok_or(LimitError::TooManyPending)?;
        let mut guard = PendingGuard {
            limits: self.clone(),
            ip: None,
        };
        if let Some(ip) = ip {
            let mut n = self.per_ip.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(LimitError::TooManyFromIp);
            }
            *n += 1;
            guard.ip = Some(ip);
        }
        Ok(guard)
    }

    /// Slots in use (peers plus handshakes).
    pub(crate) fn peer_slots_used(&self) -> usize {
        self.peer_slots.load(Ordering::Relaxed)
    }
}

fn take(counter: &AtomicUsize, max: usize) -> Option<usize> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
}

/// One `max_peers` slot, released on drop.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    limits: Arc<Limits>,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        self.limits.peer_slots.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One connection slot of an IP address, released on drop.
#[derive(Debug)]
pub(crate) struct IpSlot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.limits.conns_per_ip.remove_if_mut(&self.ip, |_, n| {
            *n -= 1;
            *n == 0
        });
    }
}

/// One pending-handshake slot, released on drop.
#[derive(Debug)]
pub(crate) struct PendingGuard {
    limits: Arc<Limits>,
    ip: Option<IpAddr>,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.limits.pending.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            self.limits.per_ip.remove_if_mut(&ip, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_release() {
        let l = Limits::new(2, 3, 1, 2);
        let a = l.peer_slot().expect("a");
        let _b = l.peer_slot().expect("b");
        assert_eq!(l.peer_slots_used(), 2);
        assert_eq!(l.peer_slot().err(), Some(LimitError::TooManyPeers));
        drop(a);
        assert_eq!(l.peer_slots_used(), 1);
        assert!(l.peer_slot().is_ok());
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let p = l.pending(Some(ip)).expect("p");
        assert_eq!(l.pending(Some(ip)).err(), Some(LimitError::TooManyFromIp));
        drop(p);
        assert!(l.per_ip.is_empty());
        let _p = l.pending(Some(ip)).expect("again");
        assert_eq!(l.pending.load(Ordering::Relaxed), 1);
        let c1 = l.ip_slot(ip).expect("c1");
        let _c2 = l.ip_slot(ip).expect("c2");
        assert_eq!(
            l.ip_slot(ip).err(),
            Some(LimitError::TooManyConnectionsFromIp)
        );
        drop(c1);
        assert!(l.ip_slot(ip).is_ok());
    }
}
