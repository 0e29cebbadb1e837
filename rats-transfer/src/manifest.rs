//! What a transfer moves: files with size, modification time and SHA-256, plus the
//! directories of a tree. Built from local files by the sender and from an offer (checked
//! against the limits) by the receiver.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TransferConfig};
use crate::error::TransferError;
use crate::id::TransferId;
use crate::path::RelPath;
use crate::wire::{Kind, Offer, WireFile};

/// One file of a transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the transfer's root; for a single file, its name.
    pub rel: RelPath,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// SHA-256 of the content.
    #[serde(with = "hex_hash")]
    pub sha256: [u8; 32],
}

/// The files and directories of one transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// File or directory.
    pub kind: Kind,
    /// Name of the file or of the directory's root.
    pub name: String,
    /// Files in sending order.
    pub files: Vec<ManifestFile>,
    /// Directories of the tree, parents before children.
    pub dirs: Vec<RelPath>,
    /// Bytes per chunk.
    pub chunk_size: u32,
}

impl Manifest {
    /// Total bytes of all files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Chunks of file `i` (0 for an empty file).
    pub fn chunk_count(&self, i: usize) -> u64 {
        self.files
            .get(i)
            .map_or(0, |f| f.size.div_ceil(u64::from(self.chunk_size)))
    }

    /// Chunks of all files.
    pub fn total_chunks(&self) -> u64 {
        (0..self.files.len()).map(|i| self.chunk_count(i)).sum()
    }

    /// Byte offset and length of chunk `c` of file `i`.
    pub fn chunk_span(&self, i: usize, c: u64) -> (u64, usize) {
        let cs = u64::from(self.chunk_size);
        let size = self.files.get(i).map_or(0, |f| f.size);
        let start = c.saturating_mul(cs).min(size);
        let len = (size - start).min(cs) as usize;
        (start, len)
    }

    /// The offer that announces this manifest.
    pub fn to_offer(&self, id: TransferId) -> Offer {
        Offer {
            id,
            kind: self.kind,
            name: self.name.clone(),
            files: self
                .files
                .iter()
                .map(|f| WireFile {
                    path: f.rel.to_string(),
                    size: f.size,
                    mtime: f.mtime,
                    sha256: hex::encode(f.sha256),
                })
                .collect(),
            dirs: self.dirs.iter().map(|d| d.to_string()).collect(),
            chunk_size: self.chunk_size,
        }
    }

    /// Checks a peer's offer: every name safe, sizes and counts within `limits`, no path
    /// announced twice, hashes well formed.
    pub fn from_offer(offer: &Offer, limits: &TransferConfig) -> Result<Manifest, TransferError> {
        let refuse = |s: String| Err(TransferError::Refused(s));
        // Chunks are held in memory up to a window: a peer does not get to pick 4 MiB ones
        // unless we use large chunks ourselves.
        let max_chunk = limits.chunk_size.clamp(1 << 20, MAX_CHUNK_SIZE);
        if !(MIN_CHUNK_SIZE..=max_chunk).contains(&offer.chunk_size) {
            return refuse(format!(
                "chunk size {} out of range ({MIN_CHUNK_SIZE}..={max_chunk})",
                offer.chunk_size
            ));
        }
        let count = offer.files.len().saturating_add(offer.dirs.len());
        if count > limits.max_files as usize {
            return refuse(format!(
                "{count} entries, more than the limit of {}",
                limits.max_files
            ));
        }
        let name = RelPath::single(&offer.name)?.to_string();
        if offer.kind == Kind::File && (offer.files.len() != 1 || !offer.dirs.is_empty()) {
            return refuse("a file offer must list exactly one file".into());
        }
        let mut total: u64 = 0;
        let mut seen = std::collections::HashSet::new();
        let mut dirs = Vec::with_capacity(offer.dirs.len());
        for d in &offer.dirs {
            let rel = RelPath::parse(d)?;
            if !seen.insert(rel.clone()) {
                return refuse(format!("{rel} is announced twice"));
            }
            dirs.push(rel);
        }
        let mut files = Vec::with_capacity(offer.files.len());
        for f in &offer.files {
            let rel = match offer.kind {
                Kind::File => RelPath::single(&f.path)?,
                Kind::Directory => RelPath::parse(&f.path)?,
            };
            if f.size > limits.max_file_size {
                return refuse(format!(
                    "{rel} has {} bytes, more than the limit of {}",
                    f.size, limits.max_file_size
                ));
            }
            total = match total.checked_add(f.size) {
                Some(t) if t <= limits.max_transfer_size => t,
                _ => {
                    return refuse(format!(
                        "more than the limit of {} bytes in one transfer",
                        limits.max_transfer_size
                    ));
                }
            };
            let sha256 = parse_hash(&f.sha256)
                .ok_or_else(|| TransferError::Refused(format!("bad SHA-256 for {rel}")))?;
            if !seen.insert(rel.clone()) {
                return refuse(format!("{rel} is announced twice"));
            }
            files.push(ManifestFile {
                rel,
                size: f.size,
                mtime: f.mtime,
                sha256,
            });
        }
        Ok(Manifest {
            kind: offer.kind,
            name,
            files,
            dirs,
            chunk_size: offer.chunk_size,
        })
    }
}

/// Parses 64 hex characters.
pub fn parse_hash(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Seconds since the Unix epoch of a file's modification time (0 if unknown).
pub fn mtime_secs(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The `SystemTime` of `secs` since the Unix epoch.
/// (A time a peer announced: out of range means "now", never a panic.)
pub fn system_time(secs: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or_else(SystemTime::now)
}

/// SHA-256 of each chunk of each file of an outgoing transfer, computed with the whole-file
/// hashes so that sending needs no second pass over the data. A file's list is empty when it
/// was not computed (too many chunks); its chunks are then hashed as they are sent.
pub type ChunkHashes = Vec<Vec<[u8; 32]>>;

/// Most chunk hashes kept for one file (32 MiB of hashes).
const MAX_CACHED_CHUNKS: u64 = 1 << 20;

/// What hashing a local file gives.
pub struct HashedFile {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
    /// SHA-256 of each chunk (see [`ChunkHashes`]).
    pub chunks: Vec<[u8; 32]>,
}

/// Size, modification time and SHA-256 of a local file, and the SHA-256 of each of its
/// chunks. A multi-chunk file is read twice in parallel (page cache): one thread hashes the
/// whole file, another the chunks.
pub fn hash_file(path: &Path, chunk_size: u32) -> Result<HashedFile, TransferError> {
    let io = |e: std::io::Error| TransferError::io(path, &e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(TransferError::Io {
            path: path.into(),
            error: "not a regular file".into(),
        });
    }
    let chunk = u64::from(chunk_size.max(1));
    let expected = meta.len();
    let count = expected.div_ceil(chunk);
    let (whole, chunks) = std::thread::scope(|scope| {
        let per_chunk = (count > 1 && count <= MAX_CACHED_CHUNKS)
            .then(|| scope.spawn(|| chunk_hashes(path, chunk)));
        let whole = whole_file_sha256(&mut f);
        let chunks = per_chunk
            .and_then(|t| t.join().ok())
            .and_then(Result::ok)
            .unwrap_or_default();
        (whole, chunks)
    });
    let (size, sha256) = whole.map_err(io)?;
    if size != expected {
        return Err(TransferError::SourceChanged(path.display().to_string()));
    }
    let chunks = match count {
        0 => Vec::new(),
        // One chunk: its hash is the file's.
        1 => vec![sha256],
        _ if chunks.len() as u64 == count => chunks,
        _ => Vec::new(),
    };
    Ok(HashedFile {
        size,
        mtime: mtime_secs(&meta),
        sha256,
        chunks,
    })
}

fn whole_file_sha256(f: &mut std::fs::File) -> std::io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().into()))
}

fn chunk_hashes(path: &Path, chunk: u64) -> std::io::Result<Vec<[u8; 32]>> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; chunk as usize];
    let mut out = Vec::new();
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(out);
        }
        out.push(Sha256::digest(&buf[..filled]).into());
        if filled < buf.len() {
            return Ok(out);
        }
    }
}

/// The name a local path is sent under, unless the caller chose one.
fn display_name(path: &Path, chosen: Option<&str>) -> Result<String, TransferError> {
    let name = match chosen {
        Some(n) => n.to_string(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| TransferError::Io {
                path: path.into(),
                error: "has no usable file name".into(),
            })?
            .to_string(),
    };
    Ok(RelPath::single(&name)?.to_string())
}

/// The manifest of one local file and its source path.
pub fn for_file(
    path: &Path,
    name: Option<&str>,
    chunk_size: u32,
) -> Result<LocalManifest, TransferError> {
    let name = display_name(path, name)?;
    let h = hash_file(path, chunk_size)?;
    let manifest = Manifest {
        kind: Kind::File,
        name: name.clone(),
        files: vec![ManifestFile {
            rel: RelPath::single(&name)?,
            size: h.size,
            mtime: h.mtime,
            sha256: h.sha256,
        }],
        dirs: Vec::new(),
        chunk_size,
    };
    Ok(LocalManifest {
        manifest,
        sources: vec![path.to_path_buf()],
        chunk_hashes: vec![h.chunks],
    })
}

/// A manifest built from local files, with where each file is and its chunk hashes.
pub struct LocalManifest {
    /// What is offered.
    pub manifest: Manifest,
    /// The source of each file.
    pub sources: Vec<PathBuf>,
    /// Chunk hashes of each file.
    pub chunk_hashes: ChunkHashes,
}

/// The manifest of a local directory (symbolic links are skipped, never followed) and the
/// source path of each file. Entries are sorted, parents before children.
pub fn for_directory(
    dir: &Path,
    name: Option<&str>,
    recursive: bool,
    chunk_size: u32,
    max_entries: usize,
) -> Result<LocalManifest, TransferError> {
    let name = display_name(dir, name)?;
    let io = |p: &Path, e: std::io::Error| TransferError::io(p, &e);
    let meta = std::fs::metadata(dir).map_err(|e| io(dir, e))?;
    if !meta.is_dir() {
        return Err(TransferError::Io {
            path: dir.into(),
            error: "not a directory".into(),
        });
    }
    let mut files = Vec::new();
    let mut sources = Vec::new();
    let mut chunk_hashes = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), None::<RelPath>)];
    while let Some((abs, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&abs)
            .map_err(|e| io(&abs, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| io(&abs, e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let ft = entry.file_type().map_err(|e| io(&entry.path(), e))?;
            // Symbolic links and special files are skipped, whatever their names.
            if !(ft.is_file() || ft.is_dir() && recursive) {
                continue;
            }
            let file_name = entry.file_name();
            let child = RelPath::from_local(Path::new(&file_name))?;
            let child = match &rel {
                Some(r) => r.join(&child)?,
                None => child,
            };
            if files.len() + dirs.len() >= max_entries {
                return Err(TransferError::Refused(format!(
                    "{} has more than {max_entries} entries",
                    dir.display()
                )));
            }
            if ft.is_dir() {
                if recursive {
                    dirs.push(child.clone());
                    subdirs.push((entry.path(), Some(child)));
                }
            } else if ft.is_file() {
                let h = hash_file(&entry.path(), chunk_size)?;
                files.push(ManifestFile {
                    rel: child,
                    size: h.size,
                    mtime: h.mtime,
                    sha256: h.sha256,
                });
                sources.push(entry.path());
                chunk_hashes.push(h.chunks);
            }
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    let manifest = Manifest {
        kind: Kind::Directory,
        name,
        files,
        dirs,
        chunk_size,
    };
    Ok(LocalManifest {
        manifest,
        sources,
        chunk_hashes,
    })
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::parse_hash(&s).ok_or_else(|| serde::de::Error::custom("bad SHA-256"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer_with(size: u64, path: &str) -> Offer {
        Offer {
            id: TransferId::random(),
            kind: Kind::File,
            name: path.into(),
            files: vec![WireFile {
                path: path.into(),
                size,
                mtime: 0,
                sha256: hex::encode([0u8; 32]),
            }],
            dirs: vec![],
            chunk_size: 65536,
        }
    }

    #[test]
    fn offers_beyond_the_limits_are_refused() {
        let cfg = TransferConfig::default();
        assert!(Manifest::from_offer(&offer_with(10, "a.txt"), &cfg).is_ok());
        assert!(Manifest::from_offer(&offer_with(1 << 63, "a.txt"), &cfg).is_err());
        assert!(Manifest::from_offer(&offer_with(10, "../a.txt"), &cfg).is_err());
        assert!(Manifest::from_offer(&offer_with(10, "/etc/passwd"), &cfg).is_err());
        let mut o = offer_with(10, "a");
        o.chunk_size = 1;
        assert!(Manifest::from_offer(&o, &cfg).is_err());
    }

    #[test]
    fn an_absurd_mtime_from_a_peer_is_not_a_panic() {
        let _ = system_time(u64::MAX);
        assert_eq!(system_time(0), UNIX_EPOCH);
    }

    #[test]
    fn chunk_spans_cover_the_file() {
        let m = Manifest::from_offer(&offer_with(65536 * 2 + 1, "x"), &TransferConfig::default())
            .unwrap();
        assert_eq!(m.chunk_count(0), 3);
        assert_eq!(m.chunk_span(0, 2), (131072, 1));
        assert_eq!(m.chunk_span(0, 9), (131073, 0));
    }
}
