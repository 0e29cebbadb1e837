//! An in-memory transport for tests: `mem:N` addresses inside one process, no sockets.
//! It is not registered as a plugin: a node uses it only when given it explicitly
//! (`NodeBuilder::transport`), so no peer can steer a real node to in-process addresses.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::address::Address;
use crate::transport::{Listener, RawConnection, Transport, TransportError};

/// Bytes buffered in each direction of an in-memory stream.
const PIPE_BYTES: usize = 256 * 1024;
/// Connections waiting to be accepted per listener.
const BACKLOG: usize = 128;

static LISTENERS: LazyLock<DashMap<u64, mpsc::Sender<RawConnection>>> = LazyLock::new(DashMap::new);
static NEXT_PORT: AtomicU64 = AtomicU64::new(1);

/// The in-memory transport (scheme `mem`). `mem:0` picks a free port.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryTransport;

fn port_of(addr: &Address) -> Result<u64, TransportError> {
    addr.body().parse().map_err(|_| TransportError::BadAddress {
        addr: addr.clone(),
        why: "mem port must be a number".into(),
    })
}

fn mem_addr(port: u64) -> Address {
    // Infallible: the scheme and a number always form a valid address.
    Address::new("mem", &port.to_string()).unwrap_or_else(|_| unreachable!())
}

#[async_trait]
impl Transport for MemoryTransport {
    fn name(&self) -> &'static str {
        "mem"
    }

    async fn listen(&self, addr: &Address) -> Result<Box<dyn Listener>, TransportError> {
        let mut port = port_of(addr)?;
        if port == 0 {
            port = NEXT_PORT.fetch_add(1, Ordering::Relaxed) + (1 << 32);
        }
        let (tx, rx) = mpsc::channel(BACKLOG);
        match LISTENERS.entry(port) {
            dashmap::Entry::Occupied(_) => {
                return Err(TransportError::io(
                    format!("listen on {addr}"),
                    std::io::ErrorKind::AddrInUse.into(),
                ));
            }
            dashmap::Entry::Vacant(v) => {
                v.insert(tx);
            }
        }
        Ok(Box::new(MemoryListener { port, rx }))
    }

    async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError> {
        let port = port_of(addr)?;
        let refused = || {
            TransportError::io(
                format!("dial {addr}"),
                std::io::ErrorKind::ConnectionRefused.into(),
            )
        };
        let tx = LISTENERS
            .get(&port)
            .map(|t| t.clone())
            .ok_or_else(refused)?;
        let client_port = NEXT_PORT.fetch_add(1, Ordering::Relaxed) + (1 << 33);
        let (a, b) = tokio::io::duplex(PIPE_BYTES);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let server_side = RawConnection {
            reader: Box::new(br),
            writer: Box::new(bw),
            local_addr: mem_addr(port),
            remote_addr: mem_addr(client_port),
        };
        tx.send(server_side).await.map_err(|_| refused())?;
        Ok(RawConnection {
            reader: Box::new(ar),
            writer: Box::new(aw),
            local_addr: mem_addr(client_port),
            remote_addr: addr.clone(),
        })
    }
}

struct MemoryListener {
    port: u64,
    rx: mpsc::Receiver<RawConnection>,
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        LISTENERS.remove(&self.port);
    }
}

#[async_trait]
impl Listener for MemoryListener {
    fn local_addrs(&self) -> Vec<Address> {
        vec![mem_addr(self.port)]
    }

    async fn accept(&mut self) -> Result<RawConnection, TransportError> {
        self.rx.recv().await.ok_or(TransportError::Closed)
    }
}
