//! Plain-TCP baselines: the workload of a rats scenario over a bare tokio `TcpStream` on the same
//! loopback, with no encryption and no handlers (messages carry a 4-byte length; the file copy
//! is a plain byte stream). Each
//! scenario runs its baseline right after itself and prints both figures and their ratio
//! (`vs_tcp`): this VM's speed moves with its neighbours' load, the ratio much less.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{BenchResult, fail, wait_for};

/// Socket buffers of the small-message baseline: what a hand-written TCP program would use.
const SMALL_BUFFER: usize = 8 * 1024;
/// Read and write size of the file baseline.
const FILE_BUFFER: usize = 1 << 20;

/// A connected pair on 127.0.0.1 with `TCP_NODELAY` on both ends: (dialer, accepted).
async fn pair() -> BenchResult<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail("tcp bind"))?;
    let addr = listener.local_addr().map_err(fail("tcp local addr"))?;
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let dialed = dialed.map_err(fail("tcp connect"))?;
    let (accepted, _) = accepted.map_err(fail("tcp accept"))?;
    for s in [&dialed, &accepted] {
        s.set_nodelay(true).map_err(fail("TCP_NODELAY"))?;
    }
    Ok((dialed, accepted))
}

/// Reads one length-prefixed message into `buf`; `Ok(false)` at a clean end of stream.
async fn read_message<R: AsyncReadExt + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> BenchResult<bool> {
    let len = match r.read_u32().await {
        Ok(n) => n as usize,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(format!("tcp read: {e}")),
    };
    buf.resize(len, 0);
    r.read_exact(buf).await.map_err(fail("tcp read"))?;
    Ok(true)
}

/// `messages`: `size`-byte messages one way through 8 KiB buffers for about `secs` seconds (at
/// most `max`), counted by the receiver. Returns (messages, elapsed until all were counted).
pub async fn messages(secs: f64, max: u64, size: usize) -> BenchResult<(u64, Duration)> {
    let (tx, rx) = pair().await?;
    let counted = Arc::new(AtomicU64::new(0));
    let c = counted.clone();
    let reader = tokio::spawn(async move {
        let mut r = BufReader::with_capacity(SMALL_BUFFER, rx);
        let mut buf = Vec::new();
        while read_message(&mut r, &mut buf).await? {
            c.fetch_add(1, Ordering::Relaxed);
        }
        BenchResult::Ok(())
    });
    let mut w = BufWriter::with_capacity(SMALL_BUFFER, tx);
    let msg = vec![0x5Au8; size];
    let window = Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < max {
        w.write_u32(size as u32).await.map_err(fail("tcp write"))?;
        w.write_all(&msg).await.map_err(fail("tcp write"))?;
        sent += 1;
        if sent.is_multiple_of(1024) && t0.elapsed() >= window {
            break;
        }
    }
    w.shutdown().await.map_err(fail("tcp shutdown"))?;
    // A reader that failed ends early: its error is reported below, not a timeout.
    wait_for(Duration::from_secs(60), "the tcp receiver", || {
        counted.load(Ordering::Relaxed) >= sent || reader.is_finished()
    })
    .await?;
    let elapsed = t0.elapsed();
    reader.await.map_err(fail("tcp reader"))??;
    let got = counted.load(Ordering::Relaxed);
    if got != sent {
        return Err(format!(
            "tcp: sent {sent} messages, the receiver counted {got}"
        ));
    }
    Ok((sent, elapsed))
}

/// `throughput`: `count` messages of `size` bytes one way; the elapsed time until the receiver
/// has read the last byte.
pub async fn throughput(count: u64, size: usize) -> BenchResult<Duration> {
    let (mut tx, rx) = pair().await?;
    let reader = tokio::spawn(async move {
        let mut r = rx;
        let mut buf = Vec::with_capacity(size);
        let mut got = 0u64;
        while read_message(&mut r, &mut buf).await? {
            got += buf.len() as u64;
        }
        BenchResult::Ok((got, Instant::now()))
    });
    let payload = vec![0xA5u8; size];
    let t0 = Instant::now();
    for _ in 0..count {
        tx.write_u32(size as u32).await.map_err(fail("tcp write"))?;
        tx.write_all(&payload).await.map_err(fail("tcp write"))?;
    }
    tx.shutdown().await.map_err(fail("tcp shutdown"))?;
    let (got, done) = tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .map_err(|_| "tcp receiver did not finish within 120 s".to_string())?
        .map_err(fail("tcp reader"))??;
    if got != count * size as u64 {
        return Err(format!("tcp receiver got {got} bytes"));
    }
    Ok(done.duration_since(t0))
}

/// `rtt`: `count` sequential requests of `size` bytes echoed by the peer (after `warmup`).
pub async fn rtt(warmup: usize, count: usize, size: usize) -> BenchResult<Vec<Duration>> {
    let (mut client, server) = pair().await?;
    let echo = tokio::spawn(async move {
        let mut s = server;
        let mut buf = Vec::new();
        while read_message(&mut s, &mut buf).await? {
            let mut reply = Vec::with_capacity(4 + buf.len());
            reply.extend_from_slice(&(buf.len() as u32).to_be_bytes());
            reply.extend_from_slice(&buf);
            s.write_all(&reply).await.map_err(fail("tcp echo"))?;
        }
        BenchResult::Ok(())
    });
    let mut request = (size as u32).to_be_bytes().to_vec();
    request.resize(4 + size, 0x42);
    let mut reply = Vec::new();
    let mut samples = Vec::with_capacity(count);
    for i in 0..warmup + count {
        let t0 = Instant::now();
        client
            .write_all(&request)
            .await
            .map_err(fail("tcp write"))?;
        let got = tokio::time::timeout(
            Duration::from_secs(5),
            read_message(&mut client, &mut reply),
        )
        .await
        .map_err(|_| format!("no tcp reply to request {i} within 5 s"))??;
        if !got || reply.len() != size {
            return Err(format!("tcp reply {i} missing or of the wrong size"));
        }
        if i >= warmup {
            samples.push(t0.elapsed());
        }
    }
    client.shutdown().await.map_err(fail("tcp shutdown"))?;
    echo.await.map_err(fail("tcp echo"))??;
    Ok(samples)
}

/// `connect`: dial to a connection usable both ways (the listener has accepted it and its first
/// byte has reached the dialer), over `warmup + count` fresh connections.
pub async fn connect(warmup: usize, count: usize) -> BenchResult<Vec<Duration>> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail("tcp bind"))?;
    let addr = listener.local_addr().map_err(fail("tcp local addr"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let acceptor = tokio::spawn(async move {
        while !stopped.load(Ordering::Relaxed) {
            let (mut s, _) =
                match tokio::time::timeout(Duration::from_millis(100), listener.accept()).await {
                    Ok(Ok(accepted)) => accepted,
                    // Out of descriptors, say: do not spin on it.
                    Ok(Err(_)) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                    Err(_) => continue,
                };
            let _ = s.set_nodelay(true);
            let _ = s.write_all(&[1]).await;
        }
    });
    let mut samples = Vec::with_capacity(count);
    let result = async {
        for i in 0..warmup + count {
            let t0 = Instant::now();
            let mut s = TcpStream::connect(addr)
                .await
                .map_err(fail("tcp connect"))?;
            s.set_nodelay(true).map_err(fail("TCP_NODELAY"))?;
            let mut byte = [0u8; 1];
            tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut byte))
                .await
                .map_err(|_| format!("tcp connection {i}: no first byte within 5 s"))?
                .map_err(fail("tcp read"))?;
            if i >= warmup {
                samples.push(t0.elapsed());
            }
        }
        BenchResult::Ok(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    let _ = acceptor.await;
    result.map(|()| samples)
}

/// `transfer`: copies the file `from` into a new file `to` through one loopback connection
/// (1 MiB reads and writes, no hashing, no encryption). Returns the time until `to` was
/// complete (written, not synced: neither is rats' copy before it renames it into place).
pub async fn file(from: &std::path::Path, to: &std::path::Path) -> BenchResult<Duration> {
    let (mut tx, rx) = pair().await?;
    let source = tokio::fs::File::open(from)
        .await
        .map_err(fail("open source"))?;
    let mut target = tokio::fs::File::create(to)
        .await
        .map_err(fail("create target"))?;
    let t0 = Instant::now();
    let receive = tokio::spawn(async move {
        let mut r = BufReader::with_capacity(FILE_BUFFER, rx);
        let n = tokio::io::copy_buf(&mut r, &mut target)
            .await
            .map_err(fail("tcp to file"))?;
        target.flush().await.map_err(fail("flush target"))?;
        BenchResult::Ok(n)
    });
    let mut r = BufReader::with_capacity(FILE_BUFFER, source);
    let sent = tokio::io::copy_buf(&mut r, &mut tx)
        .await
        .map_err(fail("file to tcp"))?;
    tx.shutdown().await.map_err(fail("tcp shutdown"))?;
    let got = tokio::time::timeout(Duration::from_secs(300), receive)
        .await
        .map_err(|_| "tcp file copy did not finish within 300 s".to_string())?
        .map_err(fail("tcp receiver"))??;
    if got != sent {
        return Err(format!("tcp file copy: sent {sent} bytes, wrote {got}"));
    }
    Ok(t0.elapsed())
}
