//! The `turn` transport: a rats connection carried through a TURN server's TCP relay
//! (RFC 6062), so a node behind any NAT can be reached.
//!
//! Listening on `turn:<server host:port>` allocates a relayed TCP address on that server; the
//! listener's address is `turn:<relayed ip:port>`, which peers learn like any listen address.
//! Dialing `turn:<relayed ip:port>` makes the server connect our own relayed address to it.
//! Both ends therefore use the same TURN server, and each permits the server's relay address,
//! which is where the other end's traffic comes from.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rats_core::Address;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::transport::{Listener, RawConnection, Transport, TransportError};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, warn};

use super::client::{ConnectionAttempt, Credentials, TurnClient, TurnError};

/// Permissions last five minutes (RFC 8656 §9); renewed before that.
const PERMISSION_EVERY: Duration = Duration::from_secs(240);

/// The `turn` configuration section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TurnConfig {
    /// The TURN server as `host:port` (used for dialing; listening names it in the address).
    pub server: Option<String>,
    /// Long-term credentials: user name.
    pub username: String,
    /// Long-term credentials: password.
    pub password: String,
}

/// A relayed allocation kept alive by a background task.
struct Allocation {
    client: Arc<TurnClient>,
    relayed: SocketAddr,
    _keepalive: DropGuard,
}

/// The TURN transport plugin.
pub struct TurnTransport {
    config: TurnConfig,
    dialer: tokio::sync::Mutex<Option<Arc<Allocation>>>,
}

impl std::fmt::Debug for TurnTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnTransport").finish_non_exhaustive()
    }
}

fn io(context: &str, e: TurnError) -> TransportError {
    TransportError::io(context, std::io::Error::other(e.to_string()))
}

async fn resolve(server: &str) -> Result<SocketAddr, TransportError> {
    if let Ok(a) = server.parse() {
        return Ok(a);
    }
    tokio::net::lookup_host(server)
        .await
        .map_err(|e| TransportError::io(format!("resolving TURN server {server}"), e))?
        .next()
        .ok_or_else(|| {
            TransportError::io("resolving TURN server", std::io::Error::other("no address"))
        })
}

impl TurnTransport {
    /// A transport with `config`.
    pub fn new(config: TurnConfig) -> Self {
        TurnTransport {
            config,
            dialer: tokio::sync::Mutex::new(None),
        }
    }

    fn creds(&self) -> Credentials {
        Credentials {
            username: self.config.username.clone(),
            password: self.config.password.clone(),
        }
    }

    /// Allocates on `server`, permits the server's own relay address, and keeps both alive.
    async fn allocate(
        &self,
        server: SocketAddr,
    ) -> Result<(Allocation, mpsc::Receiver<ConnectionAttempt>), TransportError> {
        let (client, attempts) = TurnClient::connect(server, self.creds())
            .await
            .map_err(|e| io("TURN connect", e))?;
        let (relayed, lifetime) = client
            .allocate_tcp()
            .await
            .map_err(|e| io("TURN allocate", e))?;
        let permit = vec![server.ip(), relayed.ip()];
        for ip in &permit {
            client
                .create_permission(*ip)
                .await
                .map_err(|e| io("TURN permission", e))?;
        }
        let cancel = CancellationToken::new();
        tokio::spawn(keep_alive(client.clone(), lifetime, permit, cancel.clone()));
        debug!(%server, %relayed, "TURN allocation");
        Ok((
            Allocation {
                client,
                relayed,
                _keepalive: cancel.drop_guard(),
            },
            attempts,
        ))
    }

    async fn dialer(&self) -> Result<Arc<Allocation>, TransportError> {
        let mut slot = self.dialer.lock().await;
        if let Some(a) = slot.as_ref()
            && a.client.is_alive()
        {
            return Ok(a.clone());
        }
        // None yet, or the server closed our control connection: allocate (again).
        *slot = None;
        let server = self.config.server.as_deref().ok_or_else(|| {
            TransportError::io(
                "TURN",
                std::io::Error::other("no TURN server configured (turn.server)"),
            )
        })?;
        let (alloc, _attempts) = self.allocate(resolve(server).await?).await?;
        let alloc = Arc::new(alloc);
        *slot = Some(alloc.clone());
        Ok(alloc)
    }
}

/// Refreshes the allocation at half its lifetime and the permissions every four minutes,
/// until cancelled or the control connection closes; a failed refresh is retried sooner.
async fn keep_alive(
    client: Arc<TurnClient>,
    lifetime: Duration,
    permit: Vec<std::net::IpAddr>,
    cancel: CancellationToken,
) {
    let half = |l: Duration| (l / 2).max(Duration::from_secs(2));
    // Deadlines, not fresh sleeps per loop turn: the permission timer must not keep pushing
    // the refresh back.
    let mut refresh_at = tokio::time::Instant::now() + half(lifetime);
    let mut permit_at = tokio::time::Instant::now() + PERMISSION_EVERY;
    let mut alive_check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                // Release the allocation at once rather than at its expiry.
                if client.is_alive() {
                    let _ = client.refresh(Some(Duration::ZERO)).await;
                }
                return;
            }
            _ = alive_check.tick() => {
                if !client.is_alive() {
                    warn!(server = %client.server(), "TURN control connection closed");
                    return;
                }
            }
            _ = tokio::time::sleep_until(refresh_at) => {
                let next = match client.refresh(None).await {
                    Ok(l) => {
                        debug!(secs = l.as_secs(), "TURN allocation refreshed");
                        half(l)
                    }
                    Err(e) => {
                        warn!(error = %e, "TURN refresh failed");
                        Duration::from_secs(2)
                    }
                };
                refresh_at = tokio::time::Instant::now() + next;
            }
            _ = tokio::time::sleep_until(permit_at) => {
                for ip in &permit {
                    if let Err(e) = client.create_permission(*ip).await {
                        warn!(error = %e, "TURN permission refresh failed");
                    }
                }
                permit_at = tokio::time::Instant::now() + PERMISSION_EVERY;
            }
        }
    }
}

fn raw(stream: tokio::net::TcpStream, local: SocketAddr, remote: SocketAddr) -> RawConnection {
    let (r, w) = stream.into_split();
    RawConnection {
        reader: Box::new(r),
        writer: Box::new(w),
        local_addr: Address::new("turn", &local.to_string())
            .unwrap_or_else(|_| Address::tcp(local)),
        remote_addr: Address::new("turn", &remote.to_string())
            .unwrap_or_else(|_| Address::tcp(remote)),
    }
}

/// Connection attempts bound at once by a listener.
const CONCURRENT_BINDS: usize = 8;

struct TurnListener {
    relayed: SocketAddr,
    ready: mpsc::Receiver<RawConnection>,
    _alloc: Arc<Allocation>,
}

/// Binds incoming connection attempts (several at once, so one slow bind does not hold up the
/// others) and hands the connections to the listener.
async fn bind_attempts(
    alloc: Arc<Allocation>,
    mut attempts: mpsc::Receiver<ConnectionAttempt>,
    ready: mpsc::Sender<RawConnection>,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_BINDS));
    loop {
        // Ends when the listener is dropped (releasing the allocation) or the relay is lost.
        let attempt = tokio::select! {
            _ = ready.closed() => return,
            a = attempts.recv() => match a {
                Some(a) => a,
                None => break,
            },
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (alloc, ready) = (alloc.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match alloc.client.bind(attempt.id).await {
                Ok(stream) => {
                    let _ = ready.send(raw(stream, alloc.relayed, attempt.peer)).await;
                }
                // One failed bind (the peer gave up) must not stop the listener.
                Err(e) => debug!(peer = %attempt.peer, error = %e, "TURN connection bind failed"),
            }
        });
    }
    warn!(relayed = %alloc.relayed, "TURN relay lost: no more inbound connections through it");
}

#[async_trait]
impl Listener for TurnListener {
    fn local_addrs(&self) -> Vec<Address> {
        Address::new("turn", &self.relayed.to_string())
            .into_iter()
            .collect()
    }

    async fn accept(&mut self) -> Result<RawConnection, TransportError> {
        self.ready.recv().await.ok_or(TransportError::Closed)
    }
}

#[async_trait]
impl Transport for TurnTransport {
    fn name(&self) -> &'static str {
        "turn"
    }

    async fn listen(&self, addr: &Address) -> Result<Box<dyn Listener>, TransportError> {
        let server = match addr.body() {
            "" | "auto" => {
                self.config
                    .server
                    .clone()
                    .ok_or_else(|| TransportError::BadAddress {
                        addr: addr.clone(),
                        why: "no TURN server: give turn:<host:port> or set turn.server".into(),
                    })?
            }
            s => s.to_string(),
        };
        let (alloc, attempts) = self.allocate(resolve(&server).await?).await?;
        let alloc = Arc::new(alloc);
        let (tx, ready) = mpsc::channel(CONCURRENT_BINDS);
        tokio::spawn(bind_attempts(alloc.clone(), attempts, tx));
        Ok(Box::new(TurnListener {
            relayed: alloc.relayed,
            ready,
            _alloc: alloc,
        }))
    }

    async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError> {
        let peer = addr
            .socket_addr()
            .ok_or_else(|| TransportError::BadAddress {
                addr: addr.clone(),
                why: "expected turn:<relayed ip:port>".into(),
            })?;
        let alloc = self.dialer().await?;
        if peer.ip() != alloc.client.server().ip() && peer.ip() != alloc.relayed.ip() {
            alloc
                .client
                .create_permission(peer.ip())
                .await
                .map_err(|e| io("TURN permission", e))?;
        }
        let id = alloc
            .client
            .connect_peer(peer)
            .await
            .map_err(|e| io("TURN connect", e))?;
        let stream = alloc
            .client
            .bind(id)
            .await
            .map_err(|e| io("TURN bind", e))?;
        Ok(raw(stream, alloc.relayed, peer))
    }

    /// Releases the dialing allocation.
    async fn stop(&self) {
        self.dialer.lock().await.take();
    }
}

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: TurnConfig = cfg.parse()?;
    Ok(Plugin::Transport(Arc::new(TurnTransport::new(config))))
}

rats_core::inventory::submit! {
    PluginFactory { name: "turn", kind: PluginKind::Transport, create }
}
