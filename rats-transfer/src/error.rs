//! Errors of the transfer service.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::id::TransferId;
use crate::path::PathError;

/// Why a transfer operation failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferError {
    /// A local file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: String,
    },
    /// The destination's file system is full.
    #[error("disk full writing {0}")]
    DiskFull(PathBuf),
    /// Not enough free space for what the peer announced.
    #[error("not enough free space: {needed} bytes needed, {available} available")]
    NoSpace {
        /// Bytes the transfer needs.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// A name or path is unsafe or invalid.
    #[error("unsafe path: {0}")]
    Path(#[from] PathError),
    /// The peer refused the transfer.
    #[error("rejected by peer: {0}")]
    Rejected(String),
    /// The peer cancelled the transfer.
    #[error("cancelled by peer: {0}")]
    CancelledByPeer(String),
    /// We cancelled the transfer.
    #[error("cancelled")]
    Cancelled,
    /// The peer reports a failure.
    #[error("peer failed: {0}")]
    Remote(String),
    /// The received file's SHA-256 is not the announced one.
    #[error("SHA-256 mismatch for {0}: the file was not kept")]
    HashMismatch(String),
    /// A chunk failed its hash check too many times.
    #[error("chunk {chunk} of {file} failed its SHA-256 check {tries} times")]
    CorruptChunks {
        /// The file.
        file: String,
        /// The chunk.
        chunk: u64,
        /// How often.
        tries: u32,
    },
    /// The source file changed while it was being sent.
    #[error("source file {0} changed during the transfer")]
    SourceChanged(String),
    /// The peer's offer or request breaks a limit or is malformed.
    #[error("refused: {0}")]
    Refused(String),
    /// The peer is not connected.
    #[error("peer {0} is not connected")]
    NotConnected(String),
    /// No transfer with that id.
    #[error("no transfer {0}")]
    UnknownTransfer(TransferId),
    /// The operation does not fit the transfer's state.
    #[error("transfer {id} is {state}")]
    WrongState {
        /// The transfer.
        id: TransferId,
        /// Its state.
        state: String,
    },
    /// Too many transfers at once.
    #[error("too many transfers")]
    TooMany,
    /// The service is not running.
    #[error("transfer service stopped")]
    Stopped,
    /// No answer within the time limit.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The service's configuration breaks a rule.
    #[error("invalid transfer configuration")]
    Config(#[from] ConfigError),
}

impl TransferError {
    /// What the peer may be told of this error: nothing about this side's files and folders
    /// (local paths stay local; names the peer itself sent may appear).
    pub fn peer_reason(&self) -> String {
        match self {
            TransferError::Io { error, .. } => format!("I/O error: {error}"),
            TransferError::DiskFull(_) => "disk full".into(),
            TransferError::Path(PathError::Symlink(_)) => {
                "the destination holds a symbolic link".into()
            }
            TransferError::Path(PathError::NotADirectory(_)) => {
                "a file is in the way of a directory".into()
            }
            TransferError::Path(PathError::Io(_)) => "I/O error".into(),
            other => other.to_string(),
        }
    }

    /// An I/O error on `path`, with disk-full recognised.
    pub fn io(path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        let path = path.into();
        if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
            TransferError::DiskFull(path)
        } else {
            TransferError::Io {
                path,
                error: e.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_peer_is_told_holds_no_local_path() {
        let local = PathBuf::from("/home/alice/Downloads/secret-project/report.pdf");
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        for e in [
            TransferError::io(&local, &io),
            TransferError::DiskFull(local.clone()),
            TransferError::Path(PathError::Symlink(local.clone())),
            TransferError::Path(PathError::NotADirectory(local.clone())),
            TransferError::Path(PathError::Io(format!("{}: denied", local.display()))),
        ] {
            let told = e.peer_reason();
            assert!(!told.contains("alice"), "{e} -> {told}");
            assert!(!told.is_empty());
        }
        // Errors without local paths read as they are.
        let refused = TransferError::Refused("too many files".into());
        assert_eq!(refused.peer_reason(), refused.to_string());
    }
}
