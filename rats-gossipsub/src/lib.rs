//! rats-gossipsub: publish/subscribe between rats peers over a GossipSub-style mesh.
//!
//! What exists: topics (`subscribe`, `unsubscribe`,
//! `is_subscribed`, `subscribed_topics`) announced to current peers and to every peer that
//! connects later; a per-topic mesh kept between D_low and D_high by a heartbeat with GRAFT
//! and PRUNE (with backoff); messages signed by their origin's identity key and verified on
//! receipt (a forged origin is refused); message ids from origin + sequence number; a seen
//! cache so each message is delivered once; flood publishing of our own messages; forwarding
//! to the mesh; a message cache with IHAVE/IWANT gossip to peers outside the mesh (with the
//! v1.1 per-heartbeat limits); fanout for topics we publish to without subscribing (with a
//! TTL); per-topic validators (accept / reject / ignore), synchronous or asynchronous, run before
//! delivery and forwarding;
//! GossipSub v1.1 peer scoring (time in mesh, first deliveries, invalid messages, behaviour
//! penalty) with the gossip / publish / graylist thresholds; backpressure (gossip dropped
//! first for a peer falling behind, then the peer disconnected); peer exchange on prune;
//! opportunistic grafting; a replaceable message id function; events and statistics.
//!
//! Design: the router (the protocol state) is sans-IO, like the DHT's node: each entry point
//! takes the time, reads the node's facts (queue load, listen addresses, signing) through a
//! small trait, and queues actions (send, emit an event, dial, disconnect); the service's
//! shell reads the clock, runs it under one lock and carries the actions out, reporting
//! each send's outcome back. So mesh upkeep, backoff, scoring and gossip are unit-tested
//! with a hand-moved clock, without a node.
//!
//! ```no_run
//! # fn demo(node: &rats_core::Node) -> Result<(), Box<dyn std::error::Error>> {
//! use rats_gossipsub::GossipsubService;
//! let gossip = node.service_plugin::<GossipsubService>().ok_or("gossipsub not linked")?;
//! gossip.subscribe("news")?;
//! gossip.publish("news", b"hello".to_vec())?;
//! # Ok(()) }
//! ```

mod config;
mod event;
mod mcache;
mod message;
mod router;
mod score;
mod seen;
mod service;
mod shell;
pub mod wire;

/// Entry point of the fuzz target (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

/// The router driven by the simulator (`rats-sim`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "sim_entry.rs"]
pub mod __sim;

use std::sync::Arc;

use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};

pub use config::{ConfigError, GossipsubConfig, ScoreConfig};
pub use event::{GossipEvent, GossipStats};
pub use message::{MessageId, SignedMessage, signing_bytes};
pub use service::{AsyncValidator, GossipError, GossipsubService, Validation, Validator};

/// The service's name (plugin name, config section, event source).
pub const SERVICE_NAME: &str = "gossipsub";

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: GossipsubConfig = cfg.parse()?;
    let service = GossipsubService::new(config).map_err(|error| PluginError::Config {
        key: None,
        plugin: SERVICE_NAME,
        error: error.to_string(),
    })?;
    Ok(Plugin::Service(Arc::new(service)))
}

rats_core::inventory::submit! {
    PluginFactory { name: SERVICE_NAME, kind: PluginKind::Service, create }
}
#[cfg(test)]
mod roundtrip_tests;
