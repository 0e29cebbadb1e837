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
            let tmp = hidden_copy_path(from, to);
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

/// The hidden name beside `to` that a move across file systems copies `from` into. Unique per
/// partial file and target (several files, even ones whose names differ only in case, and
/// several transfers may be moved at once); the same every time for them, so a move cut short
/// by a crash is redone over its leftover after the restart (and renamed away) instead of
/// leaving a partial copy beside the user's files.
fn hidden_copy_path(from: &Path, to: &Path) -> std::path::PathBuf {
    let name = to.file_name().map_or_else(
        || std::ffi::OsString::from("file"),
        std::ffi::OsStr::to_os_string,
    );
    let mut both = Sha256::new();
    both.update(from.as_os_str().as_encoded_bytes());
    both.update([0]);
    both.update(to.as_os_str().as_encoded_bytes());
    let tag = hex::encode(&both.finalize()[..6]);
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(name);
    hidden.push(format!(".{tag}.rats-part"));
    to.with_file_name(hidden)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_hidden_copy_of_a_move_is_named_the_same_after_a_restart_and_never_shared() {
        let part = Path::new("/tmp/rats/0123/4.part");
        let to = Path::new("/home/u/Downloads/Report.pdf");
        let hidden = hidden_copy_path(part, to);
        // A restarted receiver redoes the move over the leftover of the one a crash cut.
        assert_eq!(hidden, hidden_copy_path(part, to));
        assert_eq!(hidden.parent(), to.parent());
        let name = hidden.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".Report.pdf.") && name.ends_with(".rats-part"),
            "{name}"
        );
        // Other files, targets differing only in case, other transfers: other names.
        let others = [
            hidden_copy_path(Path::new("/tmp/rats/0123/5.part"), to),
            hidden_copy_path(part, Path::new("/home/u/Downloads/report.pdf")),
            hidden_copy_path(Path::new("/tmp/rats/4567/4.part"), to),
        ];
        for other in &others {
            assert_ne!(&hidden, other);
        }
    }
}
