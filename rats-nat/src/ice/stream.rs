//! A rats byte stream over a nominated pair: a transport that runs over datagram paths (QUIC)
//! on the pair's datagrams.

use rats_core::Node;
use rats_core::transport::{DatagramPath, RawConnection};

use super::session::{IceConnection, IceError};

/// Opens the byte stream a rats connection runs on, over the node's datagram transport (QUIC)
/// on the nominated pair: the controlling side dials, the controlled side accepts (so the
/// controlled side runs the rats handshake as the responder).
pub async fn stream_over(
    node: &Node,
    conn: IceConnection,
    controlling: bool,
) -> Result<RawConnection, IceError> {
    let (pipe, closed) = conn.into_pipe();
    let remote = pipe.remote;
    let endpoint = node
        .bind_path(DatagramPath::Pipe(pipe), !controlling)
        .map_err(|e| IceError::Agent(e.to_string()))?;
    let raw = if controlling {
        endpoint
            .dial(remote)
            .await
            .map_err(|e| IceError::Agent(e.to_string()))?
    } else {
        let mut listener = endpoint
            .listen()
            .map_err(|e| IceError::Agent(e.to_string()))?;
        tokio::time::timeout(std::time::Duration::from_secs(15), listener.accept())
            .await
            .map_err(|_| IceError::Timeout("QUIC handshake"))?
            .map_err(|e| IceError::Agent(e.to_string()))?
    };
    // The endpoint (and with it the pipe and the agent) lives until its connection is done;
    // if the pair dies first, the connection is closed at once rather than at its idle timeout.
    tokio::spawn(async move {
        tokio::select! {
            _ = closed.cancelled() => endpoint.close(b"ICE pair closed"),
            _ = endpoint.wait_idle() => {}
        }
    });
    Ok(raw)
}
