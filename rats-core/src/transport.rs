//! The [`Transport`] contract: byte streams between two addresses.

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::address::Address;

/// The read half of a raw byte stream.
pub type BoxedReader = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a raw byte stream.
pub type BoxedWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// A raw (not yet authenticated) byte stream, already split into halves so that a reader task
/// and a writer task can own one each without a lock.
pub struct RawConnection {
    /// Bytes from the remote side.
    pub reader: BoxedReader,
    /// Bytes to the remote side.
    pub writer: BoxedWriter,
    /// Our end of the connection.
    pub local_addr: Address,
    /// The remote end as seen by us (for inbound TCP: the peer's source address).
    pub remote_addr: Address,
}

impl std::fmt::Debug for RawConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConnection")
            .field("local_addr", &self.local_addr)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

/// Errors of transports.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// This transport does not handle that address.
    #[error("transport cannot handle address {0}")]
    Unsupported(Address),
    /// The address is malformed for this transport.
    #[error("bad address {addr}: {why}")]
    BadAddress {
        /// The address.
        addr: Address,
        /// Why.
        why: String,
    },
    /// An I/O error from the operating system.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The listener was closed.
    #[error("listener closed")]
    Closed,
}

impl TransportError {
    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        TransportError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A listening socket (or set of sockets) handing out inbound connections.
#[async_trait]
pub trait Listener: Send {
    /// The addresses actually bound (port 0 replaced by the real port).
    fn local_addrs(&self) -> Vec<Address>;
    /// Waits for the next inbound connection.
    async fn accept(&mut self) -> Result<RawConnection, TransportError>;
}

/// A way to move bytes: TCP, QUIC, in-memory, relayed...
///
/// Implementations are registered as plugins (see [`crate::registry`]) and used as
/// `Arc<dyn Transport>`.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Short name, also the address scheme it serves (`tcp`, `mem`, ...).
    fn name(&self) -> &'static str;
    /// Whether `dial(addr)` can work at all.
    fn can_dial(&self, addr: &Address) -> bool {
        addr.scheme() == self.name()
    }
    /// Starts listening on `addr`.
    async fn listen(&self, addr: &Address) -> Result<Box<dyn Listener>, TransportError>;
    /// Opens an outbound byte stream to `addr`.
    async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError>;
    /// Called when the node stops (release what dialing keeps open, such as a relay
    /// allocation). Listeners are dropped by the node.
    async fn stop(&self) {}
}
