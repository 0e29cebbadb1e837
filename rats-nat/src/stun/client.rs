//! STUN Binding transactions over UDP (RFC 8489 §6.2.1: retransmissions with a doubling
//! timeout), with RFC 5780's CHANGE-REQUEST.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::message::{Class, Message, MessageBuilder, attr, method};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Errors of STUN transactions.
#[derive(Debug, thiserror::Error)]
pub enum StunError {
    /// No answer after every retransmission.
    #[error("no STUN answer from {0}")]
    Timeout(SocketAddr),
    /// Socket error.
    #[error("STUN socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered with an error.
    #[error("STUN error {code} from {server}: {reason}")]
    ErrorResponse {
        /// The server.
        server: SocketAddr,
        /// The error code.
        code: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The answer had no mapped address.
    #[error("STUN answer from {0} without a mapped address")]
    NoMappedAddress(SocketAddr),
    /// No server was configured or could be resolved.
    #[error("no STUN server available")]
    NoServer,
}

/// Retransmission timing: the first wait, doubled after each try.
#[derive(Clone, Copy, Debug)]
pub struct Retransmit {
    /// First retransmission timeout.
    pub rto: Duration,
    /// Requests sent at most.
    pub tries: u32,
}

impl Default for Retransmit {
    /// 250 ms, 5 tries: about 7.75 s in all (RFC 8489's 500 ms × 7 takes 39.5 s, too long to
    /// wait for a NAT check).
    fn default() -> Self {
        Retransmit {
            rto: Duration::from_millis(250),
            tries: 5,
        }
    }
}

/// RFC 5780 CHANGE-REQUEST flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangeRequest {
    /// Answer from the alternate IP.
    pub ip: bool,
    /// Answer from the alternate port.
    pub port: bool,
}

/// What a Binding answer told us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingResponse {
    /// Our address as the server saw it (XOR-MAPPED-ADDRESS).
    pub mapped: SocketAddr,
    /// The server's alternate address (OTHER-ADDRESS), if it has one.
    pub other: Option<SocketAddr>,
    /// Where the server says it answered from (RESPONSE-ORIGIN).
    pub origin: Option<SocketAddr>,
    /// Where the answer actually came from.
    pub from: SocketAddr,
}

/// Sends a Binding request to `server` from `sock` and waits for its answer. Datagrams that
/// are not STUN, not ours, or malformed are ignored.
pub async fn binding(
    sock: &UdpSocket,
    server: SocketAddr,
    change: ChangeRequest,
    timing: Retransmit,
) -> Result<BindingResponse, StunError> {
    let mut b = MessageBuilder::new(method::BINDING, Class::Request);
    if change.ip || change.port {
        let flags: u32 = (u32::from(change.ip) << 2) | (u32::from(change.port) << 1);
        b = b.attr(attr::CHANGE_REQUEST, &flags.to_be_bytes());
    }
    let tid = b.tid();
    let request = b.attr(attr::SOFTWARE, b"rats").build(None);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut wait = timing.rto;
    for _ in 0..timing.tries.max(1) {
        sock.send_to(&request, server).await?;
        let deadline = Instant::now() + wait;
        loop {
            let recv = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
            let Ok(r) = recv else {
                break;
            };
            let (n, from) = match r {
                Ok(x) => x,
                // ICMP errors (port unreachable) surface here on some systems: keep waiting
                // for the next retransmission rather than failing at once (without spinning).
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let Ok(msg) = Message::decode(&buf[..n]) else {
                continue;
            };
            if msg.tid != tid || msg.method != method::BINDING {
                continue;
            }
            match msg.class {
                Class::Success => {
                    let mapped = msg
                        .mapped_address()
                        .ok_or(StunError::NoMappedAddress(server))?;
                    return Ok(BindingResponse {
                        mapped,
                        other: msg
                            .address(attr::OTHER_ADDRESS)
                            .or_else(|| msg.address(0x0005)),
                        origin: msg.address(attr::RESPONSE_ORIGIN),
                        from,
                    });
                }
                Class::Error => {
                    let (code, reason) = msg.error_code().unwrap_or((0, String::new()));
                    return Err(StunError::ErrorResponse {
                        server,
                        code,
                        reason,
                    });
                }
                _ => continue,
            }
        }
        wait = wait.saturating_mul(2);
    }
    Err(StunError::Timeout(server))
}

/// Longest STUN message read over TCP.
const MAX_TCP_MESSAGE: usize = 2048;

/// A Binding transaction over an established TCP connection to `server` (RFC 8489 §6.2.2: no
/// retransmissions; the caller bounds the wait). Gives our address as the server saw this
/// connection.
pub async fn binding_tcp(
    stream: &mut tokio::net::TcpStream,
    server: SocketAddr,
) -> Result<SocketAddr, StunError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = MessageBuilder::new(method::BINDING, Class::Request);
    let tid = b.tid();
    stream
        .write_all(&b.attr(attr::SOFTWARE, b"rats").build(None))
        .await?;
    loop {
        let mut header = [0u8; 20];
        stream.read_exact(&mut header).await?;
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if 20 + len > MAX_TCP_MESSAGE {
            return Err(StunError::Io(std::io::Error::other(
                "STUN message too long",
            )));
        }
        let mut whole = vec![0u8; 20 + len];
        whole[..20].copy_from_slice(&header);
        stream.read_exact(&mut whole[20..]).await?;
        let Ok(msg) = Message::decode(&whole) else {
            return Err(StunError::Io(std::io::Error::other(
                "malformed STUN answer",
            )));
        };
        if msg.tid != tid || msg.method != method::BINDING {
            continue;
        }
        return match msg.class {
            Class::Success => msg
                .mapped_address()
                .ok_or(StunError::NoMappedAddress(server)),
            Class::Error => {
                let (code, reason) = msg.error_code().unwrap_or((0, String::new()));
                Err(StunError::ErrorResponse {
                    server,
                    code,
                    reason,
                })
            }
            _ => continue,
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A Binding success answer with transaction id `tid` saying we are `mapped`.
    fn answer(tid: [u8; 12], mapped: &str) -> Vec<u8> {
        MessageBuilder::with_tid(method::BINDING, Class::Success, tid)
            .xor_address(attr::XOR_MAPPED_ADDRESS, &mapped.parse().unwrap())
            .build(None)
    }

    fn other_tid(tid: [u8; 12]) -> [u8; 12] {
        let mut t = tid;
        t[0] ^= 0xff;
        t
    }

    const QUICK: Retransmit = Retransmit {
        rto: Duration::from_millis(100),
        tries: 2,
    };

    /// A UDP STUN server that answers the first request with `answers(tid)`.
    async fn udp_server(
        answers: impl FnOnce([u8; 12]) -> Vec<Vec<u8>> + Send + 'static,
    ) -> SocketAddr {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let tid = Message::decode(&buf[..n]).unwrap().tid;
            for a in answers(tid) {
                server.send_to(&a, from).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn udp_answers_with_another_transaction_id_are_ignored() {
        // A stranger's answer first (another transaction), then ours.
        let server_addr = udp_server(|tid| {
            vec![
                answer(other_tid(tid), "198.51.100.1:1"),
                answer(tid, "203.0.113.7:4242"),
            ]
        })
        .await;
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let got = binding(&client, server_addr, ChangeRequest::default(), QUICK)
            .await
            .unwrap();
        assert_eq!(got.mapped, "203.0.113.7:4242".parse().unwrap());
    }

    #[tokio::test]
    async fn udp_only_foreign_answers_is_a_timeout() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = server.recv_from(&mut buf).await {
                let tid = Message::decode(&buf[..n]).unwrap().tid;
                let _ = server
                    .send_to(&answer(other_tid(tid), "198.51.100.1:1"), from)
                    .await;
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let got = binding(&client, server_addr, ChangeRequest::default(), QUICK).await;
        assert!(
            matches!(got, Err(StunError::Timeout(a)) if a == server_addr),
            "{got:?}"
        );
    }

    /// A Binding error answer 420 with transaction id `tid`.
    fn error_answer(tid: [u8; 12]) -> Vec<u8> {
        // ERROR-CODE: two zero bytes, class 4, number 20, then the reason.
        MessageBuilder::with_tid(method::BINDING, Class::Error, tid)
            .attr(attr::ERROR_CODE, &[0, 0, 4, 20, b'n', b'o'])
            .build(None)
    }

    #[tokio::test]
    async fn change_request_flags_are_sent_as_rfc_5780_says() {
        for (change, flags) in [
            (
                ChangeRequest {
                    ip: true,
                    port: false,
                },
                Some(4u32),
            ),
            (
                ChangeRequest {
                    ip: false,
                    port: true,
                },
                Some(2),
            ),
            (
                ChangeRequest {
                    ip: true,
                    port: true,
                },
                Some(6),
            ),
            (ChangeRequest::default(), None),
        ] {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let server_addr = server.local_addr().unwrap();
            let seen = tokio::spawn(async move {
                let mut buf = [0u8; 1500];
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                let msg = Message::decode(&buf[..n]).unwrap();
                let flags = msg
                    .attr(attr::CHANGE_REQUEST)
                    .map(|v| u32::from_be_bytes(v.try_into().unwrap()));
                server
                    .send_to(&answer(msg.tid, "203.0.113.7:4242"), from)
                    .await
                    .unwrap();
                flags
            });
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            binding(&client, server_addr, change, QUICK).await.unwrap();
            assert_eq!(seen.await.unwrap(), flags, "{change:?}");
        }
    }

    #[tokio::test]
    async fn an_error_answer_is_an_error_over_udp_and_tcp() {
        let server_addr = udp_server(|tid| vec![error_answer(tid)]).await;
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let got = binding(&client, server_addr, ChangeRequest::default(), QUICK).await;
        assert!(
            matches!(&got, Err(StunError::ErrorResponse { code: 420, reason, .. }) if reason == "no"),
            "{got:?}"
        );
        let addr = tcp_server(|tid| vec![error_answer(tid)]).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let got = binding_tcp(&mut stream, addr).await;
        assert!(
            matches!(got, Err(StunError::ErrorResponse { code: 420, .. })),
            "{got:?}"
        );
    }

    #[tokio::test]
    async fn a_tcp_answer_longer_than_the_limit_is_refused_unread() {
        // A header that announces more than MAX_TCP_MESSAGE bytes.
        let addr = tcp_server(|tid| {
            let mut a = answer(tid, "203.0.113.7:4242");
            let len = (MAX_TCP_MESSAGE - 20 + 1) as u16;
            a[2..4].copy_from_slice(&len.to_be_bytes());
            vec![a]
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), binding_tcp(&mut stream, addr))
            .await
            .expect("refused at once, not waiting for the bytes");
        assert!(
            matches!(&got, Err(StunError::Io(e)) if e.to_string() == "STUN message too long"),
            "{got:?}"
        );
    }

    /// A TCP STUN server that answers the first request with `answers(tid)`, then closes.
    async fn tcp_server(
        answers: impl FnOnce([u8; 12]) -> Vec<Vec<u8>> + Send + 'static,
    ) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut header = [0u8; 20];
            s.read_exact(&mut header).await.unwrap();
            let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).await.unwrap();
            let mut tid = [0u8; 12];
            tid.copy_from_slice(&header[8..20]);
            for a in answers(tid) {
                s.write_all(&a).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn tcp_answers_with_another_transaction_id_are_ignored() {
        let addr = tcp_server(|tid| {
            vec![
                answer(other_tid(tid), "198.51.100.1:1"),
                answer(tid, "203.0.113.7:4242"),
            ]
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let got = binding_tcp(&mut stream, addr).await.unwrap();
        assert_eq!(got, "203.0.113.7:4242".parse().unwrap());
    }

    #[tokio::test]
    async fn tcp_only_a_foreign_answer_is_an_error_not_a_mapping() {
        let addr = tcp_server(|tid| vec![answer(other_tid(tid), "198.51.100.1:1")]).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let got = binding_tcp(&mut stream, addr).await;
        assert!(matches!(got, Err(StunError::Io(_))), "{got:?}");
    }
}
