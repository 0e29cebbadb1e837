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
use rats_core::transport::{
    DatagramPath, Listener, PathEndpoint, RawConnection, Transport, TransportError,
};
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
/// Idle timeout of a QUIC connection; QUIC keepalives (below) keep quiet ones open, and rats
/// has its own idle timeout on top.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// QUIC keepalive: also keeps NAT mappings of punched paths open.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Flow-control windows: one stream per connection, so its window bounds throughput per round
/// trip (quinn's 1.25 MB default would cap a 100 ms path at ~12 MB/s).
const WINDOW: u32 = 16 * 1024 * 1024;
/// Handshakes in progress from one IP at most.
const HANDSHAKES_PER_IP: usize = 4;
/// Below this many free handshake slots, unvalidated sources must prove their address first
/// (QUIC Retry), so spoofed packets cannot hold slots.
const RETRY_BELOW: usize = 8;
/// How long a closed writer keeps its connection open for unacknowledged data to arrive.
const LINGER: Duration = Duration::from_secs(5);

/// Handshakes in progress per source IP.
type PerIp = Arc<parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn io(context: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::io(context, std::io::Error::other(e.to_string()))
}

/// Initial RTT estimate for dials from an existing (punched) socket: the first Initial may be
/// dropped by the other side's NAT before its own packets open it, and the retransmission
/// should come in a few hundred milliseconds, not quinn's default second.
const PUNCH_INITIAL_RTT: Duration = Duration::from_millis(100);

fn transport_config() -> Arc<quinn::TransportConfig> {
    Arc::new(base_transport_config())
}

fn base_transport_config() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    if let Ok(idle) = IDLE_TIMEOUT.try_into() {
        t.max_idle_timeout(Some(idle));
    }
    t.max_concurrent_bidi_streams(1u32.into());
    t.max_concurrent_uni_streams(0u32.into());
    t.keep_alive_interval(Some(KEEPALIVE));
    t.stream_receive_window(WINDOW.into());
    t.receive_window(WINDOW.into());
    t.send_window(u64::from(WINDOW));
    // rats sends no QUIC datagrams: do not offer to buffer any.
    t.datagram_receive_buffer_size(None);
    t
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
    // Every server is "rats": tickets from one peer offered to another would only link us.
    tls.resumption = rustls::client::Resumption::disabled();
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| io("QUIC TLS", e))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport_config());
    Ok(cfg)
}

/// `quic:` address of `a`, with IPv4-mapped IPv6 addresses (dual-stack sockets) made IPv4.
fn quic_addr(a: SocketAddr) -> Address {
    let a = SocketAddr::new(a.ip().to_canonical(), a.port());
    Address::new("quic", &a.to_string()).unwrap_or_else(|_| Address::tcp(a))
}

/// The send half of a rats connection: on drop it finishes the stream and keeps the
/// connection open (at most [`LINGER`]) until the peer has what was written, like a TCP
/// socket's close; a bare drop would close the QUIC connection and lose unsent data.
struct LingeringWriter(Option<quinn::SendStream>);

impl tokio::io::AsyncWrite for LingeringWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.0.as_mut() {
            Some(s) => tokio::io::AsyncWrite::poll_write(std::pin::Pin::new(s), cx, buf),
            None => std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.0.as_mut() {
            Some(s) => tokio::io::AsyncWrite::poll_flush(std::pin::Pin::new(s), cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.0.as_mut() {
            Some(s) => tokio::io::AsyncWrite::poll_shutdown(std::pin::Pin::new(s), cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}

impl Drop for LingeringWriter {
    fn drop(&mut self) {
        let Some(mut send) = self.0.take() else {
            return;
        };
        let _ = send.finish();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let acked = send.stopped();
                let _ = tokio::time::timeout(LINGER, acked).await;
                drop(send);
            });
        }
    }
}

fn raw(
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    local: SocketAddr,
    remote: SocketAddr,
) -> RawConnection {
    RawConnection {
        reader: Box::new(recv),
        writer: Box::new(LingeringWriter(Some(send))),
        local_addr: quic_addr(local),
        remote_addr: quic_addr(remote),
    }
}

/// An endpoint on an existing UDP socket (one that was punched through a NAT, say), able to
/// accept and to dial; use [`QuicTransport::dial_on`] and [`QuicTransport::listener_on`].
pub(crate) fn endpoint_on(socket: std::net::UdpSocket) -> Result<quinn::Endpoint, TransportError> {
    socket
        .set_nonblocking(true)
        .map_err(|e| TransportError::io("QUIC socket", e))?;
    let socket = quinn::Runtime::wrap_udp_socket(&quinn::TokioRuntime, socket)
        .map_err(|e| TransportError::io("QUIC socket", e))?;
    endpoint_on_socket(socket)
}

/// [`endpoint_on`] for any socket quinn can drive (a datagram pipe, say).
pub(crate) fn endpoint_on_socket(
    socket: Arc<dyn quinn::AsyncUdpSocket>,
) -> Result<quinn::Endpoint, TransportError> {
    let mut ep = quinn::Endpoint::new_with_abstract_socket(
        quinn::EndpointConfig::default(),
        Some(server_config()?),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|e| TransportError::io("QUIC endpoint", e))?;
    let mut client = client_config()?;
    let mut t = base_transport_config();
    t.initial_rtt(PUNCH_INITIAL_RTT);
    client.transport_config(Arc::new(t));
    ep.set_default_client_config(client);
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

    async fn drop_dialer(&self, v6: bool) {
        let mut d = self.dialers.lock().await;
        if v6 {
            d.1 = None;
        } else {
            d.0 = None;
        }
    }

    /// Dials `to` from `endpoint` (e.g. one made by [`endpoint_on`] on a punched socket).
    pub(crate) async fn dial_on(
        endpoint: &quinn::Endpoint,
        to: SocketAddr,
    ) -> Result<RawConnection, TransportError> {
        let connecting = endpoint
            .connect(to, "rats")
            .map_err(|e| io("QUIC connect", e))?;
        let opened = tokio::time::timeout(HANDSHAKE_TIMEOUT, async move {
            let conn = connecting.await?;
            conn.open_bi().await
        })
        .await
        .map_err(|_| io("QUIC connect", "handshake timed out"))?;
        let (send, recv) = opened.map_err(|e| io("QUIC connect", e))?;
        let local = endpoint
            .local_addr()
            .map_err(|e| TransportError::io("QUIC endpoint", e))?;
        Ok(raw(send, recv, local, to))
    }

    /// A listener accepting on `endpoint`.
    pub(crate) fn listener_on(
        endpoint: quinn::Endpoint,
    ) -> Result<Box<dyn Listener>, TransportError> {
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
    let per_ip: PerIp = Arc::default();
    loop {
        let incoming = tokio::select! {
            _ = ready.closed() => return,
            i = endpoint.accept() => match i {
                Some(i) => i,
                None => return,
            },
        };
        // Spoofed sources must not hold handshake slots: when few are free, unvalidated
        // sources prove their address first.
        if limit.available_permits() < RETRY_BELOW
            && !incoming.remote_address_validated()
            && incoming.may_retry()
        {
            let _ = incoming.retry();
            continue;
        }
        let ip = incoming.remote_address().ip().to_canonical();
        let admitted = {
            let mut m = per_ip.lock();
            let n = m.entry(ip).or_insert(0);
            *n += 1;
            *n <= HANDSHAKES_PER_IP
        };
        let permit = match limit.clone().try_acquire_owned() {
            Ok(p) if admitted => p,
            // Too many handshakes (in all, or from this IP): refuse rather than queue.
            _ => {
                release(&per_ip, ip);
                incoming.refuse();
                continue;
            }
        };
        let (ready, per_ip) = (ready.clone(), per_ip.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let remote = incoming.remote_address();
            let accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, async move {
                let conn = incoming.await?;
                conn.accept_bi().await
            })
            .await;
            release(&per_ip, ip);
            match accepted {
                Ok(Ok((send, recv))) => {
                    let _ = ready.send(raw(send, recv, remote, remote)).await;
                }
                Ok(Err(e)) => debug!(%remote, error = %e, "QUIC handshake failed"),
                Err(_) => debug!(%remote, "QUIC handshake timed out"),
            }
        });
    }
}

fn release(per_ip: &PerIp, ip: std::net::IpAddr) {
    let mut m = per_ip.lock();
    if let Some(n) = m.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            m.remove(&ip);
        }
    }
}

struct QuicListener {
    local: SocketAddr,
    ready: mpsc::Receiver<RawConnection>,
    endpoint: quinn::Endpoint,
}

impl Drop for QuicListener {
    /// Stops taking new connections; the ones already accepted (and any dialed from the same
    /// endpoint) live on, as with TCP.
    fn drop(&mut self) {
        self.endpoint.set_server_config(None);
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
        let v6 = to.is_ipv6();
        let endpoint = self.dialer(v6).await?;
        match Self::dial_on(&endpoint, to).await {
            Err(e) if endpoint.open_connections() == 0 => {
                // The endpoint may have died (its socket failed): make a fresh one, once.
                debug!(error = %e, "QUIC dial failed; retrying on a new endpoint");
                self.drop_dialer(v6).await;
                let endpoint = self.dialer(v6).await?;
                Self::dial_on(&endpoint, to).await
            }
            r => r,
        }
    }

    fn runs_over_datagrams(&self) -> bool {
        true
    }

    fn bind_path(
        &self,
        path: DatagramPath,
        accept: bool,
    ) -> Result<Arc<dyn PathEndpoint>, TransportError> {
        let endpoint = match path {
            DatagramPath::Socket(socket) => endpoint_on(socket)?,
            DatagramPath::Pipe(pipe) => crate::datagram::endpoint_on_pipe(pipe)?,
        };
        if !accept {
            endpoint.set_server_config(None);
        }
        Ok(Arc::new(QuicPathEndpoint(endpoint)))
    }

    async fn stop(&self) {
        let endpoints: Vec<quinn::Endpoint> = {
            let mut d = self.dialers.lock().await;
            [d.0.take(), d.1.take()].into_iter().flatten().collect()
        };
        for ep in endpoints {
            // Let connections deliver what they hold (briefly), then close.
            let _ = tokio::time::timeout(Duration::from_secs(1), ep.wait_idle()).await;
            ep.close(0u32.into(), b"node stopped");
        }
    }
}

/// A QUIC endpoint on a datagram path (see [`Transport::bind_path`]).
struct QuicPathEndpoint(quinn::Endpoint);

#[async_trait]
impl PathEndpoint for QuicPathEndpoint {
    fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.0
            .local_addr()
            .map_err(|e| TransportError::io("QUIC endpoint", e))
    }

    async fn dial(&self, remote: SocketAddr) -> Result<RawConnection, TransportError> {
        QuicTransport::dial_on(&self.0, remote).await
    }

    fn listen(&self) -> Result<Box<dyn Listener>, TransportError> {
        QuicTransport::listener_on(self.0.clone())
    }

    fn close(&self, reason: &[u8]) {
        self.0.close(0u32.into(), reason);
    }

    async fn wait_idle(&self) {
        self.0.wait_idle().await;
    }
}

fn create(_cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Transport(Arc::new(QuicTransport::default())))
}

rats_core::inventory::submit! {
    PluginFactory { name: "quic", kind: PluginKind::Transport, create }
}
