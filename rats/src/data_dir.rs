//! The data directory: an exclusive lock (two processes never share an identity) and the
//! identity key file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rats_core::Identity;

/// File name of the node identity key inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";
const LOCK_FILE: &str = "rats.lock";

/// Errors about the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another process holds the directory.
    #[error(
        "data directory {} is in use by another rats process{}",
        .path.display(),
        holder_text(*.holder)
    )]
    InUse {
        /// The directory.
        path: PathBuf,
        /// The process that holds it, when it said so in the lock file.
        holder: Option<u32>,
    },
    /// File system error.
    #[error("data directory {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The identity file is unusable.
    #[error(transparent)]
    Identity(#[from] rats_core::identity::IdentityError),
}

fn holder_text(holder: Option<u32>) -> String {
    holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// An exclusive hold on a data directory, released on drop (or when the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    path: PathBuf,
    _file: File,
}

impl DataDirLock {
    /// Creates the directory if needed and locks it.
    pub fn acquire(dir: &Path) -> Result<Self, DataDirError> {
        let io = |source| DataDirError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if dir.exists() && !dir.is_dir() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "exists and is not a directory",
            )));
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock_path = dir.join(LOCK_FILE);
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the message another process gets (best effort).
                let _ = file
                    .set_len(0)
                    .and_then(|()| writeln!(file, "{}", std::process::id()));
                Ok(DataDirLock {
                    path: dir.to_path_buf(),
                    _file: file,
                })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&lock_path)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                Err(DataDirError::InUse {
                    path: dir.to_path_buf(),
                    holder,
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The locked directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the identity kept in this directory, creating it on first use.
    /// Returns the identity and whether it was created now.
    pub fn identity(&self) -> Result<(Identity, bool), DataDirError> {
        Ok(Identity::load_or_create(&self.path.join(IDENTITY_FILE))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_and_identity_persists() {
        let dir = std::env::temp_dir().join(format!("rats-dd-{}", std::process::id()));
        let lock = DataDirLock::acquire(&dir).expect("lock");
        let err = DataDirLock::acquire(&dir).unwrap_err();
        assert!(
            matches!(&err, DataDirError::InUse { holder: Some(pid), .. } if *pid == std::process::id()),
            "{err:?}"
        );
        assert!(
            err.to_string().ends_with(&format!(
                "in use by another rats process (pid {})",
                std::process::id()
            )),
            "{err}"
        );
        let (a, created) = lock.identity().expect("id");
        assert!(created);
        drop(lock);
        let lock = DataDirLock::acquire(&dir).expect("relock");
        let (b, created) = lock.identity().expect("id");
        assert!(!created);
        assert_eq!(a.peer_id(), b.peer_id());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_data_dir_that_is_a_file_says_so() {
        let path = std::env::temp_dir().join(format!("rats-dd-file-{}", std::process::id()));
        std::fs::write(&path, b"x").expect("file");
        let err = DataDirLock::acquire(&path).unwrap_err().to_string();
        assert!(err.ends_with("exists and is not a directory"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
