//! Message exchange: the core service for typed JSON, text and binary messages between peers.
//!
//! Handlers run on the sending peer's connection task and see the Noise-authenticated sender,
//! never a sender field a peer wrote. Keep them short; spawn for long work.

pub(crate) mod codec;
mod handlers;
mod typed;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;

pub use codec::{DecodeError, MAX_JSON_BYTES, MAX_TYPE_LEN, TypeTooLong};
pub use handlers::HandlerId;
pub use typed::{MessageStream, TypedMessageError};

use crate::event::{Event, MessageBody};
use crate::identity::PeerId;
use crate::outbound::{Body, Outgoing};
use crate::service::{PeerSender, SendError, ServiceContext};
use crate::service::{Priority, Service, ServiceDescriptor, ServiceError};
use codec::{TAG_BINARY, TAG_TEXT};
use handlers::Handlers;

/// The channel of message exchange.
pub const MESSAGES_CHANNEL: u16 = 1;

/// Errors of message exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The node has not started this service.
    #[error("message exchange is not running")]
    NotStarted,
    /// The message type is too long.
    #[error(transparent)]
    BadType(#[from] codec::TypeTooLong),
    /// The JSON value could not be serialized.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Sending failed.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// The message-exchange service. Add it to a node with `NodeBuilder::service`.
#[derive(Default)]
pub struct MessageExchange {
    ctx: OnceLock<ServiceContext>,
    handlers: Handlers,
}

impl std::fmt::Debug for MessageExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageExchange").finish_non_exhaustive()
    }
}

impl MessageExchange {
    /// A new service (share it: `Arc<MessageExchange>`).
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn ctx(&self) -> Result<&ServiceContext, MessageError> {
        self.ctx.get().ok_or(MessageError::NotStarted)
    }

    /// Calls `handler` for every JSON message of type `kind`.
    pub fn on<F>(&self, kind: &str, handler: F) -> HandlerId
    where
        F: Fn(PeerId, &serde_json::Value) + Send + Sync + 'static,
    {
        self.handlers.add_json(kind, Arc::new(handler), false)
    }

    /// Calls `handler` for the next JSON message of type `kind` only.
    pub fn once<F>(&self, kind: &str, handler: F) -> HandlerId
    where
        F: Fn(PeerId, &serde_json::Value) + Send + Sync + 'static,
    {
        self.handlers.add_json(kind, Arc::new(handler), true)
    }

    /// Calls `handler` for every JSON message of type `kind` whose data decodes into `T`
    /// (messages that do not are dropped and logged at debug level; use
    /// [`subscribe`](Self::subscribe) to see them).
    pub fn on_typed<T, F>(&self, kind: &str, handler: F) -> HandlerId
    where
        T: serde::de::DeserializeOwned,
        F: Fn(PeerId, T) + Send + Sync + 'static,
    {
        let kind_name = kind.to_string();
        self.on(kind, move |from, data| match T::deserialize(data) {
            Ok(value) => handler(from, value),
            Err(e) => tracing::debug!(kind = %kind_name, from = %from.short(), error = %e,
                "message does not fit the handler's type"),
        })
    }

    /// The messages of type `kind`, decoded into `T`, as a stream holding at most `capacity`
    /// undelivered messages (beyond that they are dropped and reported as lag).
    pub fn subscribe<T>(self: &Arc<Self>, kind: &str, capacity: usize) -> MessageStream<T>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        MessageStream::new(self, kind, capacity)
    }

    /// Removes every handler of type `kind`; returns how many were removed.
    pub fn off(&self, kind: &str) -> usize {
        self.handlers.remove_type(kind)
    }

    /// Removes one handler.
    pub fn off_handler(&self, id: HandlerId) -> bool {
        self.handlers.remove(id)
    }

    /// Calls `handler` for every text message.
    pub fn on_text<F>(&self, handler: F) -> HandlerId
    where
        F: Fn(PeerId, &str) + Send + Sync + 'static,
    {
        self.handlers.add_text(Arc::new(handler))
    }

    /// Calls `handler` for every binary message. The bytes are a slice of the connection's
    /// receive buffer (no copy): a handler that keeps small messages for long should copy them
    /// (`Bytes::copy_from_slice`) so that they do not keep the whole buffer alive.
    pub fn on_binary<F>(&self, handler: F) -> HandlerId
    where
        F: Fn(PeerId, Bytes) + Send + Sync + 'static,
    {
        self.handlers.add_binary(Arc::new(handler))
    }

    fn json_bytes<T: serde::Serialize + ?Sized>(
        kind: &str,
        data: &T,
    ) -> Result<Vec<u8>, MessageError> {
        let mut v = Vec::with_capacity(64);
        codec::json_head(kind, &mut v)?;
        serde_json::to_writer(&mut v, data)?;
        Ok(v)
    }

    /// Sends a JSON message of type `kind` to one peer (waits while its queue is full).
    /// `data` is anything serializable: a `serde_json::Value` or the application's own type.
    pub async fn send_to<T: serde::Serialize + ?Sized>(
        &self,
        peer: &PeerId,
        kind: &str,
        data: &T,
    ) -> Result<(), MessageError> {
        let bytes = Self::json_bytes(kind, data)?;
        Ok(self.ctx()?.send(peer, Outgoing::slice(&bytes)).await?)
    }

    /// Sends a JSON message of type `kind` to every connected peer without waiting; returns
    /// how many got it queued.
    pub fn broadcast<T: serde::Serialize + ?Sized>(
        &self,
        kind: &str,
        data: &T,
    ) -> Result<usize, MessageError> {
        let bytes = Self::json_bytes(kind, data)?;
        Ok(self.ctx()?.broadcast(Outgoing::slice(&bytes)))
    }

    /// Sends a JSON message without waiting (fails when the queue is full).
    pub fn try_send_to<T: serde::Serialize + ?Sized>(
        &self,
        peer: &PeerId,
        kind: &str,
        data: &T,
    ) -> Result<(), MessageError> {
        let bytes = Self::json_bytes(kind, data)?;
        Ok(self.ctx()?.try_send(peer, Outgoing::slice(&bytes))?)
    }

    /// Sends a text message to one peer.
    pub async fn send_text(&self, peer: &PeerId, text: &str) -> Result<(), MessageError> {
        let msg = Outgoing {
            head: &[TAG_TEXT],
            body: Body::Slice(text.as_bytes()),
        };
        Ok(self.ctx()?.send(peer, msg).await?)
    }

    /// Sends a text message without waiting (fails when the queue is full).
    pub fn try_send_text(&self, peer: &PeerId, text: &str) -> Result<(), MessageError> {
        let msg = Outgoing {
            head: &[TAG_TEXT],
            body: Body::Slice(text.as_bytes()),
        };
        Ok(self.ctx()?.try_send(peer, msg)?)
    }

    /// Sends a text message to every connected peer.
    pub fn broadcast_text(&self, text: &str) -> Result<usize, MessageError> {
        let msg = Outgoing {
            head: &[TAG_TEXT],
            body: Body::Slice(text.as_bytes()),
        };
        Ok(self.ctx()?.broadcast(msg))
    }

    /// Sends a binary message to one peer (large `Bytes` are not copied).
    pub async fn send_binary(
        &self,
        peer: &PeerId,
        data: impl Into<Bytes>,
    ) -> Result<(), MessageError> {
        let msg = Outgoing {
            head: &[TAG_BINARY],
            body: Body::Shared(data.into()),
        };
        Ok(self.ctx()?.send(peer, msg).await?)
    }

    /// Sends a binary message without waiting (fails when the queue is full).
    pub fn try_send_binary(&self, peer: &PeerId, data: &[u8]) -> Result<(), MessageError> {
        let msg = Outgoing {
            head: &[TAG_BINARY],
            body: Body::Slice(data),
        };
        Ok(self.ctx()?.try_send(peer, msg)?)
    }

    /// Sends a binary message to every connected peer.
    pub fn broadcast_binary(&self, data: &[u8]) -> Result<usize, MessageError> {
        let msg = Outgoing {
            head: &[TAG_BINARY],
            body: Body::Slice(data),
        };
        Ok(self.ctx()?.broadcast(msg))
    }

    /// A cached sender for binary messages to one peer (for hot loops).
    pub fn binary_sender(&self, peer: &PeerId) -> Result<BinarySender, MessageError> {
        Ok(BinarySender {
            inner: self.ctx()?.peer_sender(peer)?,
        })
    }
}

/// Sends binary messages to one peer without looking it up each time.
#[derive(Clone, Debug)]
pub struct BinarySender {
    inner: PeerSender,
}

impl BinarySender {
    /// Sends, waiting while the queue is full.
    pub async fn send(&self, data: &[u8]) -> Result<(), SendError> {
        self.inner
            .send(Outgoing {
                head: &[TAG_BINARY],
                body: Body::Slice(data),
            })
            .await
    }

    /// Sends without waiting.
    pub fn try_send(&self, data: &[u8]) -> Result<(), SendError> {
        self.inner.try_send(Outgoing {
            head: &[TAG_BINARY],
            body: Body::Slice(data),
        })
    }
}

#[async_trait]
impl Service for MessageExchange {
    fn descriptor(&self) -> ServiceDescriptor {
        ServiceDescriptor {
            name: "messages",
            channel: MESSAGES_CHANNEL,
            priority: Priority::Normal,
            bulk_channel: None,
        }
    }

    async fn start(&self, ctx: ServiceContext) -> Result<(), ServiceError> {
        self.ctx
            .set(ctx)
            .map_err(|_| ServiceError::Start("message exchange started twice".into()))
    }

    fn on_frame(&self, peer: &PeerId, message: Bytes) -> Result<(), ServiceError> {
        let events = self
            .ctx
            .get()
            .map(|c| c.events())
            .filter(|e| e.wants_messages());
        // Nobody listens for this JSON type: do not spend memory and time parsing it.
        if events.is_none()
            && let Some(kind) = codec::json_kind(&message)
            && !self.handlers.has_json(kind)
        {
            return Ok(());
        }
        let body = codec::decode(message).map_err(|e| ServiceError::BadMessage(e.into()))?;
        if let Some(events) = events {
            // Events may sit in a slow subscriber's queue: give them their own small copy
            // rather than a slice pinning a whole receive buffer.
            let event_body = match &body {
                MessageBody::Binary(b) if b.len() < 64 * 1024 => {
                    MessageBody::Binary(Bytes::copy_from_slice(b))
                }
                other => other.clone(),
            };
            events.emit(Event::Message {
                peer: *peer,
                body: event_body,
            });
        }
        match body {
            MessageBody::Binary(b) => self.handlers.dispatch_binary(*peer, b),
            MessageBody::Text(t) => self.handlers.dispatch_text(*peer, &t),
            MessageBody::Json { kind, data } => self.handlers.dispatch_json(*peer, &kind, &data),
        }
        Ok(())
    }
}
