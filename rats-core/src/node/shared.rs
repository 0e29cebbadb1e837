//! State shared by every task of a node.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Most background dials to discovered peers at once.
pub(crate) const MAX_CANDIDATE_DIALS: usize = 8;
/// Most refused connections being answered at once; beyond, they are just closed.
pub(crate) const MAX_REJECTING: usize = 64;
/// Introductions remembered at most.
const MAX_INTRODUCERS: usize = 1024;

use dashmap::DashMap;
use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::address::Address;
use crate::budget::MemoryBudget;
use crate::config::NodeConfig;
use crate::discovery::Discovery;
use crate::encryption::{Encryption, ProtocolId};
use crate::event::{Event, EventBus};
use crate::identity::{Identity, PeerId};
use crate::nat::NatStrategy;
use crate::node::clock::CoarseClock;
use crate::node::connection::Connection;
use crate::node::control::{Control, ExchangedPeer, MAX_EXCHANGE_BYTES};
use crate::node::hello::{Hello, MAX_HELLO_ADDRS, MAX_HELLO_SERVICES, ServiceAd};
use crate::node::limits::Limits;
use crate::node::peers::PeerEntry;
use crate::reachability::NatType;
use crate::service::{Service, ServiceDescriptor};
use crate::transport::Transport;

pub(crate) struct ServiceEntry {
    pub(crate) descriptor: ServiceDescriptor,
    pub(crate) service: Arc<dyn Service>,
}

pub(crate) struct NodeShared {
    /// Which peer told us about which (peer exchange), for NAT strategies that coordinate
    /// through a mutual peer.
    pub(crate) introducers: parking_lot::Mutex<std::collections::HashMap<PeerId, PeerId>>,
    pub(crate) identity: Identity,
    pub(crate) config: NodeConfig,
    pub(crate) protocol: ProtocolId,
    pub(crate) transports: Vec<Arc<dyn Transport>>,
    pub(crate) encryption: Arc<dyn Encryption>,
    pub(crate) nat: Vec<Arc<dyn NatStrategy>>,
    pub(crate) discovery: Vec<Arc<dyn Discovery>>,
    pub(crate) services: Vec<ServiceEntry>,
    pub(crate) peers: DashMap<PeerId, PeerEntry>,
    /// Every live connection, including retired ones (for the sweeper).
    pub(crate) connections: DashMap<u64, Arc<Connection>>,
    /// Peers we are dialing because of exchange or discovery (no duplicate dials).
    pub(crate) dialing: DashMap<PeerId, ()>,
    pub(crate) events: EventBus,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) limits: Arc<Limits>,
    /// What peers make us hold (partial and queued messages).
    pub(crate) memory: Arc<MemoryBudget>,
    pub(crate) listen_addrs: RwLock<Vec<Address>>,
    /// Public addresses that reach our listeners (a router's port mapping...), told to peers
    /// in the Hello after the listen addresses.
    pub(crate) external_addrs: RwLock<Vec<Address>>,
    /// The NAT kind we are behind, as a NAT plugin (STUN) found it: told to peers in the Hello.
    pub(crate) local_nat: RwLock<Option<NatType>>,
    pub(crate) next_conn_id: AtomicU64,
    /// Serializes peer registration and removal with their notifications.
    pub(crate) lifecycle: parking_lot::Mutex<()>,
    /// Background (discovery, exchange) dials in flight.
    pub(crate) candidate_dials: AtomicUsize,
    /// Over-limit connections being told why they are refused.
    pub(crate) rejecting: AtomicUsize,
    pub(crate) clock: CoarseClock,
    pub(crate) data_dir: Option<PathBuf>,
}

impl NodeShared {
    pub(crate) fn local_id(&self) -> PeerId {
        self.identity.peer_id()
    }

    /// The service on `channel`, and whether `channel` is its bulk channel.
    pub(crate) fn service(&self, channel: u16) -> Option<(&Arc<dyn Service>, bool)> {
        self.services.iter().find_map(|s| {
            if s.descriptor.channel == channel {
                Some((&s.service, false))
            } else if s.descriptor.bulk_channel == Some(channel) {
                Some((&s.service, true))
            } else {
                None
            }
        })
    }

    pub(crate) fn transport_for(&self, addr: &Address) -> Option<&Arc<dyn Transport>> {
        self.transports.iter().find(|t| t.can_dial(addr))
    }

    /// The Hello we send to a peer reached at `remote`.
    pub(crate) fn hello_for(&self, remote: &Address) -> Hello {
        Hello {
            agent: self.config.agent.clone(),
            listen: self
                .listen_addrs
                .read()
                .iter()
                .chain(self.external_addrs.read().iter())
                .take(MAX_HELLO_ADDRS)
                .cloned()
                .collect(),
            services: self
                .services
                .iter()
                .take(MAX_HELLO_SERVICES)
                .map(|s| ServiceAd {
                    name: s.descriptor.name.to_string(),
                    channel: s.descriptor.channel,
                })
                .collect(),
            observed: Some(remote.clone()),
            nat: *self.local_nat.read(),
        }
    }

    pub(crate) fn is_connected(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }

    /// The peers we tell `to` about: connected, listening, not `to` itself.
    pub(crate) fn exchange_list(&self, to: PeerId) -> Vec<ExchangedPeer> {
        self.peers
            .iter()
            .filter(|e| *e.key() != to && !e.info.listen_addrs.is_empty())
            .take(self.config.max_exchange_peers)
            .map(|e| ExchangedPeer {
                id: *e.key(),
                addrs: e.info.listen_addrs.clone(),
                nat: e.info.nat,
            })
            .collect()
    }

    /// Sends our peer list to a newly connected peer.
    pub(crate) fn send_exchange(&self, conn: &Connection) {
        if !self.config.peer_exchange {
            return;
        }
        let mut list = self.exchange_list(conn.peer);
        while !list.is_empty() {
            let msg = Control::Exchange(list);
            if msg.encode().len() <= MAX_EXCHANGE_BYTES {
                conn.send_control(&msg);
                return;
            }
            let Control::Exchange(mut l) = msg else {
                return;
            };
            l.truncate(l.len() / 2);
            list = l;
        }
    }

    /// A peer told us about other peers: dial the new ones.
    pub(crate) fn on_peer_exchange(self: &Arc<Self>, from: PeerId, peers: Vec<ExchangedPeer>) {
        if !self.config.peer_exchange {
            return;
        }
        // Relays we hold an allocation on ourselves: reaching a peer through one of those
        // costs nothing new and cannot aim a relay at an arbitrary host.
        let our_relays: Vec<std::net::IpAddr> = self
            .listen_addrs
            .read()
            .iter()
            .filter(|a| super::dial::is_relayed(a))
            .filter_map(|a| a.socket_addr().map(|s| s.ip()))
            .collect();
        for p in peers {
            if p.id == self.local_id() || p.id == from || self.is_connected(&p.id) {
                continue;
            }
            self.remember_introducer(p.id, from);
            // Only IP literals: a peer must not make us resolve names or dial in-process
            // transports on its word.
            let addrs: Vec<Address> = p
                .addrs
                .into_iter()
                // Relayed addresses only on our own relays: a peer must not steer our relay
                // allocation towards other hosts.
                .filter(|a| {
                    a.socket_addr().is_some_and(|s| {
                        !super::dial::is_relayed(a) || our_relays.contains(&s.ip())
                    })
                })
                .collect();
            if let Some(first) = addrs.first() {
                self.events.emit(Event::PeerDiscovered {
                    peer: Some(p.id),
                    addr: first.clone(),
                    source: "exchange".into(),
                });
            }
            self.dial_candidate(Some(p.id), addrs, p.nat, "exchange");
        }
    }

    /// Dials a discovered peer in the background unless connected, being dialed, or full.
    pub(crate) fn dial_candidate(
        self: &Arc<Self>,
        peer: Option<PeerId>,
        addrs: Vec<Address>,
        peer_nat: Option<NatType>,
        source: &'static str,
    ) {
        if let Some(p) = peer {
            if p == self.local_id() || self.is_connected(&p) {
                return;
            }
            if self.dialing.insert(p, ()).is_some() {
                return;
            }
        }
        let addrs: Vec<Address> = addrs
            .into_iter()
            .filter(|a| {
                self.transport_for(a).is_some()
                    && !self.is_own_address(a)
                    && !self.is_connected_at(a)
            })
            .take(4)
            .collect();
        let full = self.limits.peer_slots_used() >= self.config.max_peers;
        // Background dials have their own small budget, so candidates pushed by a peer can
        // never use up the handshake slots that inbound connections need.
        let budget = self
            .candidate_dials
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CANDIDATE_DIALS).then_some(n + 1)
            })
            .is_ok();
        if addrs.is_empty() || full || !budget {
            if budget {
                self.candidate_dials.fetch_sub(1, Ordering::AcqRel);
            }
            if let Some(p) = peer {
                self.dialing.remove(&p);
            }
            return;
        }
        let shared = self.clone();
        self.tasks.spawn(async move {
            // All addresses together: direct ones raced, relayed ones after a head start, then
            // NAT strategies; a candidate that turns out to be another peer is dropped.
            match crate::node::dial::connect_any(&shared, &addrs, peer, peer_nat).await {
                Ok(id) => debug!(peer = %id.short(), source, "connected to discovered peer"),
                Err(e) => debug!(source, error = %e, "dial of discovered peer failed"),
            }
            if let Some(p) = peer {
                shared.dialing.remove(&p);
            }
            shared.candidate_dials.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Notes that `by` told us about `peer` (a peer both are connected to, for NAT strategies
    /// that coordinate through one). Bounded: when full, an entry makes room.
    pub(crate) fn remember_introducer(&self, peer: PeerId, by: PeerId) {
        let mut t = self.introducers.lock();
        if t.len() >= MAX_INTRODUCERS
            && !t.contains_key(&peer)
            && let Some(old) = t.keys().next().copied()
        {
            // Any one entry makes room (a long exchange list cannot wipe the table).
            t.remove(&old);
        }
        t.insert(peer, by);
    }

    /// True if a connected peer listens at (or connected from) `addr`.
    pub(crate) fn is_connected_at(&self, addr: &Address) -> bool {
        self.peers
            .iter()
            .any(|e| e.info.remote_addr == *addr || e.info.listen_addrs.contains(addr))
    }

    /// True if `addr` is one of our own listen addresses.
    pub(crate) fn is_own_address(&self, addr: &Address) -> bool {
        if self.external_addrs.read().contains(addr) {
            return true;
        }
        let listen = self.listen_addrs.read();
        listen.iter().any(|l| {
            l == addr
                || match (l.socket_addr(), addr.socket_addr()) {
                    (Some(l), Some(a)) => {
                        l.port() == a.port()
                            && l.ip().is_unspecified()
                            && a.ip().is_loopback()
                            && l.port() != 0
                    }
                    _ => false,
                }
        })
    }
}
