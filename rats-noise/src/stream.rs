//! Record halves after the handshake.

use async_trait::async_trait;
use bytes::BytesMut;
use rats_core::encryption::{EncryptionError, SecureReader, SecureWriter};
use rats_core::record::RecordReader;
use rats_core::transport::BoxedWriter;
use tokio::io::AsyncWriteExt;

use crate::cipher::DirectionCipher;

/// Keep the write buffer between writes only while it is this small (idle peers stay lean).
const KEEP_WRITE_BUFFER: usize = 4096;

pub(crate) struct NoiseReader {
    records: RecordReader,
    cipher: DirectionCipher,
}

impl NoiseReader {
    pub(crate) fn new(records: RecordReader, key: &[u8; 32]) -> Self {
        NoiseReader {
            records,
            cipher: DirectionCipher::new(key),
        }
    }
}

#[async_trait]
impl SecureReader for NoiseReader {
    async fn read_into(&mut self, out: &mut BytesMut) -> Result<bool, EncryptionError> {
        let Some(mut record) = self.records.read_record().await? else {
            return Ok(false);
        };
        let n = self
            .cipher
            .open_in_place(&mut record)
            .map_err(|e| EncryptionError::Decrypt(e.into()))?;
        record.truncate(n);
        if out.is_empty() {
            // Zero copy: the decrypted record becomes the plaintext buffer.
            *out = record;
        } else {
            out.unsplit(record);
        }
        Ok(true)
    }

    fn has_buffered(&self) -> bool {
        self.records.has_buffered_record()
    }
}

pub(crate) struct NoiseWriter {
    inner: BoxedWriter,
    cipher: DirectionCipher,
    out: Vec<u8>,
}

impl NoiseWriter {
    pub(crate) fn new(inner: BoxedWriter, key: &[u8; 32]) -> Self {
        NoiseWriter {
            inner,
            cipher: DirectionCipher::new(key),
            out: Vec::new(),
        }
    }
}

#[async_trait]
impl SecureWriter for NoiseWriter {
    async fn write(&mut self, parts: &[&[u8]]) -> Result<(), EncryptionError> {
        self.out.clear();
        self.cipher
            .seal_records(parts, &mut self.out)
            .map_err(|_| EncryptionError::Decrypt("nonce exhausted".into()))?;
        self.inner.write_all(&self.out).await?;
        self.inner.flush().await?;
        Ok(())
    }

    fn release_buffers(&mut self) {
        if self.out.capacity() > KEEP_WRITE_BUFFER {
            self.out = Vec::new();
        }
    }

    async fn close(&mut self) -> Result<(), EncryptionError> {
        self.inner.shutdown().await?;
        Ok(())
    }
}
