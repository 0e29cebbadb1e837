//! A TURN client (RFC 8656) over a TCP control connection, with TCP relaying (RFC 6062):
//! Allocate with long-term credentials, Refresh, CreatePermission, Connect, and
//! ConnectionBind on data connections that then carry raw bytes to the peer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::inbound::{self, Inbound};
use crate::stun::message::{self as msg, Class, Message, MessageBuilder, attr, message_len};

/// RFC 6062 methods and attributes.
pub mod tcp {
    /// Connect
    pub const CONNECT: u16 = 0x000A;
    /// ConnectionBind
    pub const CONNECTION_BIND: u16 = 0x000B;
    /// ConnectionAttempt (indication)
    pub const CONNECTION_ATTEMPT: u16 = 0x000C;
    /// CONNECTION-ID
    pub const CONNECTION_ID: u16 = 0x002A;
}

/// Largest STUN message read from a TCP connection.
const MAX_MESSAGE: usize = 4096;
/// Longest wait for a TURN answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Incoming connection attempts buffered.
const ATTEMPT_QUEUE: usize = 64;
/// Relayed datagrams buffered for a reader (UDP allocations); more are dropped, as UDP may.
const DATA_QUEUE: usize = 256;
/// Channel numbers (RFC 8656 §12: 0x4000-0x4FFF).
const FIRST_CHANNEL: u16 = 0x4000;
const LAST_CHANNEL: u16 = 0x4FFF;
/// UDP requests: first retransmission timeout (doubled) and tries.
const UDP_RTO: Duration = Duration::from_millis(250);
const UDP_TRIES: u32 = 5;

/// How the client talks to the server.
enum Wire {
    /// A TCP control connection (messages framed by their STUN length).
    Tcp(tokio::sync::Mutex<OwnedWriteHalf>),
    /// UDP (requests retransmitted).
    Udp(Arc<UdpSocket>),
}

/// A datagram from a peer through a UDP allocation.
pub type Relayed = (SocketAddr, Vec<u8>);

/// Channel bindings both ways.
#[derive(Default)]
struct Channels {
    by_number: HashMap<u16, SocketAddr>,
    by_peer: HashMap<SocketAddr, u16>,
}

/// Errors of the TURN client.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// Socket error.
    #[error("TURN connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered with an error.
    #[error("TURN error {code}: {reason}")]
    Server {
        /// Code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// No answer in time, or the control connection closed.
    #[error("no TURN answer")]
    NoAnswer,
    /// The answer lacked what it must carry or failed its integrity check.
    #[error("bad TURN answer: {0}")]
    BadAnswer(&'static str),
}

/// Long-term credentials.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A peer trying to reach our relayed address (RFC 6062 ConnectionAttempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionAttempt {
    /// Its connection id, for ConnectionBind.
    pub id: u32,
    /// The peer's address as the server sees it.
    pub peer: SocketAddr,
}

/// Transactions waiting for their answer, by transaction id.
type Pending = Arc<Mutex<HashMap<[u8; 12], oneshot::Sender<Vec<u8>>>>>;

#[derive(Default)]
struct Auth {
    realm: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
    key: Option<[u8; 16]>,
}

/// A TURN control connection.
pub struct TurnClient {
    server: SocketAddr,
    creds: Credentials,
    wire: Wire,
    pending: Pending,
    channels: Arc<Mutex<Channels>>,
    auth: Mutex<Auth>,
    /// False once the control connection has closed.
    alive: Arc<AtomicBool>,
}

impl std::fmt::Debug for TurnClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Reads one STUN message from a TCP stream (bounded).
async fn read_message<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; msg::HEADER_LEN];
    r.read_exact(&mut head).await?;
    let len = message_len(&head).unwrap_or(msg::HEADER_LEN);
    if len > MAX_MESSAGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "STUN message too large",
        ));
    }
    let mut buf = head.to_vec();
    buf.resize(len, 0);
    r.read_exact(&mut buf[msg::HEADER_LEN..]).await?;
    Ok(buf)
}

impl TurnClient {
    /// Opens the control connection; connection attempts from peers arrive on the receiver.
    pub async fn connect(
        server: SocketAddr,
        creds: Credentials,
    ) -> Result<(Arc<TurnClient>, mpsc::Receiver<ConnectionAttempt>), TurnError> {
        let stream = tokio::time::timeout(ANSWER_TIMEOUT, TcpStream::connect(server))
            .await
            .map_err(|_| TurnError::NoAnswer)??;
        stream.set_nodelay(true)?;
        let (mut reader, writer) = stream.into_split();
        let pending: Pending = Arc::default();
        let (attempts_tx, attempts) = mpsc::channel(ATTEMPT_QUEUE);
        let dispatch = pending.clone();
        let alive = Arc::new(AtomicBool::new(true));
        let alive_flag = alive.clone();
        tokio::spawn(async move {
            // Answers go to their transaction; ConnectionAttempts to the listener; anything
            // malformed is dropped. Ends when the server closes the connection.
            while let Ok(m) = read_message(&mut reader).await {
                match inbound::control_message(&m) {
                    Inbound::Answer { tid } => {
                        let waiter = dispatch.lock().remove(&tid);
                        if let Some(w) = waiter {
                            let _ = w.send(m);
                        }
                    }
                    Inbound::ConnectionAttempt(attempt) => {
                        let _ = attempts_tx.try_send(attempt);
                    }
                    _ => debug!("dropping a malformed or unexpected TURN message"),
                }
            }
            alive_flag.store(false, Ordering::Release);
            dispatch.lock().clear();
        });
        Ok((
            Arc::new(TurnClient {
                server,
                creds,
                wire: Wire::Tcp(tokio::sync::Mutex::new(writer)),
                pending,
                channels: Arc::default(),
                auth: Mutex::new(Auth::default()),
                alive,
            }),
            attempts,
        ))
    }

    /// Talks to the server over UDP (for UDP allocations); datagrams relayed from peers
    /// (ChannelData or Data indications) arrive on the receiver.
    pub async fn connect_udp(
        server: SocketAddr,
        creds: Credentials,
    ) -> Result<(Arc<TurnClient>, mpsc::Receiver<Relayed>), TurnError> {
        let bind: SocketAddr = if server.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let sock = Arc::new(UdpSocket::bind(bind).await?);
        let pending: Pending = Arc::default();
        let channels: Arc<Mutex<Channels>> = Arc::default();
        let (data_tx, data) = mpsc::channel(DATA_QUEUE);
        let alive = Arc::new(AtomicBool::new(true));
        let client = Arc::new(TurnClient {
            server,
            creds,
            wire: Wire::Udp(sock.clone()),
            pending: pending.clone(),
            channels: channels.clone(),
            auth: Mutex::new(Auth::default()),
            alive: alive.clone(),
        });
        // The reader holds the socket only weakly, so dropping the client ends it.
        let weak = Arc::downgrade(&sock);
        drop(sock);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Some(sock) = weak.upgrade() else { break };
                let r =
                    tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf)).await;
                drop(sock);
                let (n, from) = match r {
                    Err(_) => continue,
                    Ok(Err(_)) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Ok(Ok(x)) => x,
                };
                // Only the server speaks to this socket.
                if from != server || n < 4 {
                    continue;
                }
                let packet = &buf[..n];
                match inbound::datagram(packet) {
                    Inbound::ChannelData { number, data } => {
                        let peer = channels.lock().by_number.get(&number).copied();
                        if let Some(peer) = peer {
                            let _ = data_tx.try_send((peer, data.to_vec()));
                        }
                    }
                    Inbound::Answer { tid } => {
                        let waiter = pending.lock().remove(&tid);
                        if let Some(w) = waiter {
                            let _ = w.send(packet.to_vec());
                        }
                    }
                    Inbound::Data { peer, data } => {
                        let _ = data_tx.try_send((peer, data.to_vec()));
                    }
                    _ => {}
                }
            }
            alive.store(false, Ordering::Release);
        });
        Ok((client, data))
    }

    /// Allocates a UDP relayed address; returns it and its lifetime.
    pub async fn allocate_udp(&self) -> Result<(SocketAddr, Duration), TurnError> {
        self.allocate(17).await
    }

    /// Binds a channel to `peer` (RFC 8656 §12; also installs its permission); later
    /// datagrams to and from it travel as 4-byte-header ChannelData. Returns the number.
    pub async fn channel_bind(&self, peer: SocketAddr) -> Result<u16, TurnError> {
        let number = {
            let c = self.channels.lock();
            if let Some(n) = c.by_peer.get(&peer) {
                *n
            } else {
                (FIRST_CHANNEL..=LAST_CHANNEL)
                    .find(|n| !c.by_number.contains_key(n))
                    .ok_or(TurnError::BadAnswer("no channel number left"))?
            }
        };
        self.request(|| {
            let mut v = number.to_be_bytes().to_vec();
            v.extend_from_slice(&[0, 0]);
            MessageBuilder::new(msg::method::CHANNEL_BIND, Class::Request)
                .attr(attr::CHANNEL_NUMBER, &v)
                .xor_address(attr::XOR_PEER_ADDRESS, &peer)
        })
        .await?;
        let mut c = self.channels.lock();
        c.by_number.insert(number, peer);
        c.by_peer.insert(peer, number);
        Ok(number)
    }

    /// Sends a datagram to `peer` through the relay: ChannelData when a channel is bound,
    /// else a Send indication (the peer needs a permission).
    pub async fn send_to(&self, peer: SocketAddr, data: &[u8]) -> Result<(), TurnError> {
        let channel = self.channels.lock().by_peer.get(&peer).copied();
        let bytes = match channel {
            Some(n) => {
                let len = u16::try_from(data.len())
                    .map_err(|_| TurnError::BadAnswer("datagram too large"))?;
                let mut v = Vec::with_capacity(4 + data.len() + 3);
                v.extend_from_slice(&n.to_be_bytes());
                v.extend_from_slice(&len.to_be_bytes());
                v.extend_from_slice(data);
                if matches!(self.wire, Wire::Tcp(_)) {
                    // Over a stream ChannelData is padded to 4 bytes (RFC 8656 §12.5).
                    while !v.len().is_multiple_of(4) {
                        v.push(0);
                    }
                }
                v
            }
            None => MessageBuilder::new(msg::method::SEND, Class::Indication)
                .xor_address(attr::XOR_PEER_ADDRESS, &peer)
                .attr(attr::DATA, data)
                .build(None),
        };
        self.send(&bytes).await?;
        Ok(())
    }

    async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        match &self.wire {
            Wire::Tcp(w) => w.lock().await.write_all(bytes).await,
            Wire::Udp(sock) => sock.send_to(bytes, self.server).await.map(|_| ()),
        }
    }

    /// The server.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Whether the control connection is still open (the allocation lives only with it).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn signed(&self, mut b: MessageBuilder) -> Vec<u8> {
        let auth = self.auth.lock();
        match (&auth.realm, &auth.nonce, &auth.key) {
            (Some(realm), Some(nonce), Some(key)) => {
                b = b
                    .attr(attr::USERNAME, self.creds.username.as_bytes())
                    .attr(attr::REALM, realm)
                    .attr(attr::NONCE, nonce);
                b.build(Some(key))
            }
            _ => b.build(None),
        }
    }

    /// Sends a request (built afresh by `make` for a retry) and returns the success answer;
    /// learns realm and nonce from a 401 and a new nonce from a 438, retrying once each.
    async fn request(&self, make: impl Fn() -> MessageBuilder) -> Result<Vec<u8>, TurnError> {
        for _ in 0..3 {
            let b = make();
            let tid = b.tid();
            let bytes = self.signed(b);
            let (tx, rx) = oneshot::channel();
            self.pending.lock().insert(tid, tx);
            if let Err(e) = self.send(&bytes).await {
                self.pending.lock().remove(&tid);
                return Err(e.into());
            }
            let answer = match &self.wire {
                Wire::Tcp(_) => tokio::time::timeout(ANSWER_TIMEOUT, rx).await.ok(),
                Wire::Udp(_) => {
                    // Retransmit with a doubling timeout until answered (RFC 8489 §6.2.1).
                    let mut rx = rx;
                    let mut wait = UDP_RTO;
                    let mut got = None;
                    for _ in 0..UDP_TRIES {
                        if let Ok(a) = tokio::time::timeout(wait, &mut rx).await {
                            got = Some(a);
                            break;
                        }
                        let _ = self.send(&bytes).await;
                        wait *= 2;
                    }
                    got
                }
            };
            self.pending.lock().remove(&tid);
            let answer = answer
                .ok_or(TurnError::NoAnswer)?
                .map_err(|_| TurnError::NoAnswer)?;
            let m = Message::decode(&answer).map_err(|_| TurnError::BadAnswer("malformed"))?;
            if m.class == Class::Success {
                let key = self.auth.lock().key;
                // Once authenticated, answers must prove they come from the server.
                if let Some(key) = key
                    && !m.check_integrity(&key)
                {
                    return Err(TurnError::BadAnswer("integrity"));
                }
                return Ok(answer);
            }
            let (code, reason) = m.error_code().unwrap_or((0, String::new()));
            match code {
                401 | 438 => {
                    let realm = m.attr(attr::REALM).map(<[u8]>::to_vec);
                    let nonce = m.attr(attr::NONCE).map(<[u8]>::to_vec);
                    let mut auth = self.auth.lock();
                    if code == 401 && auth.key.is_some() && auth.nonce == nonce {
                        // Same nonce and still unauthorized: the credentials are wrong.
                        return Err(TurnError::Server { code, reason });
                    }
                    if let Some(r) = realm {
                        auth.key = Some(long_term_key(&self.creds, &r));
                        auth.realm = Some(r);
                    }
                    if nonce.is_some() {
                        auth.nonce = nonce;
                    }
                    if auth.realm.is_none() || auth.nonce.is_none() {
                        return Err(TurnError::BadAnswer("401 without realm or nonce"));
                    }
                }
                _ => return Err(TurnError::Server { code, reason }),
            }
        }
        Err(TurnError::NoAnswer)
    }

    /// Allocates a TCP relayed address (RFC 6062); returns it and its lifetime.
    pub async fn allocate_tcp(&self) -> Result<(SocketAddr, Duration), TurnError> {
        self.allocate(6).await
    }

    /// Allocates a relayed address for IP protocol `protocol` (17 UDP, 6 TCP).
    async fn allocate(&self, protocol: u8) -> Result<(SocketAddr, Duration), TurnError> {
        let a = self
            .request(|| {
                MessageBuilder::new(msg::method::ALLOCATE, Class::Request)
                    .attr(attr::REQUESTED_TRANSPORT, &[protocol, 0, 0, 0])
            })
            .await?;
        let m = Message::decode(&a).map_err(|_| TurnError::BadAnswer("malformed"))?;
        let relayed = m
            .xor_address(attr::XOR_RELAYED_ADDRESS)
            .ok_or(TurnError::BadAnswer("no relayed address"))?;
        Ok((relayed, lifetime_of(&m)))
    }

    /// Refreshes the allocation; returns the lifetime granted.
    pub async fn refresh(&self, lifetime: Option<Duration>) -> Result<Duration, TurnError> {
        let a = self
            .request(|| {
                let b = MessageBuilder::new(msg::method::REFRESH, Class::Request);
                match lifetime {
                    Some(l) => b.attr(attr::LIFETIME, &(l.as_secs() as u32).to_be_bytes()),
                    None => b,
                }
            })
            .await?;
        let m = Message::decode(&a).map_err(|_| TurnError::BadAnswer("malformed"))?;
        Ok(lifetime_of(&m))
    }

    /// Lets `ip` reach our relayed address (and us send to it) for five minutes.
    pub async fn create_permission(&self, ip: IpAddr) -> Result<(), TurnError> {
        self.request(|| {
            MessageBuilder::new(msg::method::CREATE_PERMISSION, Class::Request)
                .xor_address(attr::XOR_PEER_ADDRESS, &SocketAddr::new(ip, 0))
        })
        .await
        .map(|_| ())
    }

    /// Asks the server to open a TCP connection from our relayed address to `peer`
    /// (RFC 6062 Connect); returns its connection id for [`bind`](Self::bind).
    pub async fn connect_peer(&self, peer: SocketAddr) -> Result<u32, TurnError> {
        let a = self
            .request(|| {
                MessageBuilder::new(tcp::CONNECT, Class::Request)
                    .xor_address(attr::XOR_PEER_ADDRESS, &peer)
            })
            .await?;
        let m = Message::decode(&a).map_err(|_| TurnError::BadAnswer("malformed"))?;
        m.attr(tcp::CONNECTION_ID)
            .and_then(|v| v.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or(TurnError::BadAnswer("no connection id"))
    }

    /// Opens a data connection to the server and binds it to connection `id`; from then on it
    /// carries the peer's bytes. A stale nonce (438) is learned and the bind tried once more.
    pub async fn bind(&self, id: u32) -> Result<TcpStream, TurnError> {
        for _ in 0..2 {
            let mut data = tokio::time::timeout(ANSWER_TIMEOUT, TcpStream::connect(self.server))
                .await
                .map_err(|_| TurnError::NoAnswer)??;
            data.set_nodelay(true)?;
            let b = MessageBuilder::new(tcp::CONNECTION_BIND, Class::Request)
                .attr(tcp::CONNECTION_ID, &id.to_be_bytes());
            let tid = b.tid();
            data.write_all(&self.signed(b)).await?;
            let answer = tokio::time::timeout(ANSWER_TIMEOUT, read_message(&mut data))
                .await
                .map_err(|_| TurnError::NoAnswer)??;
            let m = Message::decode(&answer).map_err(|_| TurnError::BadAnswer("malformed"))?;
            if m.tid != tid {
                return Err(TurnError::BadAnswer("another transaction"));
            }
            if m.class == Class::Success {
                let key = self.auth.lock().key;
                if let Some(key) = key
                    && !m.check_integrity(&key)
                {
                    return Err(TurnError::BadAnswer("integrity"));
                }
                return Ok(data);
            }
            let (code, reason) = m.error_code().unwrap_or((0, String::new()));
            if code == 438
                && let Some(nonce) = m.attr(attr::NONCE)
            {
                self.auth.lock().nonce = Some(nonce.to_vec());
                continue;
            }
            return Err(TurnError::Server { code, reason });
        }
        Err(TurnError::NoAnswer)
    }
}

fn lifetime_of(m: &Message<'_>) -> Duration {
    let secs = m
        .attr(attr::LIFETIME)
        .and_then(|v| v.try_into().ok())
        .map(u32::from_be_bytes)
        .unwrap_or(600);
    Duration::from_secs(u64::from(secs))
}

/// RFC 8489 §9.2.2: MD5(username ":" realm ":" password).
fn long_term_key(c: &Credentials, realm: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(c.username.as_bytes());
    h.update(b":");
    h.update(realm);
    h.update(b":");
    h.update(c.password.as_bytes());
    h.finalize().into()
}
