//! Positional reads and writes, so chunks of one file can be read and written out of order
//! without a shared cursor, and small helpers around the temporary directory.

use std::fs::File;
use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Reads exactly `buf.len()` bytes at `offset`.
pub(crate) fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = read_at(f, buf, offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file is shorter than announced",
            ));
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// The SHA-256 state over the first `len` bytes of the file at `path` (not opened when `len`
/// is 0): a receiver's verified prefix, and the sender's bytes it is compared with.
pub(crate) fn sha256_prefix(path: &Path, len: u64) -> io::Result<Sha256> {
    let mut hasher = Sha256::new();
    if len == 0 {
        return Ok(hasher);
    }
    let file = File::open(path)?;
    let mut buf = vec![0u8; len.min(PREFIX_READ_BYTES as u64) as usize];
    let mut offset = 0u64;
    while offset < len {
        let n = (len - offset).min(buf.len() as u64) as usize;
        read_exact_at(&file, &mut buf[..n], offset)?;
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok(hasher)
}

/// Bytes read at once when hashing a prefix.
const PREFIX_READ_BYTES: usize = 1 << 20;

/// Writes all of `buf` at `offset`.
pub(crate) fn write_all_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write_at(f, buf, offset)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"));
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, offset)
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(f, buf, offset)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, offset)
}

#[cfg(windows)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_write(f, buf, offset)
}

/// Moves a finished file into place: a rename, or, when the temporary directory is on another
/// file system, a copy to a hidden name beside the target (synced) and a rename, so the target
/// never holds a partial file.
pub(crate) fn move_into_place(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(18) || e.kind() == io::ErrorKind::CrossesDevices => {
            let name = to.file_name().map_or_else(
                || std::ffi::OsString::from("file"),
                std::ffi::OsStr::to_os_string,
            );
            // Unique: several files (even ones whose names differ only in case) may be moved
            // at once.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut hidden = std::ffi::OsString::from(".");
            hidden.push(name);
            hidden.push(format!(".{}-{n}.rats-part", std::process::id()));
            let tmp = to.with_file_name(hidden);
            let copied = std::fs::copy(from, &tmp)
                .and_then(|_| File::open(&tmp)?.sync_all())
                .and_then(|()| std::fs::rename(&tmp, to));
            if copied.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            copied?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}

/// Free bytes on the file system of `path` (or of its nearest existing ancestor).
pub(crate) fn available_space(path: &Path) -> io::Result<u64> {
    let mut p = path;
    loop {
        if p.exists() {
            return fs4::available_space(p);
        }
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => return fs4::available_space("."),
        }
    }
}
