//! The `mdns` discovery plugin: advertises this node as a DNS-SD service and browses for
//! others of the same application.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use rats_core::Address;
use rats_core::DiscoveryContext;
use rats_core::discovery::{Discovery, DiscoveryError};
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use tokio::sync::{Notify, broadcast, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::browser::MdnsTask;
use crate::config::MdnsConfig;
use crate::daemon::{self, Advert};
use crate::event::MdnsEvent;
use crate::names::{self, NodeTxt};

/// Longest wait for the goodbye to go out and the daemon to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);
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
    fullname: Option<String>,
    cancel: CancellationToken,
    done: oneshot::Receiver<()>,
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

    /// Calls `f` for every mDNS event from now on, on a background task of the current tokio
    /// runtime (outside a runtime nothing is called and a warning is logged).
    pub fn on_event(&self, mut f: impl FnMut(MdnsEvent) + Send + 'static) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            warn!("MdnsDiscovery::on_event called outside a tokio runtime");
            return;
        };
        let mut rx = self.events.subscribe();
        runtime.spawn(async move {
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
        // notify_one keeps the request if the task is busy at this moment.
        self.query_now.notify_one();
    }

    /// Starts advertising (as `instance_name`, default from the config or our peer id) and
    /// browsing; restarts if running.
    pub async fn start_mdns_discovery(&self, instance_name: Option<&str>) -> Result<(), MdnsError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let ctx = self.ctx.lock().clone().ok_or(MdnsError::NoNode)?;
        if ctx.cancellation().is_cancelled() {
            return Err(MdnsError::NoNode);
        }
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
        let protocol = ctx.protocol().clone();
        let service_type = names::service_type(&protocol.name);
        let own = ctx.local_peer_id();
        let advert = match (cfg.advertise, listen_plan(ctx)) {
            (true, Some((port, addrs))) => {
                let instance = instance_name
                    .map(names::clean_instance)
                    .or_else(|| cfg.instance_name.as_deref().map(names::clean_instance))
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| names::default_instance(&own));
                Some(Advert {
                    service_type: service_type.clone(),
                    instance,
                    host: format!("{}.local.", names::default_instance(&own)),
                    txt: NodeTxt {
                        peer: own,
                        version: protocol.version.clone(),
                        protocol: protocol.name.clone(),
                        port,
                    },
                    addrs,
                })
            }
            _ => None,
        };
        let daemon = daemon::open(cfg, advert.as_ref())?;
        let fullname = advert.as_ref().map(Advert::fullname);
        let cancel = ctx.cancellation().child_token();
        let (done_tx, done) = oneshot::channel();
        let task = MdnsTask::new(
            cfg.clone(),
            advert,
            service_type.clone(),
            ctx.clone(),
            &protocol,
            self.events.clone(),
            self.query_now.clone(),
        );
        let task_cancel = cancel.clone();
        ctx.spawn(async move {
            task.run(daemon, task_cancel).await;
            let _ = done_tx.send(());
        });
        info!(%service_type, instance = ?fullname, "mDNS started");
        Ok(Running {
            fullname,
            cancel,
            done,
        })
    }

    async fn stop_locked(&self) {
        let Some(r) = self.running.lock().take() else {
            return;
        };
        r.cancel.cancel();
        // The task sends the goodbye and shuts the daemon down before it ends.
        let _ = tokio::time::timeout(STOP_WAIT, r.done).await;
        debug!("mDNS stopped");
    }
}

/// Our TCP port and the addresses to advertise: a non-loopback TCP listener's port; every
/// interface's addresses if we listen on an unspecified address, else just the IPs we listen
/// on. `None` when we listen on nothing reachable from the network.
fn listen_plan(ctx: &DiscoveryContext) -> Option<(u16, Vec<IpAddr>)> {
    let tcp: Vec<SocketAddr> = ctx
        .listen_addrs()
        .iter()
        .filter(|a| a.scheme() == "tcp")
        .filter_map(Address::socket_addr)
        .filter(|s| s.port() != 0 && !s.ip().is_loopback())
        .collect();
    let port = tcp.first()?.port();
    let same_port = tcp.iter().filter(|s| s.port() == port);
    if same_port.clone().any(|s| s.ip().is_unspecified()) {
        return Some((port, Vec::new()));
    }
    Some((port, same_port.map(SocketAddr::ip).collect()))
}

#[async_trait]
impl Discovery for MdnsDiscovery {
    fn name(&self) -> &'static str {
        "mdns"
    }

    async fn start(&self, ctx: DiscoveryContext) -> Result<(), DiscoveryError> {
        let reachable = ctx.listens_beyond_loopback();
        *self.ctx.lock() = Some(ctx);
        // A node that listens on loopback only (or not at all) cannot be reached from the local
        // network, and mDNS would still join multicast groups on every interface: it stays off
        // (an explicit `start_mdns_discovery` still starts it).
        if !reachable {
            debug!("node does not listen beyond loopback: mDNS not started");
            return Ok(());
        }
        self.start_mdns_discovery(None).await.map_err(|e| {
            warn!(error = %e, "mDNS failed to start");
            DiscoveryError::Other(e.into())
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
        let Some(cancel) = self.running.lock().as_ref().map(|r| r.cancel.clone()) else {
            return Err(DiscoveryError::NotRunning("mdns"));
        };
        let rx = self.events.subscribe();
        self.query();
        // Ends when mDNS stops.
        let stream = futures::stream::unfold((rx, cancel), |(mut rx, cancel)| async move {
            loop {
                let next = tokio::select! {
                    _ = cancel.cancelled() => return None,
                    r = rx.recv() => r,
                };
                match next {
                    Ok(MdnsEvent::Discovered(s)) if s.compatible => {
                        let addrs: Vec<Address> = s.addrs.into_iter().map(Address::tcp).collect();
                        return Some((addrs, (rx, cancel)));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream.flat_map(futures::stream::iter).boxed())
    }

    async fn stop(&self) {
        // The node is going: no later start_mdns_discovery may advertise it.
        *self.ctx.lock() = None;
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
