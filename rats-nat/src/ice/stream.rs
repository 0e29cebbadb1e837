//! A rats byte stream over a nominated pair: QUIC on the pair's datagrams.

use rats_core::transport::RawConnection;
use rats_transport::QuicTransport;
use rats_transport::datagram::endpoint_on_pipe;

use super::session::{IceConnection, IceError};

/// Opens the byte stream a rats connection runs on, over QUIC on the nominated pair: the
/// controlling side dials, the controlled side accepts (so the controlled side runs the rats
/// handshake as the responder).
pub async fn stream_over(
    conn: IceConnection,
    controlling: bool,
) -> Result<RawConnection, IceError> {
    let (pipe, closed) = conn.into_pipe();
    let remote = pipe.remote;
    let endpoint = endpoint_on_pipe(pipe).map_err(|e| IceError::Agent(e.to_string()))?;
    let raw = if controlling {
        QuicTransport::dial_on(&endpoint, remote)
            .await
            .map_err(|e| IceError::Agent(e.to_string()))?
    } else {
        let mut listener = QuicTransport::listener_on(endpoint.clone())
            .map_err(|e| IceError::Agent(e.to_string()))?;
        let accept = rats_core::transport::Listener::accept(listener.as_mut());
        tokio::time::timeout(std::time::Duration::from_secs(15), accept)
            .await
            .map_err(|_| IceError::Timeout("QUIC handshake"))?
            .map_err(|e| IceError::Agent(e.to_string()))?
    };
    // The endpoint (and with it the pipe and the agent) lives until its connection is done;
    // if the pair dies first, the connection is closed at once rather than at its idle timeout.
    tokio::spawn(async move {
        tokio::select! {
            _ = closed.cancelled() => endpoint.close(0u32.into(), b"ICE pair closed"),
            _ = endpoint.wait_idle() => {}
        }
    });
    Ok(raw)
}
