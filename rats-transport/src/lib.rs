//! # rats-transport
//!
//! Transport plugins for rats. Today: TCP, dual stack. `tcp:[::]:PORT` listens on IPv6 and IPv4
//! at the same port (two sockets, the IPv6 one `IPV6_V6ONLY`, so it works the same on every OS);
//! `tcp:0.0.0.0:PORT` or a specific address listens on that only. Port 0 picks a free port and
//! the real one is reported. `TCP_NODELAY` is on: rats batches frames itself.
//!
//! With the `quic` feature (default), also QUIC through `quinn` (`quic:IP:PORT`): one QUIC
//! connection and one stream per rats connection, the rats handshake on top. QUIC also runs
//! over a datagram path a NAT strategy opened (a punched UDP socket, an ICE pair given as
//! channels) through rats-core's [`Transport::bind_path`](rats_core::Transport::bind_path),
//! so NAT plugins need not depend on this crate.
//!
//! Features: `tcp` and `quic` (both default), each registering its transport with the
//! rats-core plugin registry when this crate is linked.
//!
//! ```
//! use rats_core::Transport;
//! use rats_transport::TcpTransport;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tcp = TcpTransport::default();
//! let mut listener = tcp.listen(&"tcp:127.0.0.1:0".parse()?).await?;
//! let addr = listener.local_addrs()[0].clone();
//! let (dialed, accepted) = tokio::join!(tcp.dial(&addr), listener.accept());
//! assert_eq!(dialed?.local_addr, accepted?.remote_addr);
//! # Ok(()) }
//! ```

#[cfg(feature = "quic")]
mod datagram;
#[cfg(feature = "quic")]
mod quic;
#[cfg(feature = "tcp")]
mod tcp;

#[cfg(feature = "quic")]
pub use quic::QuicTransport;
#[cfg(feature = "tcp")]
pub use tcp::TcpTransport;
