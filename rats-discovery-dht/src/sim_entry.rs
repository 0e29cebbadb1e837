//! The DHT node as the simulator (`rats-sim` in the tests crate) drives it: the real actor
//! (routing table, iterative lookups, the KRPC server, rate limits, the announce store) fed
//! datagrams and ticks on a simulated clock, with no socket. Reached as
//! `rats_discovery_dht::__sim`; not public API (no stability promise).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};

use crate::id::NodeId;
use crate::lookup::LookupSummary;
use crate::node::actor::{Actor, TICK};
use crate::node::{Command, NodeSettings, Shared};
use crate::stats::DhtStats;

/// How often [`SimDht::tick`] should be called (the real node's timer).
pub const TICK_INTERVAL: Duration = TICK;

/// A lookup in progress, by the simulator's key.
struct Running {
    key: u64,
    done: oneshot::Receiver<LookupSummary>,
}

/// One simulated DHT node.
pub struct SimDht {
    actor: Actor,
    /// Kept so the actor's command channel stays open.
    _commands: mpsc::Sender<Command>,
    running: Vec<Running>,
}

impl SimDht {
    /// A node with `id` at `addr` that bootstraps from `bootstrap`, with the default settings
    /// except that its id stays as given (no BEP 42 id for an address it learns); its random
    /// choices (transaction ids, refresh targets) follow `seed`.
    pub fn new(
        id: NodeId,
        addr: SocketAddr,
        bootstrap: Vec<SocketAddr>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut settings = NodeSettings::new(addr, bootstrap);
        settings.id = Some(id);
        settings.secure_node_id = false;
        let (tx, rx) = mpsc::channel(16);
        let (btx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            stats: Mutex::new(DhtStats::default()),
            local: addr,
        });
        let mut actor = Actor::new(addr, settings, rx, btx, shared, now);
        actor.seed_rng(seed);
        SimDht {
            actor,
            _commands: tx,
            running: Vec::new(),
        }
    }

    /// Starts bootstrapping (queries go to the outbox).
    pub fn bootstrap(&mut self, now: Instant) {
        self.actor.bootstrap(now);
    }

    /// A datagram from `from`.
    pub fn datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        self.actor.datagram(data, from, now);
    }

    /// The periodic timer (timeouts, lookups' next steps, table maintenance).
    pub fn tick(&mut self, now: Instant) {
        self.actor.tick(now);
    }

    /// Starts a lookup of `target` (get_peers when `get_peers`, else find_node), announcing
    /// `port` to the closest nodes when given; its summary comes out of
    /// [`finished`](Self::finished) under `key`.
    pub fn lookup(
        &mut self,
        key: u64,
        target: NodeId,
        get_peers: bool,
        announce: Option<u16>,
        now: Instant,
    ) {
        let (done, rx) = oneshot::channel();
        self.actor.command(
            Command::Lookup {
                target,
                get_peers,
                announce: announce.map(Some),
                results: None,
                done,
            },
            now,
        );
        self.running.push(Running { key, done: rx });
    }

    /// Lookups that ended since the last call, with their summaries.
    pub fn finished(&mut self) -> Vec<(u64, LookupSummary)> {
        let mut out = Vec::new();
        self.running.retain_mut(|r| match r.done.try_recv() {
            Ok(summary) => {
                out.push((r.key, summary));
                false
            }
            Err(oneshot::error::TryRecvError::Empty) => true,
            Err(oneshot::error::TryRecvError::Closed) => false,
        });
        out
    }

    /// Moves what the node sends into `out` (destination, datagram).
    pub fn take_outbox(&mut self, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        out.append(&mut self.actor.outbox);
    }

    /// The routing table's entries: id, address, and whether the node answered us.
    pub fn table(&self) -> Vec<(NodeId, SocketAddr, bool)> {
        self.actor
            .table()
            .entries()
            .map(|e| (e.id, e.addr, e.verified))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Three nodes wired through a loop of datagrams: they learn each other, and a get_peers
    /// lookup after an announce finds the announcing node.
    #[test]
    fn three_nodes_bootstrap_announce_and_find() {
        let addrs: Vec<SocketAddr> = (1..=3)
            .map(|i| SocketAddr::from(([11, 0, 0, i], 6881)))
            .collect();
        let t0 = Instant::now();
        let mut nodes: Vec<SimDht> = addrs
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let boot = if i == 0 { Vec::new() } else { vec![addrs[0]] };
                SimDht::new(NodeId([i as u8 + 1; 20]), a, boot, i as u64, t0)
            })
            .collect();
        let mut now = t0;
        for n in &mut nodes {
            n.bootstrap(now);
        }
        let hash = NodeId([0x42; 20]);
        let mut found = None;
        for step in 0..200 {
            now += Duration::from_millis(50);
            if step == 40 {
                nodes[1].lookup(1, hash, true, Some(7000), now);
            }
            if step == 100 {
                nodes[2].lookup(2, hash, true, None, now);
            }
            for k in 0..nodes.len() {
                nodes[k].tick(now);
                let mut out = Vec::new();
                nodes[k].take_outbox(&mut out);
                for (to, data) in out {
                    if let Some(j) = addrs.iter().position(|a| *a == to) {
                        nodes[j].datagram(&data, addrs[k], now);
                    }
                }
            }
            for (key, s) in nodes[2].finished() {
                if key == 2 {
                    found = Some(s);
                }
            }
        }
        assert!(nodes[0].table().len() >= 2, "{:?}", nodes[0].table());
        let s = found.expect("the lookup ended");
        assert!(
            s.peers.contains(&SocketAddr::from(([11, 0, 0, 2], 7000))),
            "{:?}",
            s.peers
        );
    }
}
