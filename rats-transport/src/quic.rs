//! QUIC (`quic:IP:PORT`) through `quinn`: a reliable byte stream over UDP, so a rats connection
//! can run where only UDP gets through (a punched hole, a UDP-only path).
//!
//! Each rats connection is one QUIC connection carrying one bidirectional stream; the rats
//! handshake (Noise) runs on that stream exactly as on TCP and authenticates the peer. QUIC's
//! own TLS therefore uses a throwaway self-signed certificate that is not checked (its
//! handshake signature still is); ALPN `rats`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rats_core::Address;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::transport::{Listener, RawConnection, Transport, TransportError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio::sync::mpsc;
use tracing::debug;

/// ALPN protocol id.
const ALPN: &[u8] = b"rats";
/// Handshakes of incoming connections in progress at most per listener.
const CONCURRENT_HANDSHAKES: usize = 32;
/// Longest wait for a QUIC handshake and the first stream.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle timeout of a QUIC connection (rats keepalives run far more often).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn io(context: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::io(context, std::io::Error::other(e.to_string()))
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    if let Ok(idle) = IDLE_TIMEOUT.try_into() {
        t.max_idle_timeout(Some(idle));
    }
    t.max_concurrent_bidi_streams(1u32.into());
    t.max_concurrent_uni_streams(0u32.into());
    Arc::new(t)
}

/// A server config with a fresh self-signed certificate.
fn server_config() -> Result<quinn::ServerConfig, TransportError> {
    let cert = rcgen::generate_simple_self_signed(vec!["rats".into()])
        .map_err(|e| io("QUIC certificate", e))?;
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| io("QUIC TLS", e))?
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .map_err(|e| io("QUIC TLS", e))?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| io("QUIC TLS", e))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(transport_config());
    Ok(cfg)
}

/// Accepts the server's certificate (the rats handshake on top authenticates the peer) but
/// checks its handshake signatures.
#[derive(Debug)]
struct NoCertCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_config() -> Result<quinn::ClientConfig, TransportError> {
    let p = provider();
    let mut tls = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| io("QUIC TLS", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoCertCheck(p)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| io("QUIC TLS", e))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport_config());
    Ok(cfg)
}

fn quic_addr(a: SocketAddr) -> Address {
    Address::new("quic", &a.to_string()).unwrap_or_else(|_| Address::tcp(a))
}

/// An endpoint on an existing UDP socket (one that was punched through a NAT, say), able to
/// accept and to dial; use [`QuicTransport::dial_on`] and [`QuicTransport::listener_on`].
pub fn endpoint_on(socket: std::net::UdpSocket) -> Result<quinn::Endpoint, TransportError> {
    socket
        .set_nonblocking(true)
        .map_err(|e| TransportError::io("QUIC socket", e))?;
    let mut ep = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(server_config()?),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|e| TransportError::io("QUIC endpoint", e))?;
    ep.set_default_client_config(client_config()?);
    Ok(ep)
}

/// The QUIC transport plugin.
#[derive(Debug, Default)]
pub struct QuicTransport {
    /// Dialing endpoints (IPv4, IPv6), made on first use.
    dialers: tokio::sync::Mutex<(Option<quinn::Endpoint>, Option<quinn::Endpoint>)>,
}

impl QuicTransport {
    async fn dialer(&self, v6: bool) -> Result<quinn::Endpoint, TransportError> {
        let mut d = self.dialers.lock().await;
        let slot = if v6 { &mut d.1 } else { &mut d.0 };
        if let Some(ep) = slot {
            return Ok(ep.clone());
        }
        let bind: SocketAddr = if v6 {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let mut ep =
            quinn::Endpoint::client(bind).map_err(|e| TransportError::io("QUIC endpoint", e))?;
        ep.set_default_client_config(client_config()?);
        *slot = Some(ep.clone());
        Ok(ep)
    }

    /// Dials `to` from `endpoint` (e.g. one made by [`endpoint_on`] on a punched socket).
    pub async fn dial_on(
        endpoint: &quinn::Endpoint,
        to: SocketAddr,
    ) -> Result<RawConnection, TransportError> {
        let connecting = endpoint
            .connect(to, "rats")
            .map_err(|e| io("QUIC connect", e))?;
        let conn = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
            .await
            .map_err(|_| io("QUIC connect", "handshake timed out"))?
            .map_err(|e| io("QUIC connect", e))?;
        let (send, recv) = conn.open_bi().await.map_err(|e| io("QUIC stream", e))?;
        let local = endpoint
            .local_addr()
            .map_err(|e| TransportError::io("QUIC endpoint", e))?;
        Ok(RawConnection {
            reader: Box::new(recv),
            writer: Box::new(send),
            local_addr: quic_addr(local),
            remote_addr: quic_addr(to),
        })
    }

    /// A listener accepting on `endpoint`.
    pub fn listener_on(endpoint: quinn::Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        let local = endpoint
            .local_addr()
            .map_err(|e| TransportError::io("QUIC endpoint", e))?;
        let (tx, ready) = mpsc::channel(CONCURRENT_HANDSHAKES);
        tokio::spawn(accept_connections(endpoint.clone(), tx));
        Ok(Box::new(QuicListener {
            local,
            ready,
            endpoint,
        }))
    }
}

/// Completes incoming handshakes (several at once) and hands over their first stream; ends
/// when the listener is dropped.
async fn accept_connections(endpoint: quinn::Endpoint, ready: mpsc::Sender<RawConnection>) {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_HANDSHAKES));
    loop {
        let incoming = tokio::select! {
            _ = ready.closed() => return,
            i = endpoint.accept() => match i {
                Some(i) => i,
                None => return,
            },
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            // Too many handshakes at once: refuse rather than queue without bound.
            incoming.refuse();
            continue;
        };
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let remote = incoming.remote_address();
            let accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, async move {
                let conn = incoming.await?;
                let local = conn.local_ip();
                let (send, recv) = conn.accept_bi().await?;
                Ok::<_, quinn::ConnectionError>((send, recv, local))
            })
            .await;
            match accepted {
                Ok(Ok((send, recv, _))) => {
                    let raw = RawConnection {
                        reader: Box::new(recv),
                        writer: Box::new(send),
                        local_addr: quic_addr(remote),
                        remote_addr: quic_addr(remote),
                    };
                    let _ = ready.send(raw).await;
                }
                Ok(Err(e)) => debug!(%remote, error = %e, "QUIC handshake failed"),
                Err(_) => debug!(%remote, "QUIC handshake timed out"),
            }
        });
    }
}

struct QuicListener {
    local: SocketAddr,
    ready: mpsc::Receiver<RawConnection>,
    endpoint: quinn::Endpoint,
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"listener closed");
    }
}

#[async_trait]
impl Listener for QuicListener {
    fn local_addrs(&self) -> Vec<Address> {
        vec![quic_addr(self.local)]
    }

    async fn accept(&mut self) -> Result<RawConnection, TransportError> {
        let mut raw = self.ready.recv().await.ok_or(TransportError::Closed)?;
        raw.local_addr = quic_addr(self.local);
        Ok(raw)
    }
}

#[async_trait]
impl Transport for QuicTransport {
    fn name(&self) -> &'static str {
        "quic"
    }

    async fn listen(&self, addr: &Address) -> Result<Box<dyn Listener>, TransportError> {
        let bind = addr
            .socket_addr()
            .ok_or_else(|| TransportError::BadAddress {
                addr: addr.clone(),
                why: "expected quic:IP:PORT".into(),
            })?;
        let endpoint = quinn::Endpoint::server(server_config()?, bind)
            .map_err(|e| TransportError::io(format!("QUIC listen on {bind}"), e))?;
        Self::listener_on(endpoint)
    }

    async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError> {
        let to = addr
            .socket_addr()
            .ok_or_else(|| TransportError::BadAddress {
                addr: addr.clone(),
                why: "expected quic:IP:PORT".into(),
            })?;
        let endpoint = self.dialer(to.is_ipv6()).await?;
        Self::dial_on(&endpoint, to).await
    }

    async fn stop(&self) {
        let mut d = self.dialers.lock().await;
        for ep in [d.0.take(), d.1.take()].into_iter().flatten() {
            ep.close(0u32.into(), b"node stopped");
        }
    }
}

fn create(_cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Transport(Arc::new(QuicTransport::default())))
}

rats_core::inventory::submit! {
    PluginFactory { name: "quic", kind: PluginKind::Transport, create }
}
