//! The `mdns` discovery plugin: advertises this node as a DNS-SD service and browses for
//! others of the same application.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use parking_lot::Mutex;
use rats_core::Address;
use rats_core::discovery::{Discovery, DiscoveryError};
use rats_core::node::DiscoveryContext;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::browser::Browser;
use crate::config::MdnsConfig;
use crate::event::MdnsEvent;
use crate::names::{self, NodeTxt};

/// Longest wait for the goodbye to go out and the daemon to stop.
const STOP_WAIT: Duration = Duration::from_secs(2);
/// Application events buffered for slow subscribers.
const EVENT_QUEUE: usize = 64;

/// Errors of the mDNS plugin.
#[derive(Debug, thiserror::Error)]
pub enum MdnsError {
    /// The node has not started the plugin (or has stopped).
    #[error("mDNS is not attached to a running node")]
    NoNode,
    /// The mDNS daemon failed.
    #[error("mDNS: {0}")]
    Daemon(String),
}

struct Running {
    daemon: ServiceDaemon,
    fullname: Option<String>,
    cancel: CancellationToken,
}

/// The mDNS discovery plugin. Reach it with `node.discovery_plugin::<MdnsDiscovery>()` (or
/// `rats::RatsClient::mdns()`).
pub struct MdnsDiscovery {
    config: MdnsConfig,
    ctx: Mutex<Option<DiscoveryContext>>,
    running: Mutex<Option<Running>>,
    lifecycle: tokio::sync::Mutex<()>,
    events: broadcast::Sender<MdnsEvent>,
    query_now: Arc<Notify>,
}

impl std::fmt::Debug for MdnsDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnsDiscovery")
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl MdnsDiscovery {
    /// A plugin with `config`.
    pub fn new(config: MdnsConfig) -> Self {
        MdnsDiscovery {
            config,
            ctx: Mutex::new(None),
            running: Mutex::new(None),
            lifecycle: tokio::sync::Mutex::new(()),
            events: broadcast::channel(EVENT_QUEUE).0,
            query_now: Arc::new(Notify::new()),
        }
    }

    /// Whether mDNS is running.
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// Our DNS-SD instance's full name, while advertising.
    pub fn instance(&self) -> Option<String> {
        self.running
            .lock()
            .as_ref()
            .and_then(|r| r.fullname.clone())
    }

    /// mDNS events (services discovered and lost). A subscriber that falls behind misses
    /// events, never the network.
    pub fn events(&self) -> broadcast::Receiver<MdnsEvent> {
        self.events.subscribe()
    }

    /// Calls `f` for every mDNS event from now on (on a background task).
    pub fn on_event(&self, mut f: impl FnMut(MdnsEvent) + Send + 'static) {
        let mut rx = self.events.subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => f(e),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Sends a query now instead of waiting for the next one.
    pub fn query(&self) {
        self.query_now.notify_waiters();
    }

    /// Starts advertising (as `instance_name`, default from the config or our peer id) and
    /// browsing; restarts if running.
    pub async fn start_mdns_discovery(&self, instance_name: Option<&str>) -> Result<(), MdnsError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let ctx = self.ctx.lock().clone().ok_or(MdnsError::NoNode)?;
        self.stop_locked().await;
        let running = self.start_locked(&ctx, instance_name)?;
        *self.running.lock() = Some(running);
        Ok(())
    }

    /// Says goodbye (peers see us lost at once) and stops.
    pub async fn stop_mdns_discovery(&self) {
        let _one_at_a_time = self.lifecycle.lock().await;
        self.stop_locked().await;
    }

    fn start_locked(
        &self,
        ctx: &DiscoveryContext,
        instance_name: Option<&str>,
    ) -> Result<Running, MdnsError> {
        let cfg = &self.config;
        let daemon =
            ServiceDaemon::new_with_port(cfg.port).map_err(|e| MdnsError::Daemon(e.to_string()))?;
        let fail = |e: mdns_sd::Error| MdnsError::Daemon(e.to_string());
        if !cfg.interfaces.is_empty() {
            daemon.disable_interface(IfKind::All).map_err(fail)?;
            for name in &cfg.interfaces {
                daemon
                    .enable_interface(IfKind::Name(name.clone()))
                    .map_err(fail)?;
            }
        }
        if !cfg.ipv6 {
            daemon.disable_interface(IfKind::IPv6).map_err(fail)?;
        }
        if cfg.interface_check_secs > 0 {
            daemon
                .set_ip_check_interval(cfg.interface_check_secs)
                .map_err(fail)?;
        }
        let protocol = ctx.protocol().clone();
        let service_type = names::service_type(&protocol.name);
        let own = ctx.local_peer_id();
        let port = tcp_port(ctx);
        let mut fullname = None;
        if let (true, Some(port)) = (cfg.advertise, port) {
            let instance = instance_name
                .map(names::clean_instance)
                .or_else(|| cfg.instance_name.as_deref().map(names::clean_instance))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| names::default_instance(&own));
            let host = format!("{}.local.", names::default_instance(&own));
            let txt = NodeTxt {
                peer: own,
                version: protocol.version.clone(),
                protocol: protocol.name.clone(),
                port,
            };
            let info = ServiceInfo::new(
                &service_type,
                &instance,
                &host,
                (),
                port,
                &txt.properties()[..],
            )
            .map_err(fail)?
            .enable_addr_auto();
            fullname = Some(info.get_fullname().to_string());
            daemon.register(info).map_err(fail)?;
        }
        let cancel = ctx.cancellation().child_token();
        let browser = Browser {
            daemon: daemon.clone(),
            service_type: service_type.clone(),
            ctx: ctx.clone(),
            own,
            protocol: protocol.name.clone(),
            version: protocol.version.clone(),
            events: self.events.clone(),
            query_now: self.query_now.clone(),
            query_interval: Duration::from_secs(cfg.query_interval_secs.max(1)),
        };
        ctx.spawn(browser.run(cancel.clone()));
        info!(%service_type, instance = ?fullname, "mDNS started");
        Ok(Running {
            daemon,
            fullname,
            cancel,
        })
    }

    async fn stop_locked(&self) {
        let Some(r) = self.running.lock().take() else {
            return;
        };
        r.cancel.cancel();
        if let Some(name) = &r.fullname
            && let Ok(rx) = r.daemon.unregister(name)
        {
            // The goodbye (TTL 0 records) goes out before we return.
            let _ = tokio::time::timeout(STOP_WAIT, rx.recv_async()).await;
        }
        if let Ok(rx) = r.daemon.shutdown() {
            let _ = tokio::time::timeout(STOP_WAIT, rx.recv_async()).await;
        }
        debug!("mDNS stopped");
    }
}

/// Our TCP listen port (any family; mDNS advertises every interface address with it).
fn tcp_port(ctx: &DiscoveryContext) -> Option<u16> {
    ctx.listen_addrs()
        .iter()
        .filter(|a| a.scheme() == "tcp")
        .find_map(|a| a.socket_addr().map(|s| s.port()).filter(|p| *p != 0))
}

#[async_trait]
impl Discovery for MdnsDiscovery {
    fn name(&self) -> &'static str {
        "mdns"
    }

    async fn start(&self, ctx: DiscoveryContext) -> Result<(), DiscoveryError> {
        let listen = ctx.listen_addrs();
        *self.ctx.lock() = Some(ctx);
        // A node that listens on loopback only (or not at all) cannot be reached from the local
        // network, and mDNS would still join multicast groups on every interface: it stays off
        // (an explicit `start_mdns_discovery` still starts it).
        if !listen.iter().any(|a| !a.is_loopback()) {
            debug!("node does not listen beyond loopback: mDNS not started");
            return Ok(());
        }
        self.start_mdns_discovery(None).await.map_err(|e| {
            warn!(error = %e, "mDNS failed to start");
            DiscoveryError::Other(e.to_string())
        })
    }

    /// mDNS advertises the node itself; other keys are not announced on the LAN.
    async fn announce(&self, _key: &[u8]) -> Result<(), DiscoveryError> {
        if self.is_running() {
            Ok(())
        } else {
            Err(DiscoveryError::NotRunning("mdns"))
        }
    }

    /// Queries now and yields the addresses of compatible instances discovered from now on
    /// (the key is ignored: mDNS finds nodes of our application).
    async fn find(&self, _key: &[u8]) -> Result<BoxStream<'static, Address>, DiscoveryError> {
        if !self.is_running() {
            return Err(DiscoveryError::NotRunning("mdns"));
        }
        let rx = self.events.subscribe();
        self.query();
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(MdnsEvent::Discovered(s)) if s.compatible => {
                        return Some((
                            s.addrs.into_iter().map(Address::tcp).collect::<Vec<_>>(),
                            rx,
                        ));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream.flat_map(futures::stream::iter).boxed())
    }

    async fn stop(&self) {
        self.stop_mdns_discovery().await;
    }
}

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: MdnsConfig = cfg.parse()?;
    Ok(Plugin::Discovery(Arc::new(MdnsDiscovery::new(config))))
}

rats_core::inventory::submit! {
    PluginFactory { name: "mdns", kind: PluginKind::Discovery, create }
}
