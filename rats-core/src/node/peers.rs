//! The peer table: one entry per connected peer, holding its active connection.
//!
//! One connection per peer pair: when a second connection to a peer completes (simultaneous
//! dial, reconnect race, a hole punch replacing a relayed connection), both sides keep a
//! direct connection over a relayed one, then the connection *dialed by the lower PeerId*;
//! if both were dialed by the same side, the one with the lower session id. The loser is retired: no longer used for
//! sending, still read for a grace period so nothing the remote already sent on it is lost.

use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::identity::PeerId;
use crate::node::connection::Connection;
use crate::node::limits::PeerSlot;
use crate::peer::PeerInfo;

pub(crate) struct PeerEntry {
    pub(crate) info: Arc<PeerInfo>,
    pub(crate) conn: Arc<Connection>,
    /// Who dialed the active connection.
    pub(crate) dialer: PeerId,
    /// Its session id (same on both ends).
    pub(crate) session_id: [u8; 32],
    pub(crate) _slot: Option<PeerSlot>,
}

/// The result of adding a connection.
pub(crate) enum Registered {
    /// First connection to this peer.
    Fresh,
    /// Replaced the previous connection (returned, to be retired; with whether it was
    /// relayed).
    Replaced(Arc<Connection>, bool),
    /// Lost to the existing connection; retire the new one.
    Rejected,
}

/// One side of a duplicate-connection tie-break: who dialed it and its session id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Contender {
    pub(crate) dialer: PeerId,
    pub(crate) session_id: [u8; 32],
    /// Through a relay (loses to a direct connection).
    pub(crate) relayed: bool,
}

/// Whether a new connection beats the existing one. Both ends compute the same answer: a
/// direct connection beats a relayed one; otherwise the connection dialed by the lower PeerId
/// wins; between two dialed by the same side, the one with the lower session id.
pub(crate) fn new_connection_wins(
    local: PeerId,
    remote: PeerId,
    new: Contender,
    old: Contender,
) -> bool {
    if new.relayed != old.relayed {
        !new.relayed
    } else if new.dialer != old.dialer {
        new.dialer == local.min(remote)
    } else {
        new.session_id < old.session_id
    }
}

pub(crate) fn register(
    table: &DashMap<PeerId, PeerEntry>,
    local: PeerId,
    entry: PeerEntry,
) -> Registered {
    let peer = entry.info.peer_id;
    match table.entry(peer) {
        Entry::Vacant(v) => {
            v.insert(entry);
            Registered::Fresh
        }
        Entry::Occupied(mut o) => {
            let new = Contender {
                dialer: entry.dialer,
                session_id: entry.session_id,
                relayed: entry.info.is_relayed(),
            };
            let old = Contender {
                dialer: o.get().dialer,
                session_id: o.get().session_id,
                relayed: o.get().info.is_relayed(),
            };
            // A connection that is already closing never keeps its place.
            let old_closing = o.get().conn.queue.is_closed();
            if old_closing || new_connection_wins(local, peer, new, old) {
                let old = o.insert(entry);
                Registered::Replaced(old.conn.clone(), old.info.is_relayed())
            } else {
                Registered::Rejected
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn both_sides_pick_the_same_winner() {
        let a = Identity::generate().peer_id();
        let b = Identity::generate().peer_id();
        let c = |dialer, s: u8| Contender {
            dialer,
            session_id: [s; 32],
            relayed: false,
        };
        // A sees: old = dialed by A, new = dialed by B. B sees the mirror image.
        let a_keeps_new = new_connection_wins(a, b, c(b, 1), c(a, 2));
        let b_keeps_new = new_connection_wins(b, a, c(a, 2), c(b, 1));
        // If A keeps B's dial, B must keep its own dial too (which is "old" for B), and so on.
        assert_ne!(a_keeps_new, b_keeps_new);
        // Same dialer twice, registered in opposite orders: still the same survivor.
        let a_side = new_connection_wins(a, b, c(a, 9), c(a, 3));
        let b_side = new_connection_wins(b, a, c(a, 3), c(a, 9));
        assert_ne!(a_side, b_side);
        assert!(!a_side, "lower session id stays");
        // A direct connection replaces a relayed one whoever dialed either, on both sides.
        let relayed = |dialer, s| Contender {
            relayed: true,
            ..c(dialer, s)
        };
        for (new_dialer, old_dialer) in [(a, b), (b, a), (a, a), (b, b)] {
            assert!(new_connection_wins(
                a,
                b,
                c(new_dialer, 9),
                relayed(old_dialer, 1)
            ));
            assert!(new_connection_wins(
                b,
                a,
                c(new_dialer, 9),
                relayed(old_dialer, 1)
            ));
            assert!(!new_connection_wins(
                a,
                b,
                relayed(new_dialer, 1),
                c(old_dialer, 9)
            ));
        }
    }
}
