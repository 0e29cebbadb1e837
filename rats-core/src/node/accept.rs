//! Accepting: the accept loop of each listener, the per-IP accounting key, and telling an
//! over-limit dialer why it is refused.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::{debug, warn};

use super::dial::{is_relayed, method_of};
use super::handshake::{Setup, establish};
use crate::address::Address;
use crate::encryption::Role;
use crate::node::shared::NodeShared;
use crate::record::write_record;
use crate::transport::{Listener, RawConnection, TransportError};

/// Accepts connections from one listener until the node stops.
pub(crate) async fn accept_loop(shared: Arc<NodeShared>, mut listener: Box<dyn Listener>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let raw = match accepted {
            Ok(raw) => raw,
            Err(TransportError::Closed) => return,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let ip = peer_ip(&raw.remote_addr);
        let guards = shared.limits.peer_slot().and_then(|slot| {
            let ip_slot = ip.map(|ip| shared.limits.ip_slot(ip)).transpose()?;
            Ok((slot, shared.limits.pending(ip)?, ip_slot))
        });
        let shared2 = shared.clone();
        shared.tasks.spawn(async move {
            match guards {
                Ok((slot, pending, ip_slot)) => {
                    let method = method_of(&raw.remote_addr);
                    let setup = Setup {
                        role: Role::Responder,
                        slot,
                        pending,
                        ip_slot,
                        method,
                        expected: None,
                    };
                    if let Err(e) = establish(&shared2, raw, setup).await {
                        debug!(error = %e, "inbound connection failed");
                    }
                }
                Err(limit) => {
                    let n = shared2.rejecting.fetch_add(1, Ordering::AcqRel);
                    if n < super::shared::MAX_REJECTING {
                        reject(raw, &limit.to_string()).await;
                    }
                    shared2.rejecting.fetch_sub(1, Ordering::AcqRel);
                }
            }
        });
    }
}

/// The address that per-IP limits and memory shares count a connection against: none for
/// relayed connections (they all come from the relay's address) and non-IP transports. An
/// IPv6 address counts as its /64 (one host usually holds a whole /64, so counting single
/// addresses would give it endless shares); an IPv4-mapped one as its IPv4 address.
pub(super) fn peer_ip(addr: &Address) -> Option<IpAddr> {
    let ip = addr.socket_addr().filter(|_| !is_relayed(addr))?.ip();
    Some(match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    })
}

/// Tells an over-limit dialer why, in the handshake's rejection format, then closes.
async fn reject(mut raw: RawConnection, reason: &str) {
    let send = async {
        write_record(&mut raw.writer, b"").await?;
        write_record(&mut raw.writer, reason.as_bytes()).await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), send).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::encryption::Encryption;
    use crate::encryption::HandshakeParams;
    use crate::identity::Identity;
    use crate::plaintext::Plaintext;
    use crate::record::RecordReader;
    use crate::transport::Transport;
    use crate::{Node, NodeConfig};
    use async_trait::async_trait;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// A transport whose listener hands out the connections a test pushes, each claiming
    /// the source address the test chose (per-IP limits need real-looking addresses).
    struct PushedTransport(parking_lot::Mutex<Option<mpsc::Receiver<RawConnection>>>);

    struct PushedListener(mpsc::Receiver<RawConnection>);

    #[async_trait]
    impl Listener for PushedListener {
        fn local_addrs(&self) -> Vec<Address> {
            vec!["tcp:192.0.2.1:7000".parse().unwrap()]
        }

        async fn accept(&mut self) -> Result<RawConnection, TransportError> {
            self.0.recv().await.ok_or(TransportError::Closed)
        }
    }

    #[async_trait]
    impl Transport for PushedTransport {
        fn name(&self) -> &'static str {
            "tcp"
        }

        async fn listen(&self, _: &Address) -> Result<Box<dyn Listener>, TransportError> {
            let rx = self.0.lock().take().ok_or(TransportError::Closed)?;
            Ok(Box::new(PushedListener(rx)))
        }

        async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError> {
            Err(TransportError::io(
                format!("dial {addr}"),
                std::io::ErrorKind::Unsupported.into(),
            ))
        }
    }

    /// A node whose only listener takes pushed connections, with the given per-IP limits.
    async fn node(
        pending_per_ip: usize,
        conns_per_ip: usize,
    ) -> (Node, mpsc::Sender<RawConnection>) {
        let (tx, rx) = mpsc::channel(16);
        let config = NodeConfig {
            listen: vec!["tcp:192.0.2.1:7000".parse().unwrap()],
            max_pending_per_ip: pending_per_ip,
            max_connections_per_ip: conns_per_ip,
            handshake_timeout: Duration::from_secs(30),
            ..NodeConfig::default()
        };
        let node = Node::builder()
            .with_config(config)
            .use_registry(false)
            .transport(Arc::new(PushedTransport(parking_lot::Mutex::new(Some(rx)))))
            .encryption(Arc::new(Plaintext))
            .start()
            .await
            .unwrap();
        (node, tx)
    }

    /// Pushes a connection from `ip` and returns the dialer's end of it.
    async fn push(tx: &mpsc::Sender<RawConnection>, ip: &str) -> RawConnection {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let remote: Address = format!("tcp:{ip}:40000").parse().unwrap();
        let local: Address = "tcp:192.0.2.1:7000".parse().unwrap();
        tx.send(RawConnection {
            reader: Box::new(br),
            writer: Box::new(bw),
            local_addr: local.clone(),
            remote_addr: remote.clone(),
        })
        .await
        .unwrap();
        RawConnection {
            reader: Box::new(ar),
            writer: Box::new(aw),
            local_addr: remote,
            remote_addr: local,
        }
    }

    /// The reason a refused dialer is told: an empty record, then the reason.
    async fn rejection(conn: RawConnection) -> String {
        let mut r = RecordReader::new(conn.reader);
        let read = async {
            let first = r.read_record().await.unwrap().expect("a record");
            assert!(first.is_empty(), "a rejection starts with an empty record");
            let reason = r.read_record().await.unwrap().expect("the reason");
            String::from_utf8(reason.to_vec()).unwrap()
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("rejected in time")
    }

    /// Completes a handshake as a fresh peer over `conn`: it must be accepted.
    async fn handshake(node: &Node, conn: RawConnection) -> crate::encryption::SecureConnection {
        let id = Identity::generate();
        let hello = br#"{"agent":"test","listen":[],"services":[]}"#;
        let params = HandshakeParams {
            identity: &id,
            protocol: node.protocol(),
            role: Role::Initiator,
            early_data: hello,
        };
        let secure = tokio::time::timeout(Duration::from_secs(5), Plaintext.upgrade(conn, params))
            .await
            .expect("in time")
            .expect("accepted");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !node.is_connected(&id.peer_id()) {
            assert!(tokio::time::Instant::now() < deadline, "registered in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        secure
    }

    #[tokio::test]
    async fn the_accept_loop_refuses_a_second_pending_handshake_from_one_ip() {
        let (node, tx) = node(1, 100).await;
        // Silent: its handshake stays pending.
        let _pending = push(&tx, "198.51.100.1").await;
        let second = push(&tx, "198.51.100.1").await;
        assert_eq!(
            rejection(second).await,
            crate::connect::LimitError::TooManyFromIp.to_string()
        );
        // Another address is not affected.
        let other = push(&tx, "198.51.100.2").await;
        let _kept = handshake(&node, other).await;
        node.shutdown().await;
    }

    #[tokio::test]
    async fn the_accept_loop_refuses_connections_beyond_the_per_ip_limit() {
        let (node, tx) = node(100, 1).await;
        let first = push(&tx, "198.51.100.1").await;
        let _kept = handshake(&node, first).await;
        let second = push(&tx, "198.51.100.1").await;
        assert_eq!(
            rejection(second).await,
            crate::connect::LimitError::TooManyConnectionsFromIp.to_string()
        );
        let other = push(&tx, "198.51.100.2").await;
        let _also = handshake(&node, other).await;
        assert_eq!(node.peer_count(), 2);
        node.shutdown().await;
    }

    #[test]
    fn per_ip_limits_count_an_ipv6_slash_64_as_one_address() {
        let ip = |a: &str| peer_ip(&a.parse().unwrap());
        assert_eq!(
            ip("tcp:[2001:db8:1:2::1]:5"),
            ip("tcp:[2001:db8:1:2:ffff::9]:6")
        );
        assert_ne!(ip("tcp:[2001:db8:1:2::1]:5"), ip("tcp:[2001:db8:1:3::1]:5"));
        assert_eq!(ip("tcp:[::ffff:192.0.2.7]:5"), ip("tcp:192.0.2.7:9"));
        assert_ne!(ip("tcp:192.0.2.7:5"), ip("tcp:192.0.2.8:5"));
        assert_eq!(ip("mem:3"), None);
    }
}
