//! Typed JSON messages: a stream of one message type's values, decoded into the
//! application's own type.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::{HandlerId, MessageExchange};
use crate::identity::PeerId;

/// What a [`MessageStream`] yields instead of a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TypedMessageError {
    /// The stream's buffer was full: this many messages were dropped (read faster, or ask
    /// for a larger buffer).
    #[error("the stream fell behind and dropped {0} messages")]
    Lagged(u64),
    /// A peer sent a message of this type whose data is not a `T`.
    #[error("message from {} does not fit the type: {error}", .from.short())]
    Malformed {
        /// Who sent it.
        from: PeerId,
        /// What did not fit.
        #[source]
        error: serde_json::Error,
    },
}

type Item<T> = Result<(PeerId, T), TypedMessageError>;

/// The messages of one type, decoded into `T`, as a [`futures::Stream`]; made by
/// [`MessageExchange::subscribe`]. Bounded: when the application does not keep up, messages
/// are dropped and reported once as [`TypedMessageError::Lagged`]. Dropping the stream
/// removes its handler.
pub struct MessageStream<T> {
    rx: mpsc::Receiver<Item<T>>,
    lagged: Arc<AtomicU64>,
    exchange: Weak<MessageExchange>,
    handler: HandlerId,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for MessageStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream")
            .field("handler", &self.handler)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> MessageStream<T> {
    pub(super) fn new(exchange: &Arc<MessageExchange>, kind: &str, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Item<T>>(capacity.max(1));
        let lagged = Arc::new(AtomicU64::new(0));
        let dropped = lagged.clone();
        let handler = exchange.on(kind, move |from, data| {
            let item = match T::deserialize(data) {
                Ok(value) => Ok((from, value)),
                Err(error) => Err(TypedMessageError::Malformed { from, error }),
            };
            if tx.try_send(item).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
        MessageStream {
            rx,
            lagged,
            exchange: Arc::downgrade(exchange),
            handler,
            _type: PhantomData,
        }
    }
}

impl<T> MessageStream<T> {
    /// The next message (or lag / malformed notice); `None` once the exchange is gone.
    pub async fn recv(&mut self) -> Option<Item<T>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let lost = self.lagged.swap(0, Ordering::Relaxed);
        if lost > 0 {
            return Poll::Ready(Some(Err(TypedMessageError::Lagged(lost))));
        }
        self.rx.poll_recv(cx)
    }
}

impl<T> futures::Stream for MessageStream<T> {
    type Item = Item<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_item(cx)
    }
}

impl<T> Drop for MessageStream<T> {
    fn drop(&mut self) {
        if let Some(exchange) = self.exchange.upgrade() {
            exchange.off_handler(self.handler);
        }
    }
}
