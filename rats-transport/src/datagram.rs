//! QUIC over a datagram path that is not one of our UDP sockets: an ICE-nominated candidate
//! pair, a relay channel, anything that moves datagrams between two fixed ends. The path is
//! given as a pair of bounded channels ([`DatagramPipe`]); [`endpoint_on_pipe`] runs a quinn
//! endpoint on it.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use rats_core::transport::{DatagramPipe, TransportError};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

struct PipeSocket {
    outgoing: mpsc::Sender<Vec<u8>>,
    incoming: parking_lot::Mutex<mpsc::Receiver<Vec<u8>>>,
    local: SocketAddr,
    remote: SocketAddr,
}

impl std::fmt::Debug for PipeSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeSocket")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .finish()
    }
}

struct PipePoller(PollSender<Vec<u8>>);

impl std::fmt::Debug for PipePoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PipePoller")
    }
}

impl UdpPoller for PipePoller {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        // Wait for room, then give the slot back: `try_send` takes it.
        match self.0.poll_reserve(cx) {
            Poll::Ready(Ok(())) => {
                self.0.abort_send();
                Poll::Ready(Ok(()))
            }
            // The path is gone: let sends "succeed" (and vanish) so QUIC times the
            // connection out instead of its driver failing.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncUdpSocket for PipeSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(PipePoller(PollSender::new(self.outgoing.clone())))
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        match self.outgoing.try_send(transmit.contents.to_vec()) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(io::ErrorKind::WouldBlock.into()),
            // As a UDP socket would: the datagram is lost, QUIC copes (an error here would stop
            // the endpoint driver without closing its connections).
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(m)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        match self.incoming.lock().poll_recv(cx) {
            Poll::Ready(Some(d)) => {
                // A datagram larger than QUIC's buffer is cut (QUIC then drops it).
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                *m = RecvMeta {
                    addr: self.remote,
                    len: n,
                    stride: n,
                    ..RecvMeta::default()
                };
                Poll::Ready(Ok(1))
            }
            // Nothing more will arrive; whoever owns the path closes the endpoint.
            Poll::Ready(None) => Poll::Pending,
            Poll::Pending => Poll::Pending,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// A QUIC endpoint on a datagram path, able to dial the path's remote end
/// ([`QuicTransport::dial_on`](crate::QuicTransport::dial_on) with `pipe.remote`) and to accept
/// from it ([`QuicTransport::listener_on`](crate::QuicTransport::listener_on)).
pub(crate) fn endpoint_on_pipe(pipe: DatagramPipe) -> Result<quinn::Endpoint, TransportError> {
    let socket = Arc::new(PipeSocket {
        outgoing: pipe.outgoing,
        incoming: parking_lot::Mutex::new(pipe.incoming),
        local: pipe.local,
        remote: pipe.remote,
    });
    crate::quic::endpoint_on_socket(socket)
}
