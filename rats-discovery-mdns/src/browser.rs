//! The browse task: turns mdns-sd's service events into node candidates and lost peers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use mdns_sd::{ResolvedService, ServiceDaemon, ServiceEvent};
use rats_core::node::DiscoveryContext;
use rats_core::{Address, PeerId};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::event::{MdnsEvent, MdnsService};
use crate::names::NodeTxt;

/// Instances remembered at most (a LAN flooding us with names cannot grow memory).
const MAX_KNOWN: usize = 256;
/// Addresses taken from one instance at most.
const MAX_ADDRS: usize = 8;

/// An instance we have seen.
struct Known {
    peer: Option<PeerId>,
    /// Handed to the node (so its loss is reported to the node too).
    reported: bool,
}

/// What the task needs.
pub(crate) struct Browser {
    pub daemon: ServiceDaemon,
    pub service_type: String,
    pub ctx: DiscoveryContext,
    pub own: PeerId,
    pub protocol: String,
    pub version: String,
    pub events: broadcast::Sender<MdnsEvent>,
    pub query_now: Arc<Notify>,
    pub query_interval: std::time::Duration,
}

impl Browser {
    /// Runs until `cancel`; browsing restarts (an immediate query) on `query_now` and every
    /// `query_interval`.
    pub async fn run(self, cancel: CancellationToken) {
        let mut known: HashMap<String, Known> = HashMap::new();
        'browse: loop {
            let rx = match self.daemon.browse(&self.service_type) {
                Ok(rx) => rx,
                Err(e) => {
                    warn!(error = %e, "mDNS browse failed");
                    return;
                }
            };
            let requery = tokio::time::sleep(self.query_interval);
            tokio::pin!(requery);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break 'browse,
                    _ = self.query_now.notified() => break,
                    _ = &mut requery => break,
                    ev = rx.recv_async() => match ev {
                        Ok(ev) => self.handle(ev, &mut known),
                        Err(_) => break 'browse,
                    },
                }
            }
            let _ = self.daemon.stop_browse(&self.service_type);
        }
        let _ = self.daemon.stop_browse(&self.service_type);
    }

    fn handle(&self, ev: ServiceEvent, known: &mut HashMap<String, Known>) {
        match ev {
            ServiceEvent::ServiceResolved(info) => self.resolved(&info, known),
            ServiceEvent::ServiceRemoved(_, fullname) => {
                if let Some(k) = known.remove(&fullname) {
                    debug!(%fullname, "mDNS instance lost");
                    if k.reported {
                        self.ctx.report_lost(k.peer);
                    }
                    let _ = self.events.send(MdnsEvent::Lost {
                        instance: fullname,
                        peer: k.peer,
                    });
                }
            }
            _ => {}
        }
    }

    fn resolved(&self, info: &ResolvedService, known: &mut HashMap<String, Known>) {
        let txt = NodeTxt::parse(|k| info.get_property_val_str(k));
        let peer = txt.as_ref().map(|t| t.peer);
        if peer == Some(self.own) {
            return;
        }
        if !known.contains_key(&info.fullname) && known.len() >= MAX_KNOWN {
            return;
        }
        let port = info.get_port();
        let mut addrs: Vec<SocketAddr> = info
            .get_addresses()
            .iter()
            .map(|ip| ip.to_ip_addr())
            .filter(usable)
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        addrs.sort_by_key(|a| a.is_ipv6());
        addrs.dedup();
        addrs.truncate(MAX_ADDRS);
        if port == 0 || addrs.is_empty() {
            return;
        }
        // No `id` at all: maybe another implementation, worth one dial (the handshake checks
        // the protocol). An `id` that is not a peer id: a broken or hostile record, not dialed.
        let compatible = match &txt {
            Some(t) => {
                t.version == self.version && (t.protocol.is_empty() || t.protocol == self.protocol)
            }
            None => info.get_property("id").is_none(),
        };
        known.insert(
            info.fullname.clone(),
            Known {
                peer,
                reported: compatible,
            },
        );
        let service = MdnsService {
            instance: info.fullname.clone(),
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
}

/// Addresses worth dialing: not unspecified or multicast; IPv6 link-local ones need a scope
/// that a plain socket address cannot carry across, so they are left out.
fn usable(ip: &IpAddr) -> bool {
    if ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
    }
}
