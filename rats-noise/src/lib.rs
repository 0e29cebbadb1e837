//! # rats-noise
//!
//! The Noise encryption plugin of rats: `Noise_XX_25519_ChaChaPoly_SHA256` with `snow` (ring
//! resolver) for the handshake and `ring` in place for records. The prologue binds the
//! application protocol name and version, so two applications never cross-connect; a different
//! name or version is refused with a clear reason. The remote `PeerId` comes from the
//! handshake: the peer proves the key behind the id it claims.
//!
//! Linking this crate registers the `noise` encryption with the rats-core registry; it is the
//! default encryption of every node.
//!
//! ```
//! use std::sync::Arc;
//! use rats_core::{Identity, MemoryTransport, ProtocolId, Transport, Encryption};
//! use rats_core::encryption::{HandshakeParams, Role};
//! use rats_noise::Noise;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mem = MemoryTransport;
//! let mut listener = mem.listen(&"mem:0".parse()?).await?;
//! let addr = listener.local_addrs()[0].clone();
//! let (a, b) = (Identity::generate(), Identity::generate());
//! let proto = ProtocolId::new("demo", "1");
//! let (dialed, accepted) = tokio::join!(mem.dial(&addr), listener.accept());
//! let pa = HandshakeParams { identity: &a, protocol: &proto, role: Role::Initiator, early_data: b"hi" };
//! let pb = HandshakeParams { identity: &b, protocol: &proto, role: Role::Responder, early_data: b"yo" };
//! let (ca, cb) = tokio::join!(Noise.upgrade(dialed?, pa), Noise.upgrade(accepted?, pb));
//! let (ca, cb) = (ca?, cb?);
//! assert_eq!(ca.remote_peer, b.peer_id());
//! assert_eq!(&cb.remote_early_data[..], b"hi");
//! # Ok(()) }
//! ```

mod cipher;
mod dh;
mod handshake;
mod stream;

use std::sync::Arc;

use async_trait::async_trait;
use rats_core::encryption::{Encryption, EncryptionError, HandshakeParams, SecureConnection};
use rats_core::record::RecordReader;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use rats_core::transport::RawConnection;

pub use handshake::NOISE_PARAMS;

/// The Noise XX encryption.
#[derive(Debug, Default, Clone, Copy)]
pub struct Noise;

#[async_trait]
impl Encryption for Noise {
    fn name(&self) -> &'static str {
        "noise"
    }

    fn is_encrypted(&self) -> bool {
        true
    }

    async fn upgrade(
        &self,
        raw: RawConnection,
        params: HandshakeParams<'_>,
    ) -> Result<SecureConnection, EncryptionError> {
        let RawConnection {
            reader,
            mut writer,
            local_addr,
            remote_addr,
        } = raw;
        let mut records = RecordReader::new(reader);
        let done = handshake::run(&mut records, &mut writer, params).await?;
        // Prepare the next handshakes' ephemeral keys while this connection gets going.
        if dh::ephemeral_pool_len() < dh::EPHEMERAL_POOL / 2
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn_blocking(dh::refill_ephemeral_pool);
        }
        Ok(SecureConnection {
            remote_peer: done.remote,
            remote_early_data: done.early,
            session_id: done.session_id,
            reader: Box::new(stream::NoiseReader::new(records, &done.recv_key)),
            writer: Box::new(stream::NoiseWriter::new(writer, &done.send_key)),
            encrypted: true,
            local_addr,
            remote_addr,
        })
    }
}

fn create(_: &PluginConfig) -> Result<Plugin, PluginError> {
    Ok(Plugin::Encryption(Arc::new(Noise)))
}

rats_core::inventory::submit! {
    PluginFactory { name: "noise", kind: PluginKind::Encryption, create }
}
#[cfg(test)]
mod roundtrip_tests;
