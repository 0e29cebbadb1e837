//! The peer store: a discovery plugin that remembers peers across restarts and reconnects to
//! them on start, and to a peer whose connection dropped (timeouts, socket errors). It saves on shutdown and periodically, on a blocking thread, off the network
//! path.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use rats_core::DiscoveryContext;
use rats_core::discovery::{Discovery, DiscoveryError};
use rats_core::{Address, DisconnectReason, Event, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::atomic::{Loaded, load_or_quarantine, remove_stale_temp_files, write_atomic};
use crate::backoff::Backoff;
use crate::peer_files::{
    EverTable, FORMAT_VERSION, KnownPeer, PEERS_EVER_FILE, PEERS_FILE, PeersEverFile, PeersFile,
    parse,
};

/// Settings of the peer store (config section `persist`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PersistSettings {
    /// Save interval while running, in milliseconds.
    pub save_interval_ms: u64,
    /// Reconnect to remembered peers on start.
    pub reconnect_on_start: bool,
    /// Below this many connected peers, also try the best of `peers_ever.rats`.
    pub min_peers: usize,
    /// Most peers kept in `peers_ever.rats`.
    pub max_known_peers: usize,
    /// Redial a peer whose connection dropped without a goodbye (idle or write timeout,
    /// socket error, closed without a reason), with the `reconnect` backoff; a peer that said
    /// goodbye, that we disconnected, or that broke the protocol is not redialed.
    pub reconnect_on_drop: bool,
    /// Reconnection dials in flight at once.
    pub max_parallel_dials: usize,
    /// Retry timing.
    pub reconnect: Backoff,
}

impl Default for PersistSettings {
    fn default() -> Self {
        PersistSettings {
            save_interval_ms: 30_000,
            reconnect_on_start: true,
            min_peers: 3,
            max_known_peers: 1_000,
            reconnect_on_drop: true,
            max_parallel_dials: 4,
            reconnect: Backoff::default(),
        }
    }
}

struct State {
    /// Peers of `peers.rats` as loaded at start.
    last_session: Vec<KnownPeer>,
    ever: EverTable,
    dirty: bool,
}

/// The peer-store plugin. Reach it with `node.discovery_plugin::<PeerStore>()`.
pub struct PeerStore {
    dir: Option<PathBuf>,
    settings: PersistSettings,
    state: Mutex<State>,
    ctx: OnceLock<DiscoveryContext>,
    warnings: Mutex<Vec<String>>,
    stopped: AtomicBool,
    me: Weak<PeerStore>,
    last_reconnect: AtomicUsize,
    /// Peers being redialed after a drop (one task per peer).
    redialing: Mutex<HashSet<PeerId>>,
    /// Limits redials in flight, like the dials on start.
    redial_gate: Arc<Semaphore>,
}

impl std::fmt::Debug for PeerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl PeerStore {
    /// A store keeping its files in `dir` (`None`: remembers nothing across restarts).
    pub fn new(dir: Option<PathBuf>, settings: PersistSettings) -> Arc<Self> {
        let max = settings.max_known_peers;
        let settings_dials = settings.max_parallel_dials.max(1);
        Arc::new_cyclic(|me| PeerStore {
            dir,
            settings,
            state: Mutex::new(State {
                last_session: Vec::new(),
                ever: EverTable::new(max, Vec::new()),
                dirty: false,
            }),
            ctx: OnceLock::new(),
            warnings: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            me: me.clone(),
            last_reconnect: AtomicUsize::new(0),
            redialing: Mutex::new(HashSet::new()),
            redial_gate: Arc::new(Semaphore::new(settings_dials)),
        })
    }

    /// Warnings from loading the files (corrupt files moved aside...).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().clone()
    }

    /// The peers connected at the last stop, as loaded.
    pub fn last_session_peers(&self) -> Vec<KnownPeer> {
        self.state.lock().last_session.clone()
    }

    /// How many peers the last `load_and_reconnect_peers` (automatic on start) tried.
    pub fn last_reconnect_count(&self) -> usize {
        self.last_reconnect.load(Ordering::Relaxed)
    }

    /// How many peers are in `peers_ever.rats`.
    pub fn known_peer_count(&self) -> usize {
        self.state.lock().ever.len()
    }

    fn warn(&self, msg: String) {
        warn!("{msg}");
        self.warnings.lock().push(msg);
    }

    fn load(&self) {
        let Some(dir) = &self.dir else {
            return;
        };
        remove_stale_temp_files(&dir.join(PEERS_FILE));
        remove_stale_temp_files(&dir.join(PEERS_EVER_FILE));
        let mut st = self.state.lock();
        match load_or_quarantine(&dir.join(PEERS_FILE), parse::<PeersFile>) {
            Ok(Loaded::Ok(f)) => {
                // The file may have been edited by hand: keep it within the same bounds as
                // everything else.
                let mut seen = std::collections::HashSet::new();
                st.last_session = f
                    .peers
                    .into_iter()
                    .filter(|p| seen.insert(p.id))
                    .take(self.settings.max_known_peers)
                    .map(|mut p| {
                        p.addrs.truncate(crate::peer_files::MAX_ADDRS);
                        p
                    })
                    .collect();
            }
            Ok(Loaded::Missing) => {}
            Ok(Loaded::Corrupt { error, moved_to }) => self.warn(format!(
                "{PEERS_FILE} is corrupt ({error}); moved it to {} and started without it",
                moved_to.display()
            )),
            Err(e) => self.warn(format!("cannot read {PEERS_FILE}: {e}")),
        }
        match load_or_quarantine(&dir.join(PEERS_EVER_FILE), parse::<PeersEverFile>) {
            Ok(Loaded::Ok(f)) => st.ever = EverTable::new(self.settings.max_known_peers, f.peers),
            Ok(Loaded::Missing) => {}
            Ok(Loaded::Corrupt { error, moved_to }) => self.warn(format!(
                "{PEERS_EVER_FILE} is corrupt ({error}); moved it to {} and started without it",
                moved_to.display()
            )),
            Err(e) => self.warn(format!("cannot read {PEERS_EVER_FILE}: {e}")),
        }
    }

    /// Dials the peers of the last session (and, while we have fewer than `min_peers`, the best
    /// known ones) with backoff, in the background. Returns how many peers it will try.
    pub fn load_and_reconnect_peers(self: &Arc<Self>) -> usize {
        let Some(ctx) = self.ctx.get() else {
            return 0;
        };
        let me = ctx.local_peer_id();
        let mut targets: Vec<KnownPeer> = Vec::new();
        let mut chosen = std::collections::HashSet::new();
        {
            let st = self.state.lock();
            for p in &st.last_session {
                if p.id != me && !ctx.is_connected(&p.id) && chosen.insert(p.id) {
                    targets.push(p.clone());
                }
            }
            let want = self.settings.min_peers.min(ctx.max_peers());
            for e in st.ever.best() {
                if ctx.peer_count() + targets.len() >= want {
                    break;
                }
                if e.id != me && !ctx.is_connected(&e.id) && chosen.insert(e.id) {
                    targets.push(KnownPeer {
                        id: e.id,
                        addrs: e.addrs,
                    });
                }
            }
        }
        let n = targets.len();
        self.last_reconnect.store(n, Ordering::Relaxed);
        if n > 0 {
            info!(peers = n, "reconnecting to remembered peers");
        }
        let gate = Arc::new(Semaphore::new(self.settings.max_parallel_dials.max(1)));
        for t in targets {
            let (store, gate, ctx2) = (self.clone(), gate.clone(), ctx.clone());
            ctx.spawn(async move {
                tokio::select! {
                    _ = ctx2.cancellation().cancelled() => {}
                    _ = store.reconnect_one(&ctx2, t, &gate) => {}
                }
            });
        }
        n
    }

    async fn reconnect_one(&self, ctx: &DiscoveryContext, peer: KnownPeer, gate: &Semaphore) {
        let b = &self.settings.reconnect;
        for attempt in 0..b.max_attempts {
            tokio::time::sleep(b.delay(attempt)).await;
            if ctx.is_connected(&peer.id) {
                return;
            }
            let Ok(_permit) = gate.acquire().await else {
                return;
            };
            for addr in &peer.addrs {
                match ctx.connect(addr).await {
                    Ok(id) if id == peer.id => {
                        debug!(peer = %id.short(), %addr, attempt, "reconnected");
                        return;
                    }
                    Ok(other) => {
                        debug!(%addr, found = %other.short(), "address now belongs to another peer")
                    }
                    Err(e) => debug!(%addr, attempt, error = %e, "reconnect failed"),
                }
            }
            self.state.lock().ever.failed(&peer.id);
        }
    }

    /// Starts redialing `peer` after its connection dropped, unless that is already under
    /// way or we know no address of it (then it is the one to dial us).
    fn redial_dropped(self: &Arc<Self>, ctx: &DiscoveryContext, peer: PeerId) {
        let addrs = self.state.lock().ever.addrs_of(&peer);
        if addrs.is_empty() || !self.redialing.lock().insert(peer) {
            return;
        }
        debug!(peer = %peer.short(), "connection dropped; redialing");
        let (store, ctx2) = (self.clone(), ctx.clone());
        ctx.spawn(async move {
            let target = KnownPeer { id: peer, addrs };
            tokio::select! {
                _ = ctx2.cancellation().cancelled() => {}
                _ = store.reconnect_one(&ctx2, target, &store.redial_gate) => {}
            }
            store.redialing.lock().remove(&peer);
        });
    }

    /// Records the connected peers into the tables.
    fn note_connected(&self, ctx: &DiscoveryContext) {
        let now = now_secs();
        let mut st = self.state.lock();
        for p in ctx.peers() {
            if !p.listen_addrs.is_empty() {
                st.ever.seen(p.peer_id, &p.listen_addrs, now);
            }
        }
        st.dirty = true;
    }

    /// Saves both files on a blocking thread.
    pub async fn save(&self, connected: Vec<KnownPeer>) -> std::io::Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let (peers, ever) = {
            let mut st = self.state.lock();
            st.dirty = false;
            let peers = PeersFile {
                version: FORMAT_VERSION,
                saved_at: now_secs(),
                peers: connected,
            };
            (peers, st.ever.to_file())
        };
        tokio::task::spawn_blocking(move || save_files(&dir, &peers, &ever))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    fn connected(ctx: &DiscoveryContext) -> Vec<KnownPeer> {
        ctx.peers()
            .into_iter()
            .filter(|p| !p.listen_addrs.is_empty())
            .map(|p| KnownPeer {
                id: p.peer_id,
                addrs: p.listen_addrs,
            })
            .collect()
    }

    async fn run(self: Arc<Self>, ctx: DiscoveryContext) {
        let Some(mut events) = ctx.events() else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_millis(
            self.settings.save_interval_ms.max(100),
        ));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = ctx.cancellation().cancelled() => return,
                _ = tick.tick() => {
                    let dirty = self.state.lock().dirty;
                    if dirty
                        && !self.stopped.load(Ordering::Acquire)
                        && let Err(e) = self.save(Self::connected(&ctx)).await
                    {
                        warn!(error = %e, "saving the peer store failed");
                    }
                }
                e = events.recv() => match e {
                    Some(Ok(Event::PeerConnected { .. })) | Some(Err(_)) => self.note_connected(&ctx),
                    Some(Ok(Event::PeerDisconnected { peer, reason }))
                        if self.settings.reconnect_on_drop
                            && dropped_unexpectedly(&reason)
                            && !self.stopped.load(Ordering::Acquire) =>
                    {
                        self.redial_dropped(&ctx, peer);
                    }
                    Some(Ok(_)) => {}
                    None => return,
                },
            }
        }
    }
}

/// Whether a disconnect looks like the network or the peer's process failing (worth a
/// redial) rather than a decision of either side.
fn dropped_unexpectedly(reason: &DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::IdleTimeout
            | DisconnectReason::SlowPeer
            | DisconnectReason::Io(_)
            | DisconnectReason::RemoteClosed(None)
    )
}

#[async_trait]
impl Discovery for PeerStore {
    fn name(&self) -> &'static str {
        "persist"
    }

    async fn start(&self, ctx: DiscoveryContext) -> Result<(), DiscoveryError> {
        self.load();
        self.ctx
            .set(ctx.clone())
            .map_err(|_| DiscoveryError::Other("peer store started twice".into()))?;
        if let Some(me) = self.me.upgrade() {
            ctx.spawn(me.clone().run(ctx.clone()));
            if self.settings.reconnect_on_start {
                me.load_and_reconnect_peers();
            }
        }
        Ok(())
    }

    async fn announce(&self, _key: &[u8]) -> Result<(), DiscoveryError> {
        Ok(())
    }

    async fn find(&self, _key: &[u8]) -> Result<BoxStream<'static, Address>, DiscoveryError> {
        // Remembered peers are not indexed by key: nothing to look up.
        Ok(Box::pin(futures::stream::empty()))
    }

    async fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(ctx) = self.ctx.get() else {
            return;
        };
        // Called before the node closes its connections: this is "the peers at the last stop".
        self.note_connected(ctx);
        if let Err(e) = self.save(Self::connected(ctx)).await {
            warn!(error = %e, "saving the peer store at shutdown failed");
        }
    }
}

/// Writes both files atomically.
fn save_files(
    dir: &std::path::Path,
    peers: &PeersFile,
    ever: &PeersEverFile,
) -> std::io::Result<()> {
    let to_io = |e: serde_json::Error| std::io::Error::other(e.to_string());
    write_atomic(
        &dir.join(PEERS_FILE),
        &serde_json::to_vec_pretty(peers).map_err(to_io)?,
    )?;
    write_atomic(
        &dir.join(PEERS_EVER_FILE),
        &serde_json::to_vec_pretty(ever).map_err(to_io)?,
    )
}
