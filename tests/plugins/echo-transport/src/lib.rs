//! A transport plugin from outside the rats plugin crates, for the registry test: scheme
//! `ptcp` (plain TCP under another name) registered through `inventory`. It counts its dials
//! and accepts so a test can prove the node really used it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rats_core::Address;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::transport::{Listener, RawConnection, Transport, TransportError};
use tokio::net::{TcpListener, TcpStream};

static DIALS: AtomicUsize = AtomicUsize::new(0);
static ACCEPTS: AtomicUsize = AtomicUsize::new(0);

/// Dials made through this plugin so far.
pub fn dials() -> usize {
    DIALS.load(Ordering::SeqCst)
}

/// Connections accepted through this plugin so far.
pub fn accepts() -> usize {
    ACCEPTS.load(Ordering::SeqCst)
}

/// The `ptcp` transport.
#[derive(Debug, Default)]
pub struct PluginTcp;

fn addr(sa: std::net::SocketAddr) -> Address {
    Address::new("ptcp", &sa.to_string()).unwrap_or_else(|_| unreachable!())
}

fn raw(s: TcpStream, local: std::net::SocketAddr, remote: std::net::SocketAddr) -> RawConnection {
    let (r, w) = s.into_split();
    RawConnection {
        reader: Box::new(r),
        writer: Box::new(w),
        local_addr: addr(local),
        remote_addr: addr(remote),
    }
}

#[async_trait]
impl Transport for PluginTcp {
    fn name(&self) -> &'static str {
        "ptcp"
    }

    async fn listen(&self, a: &Address) -> Result<Box<dyn Listener>, TransportError> {
        let sa = a.socket_addr().ok_or_else(|| TransportError::BadAddress {
            addr: a.clone(),
            why: "need ip:port".into(),
        })?;
        let l = TcpListener::bind(sa)
            .await
            .map_err(|e| TransportError::io("bind", e))?;
        Ok(Box::new(PluginListener(l)))
    }

    async fn dial(&self, a: &Address) -> Result<RawConnection, TransportError> {
        let sa = a.socket_addr().ok_or_else(|| TransportError::BadAddress {
            addr: a.clone(),
            why: "need ip:port".into(),
        })?;
        let s = TcpStream::connect(sa)
            .await
            .map_err(|e| TransportError::io("connect", e))?;
        DIALS.fetch_add(1, Ordering::SeqCst);
        let local = s.local_addr().map_err(|e| TransportError::io("addr", e))?;
        Ok(raw(s, local, sa))
    }
}

struct PluginListener(TcpListener);

#[async_trait]
impl Listener for PluginListener {
    fn local_addrs(&self) -> Vec<Address> {
        self.0.local_addr().map(addr).into_iter().collect()
    }

    async fn accept(&mut self) -> Result<RawConnection, TransportError> {
        let (s, remote) = self
            .0
            .accept()
            .await
            .map_err(|e| TransportError::io("accept", e))?;
        ACCEPTS.fetch_add(1, Ordering::SeqCst);
        let local = s.local_addr().map_err(|e| TransportError::io("addr", e))?;
        Ok(raw(s, local, remote))
    }
}

fn create(_: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Transport(Arc::new(PluginTcp)))
}

rats_core::inventory::submit! {
    PluginFactory { name: "ptcp", kind: PluginKind::Transport, create }
}
