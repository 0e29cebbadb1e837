//! Resume state on disk: one folder per transfer in the temporary directory, holding
//! `state.json` and, on the receiving side, one `.part` file per unfinished file and the
//! chunk log. `state.json` is written to a temporary file, then renamed, so a crash leaves the
//! old or the new state (neither it nor the data is fsynced, so a power loss can lose more).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rats_core::PeerId;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::config::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TransferConfig};
use crate::id::TransferId;
use crate::manifest::Manifest;

const STATE_FILE: &str = "state.json";
const MANIFEST_FILE: &str = "manifest.json";
/// Largest state file read back (a manifest of many files).
const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// Which side a saved transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SavedRole {
    Sender,
    Receiver,
}

/// What survives a restart.
#[derive(Clone, Debug)]
pub(crate) struct SavedTransfer {
    pub id: TransferId,
    pub peer: PeerId,
    pub role: SavedRole,
    /// Kept in `manifest.json`, written once (it never changes).
    pub manifest: Arc<Manifest>,
    /// Receiver: the destination (file, or directory root). Sender: the source given.
    pub local_path: PathBuf,
    /// Sender: the source of each file.
    pub sources: Vec<PathBuf>,
    /// Receiver: files verified and in place.
    pub files_done: Vec<bool>,
    /// Receiver: verified chunks from the start of each file.
    pub prefixes: Vec<u64>,
    /// Whether this side had paused the transfer.
    pub paused: bool,
    /// Seconds since the Unix epoch of the last save.
    pub saved_at: u64,
}

/// `state.json`: everything but the manifest, rewritten at each save.
#[derive(Serialize, Deserialize)]
struct StateFile {
    id: TransferId,
    peer: PeerId,
    role: SavedRole,
    /// Receiver: the destination (file, or directory root). Sender: the source given.
    local_path: PathBuf,
    /// Sender: the source of each file.
    #[serde(default)]
    sources: Vec<PathBuf>,
    /// Receiver: files verified and in place.
    #[serde(default)]
    files_done: Vec<bool>,
    /// Receiver: verified chunks from the start of each file.
    #[serde(default)]
    prefixes: Vec<u64>,
    /// Whether this side had paused the transfer.
    #[serde(default)]
    paused: bool,
    /// Seconds since the Unix epoch of the last save.
    saved_at: u64,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The folder of one transfer.
pub(crate) fn transfer_dir(temp: &Path, id: TransferId) -> PathBuf {
    temp.join(id.to_hex())
}

/// The partial data of file `file`.
pub(crate) fn part_path(temp: &Path, id: TransferId, file: usize) -> PathBuf {
    transfer_dir(temp, id).join(format!("{file}.part"))
}

/// The log of chunks written since the last save: (file u32, chunk u64) big-endian records,
/// appended after each chunk is verified and written, emptied after each save. With it a
/// restarted receiver knows exactly what reached the disk, not only what the last save said.
pub(crate) fn chunk_log_path(temp: &Path, id: TransferId) -> PathBuf {
    transfer_dir(temp, id).join("chunks.log")
}

/// Size of one chunk log record.
pub(crate) const CHUNK_LOG_RECORD: usize = 12;

/// Reads the chunk log (missing or torn records are ignored).
pub(crate) fn read_chunk_log(temp: &Path, id: TransferId, max_records: u64) -> Vec<(u32, u64)> {
    let path = chunk_log_path(temp, id);
    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
    if len / CHUNK_LOG_RECORD as u64 > max_records {
        return Vec::new();
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    bytes
        .chunks_exact(CHUNK_LOG_RECORD)
        .map(|r| {
            let mut f = [0u8; 4];
            f.copy_from_slice(&r[..4]);
            let mut c = [0u8; 8];
            c.copy_from_slice(&r[4..]);
            (u32::from_be_bytes(f), u64::from_be_bytes(c))
        })
        .collect()
}

/// Saves atomically (the manifest only the first time).
pub(crate) fn save(temp: &Path, state: &SavedTransfer) -> std::io::Result<()> {
    let dir = transfer_dir(temp, state.id);
    std::fs::create_dir_all(&dir)?;
    let manifest = dir.join(MANIFEST_FILE);
    if !manifest.exists() {
        let bytes = serde_json::to_vec(&*state.manifest).map_err(std::io::Error::other)?;
        write_atomically(&manifest, &bytes)?;
    }
    let file = StateFile {
        id: state.id,
        peer: state.peer,
        role: state.role,
        local_path: state.local_path.clone(),
        sources: state.sources.clone(),
        files_done: state.files_done.clone(),
        prefixes: state.prefixes.clone(),
        paused: state.paused,
        saved_at: state.saved_at,
    };
    let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
    write_atomically(&dir.join(STATE_FILE), &bytes)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        // On disk before it replaces the old file: a power loss leaves one or the other.
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Removes a transfer's folder and everything in it.
pub(crate) fn remove(temp: &Path, id: TransferId) {
    let dir = transfer_dir(temp, id);
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(dir = %dir.display(), error = %e, "could not remove transfer data");
    }
}

/// Loads every saved transfer; removes the unreadable ones and those older than `ttl_secs`.
pub(crate) fn load_all(temp: &Path, limits: &TransferConfig) -> Vec<SavedTransfer> {
    let ttl_secs = limits.resume_ttl_secs;
    let Ok(entries) = std::fs::read_dir(temp) else {
        return Vec::new();
    };
    let now = now_secs();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(id) = entry.file_name().to_str().and_then(TransferId::from_hex) else {
            continue;
        };
        match read(&entry.path(), limits) {
            Some(s) if s.id == id && now.saturating_sub(s.saved_at) <= ttl_secs => out.push(s),
            _ => {
                debug!(transfer = %id.short(), "removing stale or unreadable transfer data");
                remove(temp, id);
            }
        }
    }
    out
}

fn read(dir: &Path, limits: &TransferConfig) -> Option<SavedTransfer> {
    let read_json = |name: &str| -> Option<Vec<u8>> {
        let path = dir.join(name);
        if std::fs::metadata(&path).ok()?.len() > MAX_STATE_BYTES {
            return None;
        }
        std::fs::read(path).ok()
    };
    parse(&read_json(STATE_FILE)?, &read_json(MANIFEST_FILE)?, limits)
}

/// Parses a transfer's `state.json` and `manifest.json`. The files are ours, but a disk, an
/// editor or a crash can change them: anything the resume code could trip over (a chunk size
/// of 0 divides by zero, sizes that overflow, more progress than the manifest has) makes the
/// state unreadable rather than trusted.
///
/// A receiver's manifest must also pass the checks an offer passes under today's `limits`
/// (the receiver keeps per-chunk state: a size past the limits would be memory it never
/// agreed to hold).
pub(crate) fn parse(
    state: &[u8],
    manifest: &[u8],
    limits: &TransferConfig,
) -> Option<SavedTransfer> {
    let file: StateFile = serde_json::from_slice(state).ok()?;
    let manifest: Manifest = serde_json::from_slice(manifest).ok()?;
    if file.role == SavedRole::Receiver
        && Manifest::from_offer(&manifest.to_offer(file.id), limits).ok()? != manifest
    {
        return None;
    }
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&manifest.chunk_size)
        || manifest
            .files
            .iter()
            .try_fold(0u64, |total, f| total.checked_add(f.size))
            .is_none()
        || file.files_done.len() > manifest.files.len()
        || file.prefixes.len() > manifest.files.len()
        || file
            .prefixes
            .iter()
            .enumerate()
            .any(|(i, &p)| p > manifest.chunk_count(i))
    {
        return None;
    }
    Some(SavedTransfer {
        id: file.id,
        peer: file.peer,
        role: file.role,
        manifest: Arc::new(manifest),
        local_path: file.local_path,
        sources: file.sources,
        files_done: file.files_done,
        prefixes: file.prefixes,
        paused: file.paused,
        saved_at: file.saved_at,
    })
}
