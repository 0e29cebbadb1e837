//! The [`Transport`] contract: byte streams between two addresses.

use std::net::SocketAddr;
use std::sync::Arc;

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
#[non_exhaustive]
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
    /// No linked transport runs over a datagram path (see [`Transport::bind_path`]).
    #[error("no transport runs over a datagram path (enable the quic transport)")]
    NoDatagramTransport,
    /// A protocol error inside the transport (a QUIC handshake that failed, say).
    #[error("{context}: {message}")]
    Protocol {
        /// What we were doing.
        context: &'static str,
        /// What went wrong.
        message: String,
    },
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
    /// Whether [`bind_path`](Self::bind_path) works: the transport can carry connections over
    /// a datagram path a NAT strategy opened (QUIC can; TCP cannot).
    fn runs_over_datagrams(&self) -> bool {
        false
    }
    /// Runs this transport over a datagram path (a punched UDP socket, an ICE pair), so a NAT
    /// strategy gets byte streams on the path without depending on the transport's crate.
    /// With `accept` false, sessions the other end opens are refused.
    fn bind_path(
        &self,
        path: DatagramPath,
        accept: bool,
    ) -> Result<Arc<dyn PathEndpoint>, TransportError> {
        let _ = (path, accept);
        Err(TransportError::NoDatagramTransport)
    }
}

impl RawConnection {
    /// A raw connection on a connected TCP stream (`TCP_NODELAY` on: rats batches frames
    /// itself), with `tcp:` addresses.
    pub fn from_tcp(stream: tokio::net::TcpStream) -> std::io::Result<Self> {
        let (local, remote) = (stream.local_addr()?, stream.peer_addr()?);
        Ok(Self::tcp(stream, local, remote))
    }

    /// [`from_tcp`](Self::from_tcp) with the ends already known.
    pub fn tcp(stream: tokio::net::TcpStream, local: SocketAddr, remote: SocketAddr) -> Self {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        RawConnection {
            reader: Box::new(r),
            writer: Box::new(w),
            local_addr: Address::tcp(local),
            remote_addr: Address::tcp(remote),
        }
    }
}

/// Datagrams queued towards a [`DatagramPipe`] at most, by convention; beyond this the
/// transport is told to wait.
pub const PIPE_DEPTH: usize = 256;

/// A datagram path that is not one of our UDP sockets (an ICE-nominated candidate pair, a
/// relay channel), given as a pair of bounded channels: datagrams the transport sends go to
/// `outgoing`, datagrams that arrive are pushed into `incoming`. Whoever holds the other ends
/// moves the datagrams. Datagrams sent after the receiving end is gone are dropped (as on UDP);
/// when the path dies, its owner should [`close`](PathEndpoint::close) the endpoint so its
/// connections end at once rather than at their idle timeout.
#[derive(Debug)]
pub struct DatagramPipe {
    /// Datagrams to send.
    pub outgoing: tokio::sync::mpsc::Sender<Vec<u8>>,
    /// Datagrams received.
    pub incoming: tokio::sync::mpsc::Receiver<Vec<u8>>,
    /// Our end's address (reported to the transport).
    pub local: SocketAddr,
    /// The other end's address: every datagram is taken to come from it.
    pub remote: SocketAddr,
}

/// A datagram path for [`Transport::bind_path`].
#[derive(Debug)]
pub enum DatagramPath {
    /// A UDP socket of ours (one that was punched through a NAT, say); the transport takes it.
    Socket(std::net::UdpSocket),
    /// Datagrams moved through channels.
    Pipe(DatagramPipe),
}

/// A transport's endpoint on a datagram path: dials the other end, accepts from it.
#[async_trait]
pub trait PathEndpoint: Send + Sync {
    /// Our address on the path.
    fn local_addr(&self) -> Result<SocketAddr, TransportError>;
    /// Opens a byte stream to `remote` over the path.
    async fn dial(&self, remote: SocketAddr) -> Result<RawConnection, TransportError>;
    /// Starts accepting byte streams the other end opens (needs `accept` at bind time).
    fn listen(&self) -> Result<Box<dyn Listener>, TransportError>;
    /// Closes every connection on the endpoint now (the path died).
    fn close(&self, reason: &[u8]);
    /// Resolves once no connection is left on the endpoint.
    async fn wait_idle(&self);
}
