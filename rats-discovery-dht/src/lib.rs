//! rats-discovery-dht: peers of one application find each other anywhere through the
//! BitTorrent mainline DHT.
//!
//! A tokio-native BEP 5 node (KRPC over UDP, Kademlia routing table, `ping`, `find_node`,
//! `get_peers`, `announce_peer` with keyed, rotating tokens), with BEP 32 (an IPv6 node beside
//! the IPv4 one), BEP 42 (a node id bound to our public address once peers agree on it) and
//! BEP 43 (read-only nodes are not routed to). Each node is one actor task owning its socket
//! and state; lookups start the moment they are asked for.
//!
//! As a rats plugin (feature `dht` of `rats`, config section `dht`), it announces the
//! application's discovery hash, `SHA-1(name + "_peer_discovery_v" + version)` as in librats,
//! with our TCP port, looks it up periodically (faster while we have few peers) and hands found
//! addresses to the node, which dials them.
//!
//! A node on its own, on loopback:
//!
//! ```
//! use rats_discovery_dht::{DhtNode, NodeId, NodeSettings};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stop = CancellationToken::new();
//! let (a, task) = DhtNode::bind(NodeSettings::new("127.0.0.1:0".parse()?, vec![])).await?;
//! tokio::spawn(task.run(stop.clone()));
//! let (b, task) = DhtNode::bind(NodeSettings::new("127.0.0.1:0".parse()?, vec![a.local_addr()])).await?;
//! tokio::spawn(task.run(stop.clone()));
//!
//! assert!(b.wait_bootstrapped(std::time::Duration::from_secs(5)).await);
//! let hash = NodeId::random();
//! let announced = a.announce(hash, Some(7878)).await?.finish().await?;
//! assert_eq!(announced.announced_to, 1); // b took it
//! let found = b.find_peers(hash).await?.finish().await?;
//! assert_eq!(found.peers, vec!["127.0.0.1:7878".parse()?]);
//! stop.cancel();
//! # Ok(()) }
//! ```

pub mod bencode;
pub mod compact;
mod config;
pub mod id;
pub mod krpc;
mod lookup;
mod node;
mod plugin;
mod ratelimit;
pub mod routing;

/// Entry points of the fuzz targets (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

/// The node state machine driven by the simulator (`rats-sim`). Not public API: no stability
/// promise.
#[doc(hidden)]
#[path = "sim_entry.rs"]
pub mod __sim;
mod saved;
mod stats;
mod store;
mod token;

pub use compact::NodeInfo;
pub use config::{DhtConfig, DhtConfigError, MIN_REPLY_BYTES_PER_SEC, PUBLIC_ROUTERS};
pub use id::NodeId;
pub use lookup::LookupSummary;
pub use node::{DhtError, DhtNode, DhtNodeTask, NodeSettings, PeerLookup};
pub use plugin::{DhtDiscovery, DhtStatus, LastLookup, discovery_hash};
pub use stats::DhtStats;
#[cfg(test)]
mod roundtrip_tests;
