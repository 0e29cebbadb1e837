//! rats-transfer: file and directory transfer between rats peers.
//!
//! - **Push**: [`TransferService::send_file`] / [`send_directory`](TransferService::send_directory).
//!   The receiver's accept callback sees name, relative paths, sizes, modification times and
//!   SHA-256s and answers with a destination or a reason. With no callback, offers are
//!   rejected.
//! - **Pull**: [`TransferService::request_file`] / [`request_directory`](TransferService::request_directory).
//!   The server's serve callback decides; else a configured `shared_root` is served (never
//!   anything outside it); else nothing is.
//! - **Integrity**: every chunk carries its SHA-256, checked before it is written on an
//!   unencrypted connection (a corrupt chunk is asked for again; on an encrypted one the AEAD
//!   has authenticated the bytes already); each file's SHA-256 is checked before it is moved
//!   into place.
//! - **Resume**: partial data and state live in the temporary directory; after a reconnect
//!   or a restart the receiver tells the sender how far it got (with a hash of those bytes),
//!   and the transfer continues from there.
//! - **Safety**: names from peers pass [`path::RelPath`] (no `..`, absolute paths, drive
//!   prefixes, NUL, overlong names) and symbolic links under the destination are refused;
//!   sizes are checked against limits and free space before anything is written; chunks for
//!   transfers the sending peer does not own are dropped and counted.
//!
//! Control messages travel on channel 3 (Normal priority) and chunks on channel 4 (Bulk), so
//! chat and control are never stuck behind file data.
//!
//! ```no_run
//! use std::time::Duration;
//! use rats_transfer::{AcceptDecision, TransferService};
//!
//! # async fn demo(node: rats_core::Node, peer: rats_core::PeerId) -> Result<(), Box<dyn std::error::Error>> {
//! // Linking this crate registers the service; the node creates it from its `transfer`
//! // config section. (`rats::RatsClient::transfers()` returns the same.)
//! let transfers = node.service_plugin::<TransferService>().ok_or("no transfer service")?;
//!
//! // Receiving: decide on offers. `offer.name` has passed the name rules of `path::RelPath`.
//! let downloads = std::path::PathBuf::from("downloads");
//! std::fs::create_dir_all(&downloads)?;
//! transfers.set_accept_callback(move |offer| {
//!     let dest = downloads.join(&offer.name);
//!     async move { AcceptDecision::Accept(dest) }
//! });
//!
//! // Sending: offer a file, then wait until it is completed, failed or cancelled.
//! let id = transfers.send_file(&peer, "report.pdf", None).await?;
//! let done = transfers.wait(id, Duration::from_secs(60)).await?;
//! println!("{}: {}", done.name, done.state);
//! # Ok(()) }
//! ```
//!
//! The wire protocol is specified in `docs/PROTOCOL.md`, section "File transfer".

mod config;
mod error;
mod event;
mod fileio;
mod hub;
mod id;
mod manifest;
pub mod path;
mod progress;
mod receiver;
mod sender;
mod service;
mod state;
mod store;
mod transfer_core;
pub mod wire;

/// Entry points of the fuzz targets (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

use std::sync::Arc;

use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};

pub use config::{ConfigError, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TransferConfig};
pub use error::TransferError;
pub use event::{
    Direction, IncomingOffer, OfferedFile, Progress, StatsSnapshot, TransferEvent, TransferInfo,
    TransferState,
};
pub use hub::{AcceptDecision, BoxFuture, ServeDecision, ServeRequest};
pub use id::TransferId;
pub use service::TransferService;
pub use wire::Kind;

/// The service's name (plugin name, config section, event source).
pub const SERVICE_NAME: &str = "transfer";

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: TransferConfig = cfg.parse()?;
    let service = TransferService::new(config, cfg.data_dir.as_deref()).map_err(|e| match e {
        // The key that broke a rule, as `transfer.window`.
        TransferError::Config(e) => PluginError::Config {
            key: Some(format!("{SERVICE_NAME}.{}", e.key())),
            plugin: SERVICE_NAME,
            error: e.to_string(),
        },
        e => PluginError::Config {
            key: None,
            plugin: SERVICE_NAME,
            error: e.to_string(),
        },
    })?;
    Ok(Plugin::Service(Arc::new(service)))
}

/// The README's example, compiled as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

rats_core::inventory::submit! {
    PluginFactory { name: SERVICE_NAME, kind: PluginKind::Service, create }
}
#[cfg(test)]
mod roundtrip_tests;
