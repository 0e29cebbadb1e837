//! One DHT node (one UDP socket, one address family): a handle ([`DhtNode`]) that talks to an
//! actor task owning the socket, the routing table, lookups and the announce store. Commands
//! reach the actor through a channel it polls together with the socket, so a lookup starts
//! the moment it is asked for.

pub(crate) mod actor;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::compact::NodeInfo;
use crate::id::NodeId;
use crate::lookup::LookupSummary;
use crate::stats::DhtStats;

pub(crate) use actor::Actor;

/// Commands queued to the actor at most.
const COMMAND_QUEUE: usize = 64;
/// Peers buffered per lookup for a reader that has not taken them yet.
const PEER_QUEUE: usize = 256;

/// Errors of DHT calls.
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    /// The node has stopped.
    #[error("the DHT node has stopped")]
    Stopped,
    /// Binding the UDP socket failed.
    #[error("cannot bind the DHT socket on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A key that is not 20 bytes (an info-hash).
    #[error("a DHT key must be 20 bytes (40 hex digits), got {0} bytes")]
    BadKey(usize),
}

/// How a node is set up.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// Address to bind.
    pub bind: SocketAddr,
    /// Our id (`None` = random).
    pub id: Option<NodeId>,
    /// Bootstrap addresses.
    pub bootstrap: Vec<SocketAddr>,
    /// Known nodes from an earlier run (tried first).
    pub saved: Vec<NodeInfo>,
    /// Query timeout.
    pub request_timeout: Duration,
    /// Outbound queries per second.
    pub max_queries_per_sec: u32,
    /// Inbound queries answered per second per IP.
    pub max_inbound_per_ip_per_sec: u32,
    /// Inbound queries answered per second in all.
    pub max_inbound_per_sec: u32,
    /// Bytes of answers sent per second at most.
    pub max_reply_bytes_per_sec: u32,
    /// One node per public IP per bucket.
    pub restrict_routing_ips: bool,
    /// Switch to a BEP 42 id for our public address.
    pub secure_node_id: bool,
    /// Announce store bounds.
    pub max_stored_hashes: usize,
    /// Announce store bounds.
    pub max_peers_per_hash: usize,
}

impl NodeSettings {
    /// Defaults (see [`crate::DhtConfig`]) for a node bound to `bind` bootstrapping from
    /// `bootstrap`.
    pub fn new(bind: SocketAddr, bootstrap: Vec<SocketAddr>) -> Self {
        let d = crate::DhtConfig::default();
        NodeSettings {
            bind,
            id: None,
            bootstrap,
            saved: Vec::new(),
            request_timeout: d.request_timeout(),
            max_queries_per_sec: d.max_queries_per_sec,
            max_inbound_per_ip_per_sec: d.max_inbound_per_ip_per_sec,
            max_inbound_per_sec: d.max_inbound_per_sec,
            max_reply_bytes_per_sec: d.max_reply_bytes_per_sec,
            restrict_routing_ips: d.restrict_routing_ips,
            secure_node_id: d.secure_node_id,
            max_stored_hashes: d.max_stored_hashes,
            max_peers_per_hash: d.max_peers_per_hash,
        }
    }
}

pub(crate) enum Command {
    Lookup {
        target: NodeId,
        get_peers: bool,
        announce: Option<Option<u16>>,
        results: Option<mpsc::Sender<SocketAddr>>,
        done: oneshot::Sender<LookupSummary>,
    },
    Ping {
        addr: SocketAddr,
        done: oneshot::Sender<Option<NodeId>>,
    },
    AddBootstrap(Vec<SocketAddr>),
    Nodes {
        good_only: bool,
        reply: oneshot::Sender<Vec<NodeInfo>>,
    },
}

pub(crate) struct Shared {
    pub(crate) stats: Mutex<DhtStats>,
    pub(crate) local: SocketAddr,
}

/// Handle on a running DHT node. Cheap to clone.
#[derive(Clone)]
pub struct DhtNode {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    bootstrapped: watch::Receiver<bool>,
}

impl std::fmt::Debug for DhtNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhtNode")
            .field("local", &self.shared.local)
            .finish_non_exhaustive()
    }
}

/// The node's task: spawn [`DhtNodeTask::run`] on a tokio runtime.
pub struct DhtNodeTask {
    actor: Actor,
    socket: tokio::net::UdpSocket,
}

impl DhtNodeTask {
    /// Runs the node until `cancel` fires or every handle is dropped; returns the routing
    /// table's good nodes (to save for the next start).
    pub async fn run(self, cancel: CancellationToken) -> Vec<NodeInfo> {
        self.actor.run(self.socket, cancel).await
    }
}

impl DhtNode {
    /// Binds the node's socket. Nothing is sent until the task runs.
    pub async fn bind(settings: NodeSettings) -> Result<(DhtNode, DhtNodeTask), DhtError> {
        let socket = bind_udp(settings.bind).map_err(|source| DhtError::Bind {
            addr: settings.bind,
            source,
        })?;
        let local = socket.local_addr().map_err(|source| DhtError::Bind {
            addr: settings.bind,
            source,
        })?;
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (btx, brx) = watch::channel(false);
        let shared = Arc::new(Shared {
            stats: Mutex::new(DhtStats::default()),
            local,
        });
        let actor = Actor::new(
            local,
            settings,
            rx,
            btx,
            shared.clone(),
            std::time::Instant::now(),
        );
        Ok((
            DhtNode {
                tx,
                shared,
                bootstrapped: brx,
            },
            DhtNodeTask { actor, socket },
        ))
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Current statistics.
    pub fn stats(&self) -> DhtStats {
        self.shared.stats.lock().clone()
    }

    /// Nodes in the routing table.
    pub fn routing_table_size(&self) -> usize {
        self.shared.stats.lock().routing_table_size
    }

    /// Waits until the first bootstrap lookup got answers (false on timeout or stop).
    pub async fn wait_bootstrapped(&self, timeout: Duration) -> bool {
        let mut rx = self.bootstrapped.clone();
        tokio::time::timeout(timeout, rx.wait_for(|b| *b))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    async fn command(&self, c: Command) -> Result<(), DhtError> {
        self.tx.send(c).await.map_err(|_| DhtError::Stopped)
    }

    /// Starts a get_peers lookup of `hash`: peers arrive on the returned lookup as they are
    /// found.
    pub async fn find_peers(&self, hash: NodeId) -> Result<PeerLookup, DhtError> {
        self.lookup(hash, true, None).await
    }

    /// Looks `hash` up and announces `port` (`None`: the UDP source port, BEP 5
    /// `implied_port`) to the closest nodes that answered.
    pub async fn announce(&self, hash: NodeId, port: Option<u16>) -> Result<PeerLookup, DhtError> {
        self.lookup(hash, true, Some(port)).await
    }

    /// Looks up the nodes closest to `target`.
    pub async fn find_node(&self, target: NodeId) -> Result<LookupSummary, DhtError> {
        self.lookup(target, false, None).await?.finish().await
    }

    async fn lookup(
        &self,
        target: NodeId,
        get_peers: bool,
        announce: Option<Option<u16>>,
    ) -> Result<PeerLookup, DhtError> {
        let (ptx, prx) = mpsc::channel(PEER_QUEUE);
        let (dtx, drx) = oneshot::channel();
        self.command(Command::Lookup {
            target,
            get_peers,
            announce,
            results: get_peers.then_some(ptx),
            done: dtx,
        })
        .await?;
        Ok(PeerLookup {
            peers: prx,
            done: drx,
        })
    }

    /// Pings `addr`; its node id if it answered in time.
    pub async fn ping(&self, addr: SocketAddr) -> Result<Option<NodeId>, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.command(Command::Ping { addr, done: tx }).await?;
        rx.await.map_err(|_| DhtError::Stopped)
    }

    /// Adds bootstrap addresses (and bootstraps again from them).
    pub async fn add_bootstrap(&self, addrs: Vec<SocketAddr>) -> Result<(), DhtError> {
        self.command(Command::AddBootstrap(addrs)).await
    }

    /// The routing table's nodes.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.command(Command::Nodes {
            good_only: false,
            reply: tx,
        })
        .await?;
        rx.await.map_err(|_| DhtError::Stopped)
    }

    /// The routing table's good nodes (answered us, not failing): what is worth saving.
    pub async fn good_nodes(&self) -> Result<Vec<NodeInfo>, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.command(Command::Nodes {
            good_only: true,
            reply: tx,
        })
        .await?;
        rx.await.map_err(|_| DhtError::Stopped)
    }
}

/// A lookup in progress: peers as they are found, then a summary.
#[derive(Debug)]
pub struct PeerLookup {
    peers: mpsc::Receiver<SocketAddr>,
    done: oneshot::Receiver<LookupSummary>,
}

impl PeerLookup {
    /// The next new peer; `None` when the lookup has finished.
    pub async fn next_peer(&mut self) -> Option<SocketAddr> {
        self.peers.recv().await
    }

    /// Waits for the end of the lookup (and of its announce).
    pub async fn finish(self) -> Result<LookupSummary, DhtError> {
        self.done.await.map_err(|_| DhtError::Stopped)
    }

    /// The peers as a stream (ends with the lookup).
    pub fn into_stream(self) -> impl futures::Stream<Item = SocketAddr> + Send + 'static {
        futures::stream::unfold(self.peers, |mut rx| async move {
            rx.recv().await.map(|p| (p, rx))
        })
    }
}

/// Binds a UDP socket; IPv6 sockets are IPv6-only (IPv4 has its own node).
fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Room for bursts of answers while a lookup fans out.
    let _ = s.set_recv_buffer_size(1 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}
