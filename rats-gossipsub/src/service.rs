//! [`GossipsubService`]: the public API and the [`Service`] that feeds the router.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rats_core::PeerId;
use rats_core::event::DisconnectReason;
use rats_core::service::{Priority, Service, ServiceDescriptor, ServiceError};
use rats_core::{PeerInfo, ServiceContext};
use tracing::debug;

use crate::config::{ConfigError, GossipsubConfig};
use crate::event::GossipStats;
use crate::message::MessageId;
use crate::router::{Host, Router};
use crate::shell::Shell;
use crate::wire::{CHANNEL, DecodeError, Rpc};

/// A validator's verdict on a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Deliver and forward it.
    Accept,
    /// Drop it and penalise the peer that sent it.
    Reject,
    /// Drop it quietly (neither delivered nor forwarded, no penalty).
    Ignore,
}

/// A topic validator: (origin, forwarding peer, payload) → verdict. Runs on the connection's
/// task before the message is delivered or forwarded; it must be quick.
pub type Validator = Arc<dyn Fn(&PeerId, &PeerId, &[u8]) -> Validation + Send + Sync>;

/// An asynchronous topic validator: (origin, forwarding peer, payload) → a future of the
/// verdict (checked against a database, another service...). Runs as its own task; the
/// message is delivered and forwarded once it accepts.
pub type AsyncValidator = Arc<
    dyn Fn(
            PeerId,
            PeerId,
            Bytes,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Validation> + Send>>
        + Send
        + Sync,
>;

/// Messages waiting for asynchronous validators at once; beyond, new ones are ignored.
const MAX_PENDING_VALIDATIONS: usize = 1024;
/// How long an asynchronous validator may take; a message not decided by then is ignored.
const ASYNC_VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The validator of a topic.
#[derive(Clone)]
enum TopicValidator {
    Sync(Validator),
    Async(AsyncValidator),
}

/// Why a publish/subscribe call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GossipError {
    /// The service has not started (or the node stopped).
    #[error("gossipsub is not running")]
    NotRunning,
    /// The topic name is empty or too long.
    #[error("bad topic: {0}")]
    BadTopic(String),
    /// The message cannot be published.
    #[error("cannot publish: {0}")]
    Publish(String),
}

/// Publish/subscribe over a GossipSub-style mesh. Get it from the node
/// (`node.service_plugin::<GossipsubService>()`).
pub struct GossipsubService {
    config: GossipsubConfig,
    /// The running router, shared with the heartbeat and validation tasks.
    router: Arc<Mutex<Option<Shell>>>,
    validators: parking_lot::RwLock<std::collections::HashMap<String, TopicValidator>>,
    /// Messages being validated asynchronously.
    pending_validations: Arc<std::sync::atomic::AtomicUsize>,
    /// Spawns validation tasks (set at start).
    ctx: parking_lot::RwLock<Option<ServiceContext>>,
    /// Decoded public keys of recent origins (decoding costs as much as verifying).
    keys: Mutex<std::collections::HashMap<PeerId, rats_core::PeerPublicKey>>,
}

/// Most origin keys kept decoded.
const MAX_KEYS: usize = 4096;

impl std::fmt::Debug for GossipsubService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipsubService").finish_non_exhaustive()
    }
}

impl GossipsubService {
    /// A service with `config`.
    pub fn new(config: GossipsubConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(GossipsubService {
            config,
            router: Arc::new(Mutex::new(None)),
            validators: parking_lot::RwLock::new(std::collections::HashMap::new()),
            keys: Mutex::new(std::collections::HashMap::new()),
            pending_validations: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            ctx: parking_lot::RwLock::new(None),
        })
    }

    /// Runs `f` on the router at the current time and carries out what it decided.
    fn with_router<T>(
        &self,
        f: impl FnOnce(&mut Router, Instant, &dyn Host) -> T,
    ) -> Result<T, GossipError> {
        let mut guard = self.router.lock();
        let shell = guard.as_mut().ok_or(GossipError::NotRunning)?;
        Ok(shell.run(f))
    }

    /// Reads the router.
    fn read_router<T>(&self, f: impl FnOnce(&Router) -> T) -> Result<T, GossipError> {
        let guard = self.router.lock();
        let shell = guard.as_ref().ok_or(GossipError::NotRunning)?;
        Ok(f(shell.router()))
    }

    fn check_topic(&self, topic: &str) -> Result<(), GossipError> {
        if topic.is_empty() || topic.len() > self.config.max_topic_len {
            return Err(GossipError::BadTopic(format!(
                "{} bytes (1 to {} allowed)",
                topic.len(),
                self.config.max_topic_len
            )));
        }
        Ok(())
    }

    /// Subscribes to `topic`: announced to every peer now and to each that connects later.
    /// Returns false if already subscribed.
    pub fn subscribe(&self, topic: &str) -> Result<bool, GossipError> {
        self.check_topic(topic)?;
        self.with_router(|r, now, _| r.subscribe(now, topic))
    }

    /// Sets the validator of `topic`: a message is delivered and forwarded only once it
    /// returns [`Validation::Accept`]; [`Validation::Reject`] counts against the peer that
    /// sent it.
    pub fn set_validator<F>(&self, topic: &str, validator: F)
    where
        F: Fn(&PeerId, &PeerId, &[u8]) -> Validation + Send + Sync + 'static,
    {
        self.validators
            .write()
            .insert(topic.to_string(), TopicValidator::Sync(Arc::new(validator)));
    }

    /// Sets an asynchronous validator for `topic` (replacing any validator): the message is
    /// delivered and forwarded once its future yields [`Validation::Accept`]. At most 1024
    /// messages wait for validators at once; beyond, new ones are ignored.
    pub fn set_async_validator<F, Fut>(&self, topic: &str, validator: F)
    where
        F: Fn(PeerId, PeerId, Bytes) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Validation> + Send + 'static,
    {
        let v: AsyncValidator =
            Arc::new(move |origin, via, data| Box::pin(validator(origin, via, data)));
        self.validators
            .write()
            .insert(topic.to_string(), TopicValidator::Async(v));
    }

    /// Removes the validator of `topic`.
    pub fn clear_validator(&self, topic: &str) {
        self.validators.write().remove(topic);
    }

    /// Replaces how message ids are made (default: origin PeerId and sequence number, so the
    /// same payload published twice is two messages). Every node of a network must use the same
    /// function, e.g. a hash of the payload to drop repeated content.
    pub fn set_message_id_fn<F>(&self, f: F) -> Result<(), GossipError>
    where
        F: Fn(&crate::message::SignedMessage) -> MessageId + Send + Sync + 'static,
    {
        self.with_router(|r, _, _| r.id_fn = Some(Arc::new(f)))
    }

    /// Leaves `topic` (peers are told; our mesh peers get a prune). False if not subscribed.
    pub fn unsubscribe(&self, topic: &str) -> Result<bool, GossipError> {
        self.with_router(|r, now, _| r.unsubscribe(now, topic))
    }

    /// Whether we subscribe to `topic`.
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.read_router(|r| r.subscribed.contains(topic))
            .unwrap_or(false)
    }

    /// Our topics.
    pub fn subscribed_topics(&self) -> Vec<String> {
        let mut t = self
            .read_router(|r| r.subscribed.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        t.sort();
        t
    }

    /// Connected peers subscribed to `topic`.
    pub fn topic_peers(&self, topic: &str) -> Vec<PeerId> {
        self.read_router(|r| r.topic_peers(topic))
            .unwrap_or_default()
    }

    /// Our mesh peers for `topic`.
    pub fn topic_mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.read_router(|r| {
            r.mesh
                .get(topic)
                .map(|m| m.iter().copied().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    /// The fanout peers of `topic` (a topic we publish to without subscribing).
    pub fn topic_fanout_peers(&self, topic: &str) -> Vec<PeerId> {
        self.read_router(|r| {
            r.fanout
                .get(topic)
                .map(|(p, _)| p.iter().copied().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    /// Publishes `data` on `topic`, signed with our identity. Subscribers receive it once.
    pub fn publish(&self, topic: &str, data: impl Into<Bytes>) -> Result<MessageId, GossipError> {
        self.check_topic(topic)?;
        let data = data.into();
        self.with_router(|r, now, host| r.publish(now, host, topic, data))?
            .map_err(|e| GossipError::Publish(e.to_string()))
    }

    /// Publishes a JSON value.
    pub fn publish_json(
        &self,
        topic: &str,
        value: &serde_json::Value,
    ) -> Result<MessageId, GossipError> {
        let bytes = serde_json::to_vec(value).map_err(|e| GossipError::Publish(e.to_string()))?;
        self.publish(topic, bytes)
    }

    /// A peer's score (GossipSub v1.1 style; 0 for a peer we know nothing of).
    pub fn peer_score(&self, peer: &PeerId) -> f64 {
        self.read_router(|r| r.score.score(peer, Instant::now()))
            .unwrap_or(0.0)
    }

    /// Counters since start, with the current mesh sizes.
    pub fn stats(&self) -> GossipStats {
        self.read_router(Router::stats).unwrap_or_default()
    }
}

impl GossipsubService {
    /// Hands a message to an asynchronous validator; its id counts as seen meanwhile (copies
    /// arriving during validation are duplicates).
    fn validate_later(
        &self,
        via: PeerId,
        id: MessageId,
        msg: crate::message::SignedMessage,
        v: AsyncValidator,
    ) {
        use std::sync::atomic::Ordering;
        let duplicate = |s: &Self| {
            let _ = s.with_router(|r, _, _| r.stats.duplicates += 1);
        };
        if self.read_router(|r| r.seen.contains(&id)).unwrap_or(true) {
            duplicate(self);
            return;
        }
        // Nothing is remembered as seen until the message is really taken in: one refused for
        // lack of room must not make the honest copies that follow look like duplicates.
        let pending = self.pending_validations.clone();
        if pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_VALIDATIONS {
            pending.fetch_sub(1, Ordering::AcqRel);
            let _ = self.with_router(|r, _, _| r.stats.ignored += 1);
            return;
        }
        let Some(ctx) = self.ctx.read().clone() else {
            pending.fetch_sub(1, Ordering::AcqRel);
            return;
        };
        // The message waits in our memory while it is validated: charged to the peer that
        // sent it, so a flood of messages for a slow validator cannot grow without bound.
        let held = match ctx.reserve_memory(&via, msg.data.len() + msg.topic.len()) {
            Ok(held) => held,
            Err(e) => {
                pending.fetch_sub(1, Ordering::AcqRel);
                debug!(peer = %via.short(), error = %e, "gossipsub message not held for validation");
                let _ = self.with_router(|r, _, _| r.stats.ignored += 1);
                return;
            }
        };
        if !self
            .with_router(|r, now, _| r.seen.insert(id, now))
            .unwrap_or(false)
        {
            // Another copy got in meanwhile.
            pending.fetch_sub(1, Ordering::AcqRel);
            duplicate(self);
            return;
        }
        let router = self.router.clone();
        let fut = v(msg.from, via, msg.data.clone());
        let limit = ASYNC_VALIDATION_TIMEOUT;
        ctx.spawn(async move {
            let _held = held;
            // A validator that never answers must not hold its slot forever.
            let verdict = tokio::time::timeout(limit, fut)
                .await
                .unwrap_or(Validation::Ignore);
            pending.fetch_sub(1, Ordering::AcqRel);
            if let Some(shell) = router.lock().as_mut() {
                shell.run(|r, now, _| match verdict {
                    Validation::Accept => r.accept(via, msg),
                    Validation::Reject => r.on_invalid(now, via, &msg.topic, Some(id)),
                    Validation::Ignore => r.on_ignored(now, id),
                });
            }
        });
    }

    /// Checks a message's signature with the origin's cached key.
    fn verify(&self, msg: &crate::message::SignedMessage) -> bool {
        let cached = self.keys.lock().get(&msg.from).copied();
        let key = match cached {
            Some(k) => k,
            None => {
                let Some(k) = msg.from.public_key() else {
                    return false;
                };
                let mut keys = self.keys.lock();
                if keys.len() >= MAX_KEYS {
                    keys.clear();
                }
                keys.insert(msg.from, k);
                k
            }
        };
        msg.verify_with(&key)
    }
}

#[async_trait]
impl Service for GossipsubService {
    fn descriptor(&self) -> ServiceDescriptor {
        ServiceDescriptor {
            name: crate::SERVICE_NAME,
            channel: CHANNEL,
            priority: Priority::Normal,
            bulk_channel: None,
        }
    }

    async fn start(&self, ctx: ServiceContext) -> Result<(), ServiceError> {
        let cancel = ctx.cancellation().clone();
        // Sequence numbers start at the clock so a restarted node does not reuse ids.
        let seqno = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let router = Router::new(self.config.clone(), ctx.local_peer_id(), seqno);
        *self.router.lock() = Some(Shell::new(router, ctx.clone()));
        *self.ctx.write() = Some(ctx.clone());
        let every = Duration::from_millis(self.config.heartbeat_ms);
        let router = self.router.clone();
        ctx.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {
                        if let Some(shell) = router.lock().as_mut() {
                            shell.run(|r, now, host| r.heartbeat(now, host));
                        }
                    }
                }
            }
        });
        Ok(())
    }

    fn on_peer_connected(&self, peer: &PeerInfo) {
        let _ = self.with_router(|r, _, _| r.peer_connected(peer.peer_id));
    }

    fn on_peer_disconnected(&self, peer: &PeerId, _reason: &DisconnectReason) {
        let _ = self.with_router(|r, now, _| r.peer_disconnected(now, peer));
    }

    fn on_frame(&self, peer: &PeerId, message: Bytes) -> Result<(), ServiceError> {
        // A graylisted peer is not listened to at all.
        let graylisted = self
            .with_router(|r, now, _| r.graylisted(now, peer))
            .unwrap_or(false);
        if graylisted {
            return Ok(());
        }
        let rpc = match Rpc::decode(message, self.config.max_topic_len) {
            Ok(rpc) => rpc,
            Err(DecodeError::UnknownType(t)) => {
                // A newer peer's message type: ignored.
                debug!(peer = %peer.short(), kind = t, "unknown gossipsub message ignored");
                return Ok(());
            }
            Err(e) => return Err(ServiceError::BadMessage(e.into())),
        };
        match rpc {
            Rpc::Publish(msg) => {
                // Topics we do not subscribe to, our own messages and duplicates stop here;
                // the signature and the validator run on the connection's task, outside the
                // router's lock.
                let Some(id) = self.with_router(|r, _, _| r.screen(&msg)).ok().flatten() else {
                    return Ok(());
                };
                if msg.data.len() > self.config.max_message_size || !self.verify(&msg) {
                    debug!(peer = %peer.short(), "gossipsub message refused: too large or forged");
                    let _ =
                        self.with_router(|r, now, _| r.on_invalid(now, *peer, &msg.topic, None));
                    return Ok(());
                }
                let validator = self.validators.read().get(&msg.topic).cloned();
                let verdict = match validator {
                    None => Validation::Accept,
                    Some(TopicValidator::Sync(v)) => v(&msg.from, peer, &msg.data),
                    Some(TopicValidator::Async(v)) => {
                        self.validate_later(*peer, id, msg, v);
                        return Ok(());
                    }
                };
                let _ = self.with_router(|r, now, _| match verdict {
                    Validation::Accept => r.on_message(now, *peer, msg),
                    Validation::Reject => r.on_invalid(now, *peer, &msg.topic, Some(id)),
                    Validation::Ignore => r.on_ignored(now, id),
                });
            }
            other => {
                let _ = self.with_router(|r, now, host| r.on_control(now, host, *peer, other));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::message::{SignedMessage, signing_bytes};
    use rats_core::{Identity, MemoryTransport, Node, NodeConfig, Plaintext};

    /// A node on the in-memory transport running only this service.
    async fn node_with(gossip: Arc<GossipsubService>) -> Node {
        let config = NodeConfig {
            listen: Vec::new(),
            ..NodeConfig::default()
        };
        Node::builder()
            .with_config(config)
            .use_registry(false)
            .transport(Arc::new(MemoryTransport))
            .encryption(Arc::new(Plaintext))
            .service(gossip)
            .start()
            .await
            .expect("node starts")
    }

    fn message(origin: &Identity, signer: &Identity, seqno: u64) -> Bytes {
        let from = origin.peer_id();
        let data = Bytes::from_static(b"payload");
        let signature = signer.sign(&signing_bytes("t", &from, seqno, &data));
        Rpc::Publish(SignedMessage {
            from,
            seqno,
            topic: "t".into(),
            data,
            signature,
        })
        .encode()
    }

    #[tokio::test]
    async fn a_message_signed_by_another_key_is_refused_and_counted() {
        let gossip = Arc::new(GossipsubService::new(GossipsubConfig::default()).unwrap());
        let node = node_with(gossip.clone()).await;
        gossip.subscribe("t").unwrap();
        let (origin, forger, via) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate().peer_id(),
        );
        gossip
            .on_frame(&via, message(&origin, &forger, 1))
            .expect("a forged message is dropped, not a protocol error");
        let stats = gossip.stats();
        assert_eq!((stats.rejected, stats.delivered), (1, 0));
        // The same origin's own signature passes the same path.
        gossip.on_frame(&via, message(&origin, &origin, 2)).unwrap();
        let stats = gossip.stats();
        assert_eq!((stats.rejected, stats.delivered), (1, 1));
        node.shutdown().await;
    }
}
