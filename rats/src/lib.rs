//! # rats
//!
//! Peer-to-peer networking made easy: peers connect over TCP (IPv4 and IPv6), authenticate and
//! encrypt with Noise XX, exchange typed JSON, text and binary messages, find each other through
//! the BitTorrent DHT and on the local network (mDNS), introduce each other (peer exchange) and move files and directory trees (checked with SHA-256, resumable).
//! [`RatsClient`] is the easy door; [`rats_core`] has the building blocks. Cargo features pick
//! the plugins (`tcp`, `noise`, `persist`, `log`, `transfer`, `gossipsub`, `dht`, `mdns`, `nat`, `quic`; all on by default): linking a
//! plugin crate is enabling it.
//!
//! ```
//! use rats::RatsClient;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // local_only(): no DHT, mDNS, STUN or port mapping; these two talk only to each other.
//! let alice = RatsClient::builder().local_only().listen("tcp:127.0.0.1:0")?.start().await?;
//! let bob = RatsClient::builder().local_only().listen("tcp:127.0.0.1:0")?.start().await?;
//! let (tx, mut rx) = tokio::sync::mpsc::channel(1);
//! bob.on("greeting", move |from, data| {
//!     let _ = tx.try_send((from, data["text"].as_str().unwrap_or_default().to_string()));
//! });
//! let bob_id = alice.connect(&bob.listen_addrs()[0].to_string()).await?;
//! alice.send_to(&bob_id, "greeting", &serde_json::json!({"text": "hi bob"})).await?;
//! let (from, text) = rx.recv().await.expect("a greeting");
//! assert_eq!((from, text.as_str()), (alice.local_peer_id(), "hi bob"));
//! assert_eq!(bob.is_peer_encrypted(&alice.local_peer_id()), Some(true));
//! alice.shutdown().await;
//! bob.shutdown().await;
//! # Ok(()) }
//! ```

mod builder;
mod client;
mod config;
mod data_dir;
#[cfg(feature = "dht")]
mod dht;
mod error;
#[cfg(feature = "log")]
mod logging;
#[cfg(feature = "mdns")]
mod mdns;
#[cfg(feature = "nat")]
mod nat;

pub use builder::RatsClientBuilder;
pub use client::RatsClient;
pub use data_dir::{DataDirError, DataDirLock};
pub use error::RatsError;
pub use rats_core::{
    self as core, Address, ConnectError, ConnectionMethod, DisconnectReason, Event, EventStream,
    Identity, MessageBody, Node, NodeConfig, PeerId, PeerInfo,
    address::ToAddress,
    messaging::{MessageStream, TypedMessageError},
};
#[cfg(feature = "dht")]
pub use rats_discovery_dht;
#[cfg(feature = "mdns")]
pub use rats_discovery_mdns;
#[cfg(feature = "gossipsub")]
pub use rats_gossipsub;
#[cfg(feature = "log")]
pub use rats_log;
#[cfg(feature = "nat")]
pub use rats_nat;
#[cfg(feature = "noise")]
pub use rats_noise;
#[cfg(feature = "persist")]
pub use rats_persist;
#[cfg(feature = "transfer")]
pub use rats_transfer;
#[cfg(any(feature = "tcp", feature = "quic"))]
pub use rats_transport;

/// Config sections that are not node plugins but are expected in `config.json`.
pub const KNOWN_SECTIONS: &[&str] = &["log"];

/// Plugins that talk to machines the application did not name: the DHT (public bootstrap
/// routers), mDNS (multicast on every interface), STUN (public servers), port mapping (the
/// gateway) and hole punching (STUN again). [`RatsClientBuilder::local_only`] switches them off.
pub const NETWORK_REACHING_PLUGINS: &[&str] = &["dht", "mdns", "stun", "portmap", "holepunch"];

/// The port the `rats` tool listens on by default.
pub const DEFAULT_PORT: u16 = 7878;

/// This crate's README (what crates.io shows) examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
