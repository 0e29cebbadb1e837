//! Length-prefixed records (`u16` big-endian length, then the bytes), the wire unit of the
//! encryption layer. Shared by every [`crate::Encryption`] so they read the same way.
//!
//! The reader allocates its buffer lazily and gives it back whenever it is empty, so an idle
//! connection costs no buffer memory: the wait for the next record uses a small stack buffer.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::transport::{BoxedReader, BoxedWriter};

/// Largest record body (the Noise message limit).
pub const MAX_RECORD_LEN: usize = 65_535;
/// How much we try to read at once while data is flowing.
const READ_AHEAD: usize = 128 * 1024;
/// Stack buffer for the wait on an idle connection.
const IDLE_READ: usize = 256;

/// Reads length-prefixed records from a byte stream.
pub struct RecordReader {
    inner: BoxedReader,
    buf: BytesMut,
}

impl RecordReader {
    /// Wraps a raw reader.
    pub fn new(inner: BoxedReader) -> Self {
        RecordReader {
            inner,
            buf: BytesMut::new(),
        }
    }

    /// True when at least one complete record is already buffered.
    pub fn has_buffered_record(&self) -> bool {
        self.buf.len() >= 2 && self.buf.len() >= 2 + record_len(&self.buf)
    }

    /// Reads the next record. `Ok(None)` is a clean end of stream at a record boundary.
    pub async fn read_record(&mut self) -> std::io::Result<Option<BytesMut>> {
        loop {
            if self.buf.len() >= 2 {
                let len = record_len(&self.buf);
                if self.buf.len() >= 2 + len {
                    self.buf.advance(2);
                    return Ok(Some(self.buf.split_to(len)));
                }
                let missing = 2 + len - self.buf.len();
                // Read ahead only while big records flow; a small record gets what it needs.
                let want = if len >= 16 * 1024 {
                    missing.max(READ_AHEAD)
                } else {
                    missing + 512
                };
                self.buf.reserve(want);
            } else if self.buf.is_empty() {
                // Idle point: drop the big buffer and wait with a small one.
                self.buf = BytesMut::new();
                let mut small = [0u8; IDLE_READ];
                let n = self.inner.read(&mut small).await?;
                if n == 0 {
                    return Ok(None);
                }
                self.buf.reserve(n.max(1024));
                self.buf.extend_from_slice(&small[..n]);
                continue;
            } else {
                self.buf.reserve(READ_AHEAD);
            }
            let n = self.inner.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed in the middle of a record",
                ));
            }
        }
    }

    /// Gives back the raw reader and anything read past the last record.
    pub fn into_parts(self) -> (BoxedReader, BytesMut) {
        (self.inner, self.buf)
    }
}

fn record_len(buf: &[u8]) -> usize {
    u16::from_be_bytes([buf[0], buf[1]]) as usize
}

/// Appends a record header for `len` bytes to `out`.
pub fn put_record_header(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len <= MAX_RECORD_LEN);
    out.extend_from_slice(&(len as u16).to_be_bytes());
}

/// Cuts the concatenation of `parts` into records of at most `max` bytes and calls `f` with
/// the slices making up each record and its length. An empty input makes one empty record.
pub fn for_each_record<'a>(parts: &[&'a [u8]], max: usize, mut f: impl FnMut(&[&'a [u8]], usize)) {
    let mut record: Vec<&'a [u8]> = Vec::with_capacity(4);
    let mut len = 0;
    let mut emitted = false;
    for part in parts {
        let mut rest: &'a [u8] = part;
        while !rest.is_empty() {
            let take = rest.len().min(max - len);
            record.push(&rest[..take]);
            len += take;
            rest = &rest[take..];
            if len == max {
                f(&record, len);
                emitted = true;
                record.clear();
                len = 0;
            }
        }
    }
    if len > 0 || !emitted {
        f(&record, len);
    }
}

/// Writes one record (used during handshakes).
pub async fn write_record(writer: &mut BoxedWriter, body: &[u8]) -> std::io::Result<()> {
    if body.len() > MAX_RECORD_LEN {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "record too long",
        ));
    }
    let mut out = Vec::with_capacity(2 + body.len());
    put_record_header(&mut out, body.len());
    out.extend_from_slice(body);
    writer.write_all(&out).await?;
    writer.flush().await
}

/// A reader that first yields bytes left over from a previous stage, then the stream.
pub struct PrefixedReader<R> {
    prefix: BytesMut,
    inner: R,
}

impl<R> PrefixedReader<R> {
    /// Chains `prefix` before `inner`.
    pub fn new(prefix: BytesMut, inner: R) -> Self {
        PrefixedReader { prefix, inner }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for PrefixedReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// Helper for writers: writes all of `bytes` and flushes.
pub async fn write_all_flush<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_cut_across_parts() {
        let mut seen = Vec::new();
        for_each_record(&[b"abc", b"", b"defgh"], 3, |parts, len| {
            seen.push((parts.concat(), len));
        });
        let want: Vec<(Vec<u8>, usize)> = vec![
            (b"abc".to_vec(), 3),
            (b"def".to_vec(), 3),
            (b"gh".to_vec(), 2),
        ];
        assert_eq!(seen, want);
        let mut n = 0;
        for_each_record(&[], 3, |_, len| {
            assert_eq!(len, 0);
            n += 1;
        });
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn record_limits_are_inclusive_and_buffered_records_are_seen() {
        let (a, b) = tokio::io::duplex(256 * 1024);
        let mut writer: BoxedWriter = Box::new(b);
        let mut reader = RecordReader::new(Box::new(a));
        write_record(&mut writer, &vec![1; MAX_RECORD_LEN])
            .await
            .expect("exactly the largest record");
        assert!(
            write_record(&mut writer, &vec![1; MAX_RECORD_LEN + 1])
                .await
                .is_err()
        );
        // Two small records arrive in one read: after the first, the second is buffered.
        let mut both = Vec::new();
        for body in [&b"one"[..], b"two"] {
            put_record_header(&mut both, body.len());
            both.extend_from_slice(body);
        }
        write_all_flush(&mut writer, &both).await.expect("write");
        drop(writer);
        assert_eq!(
            reader.read_record().await.expect("r").expect("big").len(),
            MAX_RECORD_LEN
        );
        assert_eq!(
            &reader.read_record().await.expect("r").expect("one")[..],
            b"one"
        );
        assert!(
            reader.has_buffered_record(),
            "the second record is already here"
        );
        assert_eq!(
            &reader.read_record().await.expect("r").expect("two")[..],
            b"two"
        );
        assert!(!reader.has_buffered_record());
        assert!(reader.read_record().await.expect("eof").is_none());
    }

    #[tokio::test]
    async fn a_prefixed_reader_yields_the_prefix_first() {
        use tokio::io::AsyncReadExt;
        let mut r = PrefixedReader::new(BytesMut::from(&b"head"[..]), &b"tail"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.expect("read");
        assert_eq!(out, b"headtail");
    }

    #[tokio::test]
    async fn reads_records_across_partial_writes() {
        let (a, b) = tokio::io::duplex(64);
        let mut writer: BoxedWriter = Box::new(b);
        let mut reader = RecordReader::new(Box::new(a));
        let big = vec![7u8; 60_000];
        let w = tokio::spawn(async move {
            write_record(&mut writer, b"hi").await.expect("w1");
            write_record(&mut writer, &big).await.expect("w2");
            write_record(&mut writer, b"").await.expect("w3");
        });
        assert_eq!(
            &reader.read_record().await.expect("r").expect("some")[..],
            b"hi"
        );
        assert_eq!(
            reader.read_record().await.expect("r").expect("some").len(),
            60_000
        );
        assert_eq!(
            reader.read_record().await.expect("r").expect("some").len(),
            0
        );
        w.await.expect("join");
        assert!(reader.read_record().await.expect("eof").is_none());
    }
}
