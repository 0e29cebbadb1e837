//! A transport plugin from outside the rats crates, for the registry tests: plain TCP under
//! two other schemes.
//!
//! - `ptcp` submits itself to the registry with `inventory`: a program that merely depends on
//!   this crate does not get it (the linker drops an unreferenced crate); one that writes
//!   `use rats_ptcp_transport as _;` does.
//! - `xtcp` is only exported as [`XTCP`], for explicit registration
//!   (`RatsClient::builder().plugin(&XTCP)`).
//!
//! Nothing else distinguishes them, so a connection over either scheme proves that way of
//! registering works.

use std::sync::Arc;

use async_trait::async_trait;
use rats_core::Address;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::transport::{Listener, RawConnection, Transport, TransportError};
use tokio::net::{TcpListener, TcpStream};

/// The explicitly registered `xtcp` transport's factory.
pub static XTCP: PluginFactory = PluginFactory {
    name: "xtcp",
    kind: PluginKind::Transport,
    create: create_xtcp,
};

/// Plain TCP under another scheme.
#[derive(Debug)]
pub struct SchemeTcp {
    scheme: &'static str,
}

impl SchemeTcp {
    fn addr(&self, sa: std::net::SocketAddr) -> Result<Address, TransportError> {
        Address::new(self.scheme, &sa.to_string()).map_err(|e| TransportError::BadAddress {
            addr: Address::tcp(sa),
            why: e.to_string(),
        })
    }

    fn raw(
        &self,
        s: TcpStream,
        remote: std::net::SocketAddr,
    ) -> Result<RawConnection, TransportError> {
        let local = s.local_addr().map_err(|e| TransportError::io("addr", e))?;
        let (r, w) = s.into_split();
        Ok(RawConnection {
            reader: Box::new(r),
            writer: Box::new(w),
            local_addr: self.addr(local)?,
            remote_addr: self.addr(remote)?,
        })
    }
}

fn socket_addr(a: &Address) -> Result<std::net::SocketAddr, TransportError> {
    a.socket_addr().ok_or_else(|| TransportError::BadAddress {
        addr: a.clone(),
        why: "need ip:port".into(),
    })
}

#[async_trait]
impl Transport for SchemeTcp {
    fn name(&self) -> &'static str {
        self.scheme
    }

    fn can_dial(&self, a: &Address) -> bool {
        a.scheme() == self.scheme
    }

    async fn listen(&self, a: &Address) -> Result<Box<dyn Listener>, TransportError> {
        let l = TcpListener::bind(socket_addr(a)?)
            .await
            .map_err(|e| TransportError::io("bind", e))?;
        Ok(Box::new(SchemeListener {
            listener: l,
            transport: SchemeTcp {
                scheme: self.scheme,
            },
        }))
    }

    async fn dial(&self, a: &Address) -> Result<RawConnection, TransportError> {
        let sa = socket_addr(a)?;
        let s = TcpStream::connect(sa)
            .await
            .map_err(|e| TransportError::io("connect", e))?;
        self.raw(s, sa)
    }
}

struct SchemeListener {
    listener: TcpListener,
    transport: SchemeTcp,
}

#[async_trait]
impl Listener for SchemeListener {
    fn local_addrs(&self) -> Vec<Address> {
        let local = self.listener.local_addr().ok();
        local
            .and_then(|a| self.transport.addr(a).ok())
            .into_iter()
            .collect()
    }

    async fn accept(&mut self) -> Result<RawConnection, TransportError> {
        let (s, remote) = self
            .listener
            .accept()
            .await
            .map_err(|e| TransportError::io("accept", e))?;
        self.transport.raw(s, remote)
    }
}

fn create_ptcp(_: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Transport(Arc::new(SchemeTcp { scheme: "ptcp" })))
}

fn create_xtcp(_: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Transport(Arc::new(SchemeTcp { scheme: "xtcp" })))
}

rats_core::inventory::submit! {
    PluginFactory { name: "ptcp", kind: PluginKind::Transport, create: create_ptcp }
}
