//! A recording TCP proxy on 127.0.0.1: every accepted connection is connected onward to the
//! target and copied both ways, and the bytes of each direction are kept.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Most bytes kept per direction of a connection (the rest is still forwarded).
const MAX_KEPT: usize = 16 * 1024 * 1024;

/// The bytes of one proxied connection.
#[derive(Default, Clone)]
pub struct Recording {
    /// From the dialer (the handshake's initiator) to the target.
    pub to_target: Vec<u8>,
    /// From the target (the responder) back to the dialer.
    pub to_dialer: Vec<u8>,
    /// Directions that reached their end (0 to 2).
    pub ended: u8,
}

type Shared = Arc<Mutex<Vec<Arc<Mutex<Recording>>>>>;

/// A running proxy; it stops when dropped.
pub struct TcpRecorder {
    addr: SocketAddr,
    conns: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl TcpRecorder {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<TcpRecorder> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let conns: Shared = Arc::default();
        let list = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((dialer, _)) = listener.accept().await {
                let Ok(onward) = TcpStream::connect(target).await else {
                    continue;
                };
                let rec = Arc::new(Mutex::new(Recording::default()));
                list.lock().push(rec.clone());
                let (dr, dw) = dialer.into_split();
                let (tr, tw) = onward.into_split();
                tokio::spawn(copy(dr, tw, rec.clone(), true));
                tokio::spawn(copy(tr, dw, rec, false));
            }
        });
        Ok(TcpRecorder { addr, conns, task })
    }

    /// Where to dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether every connection so far has ended both ways.
    pub fn all_ended(&self) -> bool {
        self.conns.lock().iter().all(|r| r.lock().ended == 2)
    }

    /// What every connection carried so far, in the order they were accepted.
    pub fn recordings(&self) -> Vec<Recording> {
        self.conns.lock().iter().map(|r| r.lock().clone()).collect()
    }
}

impl Drop for TcpRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn keep(into: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_KEPT.saturating_sub(into.len());
    into.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Copies until end of stream or an error, keeping the bytes, then half-closes the other side.
async fn copy(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    rec: Arc<Mutex<Recording>>,
    to_target: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                {
                    let mut r = rec.lock();
                    let into = if to_target {
                        &mut r.to_target
                    } else {
                        &mut r.to_dialer
                    };
                    keep(into, &buf[..n]);
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
    rec.lock().ended += 1;
}
