//! The [`Discovery`] contract: ways to find peers' addresses (DHT, mDNS...).

use async_trait::async_trait;
use futures::stream::BoxStream;

mod context;

pub use context::DiscoveryContext;

use crate::address::Address;

/// Errors of discovery plugins.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Not started or already stopped.
    #[error("discovery {0} is not running")]
    NotRunning(&'static str),
    /// Anything the mechanism reports (its own error type, as the source).
    #[error(transparent)]
    Other(crate::BoxError),
}

/// A peer-finding mechanism. It reports what it finds through
/// [`DiscoveryContext::report`]; the node dials what is new.
///
/// `Any` is a supertrait so an application can reach a plugin's own API from the node's list
/// (`Arc<dyn Discovery>` upcasts to `Arc<dyn Any + Send + Sync>` and downcasts).
#[async_trait]
pub trait Discovery: std::any::Any + Send + Sync + 'static {
    /// Short name, also the `source` of its `PeerDiscovered` events.
    fn name(&self) -> &'static str;
    /// Starts background work; runs until `stop` or the context's cancellation.
    async fn start(&self, ctx: DiscoveryContext) -> Result<(), DiscoveryError>;
    /// Announces that we can be found under `key`.
    async fn announce(&self, key: &[u8]) -> Result<(), DiscoveryError>;
    /// Looks `key` up; yields candidate addresses as they are found.
    async fn find(&self, key: &[u8]) -> Result<BoxStream<'static, Address>, DiscoveryError>;
    /// Stops background work.
    async fn stop(&self);
}
