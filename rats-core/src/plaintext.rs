//! `Plaintext`: the handshake shape of every encryption, without any cryptography.
//! For tests and debugging only: the remote's identity is whatever it claims. Never a default.

use async_trait::async_trait;
use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use crate::encryption::{
    Encryption, EncryptionError, HandshakeParams, Role, SecureConnection, SecureReader,
    SecureWriter, check_protocol_record, identity_payload, read_answer_record,
    split_identity_payload,
};
use crate::record::{
    MAX_RECORD_LEN, RecordReader, for_each_record, put_record_header, write_record,
};
use crate::transport::{BoxedWriter, RawConnection};

/// Unencrypted, unauthenticated records. `is_peer_encrypted` reports false for these peers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Plaintext;

#[async_trait]
impl Encryption for Plaintext {
    fn name(&self) -> &'static str {
        "plaintext"
    }

    fn is_encrypted(&self) -> bool {
        false
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
        let mut reader = RecordReader::new(reader);
        let ours = identity_payload(params.identity, params.early_data)?;
        // No handshake hash here: hash both identity payloads in initiator, responder order.
        let session_of = |initiator: &[u8], responder: &[u8]| -> [u8; 32] {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update((initiator.len() as u64).to_be_bytes());
            h.update(initiator);
            h.update(responder);
            h.finalize().into()
        };
        let remote_payload = match params.role {
            Role::Initiator => {
                write_record(&mut writer, &params.protocol.to_bytes()).await?;
                let answer = read_answer_record(&mut reader).await?;
                write_record(&mut writer, &ours).await?;
                answer
            }
            Role::Responder => {
                let first = reader.read_record().await?.ok_or(EncryptionError::Closed)?;
                check_protocol_record(&first, params.protocol, &mut writer).await?;
                write_record(&mut writer, &ours).await?;
                reader.read_record().await?.ok_or(EncryptionError::Closed)?
            }
        };
        let session_id = match params.role {
            Role::Initiator => session_of(&ours, &remote_payload),
            Role::Responder => session_of(&remote_payload, &ours),
        };
        let (remote_peer, remote_early_data) = split_identity_payload(&remote_payload)?;
        Ok(SecureConnection {
            remote_peer,
            remote_early_data,
            session_id,
            reader: Box::new(PlainReader { records: reader }),
            writer: Box::new(PlainWriter { inner: writer }),
            encrypted: false,
            local_addr,
            remote_addr,
        })
    }
}

struct PlainReader {
    records: RecordReader,
}

#[async_trait]
impl SecureReader for PlainReader {
    async fn read_into(&mut self, out: &mut BytesMut) -> Result<bool, EncryptionError> {
        match self.records.read_record().await? {
            Some(rec) => {
                out.extend_from_slice(&rec);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn has_buffered(&self) -> bool {
        self.records.has_buffered_record()
    }
}

struct PlainWriter {
    inner: BoxedWriter,
}

#[async_trait]
impl SecureWriter for PlainWriter {
    async fn write(&mut self, parts: &[&[u8]]) -> Result<(), EncryptionError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(total + 2 * (total / MAX_RECORD_LEN + 1));
        for_each_record(parts, MAX_RECORD_LEN, |chunk_parts, len| {
            put_record_header(&mut out, len);
            chunk_parts.iter().for_each(|c| out.extend_from_slice(c));
        });
        self.inner.write_all(&out).await?;
        self.inner.flush().await?;
        Ok(())
    }

    async fn close(&mut self) -> Result<(), EncryptionError> {
        self.inner.shutdown().await?;
        Ok(())
    }
}
