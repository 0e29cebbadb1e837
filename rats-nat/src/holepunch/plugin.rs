//! The `holepunch` NAT strategy: runs punch sessions we start (`connect`) and those peers ask
//! us for (`on_signal`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use parking_lot::Mutex;
use rats_core::NatContext;
use rats_core::identity::PeerId;
use rats_core::nat::{NatConnection, NatError, NatStrategy, NatTarget, Signal};
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::{Address, ConnectionMethod, Event};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tracing::debug;

use super::PUNCHED_TCP;
use super::config::HolePunchConfig;
use super::punch::{self, Paths, Plan, Side};
use super::socket::{PunchSocket, TcpPunchPort};
use super::wire::PunchMessage;
use crate::StunConfig;

/// Peers we ask to pass a punch request on, at most (when not connected to the target).
const MAX_VIAS: usize = 4;
/// Requests remembered (so copies arriving through other peers are not answered twice).
const RECENT: usize = 64;
/// Resolved STUN server addresses are reused this long.
const RESOLVED_TTL: Duration = Duration::from_secs(300);
/// Answering sessions at most per delivering peer.
const ANSWERS_PER_VIA: usize = 2;
/// The initiator waits at most this long (half the round trip) before punching.
const MAX_START_DELAY: Duration = Duration::from_secs(1);
/// Time for the responder handshake after the punch window.
const HANDSHAKE_MARGIN: Duration = Duration::from_secs(5);

/// The other side's answer to our request, with the peer that delivered it and when.
struct Answer {
    addrs: Vec<SocketAddr>,
    varies: bool,
    tcp: Option<SocketAddr>,
    hold: Duration,
    via: PeerId,
    at: Instant,
}

/// A session we started, waiting for its answer.
struct Asked {
    peer: PeerId,
    answer: oneshot::Sender<Answer>,
}

struct Inner {
    config: HolePunchConfig,
    stun: StunConfig,
    ctx: Mutex<Option<NatContext>>,
    /// Our requests waiting for an answer, by session id.
    asked: Mutex<HashMap<u64, Asked>>,
    /// Requests we answered, waiting for the initiator's sync, by (initiator, session id).
    answered: Mutex<HashMap<(PeerId, u64), oneshot::Sender<()>>>,
    /// Peers we are answering now (one session each), and through which peer (a few each:
    /// the author of a signal is only the deliverer's claim).
    answering: Mutex<HashMap<PeerId, PeerId>>,
    /// Requests seen lately, oldest first.
    recent: Mutex<VecDeque<(PeerId, u64)>>,
    /// Our own sessions in progress.
    own_sessions: Arc<Semaphore>,
    /// Sessions other peers asked for, in progress.
    answer_sessions: Arc<Semaphore>,
    /// The STUN servers, resolved, and when.
    servers: tokio::sync::Mutex<Option<(Instant, Vec<SocketAddr>)>>,
}

/// Removes our request from `asked` however its session ends.
struct AskedGuard<'a> {
    inner: &'a Inner,
    id: u64,
}

impl Drop for AskedGuard<'_> {
    fn drop(&mut self) {
        self.inner.asked.lock().remove(&self.id);
    }
}

/// Ends an answering session's claim on its peer.
struct AnsweringGuard {
    inner: Arc<Inner>,
    from: PeerId,
    id: u64,
}

impl AnsweringGuard {
    /// Claims an answering session for `from` (delivered by `via`): one per author, at most
    /// [`ANSWERS_PER_VIA`] per delivering peer.
    fn claim(inner: &Arc<Inner>, from: PeerId, via: PeerId, id: u64) -> Option<AnsweringGuard> {
        let mut answering = inner.answering.lock();
        let through_via = answering.values().filter(|v| **v == via).count();
        if answering.contains_key(&from) || through_via >= ANSWERS_PER_VIA {
            return None;
        }
        answering.insert(from, via);
        Some(AnsweringGuard {
            inner: inner.clone(),
            from,
            id,
        })
    }
}

impl Drop for AnsweringGuard {
    fn drop(&mut self) {
        self.inner.answering.lock().remove(&self.from);
        self.inner.answered.lock().remove(&(self.from, self.id));
    }
}

/// The hole punching strategy. Uses the STUN servers of the `stun` section.
pub struct HolePunch {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HolePunch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolePunch")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl HolePunch {
    /// A strategy with these settings.
    pub fn new(config: HolePunchConfig, stun: StunConfig) -> Self {
        let n = config.max_sessions.max(1);
        HolePunch {
            inner: Arc::new(Inner {
                config,
                stun,
                ctx: Mutex::new(None),
                asked: Mutex::default(),
                answered: Mutex::default(),
                answering: Mutex::default(),
                recent: Mutex::default(),
                own_sessions: Arc::new(Semaphore::new(n)),
                answer_sessions: Arc::new(Semaphore::new(n)),
                servers: tokio::sync::Mutex::new(None),
            }),
        }
    }
}

impl Inner {
    fn ctx(&self) -> Result<NatContext, NatError> {
        self.ctx
            .lock()
            .clone()
            .ok_or_else(|| NatError::NotApplicable("hole punching is not started".into()))
    }

    fn window(&self) -> Duration {
        Duration::from_millis(self.config.window_ms.clamp(100, 60_000))
    }

    fn answer_timeout(&self) -> Duration {
        Duration::from_millis(self.config.answer_ms.clamp(100, 60_000))
    }

    /// A fresh punch socket and its mapping, within half the answer time (the other side
    /// waits for us).
    async fn prepare(&self, servers: &[SocketAddr]) -> Result<PunchSocket, String> {
        tokio::time::timeout(self.answer_timeout() / 2, PunchSocket::prepare(servers))
            .await
            .map_err(|_| "no STUN answer in time".to_string())?
            .map_err(|e| e.to_string())
    }

    /// The STUN servers, resolved at most every [`RESOLVED_TTL`] (an empty result too, so a
    /// broken resolver is not asked on every punch), within half the answer time.
    async fn servers(&self) -> Vec<SocketAddr> {
        let mut cached = self.servers.lock().await;
        if let Some((at, s)) = &*cached
            && at.elapsed() < RESOLVED_TTL
        {
            return s.clone();
        }
        let s = tokio::time::timeout(self.answer_timeout() / 2, self.stun.resolved_servers())
            .await
            .unwrap_or_default();
        *cached = Some((Instant::now(), s.clone()));
        s
    }

    /// Whether the request `(from, id)` was seen before (and remembers it).
    fn seen_before(&self, from: PeerId, id: u64) -> bool {
        let mut recent = self.recent.lock();
        if recent.contains(&(from, id)) {
            return true;
        }
        if recent.len() >= RECENT {
            recent.pop_front();
        }
        recent.push_back((from, id));
        false
    }

    /// Reserves a TCP port and learns its mapping (when TCP punching is on), within half the
    /// answer time; `None` if that fails (UDP alone is tried then).
    async fn prepare_tcp(&self, servers: &[SocketAddr]) -> Option<TcpPunchPort> {
        if !self.config.tcp || !cfg!(unix) {
            return None;
        }
        let port = tokio::time::timeout(self.answer_timeout() / 2, TcpPunchPort::prepare(servers));
        match port.await {
            Ok(Ok(p)) => Some(p),
            Ok(Err(e)) => {
                debug!(error = %e, "hole punch: no TCP mapping; UDP only");
                None
            }
            Err(_) => None,
        }
    }

    /// Both sockets: UDP (required) and, when it works, a TCP port.
    async fn prepare_both(&self) -> Result<(PunchSocket, Option<TcpPunchPort>), String> {
        let servers = self.servers().await;
        // Side by side: together they must fit in the other side's patience.
        let (udp, tcp) = tokio::join!(self.prepare(&servers), self.prepare_tcp(&servers));
        Ok((udp?, tcp))
    }

    /// Reports a step of a punch as a `ConnectAttempt` event.
    fn progress(
        ctx: &NatContext,
        remote: Option<&SocketAddr>,
        method: &'static str,
        error: Option<String>,
    ) {
        let scheme = if method == PUNCHED_TCP { "tcp" } else { "quic" };
        if let Some(addr) = remote.and_then(|a| Address::new(scheme, &a.to_string()).ok()) {
            ctx.emit(Event::ConnectAttempt {
                addr,
                method: ConnectionMethod::Nat(method),
                upgrade: false,
                error,
            });
        }
    }

    /// The plan for a punch with the other side's offer.
    fn plan(
        &self,
        udp: PunchSocket,
        tcp: Option<TcpPunchPort>,
        remote_udp: Vec<SocketAddr>,
        remote_tcp: Option<SocketAddr>,
        side: Side,
    ) -> Plan {
        Plan {
            udp,
            use_udp: self.config.udp,
            tcp,
            remote_udp,
            remote_tcp,
            side,
            window: self.window(),
        }
    }

    /// Runs a punch and the handshake on what it produced: as initiator on the path we dialed,
    /// as responder on every path the other side brings up (the first to complete wins).
    /// Returns the stream we dialed (for the caller's handshake) or the connected peer.
    async fn punch_and_connect(
        ctx: &NatContext,
        plan: Plan,
        peer: PeerId,
    ) -> Result<PeerId, String> {
        let (remote_udp, remote_tcp) = (plan.remote_udp.first().copied(), plan.remote_tcp);
        let (window, side) = (plan.window, plan.side);
        let paths = punch::run(ctx, plan).await?;
        let limit = window + HANDSHAKE_MARGIN;
        let result = match side {
            Side::Dial => dial_first(ctx, paths, peer, limit).await,
            Side::Accept => establish_first(ctx, paths, peer, limit).await,
        };
        match result {
            Ok((p, method)) => {
                let at = if method == PUNCHED_TCP {
                    remote_tcp
                } else {
                    remote_udp
                };
                Self::progress(ctx, at.as_ref(), method, None);
                Ok(p)
            }
            Err(e) => {
                Self::progress(ctx, remote_udp.as_ref(), "holepunch", Some(e.clone()));
                Err(e)
            }
        }
    }

    /// Starts a punch with `peer` and waits for its outcome.
    async fn initiate(
        self: Arc<Self>,
        ctx: NatContext,
        peer: PeerId,
        _permit: OwnedSemaphorePermit,
    ) -> Result<NatConnection, NatError> {
        // Over our (relayed) connection to the peer if there is one, else through the peers we
        // have: any of them that is connected to it passes the request on.
        let vias: Vec<PeerId> = if ctx.is_connected(&peer) {
            vec![peer]
        } else {
            // The peer that introduced it first (it has it), then others that might.
            let first = ctx.introducer(&peer);
            first
                .into_iter()
                .chain(
                    ctx.peers()
                        .into_iter()
                        .map(|p| p.peer_id)
                        .filter(|p| *p != peer && Some(*p) != first),
                )
                .take(MAX_VIAS)
                .collect()
        };
        if vias.is_empty() {
            return Err(NatError::NotApplicable(
                "no connected peer to coordinate a hole punch through".into(),
            ));
        }
        let failed = |e: String| NatError::Failed(format!("hole punch: {e}").into());
        let (sock, tcp) = self.prepare_both().await.map_err(failed)?;
        let id = rand::random::<u64>();
        let (tx, rx) = oneshot::channel();
        self.asked.lock().insert(id, Asked { peer, answer: tx });
        let _asked = AskedGuard { inner: &self, id };
        let request = PunchMessage::Connect {
            id,
            addrs: vec![sock.mapped],
            varies: sock.varies,
            tcp: tcp.as_ref().map(|t| t.mapped),
        }
        .encode();
        let asked_at = Instant::now();
        let sent = vias
            .iter()
            .filter(|v| ctx.send_signal(v, &peer, &request))
            .count();
        if sent == 0 {
            return Err(failed("no peer took the request".into()));
        }
        let Ok(Ok(answer)) = tokio::time::timeout(self.answer_timeout(), rx).await else {
            return Err(failed("the peer did not answer the request".into()));
        };
        if sock.varies && answer.varies {
            ctx.send_signal(&answer.via, &peer, &PunchMessage::Cancel { id }.encode());
            let e = "both peers are behind NATs that map per destination (symmetric): no \
                     direct path";
            Self::progress(&ctx, answer.addrs.first(), "holepunch", Some(e.into()));
            return Err(failed(e.into()));
        }
        ctx.send_signal(&answer.via, &peer, &PunchMessage::Sync { id }.encode());
        // The sync reaches the other side about half a round trip from now: start together.
        let rtt = answer
            .at
            .duration_since(asked_at)
            .saturating_sub(answer.hold);
        tokio::time::sleep((rtt / 2).min(MAX_START_DELAY)).await;
        let side = if answer.varies && !sock.varies {
            Side::Accept
        } else {
            Side::Dial
        };
        let plan = self.plan(sock, tcp, answer.addrs, answer.tcp, side);
        Self::punch_and_connect(&ctx, plan, peer)
            .await
            .map(NatConnection::Established)
            .map_err(failed)
    }

    /// Answers a peer's request and punches with it.
    #[allow(clippy::too_many_arguments)]
    async fn respond(
        self: Arc<Self>,
        ctx: NatContext,
        from: PeerId,
        via: PeerId,
        id: u64,
        remote: Vec<SocketAddr>,
        remote_varies: bool,
        remote_tcp: Option<SocketAddr>,
        sync: oneshot::Receiver<()>,
        _permit: OwnedSemaphorePermit,
        _answering: AnsweringGuard,
    ) {
        let started = Instant::now();
        let (sock, tcp) = match self.prepare_both().await {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "hole punch: no mapping; declining");
                ctx.send_signal(&via, &from, &PunchMessage::Cancel { id }.encode());
                return;
            }
        };
        let accept = PunchMessage::Accept {
            id,
            addrs: vec![sock.mapped],
            varies: sock.varies,
            hold_ms: started.elapsed().as_millis() as u64,
            tcp: tcp.as_ref().map(|t| t.mapped),
        };
        ctx.send_signal(&via, &from, &accept.encode());
        let go = tokio::time::timeout(self.answer_timeout(), sync).await;
        if !matches!(go, Ok(Ok(()))) {
            // Cancelled (both symmetric) or no sync: nothing to do.
            return;
        }
        let side = if sock.varies && !remote_varies {
            Side::Dial
        } else {
            Side::Accept
        };
        let plan = self.plan(sock, tcp, remote, remote_tcp, side);
        let outcome = Self::punch_and_connect(&ctx, plan, from).await;
        debug!(peer = %from.short(), ?outcome, "hole punch (answering side)");
    }

    fn on_message(self: &Arc<Self>, signal: Signal, msg: PunchMessage) {
        let from = signal.from;
        match msg {
            PunchMessage::Connect {
                id,
                addrs,
                varies,
                tcp,
            } => {
                let Ok(ctx) = self.ctx() else {
                    return;
                };
                // Copies through other mutual peers are answered once.
                if !self.config.respond || self.seen_before(from, id) {
                    return;
                }
                // One session per asking peer, a few per delivering peer, a bounded number
                // in all.
                let Some(guard) = AnsweringGuard::claim(self, from, signal.via, id) else {
                    debug!(peer = %from.short(), "hole punch request dropped: one in progress");
                    return;
                };
                let Ok(permit) = self.answer_sessions.clone().try_acquire_owned() else {
                    debug!("hole punch request dropped: too many sessions");
                    return;
                };
                let (tx, rx) = oneshot::channel();
                self.answered.lock().insert((from, id), tx);
                let this = self.clone();
                let c = ctx.clone();
                let tcp = tcp.filter(|_| self.config.tcp);
                ctx.spawn(async move {
                    this.respond(
                        c, from, signal.via, id, addrs, varies, tcp, rx, permit, guard,
                    )
                    .await;
                });
            }
            PunchMessage::Accept {
                id,
                addrs,
                varies,
                hold_ms,
                tcp,
            } => {
                let mut asked = self.asked.lock();
                if asked.get(&id).is_some_and(|a| a.peer == from)
                    && let Some(a) = asked.remove(&id)
                {
                    let _ = a.answer.send(Answer {
                        addrs,
                        varies,
                        tcp,
                        hold: Duration::from_millis(hold_ms),
                        via: signal.via,
                        at: Instant::now(),
                    });
                }
            }
            PunchMessage::Sync { id } => {
                if let Some(tx) = self.answered.lock().remove(&(from, id)) {
                    let _ = tx.send(());
                }
            }
            PunchMessage::Cancel { id } => {
                // Dropping the waiting side's sender ends its wait.
                self.answered.lock().remove(&(from, id));
                let mut asked = self.asked.lock();
                if asked.get(&id).is_some_and(|a| a.peer == from) {
                    asked.remove(&id);
                }
            }
        }
    }
}

/// Runs the initiator handshake on the paths as they come up, one at a time, until one
/// completes (dropping a path whose handshake failed; the other side sees it close).
async fn dial_first(
    ctx: &NatContext,
    mut paths: Paths,
    peer: PeerId,
    limit: Duration,
) -> Result<(PeerId, &'static str), String> {
    let work = async {
        let mut last = String::from("no direct path");
        while let Some((raw, method)) = paths.recv().await {
            match ctx.establish(raw, false, method, Some(peer)).await {
                Ok(p) => return Ok((p, method)),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("no direct path within {limit:?}"))?
}

/// Runs the responder handshake on every path that comes up and returns the first that
/// completes (the dialer only sends its handshake on the path it chose; it drops the others,
/// which then fail here at once).
async fn establish_first(
    ctx: &NatContext,
    mut paths: Paths,
    peer: PeerId,
    limit: Duration,
) -> Result<(PeerId, &'static str), String> {
    let mut handshakes = FuturesUnordered::new();
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let mut last = String::from("no direct path");
    let mut open = true;
    loop {
        tokio::select! {
            p = paths.recv(), if open => match p {
                Some((raw, method)) => handshakes.push(async move {
                    (ctx.establish(raw, true, method, Some(peer)).await, method)
                }),
                None => open = false,
            },
            Some((r, method)) = handshakes.next(), if !handshakes.is_empty() => match r {
                Ok(p) => return Ok((p, method)),
                Err(e) => last = e.to_string(),
            },
            _ = &mut deadline => return Err(format!("no direct path within {limit:?}")),
        }
        if !open && handshakes.is_empty() {
            return Err(last);
        }
    }
}

#[async_trait]
impl NatStrategy for HolePunch {
    fn name(&self) -> &'static str {
        "holepunch"
    }

    /// Cheaper than a relay, dearer than a port mapping.
    fn cost(&self) -> u32 {
        50
    }

    async fn connect(&self, target: &NatTarget) -> Result<NatConnection, NatError> {
        let peer = target
            .peer
            .ok_or_else(|| NatError::NotApplicable("hole punching needs the peer's id".into()))?;
        let ctx = self.inner.ctx()?;
        if !ctx.listens_beyond_loopback() {
            return Err(NatError::NotApplicable(
                "listening on loopback only: no NAT to punch".into(),
            ));
        }
        let permit = self
            .inner
            .own_sessions
            .clone()
            .try_acquire_owned()
            .map_err(|_| NatError::Failed("too many hole punches in progress".into()))?;
        self.inner.clone().initiate(ctx, peer, permit).await
    }

    fn upgrades_relayed(&self) -> bool {
        true
    }

    fn on_signal(&self, signal: Signal) {
        match PunchMessage::decode(&signal.payload) {
            Some(msg) => {
                debug!(from = %signal.from.short(), id = msg.id(), "hole punch signal");
                self.inner.on_message(signal, msg);
            }
            None => debug!(from = %signal.from.short(), "malformed hole punch signal dropped"),
        }
    }

    async fn start(&self, ctx: NatContext) -> Result<(), NatError> {
        *self.inner.ctx.lock() = Some(ctx);
        Ok(())
    }

    async fn stop(&self) {
        *self.inner.ctx.lock() = None;
        self.inner.asked.lock().clear();
        self.inner.answered.lock().clear();
        self.inner.recent.lock().clear();
    }
}

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: HolePunchConfig = cfg.parse()?;
    let stun: StunConfig = cfg.parse_section("stun")?;
    Ok(Plugin::Nat(Arc::new(HolePunch::new(config, stun))))
}

rats_core::inventory::submit! {
    PluginFactory { name: "holepunch", kind: PluginKind::Nat, create }
}
