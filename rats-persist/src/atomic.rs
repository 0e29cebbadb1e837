//! Crash-safe files: write to a temporary file, flush it to disk, rename it into place (and
//! flush the directory), so a `kill -9` at any moment leaves the old or the new file, never a
//! torn one. A file that does not parse is renamed aside, never deleted, and never fatal.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Writes `path` atomically with `write`, which fills the temporary file; if it fails part-way,
/// `path` keeps its old contents and the temporary file is removed.
fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes the rename durable where the platform allows it.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes temporary files that an interrupted [`write_atomic`] of `path` left behind (a
/// process killed part-way). This process's own are kept: they may be writes in flight.
pub fn remove_stale_temp_files(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let ours = format!("{prefix}{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && !file.starts_with(&ours) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What reading a state file gave; `E` is the parser's error.
#[derive(Debug)]
pub enum Loaded<T, E = String> {
    /// No file yet.
    Missing,
    /// The file and its contents.
    Ok(T),
    /// The file did not parse: it was moved to `moved_to`.
    Corrupt {
        /// Why it did not parse.
        error: E,
        /// Where the bad file is now.
        moved_to: PathBuf,
    },
}

/// Reads and parses `path`; a file that does not parse is renamed aside.
pub fn load_or_quarantine<T, E>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> std::io::Result<Loaded<T, E>> {
    let bytes = match read_bounded(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(e),
    };
    match parse(&bytes) {
        Ok(v) => Ok(Loaded::Ok(v)),
        Err(error) => {
            let moved_to = quarantine(path)?;
            Ok(Loaded::Corrupt { error, moved_to })
        }
    }
}

/// Largest file [`load_or_quarantine`] reads: the files it loads are a few KiB to a few MiB,
/// and a huge one (a mistake, a full disk's garbage) must not take all memory.
pub const MAX_LOADED_FILE: u64 = 64 * 1024 * 1024;

/// Reads a whole file of at most [`MAX_LOADED_FILE`] bytes (`InvalidData` past that).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_LOADED_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LOADED_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_LOADED_FILE} bytes"),
        ));
    }
    Ok(bytes)
}

/// Renames a bad file to `<name>.corrupt-<unix seconds>` and returns the new path.
pub fn quarantine(path: &Path) -> std::io::Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut target = path.as_os_str().to_owned();
    target.push(format!(".corrupt-{secs}"));
    let target = PathBuf::from(target);
    std::fs::rename(path, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_interrupted_part_way_leaves_the_old_file_intact() {
        let dir = std::env::temp_dir().join(format!("rats-atomic-{}", rand::random::<u64>()));
        let path = dir.join("state.json");
        write_atomic(&path, b"old contents").expect("write");
        let interrupted = write_atomic_with(&path, |f| {
            f.write_all(b"new con")?;
            Err(std::io::Error::other("disk unplugged"))
        });
        assert_eq!(
            interrupted.expect_err("failed").to_string(),
            "disk unplugged"
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"old contents");
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            entries,
            vec![std::ffi::OsString::from("state.json")],
            "no temp file left"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn writes_replace_and_corrupt_files_move_aside() {
        let dir = std::env::temp_dir().join(format!("rats-atomic-{}", rand::random::<u64>()));
        let path = dir.join("state.json");
        let parse = |b: &[u8]| serde_json::from_slice::<u32>(b).map_err(|e| e.to_string());
        assert!(matches!(
            load_or_quarantine(&path, parse),
            Ok(Loaded::Missing)
        ));
        write_atomic(&path, b"1").expect("write");
        write_atomic(&path, b"2").expect("rewrite");
        assert!(matches!(
            load_or_quarantine(&path, parse),
            Ok(Loaded::Ok(2))
        ));
        std::fs::write(&path, b"{torn").expect("corrupt");
        match load_or_quarantine(&path, parse).expect("io") {
            Loaded::Corrupt { moved_to, .. } => {
                assert!(moved_to.exists());
                assert!(!path.exists());
            }
            other => panic!("{other:?}"),
        }
        // No temporary files are left behind.
        let leftovers = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .count();
        assert_eq!(leftovers, 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
