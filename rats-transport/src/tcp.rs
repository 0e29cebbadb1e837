//! TCP: dual-stack listeners, `TCP_NODELAY`, name resolution on dial.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;

use async_trait::async_trait;
use rats_core::address::Address;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::transport::{Listener, RawConnection, Transport, TransportError};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

/// Pending connections the kernel queues per listening socket.
const BACKLOG: i32 = 1024;
/// Tries to find a port free on both IPv6 and IPv4 when port 0 is asked for.
const DUAL_STACK_TRIES: usize = 8;

/// The TCP transport (scheme `tcp`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpTransport;

fn bind(addr: SocketAddr, v6_only: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6_only)?;
    }
    // Lets a restarted node bind its port again while old connections sit in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Binds `[::]:port` and `0.0.0.0:port` on the same port.
fn bind_dual(port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut last_err = None;
    for _ in 0..DUAL_STACK_TRIES {
        let v6 = match bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), true) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e),
            Err(e) => {
                // No IPv6 on this host: serve IPv4 only.
                warn!(error = %e, "IPv6 listener unavailable, listening on IPv4 only");
                return Ok(vec![bind(
                    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
                    false,
                )?]);
            }
        };
        let real_port = v6.local_addr()?.port();
        match bind(
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), real_port),
            false,
        ) {
            Ok(v4) => return Ok(vec![v6, v4]),
            // Port 0 gave a port that is taken on IPv4: try another one.
            Err(e) if port == 0 && e.kind() == std::io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::ErrorKind::AddrInUse.into()))
}

fn socket_addr_of(addr: &Address) -> Result<SocketAddr, TransportError> {
    addr.socket_addr()
        .ok_or_else(|| TransportError::BadAddress {
            addr: addr.clone(),
            why: "listen addresses must be IP:port".into(),
        })
}

#[async_trait]
impl Transport for TcpTransport {
    fn name(&self) -> &'static str {
        "tcp"
    }

    async fn listen(&self, addr: &Address) -> Result<Box<dyn Listener>, TransportError> {
        let sa = socket_addr_of(addr)?;
        let ctx = || format!("listen on {addr}");
        let listeners = if sa.ip().is_unspecified() && sa.is_ipv6() {
            bind_dual(sa.port()).map_err(|e| TransportError::io(ctx(), e))?
        } else {
            vec![bind(sa, true).map_err(|e| TransportError::io(ctx(), e))?]
        };
        let mut addrs = Vec::with_capacity(listeners.len());
        for l in &listeners {
            addrs.push(Address::tcp(
                l.local_addr().map_err(|e| TransportError::io(ctx(), e))?,
            ));
        }
        Ok(Box::new(TcpListeners {
            listeners,
            addrs,
            next: 0,
        }))
    }

    async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError> {
        let targets: Vec<SocketAddr> = match addr.socket_addr() {
            Some(sa) => vec![sa],
            None => tokio::net::lookup_host(addr.body())
                .await
                .map_err(|e| TransportError::io(format!("resolve {addr}"), e))?
                .collect(),
        };
        let mut last = None;
        for target in targets {
            match TcpStream::connect(target).await {
                Ok(stream) => {
                    let local = stream
                        .local_addr()
                        .map_err(|e| TransportError::io(format!("dial {addr}"), e))?;
                    return Ok(RawConnection::tcp(stream, local, target));
                }
                Err(e) => {
                    debug!(%target, error = %e, "tcp connect failed");
                    last = Some(e);
                }
            }
        }
        Err(TransportError::io(
            format!("dial {addr}"),
            last.unwrap_or_else(|| std::io::ErrorKind::NotFound.into()),
        ))
    }
}

struct TcpListeners {
    listeners: Vec<TcpListener>,
    addrs: Vec<Address>,
    /// Where polling starts, rotated so one busy socket cannot starve the other.
    next: usize,
}

#[async_trait]
impl Listener for TcpListeners {
    fn local_addrs(&self) -> Vec<Address> {
        self.addrs.clone()
    }

    async fn accept(&mut self) -> Result<RawConnection, TransportError> {
        let (stream, remote, local) = std::future::poll_fn(|cx| {
            let n = self.listeners.len();
            for i in 0..n {
                let idx = (self.next + i) % n;
                if let Poll::Ready(r) = self.listeners[idx].poll_accept(cx) {
                    self.next = (idx + 1) % n;
                    let local = self.listeners[idx].local_addr();
                    return Poll::Ready(r.and_then(|(s, remote)| Ok((s, remote, local?))));
                }
            }
            Poll::Pending
        })
        .await
        .map_err(|e| TransportError::io("accept", e))?;
        let local = stream.local_addr().unwrap_or(local);
        Ok(RawConnection::tcp(stream, local, remote))
    }
}

fn create(_: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Transport(Arc::new(TcpTransport)))
}

rats_core::inventory::submit! {
    PluginFactory { name: "tcp", kind: PluginKind::Transport, create }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_once(l: &mut Box<dyn Listener>) {
        let mut c = l.accept().await.expect("accept");
        let mut b = [0u8; 4];
        c.reader.read_exact(&mut b).await.expect("read");
        c.writer.write_all(&b).await.expect("write");
    }

    #[tokio::test]
    async fn dual_stack_listener_serves_v4_and_v6_on_one_port() {
        let t = TcpTransport;
        let mut l = t
            .listen(&"tcp:[::]:0".parse().expect("addr"))
            .await
            .expect("listen");
        let addrs = l.local_addrs();
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        let port = addrs[0].socket_addr().expect("sa").port();
        assert_eq!(port, addrs[1].socket_addr().expect("sa").port());
        for target in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
            let addr: Address = target.parse().expect("addr");
            let (client, ()) = tokio::join!(
                async {
                    let mut c = t.dial(&addr).await.expect("dial");
                    c.writer.write_all(b"ping").await.expect("w");
                    let mut b = [0u8; 4];
                    c.reader.read_exact(&mut b).await.expect("r");
                    b
                },
                echo_once(&mut l)
            );
            assert_eq!(&client, b"ping");
        }
    }

    #[tokio::test]
    async fn dial_to_closed_port_fails_cleanly() {
        let l = bind("127.0.0.1:0".parse().expect("sa"), true).expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        let err = TcpTransport
            .dial(&format!("127.0.0.1:{port}").parse().expect("addr"))
            .await;
        assert!(matches!(err, Err(TransportError::Io { .. })));
    }
}
