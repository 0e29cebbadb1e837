//! One ICE session: gathering, the offer, connectivity checks, and the nominated pair.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rats_core::transport::{DatagramPipe, PIPE_DEPTH};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::debug;
use webrtc_ice::agent::Agent;
use webrtc_ice::agent::agent_config::AgentConfig;
use webrtc_ice::candidate::Candidate;
use webrtc_ice::candidate::candidate_base::unmarshal_candidate;
use webrtc_ice::mdns::MulticastDnsMode;
use webrtc_ice::network_type::NetworkType;
use webrtc_ice::url::Url;
use webrtc_util::Conn;

use super::config::IceConfig;
use super::offer::{IceOffer, MAX_CANDIDATES, strip_prefix};

/// Read buffer for the nominated pair: larger than anything the agent delivers (8 KiB), so
/// no datagram can be too long for it.
const READ_BUFFER: usize = 64 * 1024;

/// ICE failures.
#[derive(Debug, thiserror::Error)]
pub enum IceError {
    /// The ICE agent failed.
    #[error("ICE agent: {0}")]
    Agent(String),
    /// A server URL could not be used.
    #[error("bad ICE server {0}")]
    BadServer(String),
    /// The other side's offer is unusable.
    #[error("bad ICE offer: {0}")]
    BadOffer(String),
    /// Gathering or connecting took too long.
    #[error("ICE {0} timed out")]
    Timeout(&'static str),
    /// The connection is closed.
    #[error("ICE connection closed")]
    Closed,
}

fn agent_err(e: impl std::fmt::Display) -> IceError {
    IceError::Agent(e.to_string())
}

/// Called with each local candidate as it is gathered (SDP form).
type CandidateCallback = Box<dyn Fn(String) + Send + Sync>;

/// Candidates gathered so far, and who wants to hear of new ones.
#[derive(Default)]
struct Gathered {
    candidates: Vec<String>,
    callback: Option<CandidateCallback>,
}

/// An ICE agent for one connection, in the controlling (nominating) or controlled role.
pub struct IceSession {
    agent: Arc<AgentHandle>,
    controlling: bool,
    config: IceConfig,
    gathered: Arc<Mutex<Gathered>>,
    complete: watch::Receiver<bool>,
}

impl std::fmt::Debug for IceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceSession")
            .field("controlling", &self.controlling)
            .finish_non_exhaustive()
    }
}

impl IceSession {
    /// A session with `config`'s servers; `controlling` nominates the pair.
    pub async fn new(config: &IceConfig, controlling: bool) -> Result<IceSession, IceError> {
        let mut urls = Vec::new();
        for s in &config.stun {
            urls.push(
                Url::parse_url(&format!("stun:{s}")).map_err(|_| IceError::BadServer(s.clone()))?,
            );
        }
        if let Some(t) = &config.turn {
            let mut u = Url::parse_url(&format!("turn:{}?transport=udp", t.server))
                .map_err(|_| IceError::BadServer(t.server.clone()))?;
            u.username = t.username.clone();
            u.password = t.password.clone();
            urls.push(u);
        }
        let agent = Agent::new(AgentConfig {
            urls,
            network_types: vec![NetworkType::Udp4],
            // No multicast on the user's network behind their back.
            multicast_dns_mode: MulticastDnsMode::Disabled,
            is_controlling: controlling,
            include_loopback: config.loopback_only,
            ip_filter: Arc::new(
                config
                    .loopback_only
                    .then(|| Box::new(|ip: std::net::IpAddr| ip.is_loopback()) as _),
            ),
            ..AgentConfig::default()
        })
        .await
        .map_err(agent_err)?;
        let gathered: Arc<Mutex<Gathered>> = Arc::default();
        let (done_tx, complete) = watch::channel(false);
        let g = gathered.clone();
        agent.on_candidate(Box::new(
            move |c: Option<Arc<dyn Candidate + Send + Sync>>| {
                match c {
                    Some(c) => {
                        let line = c.marshal();
                        let mut g = g.lock();
                        if g.candidates.len() < MAX_CANDIDATES {
                            if let Some(cb) = &g.callback {
                                cb(line.clone());
                            }
                            g.candidates.push(line);
                        }
                    }
                    None => {
                        let _ = done_tx.send(true);
                    }
                }
                Box::pin(async {})
            },
        ));
        Ok(IceSession {
            agent: Arc::new(AgentHandle(
                Arc::new(agent),
                tokio::runtime::Handle::current(),
            )),
            controlling,
            config: config.clone(),
            gathered,
            complete,
        })
    }

    /// Whether this side nominates.
    pub fn is_controlling(&self) -> bool {
        self.controlling
    }

    /// Calls `f` with each local candidate gathered from now on (for trickle ICE).
    pub fn on_candidate(&self, f: impl Fn(String) + Send + Sync + 'static) {
        self.gathered.lock().callback = Some(Box::new(f));
    }

    /// Gathers candidates (waiting until gathering completes, or the configured time) and
    /// returns our offer: credentials and every candidate found.
    pub async fn gather(&self) -> Result<IceOffer, IceError> {
        self.agent.gather_candidates().map_err(agent_err)?;
        let mut complete = self.complete.clone();
        let wait = Duration::from_millis(self.config.gather_ms.clamp(100, 60_000));
        // Past the deadline, offer what we have: late candidates can still trickle.
        let _ = tokio::time::timeout(wait, complete.wait_for(|done| *done)).await;
        let (ufrag, pwd) = self.agent.get_local_user_credentials().await;
        let candidates = self.gathered.lock().candidates.clone();
        if candidates.is_empty() {
            return Err(IceError::Agent("no candidates gathered".into()));
        }
        Ok(IceOffer {
            ufrag,
            pwd,
            candidates,
        })
    }

    /// Adds a candidate the other side trickled.
    pub fn add_remote_candidate(&self, line: &str) -> Result<(), IceError> {
        let c = unmarshal_candidate(strip_prefix(line))
            .map_err(|e| IceError::BadOffer(format!("candidate {line:?}: {e}")))?;
        let c: Arc<dyn Candidate + Send + Sync> = Arc::new(c);
        self.agent.add_remote_candidate(&c).map_err(agent_err)
    }

    /// Runs the connectivity checks against the other side's offer until a pair is
    /// nominated (by us when controlling), within the configured time.
    pub async fn connect(&self, remote: &IceOffer) -> Result<IceConnection, IceError> {
        remote
            .validate()
            .map_err(|e| IceError::BadOffer(e.to_string()))?;
        let mut usable = 0;
        for c in &remote.candidates {
            // Candidates we cannot use (TCP, IPv6, mDNS names) are skipped, as RFC 8445 allows.
            match self.add_remote_candidate(c) {
                Ok(()) => usable += 1,
                Err(e) => debug!(error = %e, "remote ICE candidate skipped"),
            }
        }
        if usable == 0 && !remote.candidates.is_empty() {
            return Err(IceError::BadOffer("no usable candidate".into()));
        }
        let (_cancel, cancel_rx) = mpsc::channel(1);
        let (ufrag, pwd) = (remote.ufrag.clone(), remote.pwd.clone());
        let wait = Duration::from_millis(self.config.connect_ms.clamp(100, 300_000));
        let conn: Arc<dyn Conn + Send + Sync> = if self.controlling {
            let dial = self.agent.dial(cancel_rx, ufrag, pwd);
            tokio::time::timeout(wait, dial)
                .await
                .map_err(|_| IceError::Timeout("connect"))?
                .map_err(agent_err)?
        } else {
            let accept = self.agent.accept(cancel_rx, ufrag, pwd);
            tokio::time::timeout(wait, accept)
                .await
                .map_err(|_| IceError::Timeout("connect"))?
                .map_err(agent_err)?
        };
        let pair = self
            .agent
            .get_selected_candidate_pair()
            .ok_or_else(|| IceError::Agent("no selected pair".into()))?;
        Ok(IceConnection {
            conn,
            agent: self.agent.clone(),
            local: pair.local.addr(),
            remote: pair.remote.addr(),
            local_kind: pair.local.candidate_type().to_string(),
            remote_kind: pair.remote.candidate_type().to_string(),
        })
    }

    /// Stops the agent (closing its sockets and allocations) and with it any connection made
    /// through this session. Dropping the session and its connections does the same.
    pub async fn close(&self) {
        let _ = self.agent.0.close().await;
    }
}

/// The agent, closed when the last session, connection or pipe task holding it is gone
/// (webrtc-ice's agent keeps its sockets, checks and TURN refreshes running until closed),
/// on the runtime it was made on.
struct AgentHandle(Arc<Agent>, tokio::runtime::Handle);

impl std::ops::Deref for AgentHandle {
    type Target = Agent;
    fn deref(&self) -> &Agent {
        &self.0
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        let agent = self.0.clone();
        self.1.spawn(async move {
            let _ = agent.close().await;
        });
    }
}

/// A nominated candidate pair: datagrams to and from the other agent.
pub struct IceConnection {
    conn: Arc<dyn Conn + Send + Sync>,
    agent: Arc<AgentHandle>,
    /// Our candidate's address.
    pub local: SocketAddr,
    /// The other side's candidate's address.
    pub remote: SocketAddr,
    /// Our candidate's type (`host`, `srflx`, `prflx`, `relay`).
    pub local_kind: String,
    /// The other side's candidate's type.
    pub remote_kind: String,
}

impl std::fmt::Debug for IceConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceConnection")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("local_kind", &self.local_kind)
            .field("remote_kind", &self.remote_kind)
            .finish()
    }
}

impl IceConnection {
    /// Sends one datagram.
    pub async fn send(&self, data: &[u8]) -> Result<(), IceError> {
        self.conn.send(data).await.map(|_| ()).map_err(agent_err)
    }

    /// Receives one datagram into `buf`; returns its length.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize, IceError> {
        self.conn.recv(buf).await.map_err(|_| IceError::Closed)
    }

    /// Hands the pair to a [`DatagramPipe`] (for QUIC), moving datagrams in background tasks.
    /// The returned token is cancelled when the pair closes (the agent failed or was closed);
    /// the tasks end, and the agent is closed, when the pipe's user drops its ends.
    pub fn into_pipe(self) -> (DatagramPipe, CancellationToken) {
        let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(PIPE_DEPTH);
        let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>(PIPE_DEPTH);
        let closed = CancellationToken::new();
        let (conn, agent) = (self.conn.clone(), self.agent.clone());
        tokio::spawn(async move {
            // A failed send loses that datagram (as UDP would); QUIC retransmits.
            while let Some(d) = out_rx.recv().await {
                let _ = conn.send(&d).await;
            }
            // The pipe's user is gone: stop the agent (which also ends the reader below).
            let _ = agent.0.close().await;
        });
        let (conn, agent, done) = (self.conn.clone(), self.agent.clone(), closed.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; READ_BUFFER];
            loop {
                let n = tokio::select! {
                    _ = in_tx.closed() => break,
                    r = conn.recv(&mut buf) => match r {
                        Ok(n) => n,
                        Err(_) => break,
                    },
                };
                if in_tx.send(buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
            done.cancel();
            drop(agent);
        });
        let pipe = DatagramPipe {
            outgoing: out_tx,
            incoming: in_rx,
            local: self.local,
            remote: self.remote,
        };
        (pipe, closed)
    }
}
