//! Port mapping: ask the router (PCP, NAT-PMP or UPnP IGD) to forward our TCP listen port,
//! renew the mapping, remove it on shutdown, and tell others the mapped address.

pub mod gateway;
pub mod natpmp;
pub mod pcp;
pub mod upnp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rats_core::NatContext;
use rats_core::nat::{NatConnection, NatError, NatStrategy, NatTarget};
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

/// Errors of port mapping.
#[derive(Debug, thiserror::Error)]
pub enum PortMapError {
    /// No gateway found.
    #[error("no gateway (default route) found")]
    NoGateway,
    /// The gateway did not answer.
    #[error("the gateway did not answer")]
    NoAnswer,
    /// It answered no.
    #[error("mapping refused: {0}")]
    Refused(String),
    /// Socket error.
    #[error("port mapping socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// How a mapping was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingMethod {
    /// Port Control Protocol (RFC 6887).
    Pcp,
    /// NAT-PMP (RFC 6886).
    NatPmp,
    /// UPnP Internet Gateway Device.
    Upnp,
}

/// A port mapping on the router.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortMapping {
    /// How it was made.
    pub method: MappingMethod,
    /// The public address that now reaches our listen port.
    pub external: SocketAddr,
    /// Our TCP listen port.
    pub internal_port: u16,
    /// How long the router keeps it unless renewed.
    pub lifetime: Duration,
    /// The router.
    pub gateway: IpAddr,
}

/// The `portmap` configuration section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortMapConfig {
    /// Map our listen port at start (only when the node listens beyond loopback).
    pub auto: bool,
    /// Methods to try, in order.
    pub methods: Vec<MappingMethod>,
    /// Lifetime asked for, in seconds (renewed at half of what the router grants).
    pub lifetime_secs: u32,
    /// The router; default: the IPv4 default route's gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Seconds to wait for a UPnP gateway to answer the SSDP search.
    pub upnp_search_secs: u64,
}

impl Default for PortMapConfig {
    fn default() -> Self {
        PortMapConfig {
            auto: true,
            methods: vec![
                MappingMethod::Pcp,
                MappingMethod::NatPmp,
                MappingMethod::Upnp,
            ],
            lifetime_secs: 3600,
            gateway: None,
            upnp_search_secs: 3,
        }
    }
}

/// What the task holds to renew and remove the mapping.
enum Held {
    Pcp {
        gateway: Ipv4Addr,
        client: Ipv4Addr,
        nonce: [u8; 12],
    },
    NatPmp {
        gateway: Ipv4Addr,
    },
    Upnp {
        gateway: Box<upnp::Gateway>,
        local: SocketAddr,
    },
}

/// The port-mapping plugin. Reach it with `node.nat_plugin::<PortMapper>()` (or
/// `rats::RatsClient::port_mapper()`).
pub struct PortMapper {
    config: PortMapConfig,
    mapping: Arc<Mutex<Option<PortMapping>>>,
    stop: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

impl std::fmt::Debug for PortMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortMapper")
            .field("mapping", &self.mapping())
            .finish_non_exhaustive()
    }
}

impl PortMapper {
    /// A mapper with `config`.
    pub fn new(config: PortMapConfig) -> Self {
        PortMapper {
            config,
            mapping: Arc::default(),
            stop: Mutex::new(None),
        }
    }

    /// The current mapping, if the router granted one.
    pub fn mapping(&self) -> Option<PortMapping> {
        self.mapping.lock().clone()
    }

    /// Our public address through the mapping.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.mapping().map(|m| m.external)
    }
}

/// Tries the methods in order; returns the first mapping with what renews it.
async fn map_once(
    cfg: &PortMapConfig,
    local: SocketAddr,
    gateway: Ipv4Addr,
) -> Result<(PortMapping, Held), PortMapError> {
    let mut last = PortMapError::NoAnswer;
    let client = match local.ip() {
        IpAddr::V4(v4) if !v4.is_unspecified() => v4,
        _ => local_ipv4_toward(gateway).await?,
    };
    for m in &cfg.methods {
        let r = match m {
            MappingMethod::Pcp => {
                let nonce: [u8; 12] = rand::random();
                pcp::map_tcp(gateway, client, local.port(), cfg.lifetime_secs, nonce)
                    .await
                    .map(|m| {
                        (
                            m,
                            Held::Pcp {
                                gateway,
                                client,
                                nonce,
                            },
                        )
                    })
            }
            MappingMethod::NatPmp => natpmp::map_tcp(gateway, local.port(), cfg.lifetime_secs)
                .await
                .map(|m| (m, Held::NatPmp { gateway })),
            MappingMethod::Upnp => {
                let local = SocketAddr::new(IpAddr::V4(client), local.port());
                match upnp::find(Duration::from_secs(cfg.upnp_search_secs.max(1))).await {
                    Ok(gw) => upnp::map_tcp(&gw, local, cfg.lifetime_secs).await.map(|m| {
                        (
                            m,
                            Held::Upnp {
                                gateway: Box::new(gw),
                                local,
                            },
                        )
                    }),
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Ok(x) => return Ok(x),
            Err(e) => {
                debug!(method = ?m, error = %e, "port mapping attempt failed");
                last = e;
            }
        }
    }
    Err(last)
}

async fn renew(held: &Held, cfg: &PortMapConfig, port: u16) -> Result<PortMapping, PortMapError> {
    match held {
        Held::Pcp {
            gateway,
            client,
            nonce,
        } => pcp::map_tcp(*gateway, *client, port, cfg.lifetime_secs, *nonce).await,
        Held::NatPmp { gateway } => natpmp::map_tcp(*gateway, port, cfg.lifetime_secs).await,
        Held::Upnp { gateway, local } => upnp::map_tcp(gateway, *local, cfg.lifetime_secs).await,
    }
}

async fn remove(held: &Held, port: u16, external_port: u16) {
    let r = match held {
        Held::Pcp {
            gateway,
            client,
            nonce,
        } => pcp::map_tcp(*gateway, *client, port, 0, *nonce)
            .await
            .map(|_| ()),
        Held::NatPmp { gateway } => natpmp::map_tcp(*gateway, port, 0).await.map(|_| ()),
        Held::Upnp { gateway, .. } => upnp::unmap_tcp(gateway, external_port).await,
    };
    if let Err(e) = r {
        debug!(error = %e, "port mapping removal failed");
    }
}

/// The local IPv4 address toward `gateway` (a connected UDP socket sends nothing).
async fn local_ipv4_toward(gateway: Ipv4Addr) -> Result<Ipv4Addr, PortMapError> {
    let s = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
    s.connect((gateway, natpmp::SERVER_PORT)).await?;
    match s.local_addr()?.ip() {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(_) => Err(PortMapError::NoGateway),
    }
}

/// Keeps the mapping: maps, renews at half its lifetime (retrying every 30 s after failures),
/// removes it when told to stop.
#[allow(clippy::too_many_arguments)]
async fn keep_mapped(
    ctx: NatContext,
    cfg: PortMapConfig,
    local: SocketAddr,
    gateway: Ipv4Addr,
    slot: Arc<Mutex<Option<PortMapping>>>,
    mut stop: oneshot::Receiver<()>,
    done: oneshot::Sender<()>,
) {
    let mut held: Option<Held> = None;
    loop {
        let result = match &held {
            None => map_once(&cfg, local, gateway).await.map(|(m, h)| {
                held = Some(h);
                m
            }),
            Some(h) => renew(h, &cfg, local.port()).await,
        };
        let wait = match result {
            Ok(m) => {
                let before = slot.lock().clone();
                if before.as_ref() != Some(&m) {
                    info!(external = %m.external, method = ?m.method, "port mapped");
                    if let Some(old) = before {
                        ctx.remove_external_address(&rats_core::Address::tcp(old.external));
                    }
                    ctx.add_external_address(rats_core::Address::tcp(m.external));
                }
                let half = (m.lifetime / 2).max(Duration::from_secs(5));
                *slot.lock() = Some(m);
                half
            }
            Err(e) => {
                warn!(error = %e, "port mapping failed");
                held = None;
                let lost = slot.lock().take();
                if let Some(old) = lost {
                    ctx.remove_external_address(&rats_core::Address::tcp(old.external));
                }
                Duration::from_secs(30)
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    let m = slot.lock().take();
    if let Some(m) = &m {
        ctx.remove_external_address(&rats_core::Address::tcp(m.external));
    }
    if let (Some(h), Some(m)) = (&held, m) {
        remove(h, local.port(), m.external.port()).await;
        info!(external = %m.external, "port mapping removed");
    }
    let _ = done.send(());
}

#[async_trait]
impl NatStrategy for PortMapper {
    fn name(&self) -> &'static str {
        "portmap"
    }

    fn cost(&self) -> u32 {
        10
    }

    /// A mapping makes us reachable; it dials nobody.
    async fn connect(&self, _target: &NatTarget) -> Result<NatConnection, NatError> {
        Err(NatError::NotApplicable(
            "port mapping only opens our own port".into(),
        ))
    }

    async fn start(&self, ctx: NatContext) -> Result<(), NatError> {
        // Our TCP listener on a non-loopback IPv4 (or unspecified) address.
        let local = ctx
            .listen_addrs()
            .iter()
            .filter(|a| a.scheme() == "tcp")
            .filter_map(|a| a.socket_addr())
            .find(|s| s.port() != 0 && !s.ip().is_loopback());
        let (Some(local), true) = (local, self.config.auto) else {
            return Ok(());
        };
        let Some(gateway) = self.config.gateway.or_else(gateway::default_gateway) else {
            debug!("no default gateway: no port mapping");
            return Ok(());
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        *self.stop.lock() = Some((stop_tx, done_rx));
        ctx.spawn(keep_mapped(
            ctx.clone(),
            self.config.clone(),
            local,
            gateway,
            self.mapping.clone(),
            stop_rx,
            done_tx,
        ));
        Ok(())
    }

    async fn stop(&self) {
        let Some((stop, done)) = self.stop.lock().take() else {
            return;
        };
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
    }
}

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: PortMapConfig = cfg.parse()?;
    Ok(Plugin::Nat(Arc::new(PortMapper::new(config))))
}

rats_core::inventory::submit! {
    PluginFactory { name: "portmap", kind: PluginKind::Nat, create }
}
