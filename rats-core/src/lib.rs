//! # rats-core
//!
//! The contracts and the runtime of rats, a peer-to-peer networking library:
//!
//! - traits every plugin implements: [`Transport`], [`Encryption`], [`Discovery`],
//!   [`NatStrategy`], [`Service`] (object-safe, used as `Arc<dyn _>`);
//! - [`Identity`] and [`PeerId`] (Ed25519; the peer id is the public key);
//! - the frame codec ([`frame`]), the typed [`EventBus`], the plugin [`registry`];
//! - the [`Node`]: listeners, dials, handshakes, Hello, peer table, limits, keepalive, shutdown;
//! - [`MessageExchange`], the message service; [`MemoryTransport`] and [`Plaintext`] for tests.
//!
//! ```
//! use rats_core::{MemoryTransport, MessageExchange, Node, NodeConfig, Plaintext};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = NodeConfig::default();
//! config.listen = vec!["mem:0".parse()?];
//! let start = |config: NodeConfig, msgs: Arc<MessageExchange>| {
//!     Node::builder().use_registry(false).transport(Arc::new(MemoryTransport))
//!         .encryption(Arc::new(Plaintext)).service(msgs).with_config(config).start()
//! };
//! let (ma, mb) = (MessageExchange::new(), MessageExchange::new());
//! let a = start(config.clone(), ma.clone()).await?;
//! let b = start(config, mb.clone()).await?;
//! let (tx, mut rx) = tokio::sync::mpsc::channel(1);
//! mb.on("greet", move |from, data| { let _ = tx.try_send((from, data.clone())); });
//! let b_id = a.connect(&b.listen_addrs()[0]).await?;
//! ma.send_to(&b_id, "greet", &serde_json::json!({"hi": 1})).await?;
//! let (from, data) = rx.recv().await.expect("message");
//! assert_eq!((from, data), (a.local_peer_id(), serde_json::json!({"hi": 1})));
//! # a.shutdown().await; b.shutdown().await; Ok(()) }
//! ```

pub mod address;
pub mod budget;
pub mod config;
pub mod connect;
pub mod discovery;
pub mod encryption;
pub mod event;
pub mod frame;
mod host;
pub mod identity;
pub mod memory;
pub mod messaging;
pub mod nat;
pub mod node;
mod outbound;
pub mod peer;
pub mod plaintext;
pub mod reachability;
pub mod record;
pub mod registry;
pub mod service;
pub mod transport;

pub use address::Address;
pub use config::{ConnectStrategy, NodeConfig};
pub use connect::{ConnectError, LimitError};
pub use discovery::{Discovery, DiscoveryContext};
pub use encryption::{Encryption, ProtocolId};
pub use event::{DisconnectReason, Event, EventBus, EventStream, MessageBody};
pub use identity::{Identity, PeerId, PeerPublicKey};
pub use memory::MemoryTransport;
pub use messaging::MessageExchange;
pub use nat::{NatContext, NatStrategy};
pub use node::{Node, NodeBuilder, NodeError};
pub use outbound::{Body, Outgoing};
pub use peer::{ConnectionMethod, PeerInfo};
pub use plaintext::Plaintext;
pub use service::{PeerSender, Priority, SendError, Service, ServiceContext};
pub use transport::Transport;

/// A boxed error that keeps its type: what plugin errors carry as their source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Re-exported so plugin crates submit factories with the same `inventory` version.
pub use inventory;

/// Entry points of the fuzz targets (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

/// Wire internals for the workspace's own hostile-peer tests, which craft raw control frames.
/// Not public API: no stability promise.
#[doc(hidden)]
pub mod __wire {
    pub use crate::node::control::Control;
}
#[cfg(test)]
mod roundtrip_tests;
