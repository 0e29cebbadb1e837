//! A recording UDP relay on 127.0.0.1 that stands between a target (a rats DHT node, a TURN
//! server) and the hosts outside talking to it, both ways, like a NAT: outside hosts send to
//! the relay's front socket and reach the target from a socket of their own (their "face");
//! what the target sends to a face goes out of the front socket to that host. So queries
//! and answers in either direction pass through, and every datagram is kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::UdpSocket;

/// Most datagrams kept.
const MAX_KEPT: usize = 20_000;

/// One relayed datagram.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// True from an outside host to the target, false from the target to the outside.
    pub to_target: bool,
    /// The outside host.
    pub outside: SocketAddr,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

struct Inner {
    front: Arc<UdpSocket>,
    target: SocketAddr,
    faces: Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>,
    log: Mutex<Vec<Datagram>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A running relay; it stops when dropped.
pub struct UdpRelay {
    inner: Arc<Inner>,
}

impl UdpRelay {
    /// Binds the front socket on 127.0.0.1 and relays to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<UdpRelay> {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let inner = Arc::new(Inner {
            front: front.clone(),
            target,
            faces: Mutex::default(),
            log: Mutex::default(),
            tasks: Mutex::default(),
        });
        let weak = Arc::downgrade(&inner);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let (n, from) = match front.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(_) => {
                        pause_after_error().await;
                        continue;
                    }
                };
                let Some(inner) = weak.upgrade() else { break };
                let Ok(face) = inner.face(from).await else {
                    continue;
                };
                inner.note(true, from, &buf[..n]);
                let _ = face.send_to(&buf[..n], inner.target).await;
            }
        });
        inner.tasks.lock().push(task);
        Ok(UdpRelay { inner })
    }

    /// The address outside hosts send to.
    pub fn front(&self) -> std::io::Result<SocketAddr> {
        self.inner.front.local_addr()
    }

    /// The address the target sees `outside` at (created now if it is new), e.g. to give the
    /// target as a bootstrap node.
    pub async fn face_of(&self, outside: SocketAddr) -> std::io::Result<SocketAddr> {
        self.inner.face(outside).await?.local_addr()
    }

    /// Every datagram relayed so far.
    pub fn datagrams(&self) -> Vec<Datagram> {
        self.inner.log.lock().clone()
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        for t in self.inner.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

impl Inner {
    fn note(&self, to_target: bool, outside: SocketAddr, bytes: &[u8]) {
        let mut log = self.log.lock();
        if log.len() < MAX_KEPT {
            log.push(Datagram {
                to_target,
                outside,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// The face socket of `outside`, with its task carrying the target's datagrams out.
    async fn face(self: &Arc<Self>, outside: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
        if let Some(f) = self.faces.lock().get(&outside) {
            return Ok(f.clone());
        }
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let mut faces = self.faces.lock();
        if let Some(f) = faces.get(&outside) {
            return Ok(f.clone());
        }
        faces.insert(outside, sock.clone());
        let weak = Arc::downgrade(self);
        let s = sock.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let (n, from) = match s.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(_) => {
                        pause_after_error().await;
                        continue;
                    }
                };
                let Some(inner) = weak.upgrade() else { break };
                // Only the target speaks to a face; anything else is not ours to relay.
                if from != inner.target {
                    continue;
                }
                inner.note(false, outside, &buf[..n]);
                let _ = inner.front.send_to(&buf[..n], outside).await;
            }
        });
        self.tasks.lock().push(task);
        Ok(sock)
    }
}

/// After a receive error (on Linux an ICMP port unreachable for an earlier send surfaces as
/// one): keep going, without spinning should the socket stay broken.
async fn pause_after_error() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}
