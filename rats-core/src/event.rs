//! The typed event bus: one broadcast channel per node. A slow subscriber lags and is told how
//! many events it missed; it never blocks the network.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast;
use tokio_util::sync::ReusableBoxFuture;

use crate::address::Address;
use crate::identity::PeerId;
use crate::peer::ConnectionMethod;
use crate::reachability::NatType;

/// Why a peer was disconnected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Our node is shutting down.
    LocalShutdown,
    /// Our application asked to disconnect this peer.
    LocalRequest,
    /// The remote closed, with the reason it gave (if any).
    RemoteClosed(Option<String>),
    /// Nothing was received for the idle timeout.
    IdleTimeout,
    /// The peer did not read what we sent within the write timeout.
    SlowPeer,
    /// The peer broke the protocol (bad frame, oversized message, service error...).
    ProtocolViolation(String),
    /// The socket failed.
    Io(String),
    /// Superseded by another connection to the same peer (never reported in events: the peer
    /// stays connected through the other one).
    Duplicate,
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::LocalShutdown => f.write_str("local node shutting down"),
            DisconnectReason::LocalRequest => f.write_str("disconnected by local request"),
            DisconnectReason::RemoteClosed(Some(r)) => write!(f, "remote closed: {r}"),
            DisconnectReason::RemoteClosed(None) => f.write_str("remote closed the connection"),
            DisconnectReason::IdleTimeout => f.write_str("idle timeout"),
            DisconnectReason::SlowPeer => f.write_str("peer too slow to read (write timeout)"),
            DisconnectReason::ProtocolViolation(r) => write!(f, "protocol violation: {r}"),
            DisconnectReason::Io(r) => write!(f, "i/o error: {r}"),
            DisconnectReason::Duplicate => f.write_str("duplicate connection"),
        }
    }
}

/// The body of an application message of the message-exchange service.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageBody {
    /// Raw bytes.
    Binary(Bytes),
    /// A UTF-8 string.
    Text(String),
    /// A typed JSON message (`on(type, ...)` handlers).
    Json {
        /// The message type.
        kind: String,
        /// The JSON data.
        data: serde_json::Value,
    },
}

/// Everything a node reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A listener is bound.
    Listening {
        /// The bound address (real port).
        addr: Address,
    },
    /// A peer finished the handshake and is connected.
    PeerConnected {
        /// Its authenticated id.
        peer: PeerId,
        /// The remote address of the connection.
        addr: Address,
        /// Whether we dialed.
        outbound: bool,
    },
    /// A peer's relayed connection was replaced by a direct one (a hole punch): the peer stays
    /// connected and nothing in flight is lost; only its `PeerInfo::method` changed.
    ConnectionUpgraded {
        /// The peer.
        peer: PeerId,
        /// The new method (`punched-udp`, `punched-tcp`, ...).
        method: ConnectionMethod,
        /// The new connection's remote address.
        addr: Address,
    },
    /// A peer's last connection closed.
    PeerDisconnected {
        /// Its id.
        peer: PeerId,
        /// Why.
        reason: DisconnectReason,
    },
    /// A discovery mechanism (or peer exchange) produced a candidate address.
    PeerDiscovered {
        /// The peer, when known.
        peer: Option<PeerId>,
        /// Where to reach it.
        addr: Address,
        /// Who found it (`exchange`, `dht`, `mdns`, ...).
        source: String,
    },
    /// A discovery mechanism says a peer it reported is gone (its record expired or it said
    /// goodbye). Existing connections are not touched.
    PeerLost {
        /// The peer, when known.
        peer: Option<PeerId>,
        /// Who lost it (`mdns`, ...).
        source: String,
    },
    /// What we know of our public address or NAT changed (STUN, peers' observations).
    NatStatusChanged {
        /// Our public address, when known.
        public_addr: Option<std::net::SocketAddr>,
        /// The NAT kind.
        nat_type: NatType,
    },
    /// One attempt of a connection (one address, one method) ended; `error` is `None` when it
    /// produced a byte stream (the handshake follows).
    ConnectAttempt {
        /// The address tried.
        addr: Address,
        /// `direct`, `relay`, or a NAT strategy's name.
        method: ConnectionMethod,
        /// Whether it tried to replace a relayed connection with a direct one.
        upgrade: bool,
        /// Why it failed.
        error: Option<String>,
    },
    /// A dial failed.
    DialFailed {
        /// Target.
        addr: Address,
        /// Why.
        error: String,
    },
    /// A message-exchange message arrived.
    Message {
        /// The authenticated sender.
        peer: PeerId,
        /// What it sent.
        body: MessageBody,
    },
    /// A typed event defined by a service plugin (downcast `event` to the service's type).
    Service {
        /// The service name.
        service: &'static str,
        /// The event.
        event: Arc<dyn Any + Send + Sync>,
    },
}

/// Events missed by a lagging subscriber.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("subscriber lagged behind and missed {0} events")]
pub struct Lagged(pub u64);

/// The node's event bus.
#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    /// Subscribers that want `Message` events: per-message events cost real time at millions of
    /// messages a second, so they are only built while someone wants them.
    message_interest: Arc<std::sync::atomic::AtomicUsize>,
}

impl EventBus {
    /// A bus keeping at most `capacity` events for the slowest subscriber.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            tx: broadcast::channel(capacity.max(1)).0,
            message_interest: Arc::default(),
        }
    }

    /// Publishes an event (dropped if nobody listens).
    pub fn emit(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// True if anyone is subscribed (skip building costly events otherwise).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// True if a subscriber wants `Message` events.
    pub fn wants_messages(&self) -> bool {
        self.message_interest
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    }

    /// A new subscription to every event, starting now.
    pub fn subscribe(&self) -> EventStream {
        self.message_interest
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        EventStream::new(self.tx.subscribe(), Some(self.message_interest.clone()))
    }

    /// A subscription that does not ask for `Message` events (they still arrive while another
    /// subscriber wants them; skip them).
    pub fn subscribe_without_messages(&self) -> EventStream {
        EventStream::new(self.tx.subscribe(), None)
    }
}

/// A subscription to the event bus. Use [`recv`](Self::recv) or, as a
/// [`futures::Stream`] of `Result<Event, Lagged>`, in `select!` and stream combinators: a
/// subscriber that falls behind by more than the bus's capacity gets one `Err(Lagged(n))`
/// saying how many events it missed, then the events that follow. The stream ends when the
/// node is gone.
pub struct EventStream {
    /// The pending receive; it owns the receiver and hands it back with each event.
    next: ReusableBoxFuture<'static, Received>,
    message_interest: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

type Received = (
    Result<Event, broadcast::error::RecvError>,
    broadcast::Receiver<Event>,
);

async fn receive(mut rx: broadcast::Receiver<Event>) -> Received {
    let result = rx.recv().await;
    (result, rx)
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("wants_messages", &self.message_interest.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some(m) = &self.message_interest {
            m.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl EventStream {
    fn new(
        rx: broadcast::Receiver<Event>,
        message_interest: Option<Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Self {
        EventStream {
            next: ReusableBoxFuture::new(receive(rx)),
            message_interest,
        }
    }

    /// The next event; `Err(Lagged)` tells how many were missed; `None` once the node is gone.
    pub async fn recv(&mut self) -> Option<Result<Event, Lagged>> {
        futures::StreamExt::next(self).await
    }

    /// Like [`recv`](Self::recv) but skips over lag notices.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.recv().await? {
                Ok(e) => return Some(e),
                Err(Lagged(_)) => continue,
            }
        }
    }
}

impl futures::Stream for EventStream {
    type Item = Result<Event, Lagged>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let (result, rx) = std::task::ready!(self.next.poll(cx));
        match result {
            Ok(e) => {
                self.next.set(receive(rx));
                std::task::Poll::Ready(Some(Ok(e)))
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                self.next.set(receive(rx));
                std::task::Poll::Ready(Some(Err(Lagged(n))))
            }
            // Keep the closed receiver parked: polling again answers `Closed` at once.
            Err(broadcast::error::RecvError::Closed) => {
                self.next.set(receive(rx));
                std::task::Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn listening(port: u16) -> Event {
        Event::Listening {
            addr: Address::tcp(([127, 0, 0, 1], port).into()),
        }
    }

    #[tokio::test]
    async fn a_stream_reports_lag_then_goes_on() {
        let bus = EventBus::new(2);
        let mut events = bus.subscribe();
        for port in 1..=5 {
            bus.emit(listening(port));
        }
        // Capacity 2: three were missed, the last two arrive.
        assert!(matches!(events.next().await, Some(Err(Lagged(3)))));
        for port in [4, 5] {
            let e = events.next().await.and_then(Result::ok);
            assert!(
                matches!(e, Some(Event::Listening { addr }) if addr.socket_addr().is_some_and(|a| a.port() == port))
            );
        }
        drop(bus);
        assert!(events.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_works_in_combinators() {
        let bus = EventBus::new(8);
        let events = bus.subscribe_without_messages();
        bus.emit(listening(1));
        bus.emit(listening(2));
        drop(bus);
        let ports: Vec<u16> = events
            .filter_map(|e| async move {
                match e {
                    Ok(Event::Listening { addr }) => addr.socket_addr().map(|a| a.port()),
                    _ => None,
                }
            })
            .collect()
            .await;
        assert_eq!(ports, [1, 2]);
    }
}
