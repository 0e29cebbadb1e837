//! The discovery loop: announce our discovery hash with our TCP port, look it up, and hand new
//! addresses to the node to dial, at a pace that respects the network.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use rats_core::Address;
use rats_core::DiscoveryContext;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{Found, LastLookup};
use crate::config::DhtConfig;
use crate::id::NodeId;
use crate::node::DhtNode;

/// Distinct discovered addresses remembered for statistics.
const MAX_REMEMBERED: usize = 1024;
/// How long the loop waits for a first bootstrap before its first lookup.
const FIRST_BOOTSTRAP_WAIT: Duration = Duration::from_secs(5);
/// An address handed to the node is not handed again for this long (it was dialed then).
const REPORT_AGAIN_AFTER: Duration = Duration::from_secs(5 * 60);
/// Addresses handed to the node per round at most (its background dials are few).
const REPORTS_PER_ROUND: usize = 32;

/// Our TCP listen port for the given address family: a same-family listener, or `[::]`, which
/// accepts IPv4 too.
pub(super) fn tcp_port(ctx: &DiscoveryContext, v6: bool) -> Option<u16> {
    let addrs: Vec<SocketAddr> = ctx
        .listen_addrs()
        .iter()
        .filter(|a| a.scheme() == "tcp")
        .filter_map(Address::socket_addr)
        .filter(|s| s.port() != 0)
        .collect();
    addrs
        .iter()
        .find(|s| s.is_ipv6() == v6)
        .or_else(|| {
            addrs
                .iter()
                .find(|s| !v6 && s.ip().is_unspecified() && s.is_ipv6())
        })
        .map(SocketAddr::port)
}

/// Which addresses were handed to the node, and when.
#[derive(Default)]
struct Reported(HashMap<SocketAddr, Instant>);

impl Reported {
    /// True (and noted) if `addr` may be handed to the node now.
    fn take(&mut self, addr: SocketAddr, now: Instant) -> bool {
        if let Some(t) = self.0.get(&addr)
            && now.duration_since(*t) < REPORT_AGAIN_AFTER
        {
            return false;
        }
        if self.0.len() >= MAX_REMEMBERED {
            self.0
                .retain(|_, t| now.duration_since(*t) < REPORT_AGAIN_AFTER);
            if self.0.len() >= MAX_REMEMBERED {
                return false;
            }
        }
        self.0.insert(addr, now);
        true
    }
}

/// Announce (every `announce_interval_secs`) and look up our discovery hash: every
/// `fast_interval_secs` while we have fewer than `few_peers` peers, backing off (doubling) to
/// `interval_secs` while rounds find nothing new.
pub(super) async fn run(
    nodes: Vec<DhtNode>,
    ctx: DiscoveryContext,
    cfg: DhtConfig,
    hash: NodeId,
    found: Arc<Mutex<Found>>,
    cancel: CancellationToken,
) {
    let first = futures::future::select_all(
        nodes
            .iter()
            .map(|n| Box::pin(n.wait_bootstrapped(FIRST_BOOTSTRAP_WAIT))),
    );
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = first => {}
    }
    let announce_every = Duration::from_secs(cfg.announce_interval_secs.max(60));
    let fast = Duration::from_secs(cfg.fast_interval_secs);
    let slow = Duration::from_secs(cfg.interval_secs.max(cfg.fast_interval_secs));
    let mut last_announce: Option<Instant> = None;
    let mut delay = fast;
    let reported = Arc::new(Mutex::new(Reported::default()));
    loop {
        let due = last_announce.is_none_or(|t| t.elapsed() >= announce_every);
        let started = Instant::now();
        let rounds = nodes.iter().map(|n| {
            let port = tcp_port(&ctx, n.local_addr().is_ipv6());
            round(n, hash, port.filter(|_| due), &ctx, &found, &reported)
        });
        let results = tokio::select! {
            _ = cancel.cancelled() => return,
            r = futures::future::join_all(rounds) => r,
        };
        let announced_to: usize = results.iter().map(|r| r.announced_to).sum();
        let new: usize = results.iter().map(|r| r.new).sum();
        if due && announced_to > 0 {
            last_announce = Some(Instant::now());
        }
        found.lock().last = Some(LastLookup {
            at: SystemTime::now(),
            duration_ms: started.elapsed().as_millis() as u64,
            peers: results.iter().map(|r| r.peers).sum(),
            responses: results.iter().map(|r| r.responses).sum(),
            announced_to,
        });
        debug!(%hash, announced_to, new, "DHT discovery round done");
        let lonely = ctx.peer_count() < cfg.few_peers || last_announce.is_none();
        delay = if !lonely {
            slow
        } else if new > 0 {
            fast
        } else {
            (delay * 2).clamp(fast, slow)
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[derive(Default)]
struct RoundResult {
    peers: usize,
    new: usize,
    responses: usize,
    announced_to: usize,
}

/// One lookup (with an announce when `announce` has our port) on one node.
async fn round(
    node: &DhtNode,
    hash: NodeId,
    announce: Option<u16>,
    ctx: &DiscoveryContext,
    found: &Mutex<Found>,
    reported: &Mutex<Reported>,
) -> RoundResult {
    let lookup = match announce {
        Some(p) => node.announce(hash, Some(p)).await,
        None => node.find_peers(hash).await,
    };
    let Ok(mut lookup) = lookup else {
        return RoundResult::default();
    };
    let v6 = node.local_addr().is_ipv6();
    let our_port = tcp_port(ctx, v6);
    let external = node.stats().external_addr.map(|a| a.ip());
    let mut result = RoundResult::default();
    let mut handed = 0;
    while let Some(addr) = lookup.next_peer().await {
        result.peers += 1;
        {
            let mut f = found.lock();
            if f.addrs.len() < MAX_REMEMBERED {
                f.addrs.insert(addr);
            }
        }
        let ours = Some(addr.port()) == our_port
            && (Some(addr.ip()) == external || is_own_listen(ctx, addr));
        if ours || handed >= REPORTS_PER_ROUND || !reported.lock().take(addr, Instant::now()) {
            continue;
        }
        handed += 1;
        result.new += 1;
        ctx.report(None, vec![Address::tcp(addr)]);
    }
    if let Ok(s) = lookup.finish().await {
        result.responses = s.responses;
        result.announced_to = s.announced_to;
    }
    result
}

/// Whether `addr` is one of our listen addresses (`[::]`/`0.0.0.0` match loopback).
fn is_own_listen(ctx: &DiscoveryContext, addr: SocketAddr) -> bool {
    ctx.listen_addrs().iter().any(|l| {
        l.socket_addr().is_some_and(|l| {
            l.port() == addr.port()
                && (l.ip() == addr.ip() || (l.ip().is_unspecified() && addr.ip().is_loopback()))
        })
    })
}
