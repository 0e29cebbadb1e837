//! The data directory: an exclusive lock (two processes never share an identity) and the
//! identity key file.

use std::fs::File;
use std::path::{Path, PathBuf};

use rats_core::Identity;

/// File name of the node identity key inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";
const LOCK_FILE: &str = "rats.lock";

/// Errors about the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another process holds the directory.
    #[error("data directory {0} is in use by another rats process")]
    InUse(PathBuf),
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
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock {
                path: dir.to_path_buf(),
                _file: file,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(DataDirError::InUse(dir.to_path_buf())),
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
        assert!(matches!(
            DataDirLock::acquire(&dir),
            Err(DataDirError::InUse(_))
        ));
        let (a, created) = lock.identity().expect("id");
        assert!(created);
        drop(lock);
        let lock = DataDirLock::acquire(&dir).expect("relock");
        let (b, created) = lock.identity().expect("id");
        assert!(!created);
        assert_eq!(a.peer_id(), b.peer_id());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
