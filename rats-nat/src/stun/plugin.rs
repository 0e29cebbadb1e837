//! The `stun` plugin: our public address and NAT kind from STUN servers and from what
//! connected peers observe, kept fresh, with `NatStatusChanged` events on change. The kind is
//! told to peers in the Hello.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::future::select_ok;
use parking_lot::Mutex;
use rats_core::NatContext;
use rats_core::nat::{NatConnection, NatError, NatStrategy, NatTarget};
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::{Address, Event};
use serde::Serialize;
use tokio::net::UdpSocket;
use tracing::{debug, info};

use super::behaviour::{self, NatBehaviour, NatType};
use super::config::StunConfig;
use crate::stun::{ChangeRequest, Retransmit, StunError, binding};

/// What we know of our NAT.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NatStatus {
    /// Our public address from STUN (the IP; the port is that of the probing socket).
    pub public_addr: Option<SocketAddr>,
    /// The public IP most connected peers see us at.
    pub observed_ip: Option<IpAddr>,
    /// The NAT kind, when detected.
    pub nat_type: Option<NatType>,
    /// The behaviour tests' findings.
    pub behaviour: Option<NatBehaviour>,
    /// The STUN server that answered last.
    pub server: Option<SocketAddr>,
    /// When the last check finished.
    pub checked_at: Option<SystemTime>,
}

/// The STUN plugin. Reach it with `node.nat_plugin::<StunPlugin>()` (or `rats::RatsClient::nat()`).
pub struct StunPlugin {
    config: StunConfig,
    status: Arc<Mutex<NatStatus>>,
    ctx: Arc<Mutex<Option<NatContext>>>,
}

impl std::fmt::Debug for StunPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StunPlugin").finish_non_exhaustive()
    }
}

impl StunPlugin {
    /// A plugin with `config`.
    pub fn new(config: StunConfig) -> Self {
        StunPlugin {
            config,
            status: Arc::default(),
            ctx: Arc::default(),
        }
    }

    /// Another handle on the same state (for background tasks).
    fn handle(&self) -> Arc<StunPlugin> {
        Arc::new(StunPlugin {
            config: self.config.clone(),
            status: self.status.clone(),
            ctx: self.ctx.clone(),
        })
    }

    fn timing(&self) -> Retransmit {
        self.config.timing()
    }

    /// The configured servers, resolved (names with a timeout; IP literals at once).
    pub async fn servers(&self) -> Vec<SocketAddr> {
        self.config.resolved_servers().await
    }

    /// Asks every server at once for our public address; the first answer wins.
    pub async fn get_public_address(&self) -> Result<SocketAddr, StunError> {
        let servers = self.servers().await;
        if servers.is_empty() {
            return Err(StunError::NoServer);
        }
        let timing = self.timing();
        let asks = servers.into_iter().map(|server| {
            Box::pin(async move {
                let sock = UdpSocket::bind(unspecified_for(server)).await?;
                binding(&sock, server, ChangeRequest::default(), timing)
                    .await
                    .map(|r| (server, r.mapped))
            })
        });
        let ((server, mapped), _) = select_ok(asks).await?;
        self.update(|s| {
            s.public_addr = Some(mapped);
            s.server = Some(server);
            s.checked_at = Some(SystemTime::now());
        });
        Ok(mapped)
    }

    /// Runs the RFC 5780 tests against the configured servers, preferring the first whose
    /// answers are complete (a server without an alternate address can tell our address but
    /// not the NAT's behaviour); returns the NAT kind (characteristics in
    /// [`nat_characteristics`](Self::nat_characteristics)).
    pub async fn detect_nat_type(&self) -> Result<NatType, StunError> {
        let servers = self.servers().await;
        let mut last = StunError::NoServer;
        let mut partial = None;
        for server in servers {
            match behaviour::discover(server, unspecified_for(server), self.timing()).await {
                Ok(b) if b.mapping.is_some() && b.filtering.is_some() => {
                    return Ok(self.record(server, b));
                }
                Ok(b) => {
                    partial.get_or_insert((server, b));
                }
                Err(e) => {
                    debug!(%server, error = %e, "NAT behaviour check failed");
                    last = e;
                }
            }
        }
        match partial {
            Some((server, b)) => Ok(self.record(server, b)),
            None => Err(last),
        }
    }

    fn record(&self, server: SocketAddr, b: NatBehaviour) -> NatType {
        let kind = b.nat_type();
        self.update(|s| {
            s.public_addr = Some(b.mapped);
            s.behaviour = Some(b);
            s.nat_type = Some(kind);
            s.server = Some(server);
            s.checked_at = Some(SystemTime::now());
        });
        kind
    }

    /// What the last behaviour check found.
    pub fn nat_characteristics(&self) -> Option<NatBehaviour> {
        self.status.lock().behaviour
    }

    /// Everything we know, including the IP connected peers see us at.
    pub fn status(&self) -> NatStatus {
        let mut s = self.status.lock().clone();
        s.observed_ip = self.observed_ip();
        s
    }

    /// Our public address as last found (STUN), else the IP most peers see us at (with our
    /// listen port).
    pub fn public_address(&self) -> Option<SocketAddr> {
        if let Some(a) = self.status.lock().public_addr {
            return Some(a);
        }
        let ctx = self.ctx.lock().clone()?;
        let port = ctx
            .listen_addrs()
            .iter()
            .find_map(|a| a.socket_addr())?
            .port();
        self.observed_ip().map(|ip| SocketAddr::new(ip, port))
    }

    /// The public (non-local) IP that most connected peers report seeing us at.
    pub fn observed_ip(&self) -> Option<IpAddr> {
        let ctx = self.ctx.lock().clone()?;
        let mut votes: HashMap<IpAddr, usize> = HashMap::new();
        for p in ctx.peers() {
            // Only what peers see of our direct connections, and only public IPs (a relayed
            // connection shows the relay; a LAN peer shows our private address).
            if let Some(ip) = p
                .observed_addr
                .as_ref()
                .filter(|a| a.scheme() == "tcp")
                .and_then(Address::socket_addr)
                .map(|a| a.ip())
                && is_public(ip)
            {
                *votes.entry(ip).or_default() += 1;
            }
        }
        votes.into_iter().max_by_key(|(_, n)| *n).map(|(ip, _)| ip)
    }

    /// Applies `f` to the status; emits `NatStatusChanged` when the address or kind changed.
    fn update(&self, f: impl FnOnce(&mut NatStatus)) {
        let (before, after) = {
            let mut s = self.status.lock();
            let before = (s.public_addr.map(|a| a.ip()), s.nat_type);
            f(&mut s);
            (before, (s.public_addr.map(|a| a.ip()), s.nat_type))
        };
        if let Some(ctx) = self.ctx.lock().clone() {
            // Told to peers in later Hellos.
            ctx.set_nat_type(after.1);
        }
        if before != after {
            let s = self.status.lock().clone();
            info!(public = ?s.public_addr, nat = ?s.nat_type, "NAT status changed");
            if let Some(ctx) = self.ctx.lock().clone() {
                ctx.emit(Event::NatStatusChanged {
                    public_addr: s.public_addr,
                    nat_type: s.nat_type.unwrap_or(NatType::Unknown),
                });
            }
        }
    }

    async fn refresh_loop(self: Arc<Self>, ctx: NatContext) {
        let every = Duration::from_secs(self.config.refresh_secs.max(10));
        let cancel = ctx.cancellation().clone();
        loop {
            // A check can take seconds (retransmissions, name lookups): the node's stop must
            // not wait for it.
            let check = async {
                if let Err(e) = self.detect_nat_type().await {
                    debug!(error = %e, "NAT check failed; trying the address alone");
                    let _ = self.get_public_address().await;
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = check => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// Whether `ip` is a public, routable address (not loopback, private, link-local, CGNAT...).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s & 0xfe00) == 0xfc00
                || (s & 0xffc0) == 0xfe80)
        }
    }
}

/// `0.0.0.0:0` or `[::]:0` to match `server`'s family.
fn unspecified_for(server: SocketAddr) -> SocketAddr {
    if server.is_ipv6() {
        SocketAddr::from(([0u16; 8], 0))
    } else {
        SocketAddr::from(([0u8; 4], 0))
    }
}

#[async_trait]
impl NatStrategy for StunPlugin {
    fn name(&self) -> &'static str {
        "stun"
    }

    fn cost(&self) -> u32 {
        u32::MAX
    }

    /// STUN finds addresses; it makes no connections.
    async fn connect(&self, _target: &NatTarget) -> Result<NatConnection, NatError> {
        Err(NatError::NotApplicable(
            "stun only finds our public address".into(),
        ))
    }

    async fn start(&self, ctx: NatContext) -> Result<(), NatError> {
        *self.ctx.lock() = Some(ctx.clone());
        // A node that listens on loopback only is not reachable from outside: no probing (and no
        // traffic to public servers from tests).
        if self.config.auto && ctx.listens_beyond_loopback() {
            ctx.spawn(self.handle().refresh_loop(ctx.clone()));
        }
        Ok(())
    }

    async fn stop(&self) {
        *self.ctx.lock() = None;
    }
}

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: StunConfig = cfg.parse()?;
    Ok(Plugin::Nat(Arc::new(StunPlugin::new(config))))
}

rats_core::inventory::submit! {
    PluginFactory { name: "stun", kind: PluginKind::Nat, create }
}
