//! The mDNS task: owns the daemon, turns its service events into node candidates and lost
//! peers, answers "query now", restarts browsing if mdns-sd drops it, and restarts the daemon
//! if its record cache grows beyond a bound (a hostile host could otherwise fill it).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mdns_sd::{Receiver, ResolvedService, ServiceDaemon, ServiceEvent};
use rats_core::DiscoveryContext;
use rats_core::{Address, PeerId};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::MdnsConfig;
use crate::daemon::{self, Advert};
use crate::event::{MdnsEvent, MdnsService};
use crate::names::{self, NodeTxt};

/// Instances remembered at most; beyond it the stalest (not-dialed first) are forgotten.
const MAX_KNOWN: usize = 256;
/// Addresses taken from one instance at most.
const MAX_ADDRS: usize = 8;
/// How often the daemon's record cache is checked.
const WATCHDOG_EVERY: Duration = Duration::from_secs(10);
/// Cached records (of all kinds) beyond which the daemon is restarted.
const MAX_CACHED_RECORDS: i64 = 20_000;
/// Pause before browsing or opening the daemon again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Longest wait for each step of a goodbye.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);
/// mdns-sd repeats a goodbye after 120 ms; shutting down sooner would cancel the repeat.
const GOODBYE_REPEAT: Duration = Duration::from_millis(250);

/// An instance we have seen.
struct Known {
    peer: Option<PeerId>,
    addrs: Vec<SocketAddr>,
    compatible: bool,
    seen: Instant,
}

/// The task's state.
pub(crate) struct MdnsTask {
    pub cfg: MdnsConfig,
    pub advert: Option<Advert>,
    pub service_type: String,
    pub ctx: DiscoveryContext,
    pub own: PeerId,
    pub protocol: String,
    pub version: String,
    pub events: broadcast::Sender<MdnsEvent>,
    pub query_now: Arc<Notify>,
    known: HashMap<String, Known>,
}

impl MdnsTask {
    /// A task for `advert` (None: browse only).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: MdnsConfig,
        advert: Option<Advert>,
        service_type: String,
        ctx: DiscoveryContext,
        protocol: &rats_core::encryption::ProtocolId,
        events: broadcast::Sender<MdnsEvent>,
        query_now: Arc<Notify>,
    ) -> Self {
        MdnsTask {
            cfg,
            advert,
            service_type,
            own: ctx.local_peer_id(),
            ctx,
            protocol: names::clip(&protocol.name),
            version: names::clip(&protocol.version),
            events,
            query_now,
            known: HashMap::new(),
        }
    }

    /// Runs until `cancel`, then says goodbye and shuts the daemon down.
    pub async fn run(mut self, mut daemon: ServiceDaemon, cancel: CancellationToken) {
        let mut watchdog = tokio::time::interval(WATCHDOG_EVERY);
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut rx = match daemon.browse(&self.service_type) {
                Ok(rx) => rx,
                Err(e) => {
                    warn!(error = %e, "mDNS browse failed; trying again");
                    if pause(&cancel).await {
                        break;
                    }
                    continue;
                }
            };
            let reopen = loop {
                tokio::select! {
                    _ = cancel.cancelled() => {
                        self.goodbye(&daemon).await;
                        return;
                    }
                    _ = self.query_now.notified() => {
                        // A new browse queries at once; the old listener is replaced and its
                        // channel closes after what it already holds, which we take.
                        if let Ok(new_rx) = daemon.browse(&self.service_type) {
                            self.drain(&rx);
                            rx = new_rx;
                        }
                    }
                    _ = watchdog.tick() => {
                        if too_many_records(&daemon).await {
                            warn!("mDNS record cache over its bound: restarting the daemon");
                            break true;
                        }
                    }
                    ev = rx.recv_async() => match ev {
                        Ok(ev) => self.handle(ev),
                        Err(_) => {
                            // mdns-sd drops a listener whose queue filled up: browse again.
                            warn!("mDNS browse ended; browsing again");
                            break false;
                        }
                    },
                }
            };
            if pause(&cancel).await {
                break;
            }
            if reopen {
                self.goodbye(&daemon).await;
                daemon = loop {
                    match daemon::open(&self.cfg, self.advert.as_ref()) {
                        Ok(d) => break d,
                        Err(e) => {
                            warn!(error = %e, "mDNS daemon could not be opened again");
                            if pause(&cancel).await {
                                return;
                            }
                        }
                    }
                };
            }
        }
        self.goodbye(&daemon).await;
    }

    fn drain(&mut self, rx: &Receiver<ServiceEvent>) {
        while let Ok(ev) = rx.try_recv() {
            self.handle(ev);
        }
    }

    /// Goodbye records for our instance (sent twice by mdns-sd), then shutdown.
    async fn goodbye(&self, daemon: &ServiceDaemon) {
        if let Some(a) = &self.advert
            && let Ok(rx) = daemon.unregister(&a.fullname())
        {
            let _ = tokio::time::timeout(GOODBYE_WAIT, rx.recv_async()).await;
            tokio::time::sleep(GOODBYE_REPEAT).await;
        }
        if let Ok(rx) = daemon.shutdown() {
            let _ = tokio::time::timeout(GOODBYE_WAIT, rx.recv_async()).await;
        }
    }

    fn handle(&mut self, ev: ServiceEvent) {
        match ev {
            ServiceEvent::ServiceResolved(info) => self.resolved(&info),
            ServiceEvent::ServiceRemoved(_, fullname) => {
                if let Some(k) = self.known.remove(&fullname) {
                    debug!(%fullname, "mDNS instance lost");
                    self.lost(fullname, &k);
                }
            }
            _ => {}
        }
    }

    fn lost(&self, instance: String, k: &Known) {
        if k.compatible {
            self.ctx.report_lost(k.peer);
        }
        let _ = self.events.send(MdnsEvent::Lost {
            instance,
            peer: k.peer,
        });
    }

    fn resolved(&mut self, info: &ResolvedService) {
        let txt = NodeTxt::parse(|k| info.get_property_val_str(k));
        let peer = txt.as_ref().map(|t| t.peer);
        if peer == Some(self.own) {
            return;
        }
        let port = info.get_port();
        let mut addrs: Vec<SocketAddr> = info
            .get_addresses()
            .iter()
            .map(|ip| ip.to_ip_addr())
            .filter(|ip| usable(ip) && (self.cfg.ipv6 || ip.is_ipv4()))
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        addrs.sort_by_key(|a| (a.is_ipv6(), *a));
        addrs.dedup();
        addrs.truncate(MAX_ADDRS);
        if port == 0 || addrs.is_empty() {
            return;
        }
        // Only instances that prove to be rats nodes of our protocol are dialed: a valid peer
        // id (the handshake checks it) and the same protocol name and version.
        let compatible = txt.as_ref().is_some_and(|t| {
            t.version == self.version && (t.protocol.is_empty() || t.protocol == self.protocol)
        });
        let now = Instant::now();
        let fullname = info.fullname.clone();
        if let Some(k) = self.known.get_mut(&fullname) {
            if k.peer == peer && k.addrs == addrs && k.compatible == compatible {
                // A refresh of what we know: nothing new to tell or dial.
                k.seen = now;
                return;
            }
            if k.peer != peer
                && let Some(old) = self.known.remove(&fullname)
            {
                // The name now belongs to another node: the old one is gone.
                self.lost(fullname.clone(), &old);
            }
        } else if self.known.len() >= MAX_KNOWN {
            self.forget_stalest();
        }
        self.known.insert(
            fullname.clone(),
            Known {
                peer,
                addrs: addrs.clone(),
                compatible,
                seen: now,
            },
        );
        let service = MdnsService {
            instance: fullname,
            peer,
            version: txt.map(|t| t.version),
            addrs: addrs.clone(),
            compatible,
        };
        debug!(instance = %service.instance, ?addrs, compatible, "mDNS service resolved");
        let _ = self.events.send(MdnsEvent::Discovered(service));
        if compatible {
            self.ctx
                .report(peer, addrs.into_iter().map(Address::tcp).collect());
        }
    }

    /// Makes room: the stalest instance that was never dialed, else the stalest of all.
    fn forget_stalest(&mut self) {
        let victim = self
            .known
            .iter()
            .min_by_key(|(_, k)| (k.compatible, k.seen))
            .map(|(name, _)| name.clone());
        if let Some(name) = victim
            && let Some(k) = self.known.remove(&name)
        {
            self.lost(name, &k);
        }
    }
}

/// Sleeps [`RETRY_AFTER`]; true if cancelled meanwhile.
async fn pause(cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(RETRY_AFTER) => false,
    }
}

/// Whether the daemon caches more records than [`MAX_CACHED_RECORDS`].
async fn too_many_records(daemon: &ServiceDaemon) -> bool {
    let Ok(rx) = daemon.get_metrics() else {
        return false;
    };
    let Ok(Ok(metrics)) = tokio::time::timeout(GOODBYE_WAIT, rx.recv_async()).await else {
        return false;
    };
    let cached: i64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("cached-"))
        .map(|(_, v)| *v)
        .sum();
    cached > MAX_CACHED_RECORDS
}

/// Addresses worth dialing on a LAN host's word: unicast, not loopback (that would be our own
/// machine), not broadcast; IPv6 link-local ones need a scope that a plain socket address
/// cannot carry across, so they are left out.
fn usable(ip: &IpAddr) -> bool {
    if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
        return false;
    }
    match ip {
        IpAddr::V4(v4) => !v4.is_broadcast(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::usable;

    #[test]
    fn only_dialable_unicast_addresses() {
        let ok = |s: &str| usable(&s.parse().expect("ip"));
        assert!(ok("10.77.0.2") && ok("192.168.1.5") && ok("fd77::2") && ok("2001:db8::1"));
        assert!(!ok("127.0.0.1") && !ok("::1") && !ok("0.0.0.0") && !ok("255.255.255.255"));
        assert!(!ok("224.0.0.251") && !ok("ff02::fb") && !ok("fe80::1"));
    }
}
