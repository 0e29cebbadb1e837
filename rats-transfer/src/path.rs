//! Safe handling of file names and relative paths announced by a peer.
//!
//! In a transfer the *sending* peer names the files: it tells us "this is
//! `photos/2024/a.jpg`" and we write the bytes somewhere under a destination
//! directory chosen by our user. A hostile or buggy peer can announce
//! `../../.bashrc`, `/etc/passwd`, `C:\Windows\...`, `\\server\share`, names
//! with NUL or terminal control characters, Windows device names such as
//! `CON` or `nul.txt`, or simply absurdly long or deep paths. Any of these
//! could escape the destination, overwrite unrelated files, hang or confuse
//! the program on some platform.
//!
//! This module is the single choke point for that input:
//!
//! * [`RelPath`] is a relative path that has been validated against a strict,
//!   platform-neutral set of rules (see [`RelPath::parse`]). Code that touches
//!   the file system on behalf of a peer should only ever take a `RelPath`,
//!   never a raw string.
//! * [`resolve_under`] and [`create_dirs_under`] map a `RelPath` below a
//!   destination root for writing, refusing to walk through symbolic links
//!   (a link planted inside the destination could otherwise redirect writes
//!   anywhere) and never creating anything through one.
//! * [`resolve_for_reading`] is the serving side of a pull: the peer asks for
//!   a path inside a shared directory and we make sure the canonical target
//!   is still inside that directory.
//!
//! The write-side checks protect against hostile *names* and against links
//! that already exist in the destination. They are check-then-act on path
//! names, so they do not defend against a concurrent *local* attacker who can
//! swap directories for links between the check and the use.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Longest path component accepted, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Longest relative path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Deepest relative path accepted (components).
pub const MAX_DEPTH: usize = 64;

/// How many characters of an over-long component are shown in an error.
const ERROR_PREVIEW_CHARS: usize = 40;

/// Why a path or name was refused.
///
/// Names inside the messages are printed with `{:?}` so that control
/// characters or other oddities sent by a peer are escaped rather than
/// written raw to a terminal or a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path or name is the empty string.
    #[error("path is empty")]
    Empty,
    /// The path starts with `/` or `\` (root-relative, or a `\\server` UNC path).
    #[error("path must be relative, got an absolute path: {0:?}")]
    Absolute(String),
    /// The path contains `:` (a drive prefix such as `C:`, or an NTFS stream).
    #[error("path contains ':' (drive prefix or alternate data stream): {0:?}")]
    DrivePrefix(String),
    /// A component is `..` (the whole path is shown).
    #[error("path contains a '..' component: {0:?}")]
    ParentComponent(String),
    /// A component is `.` (the whole path is shown).
    #[error("path contains a '.' component: {0:?}")]
    CurrentComponent(String),
    /// A component is empty (`a//b`, or a trailing `/`).
    #[error("path contains an empty component ('//' or a trailing '/'): {0:?}")]
    EmptyComponent(String),
    /// A single name (see [`RelPath::single`]) contains `/`.
    #[error("name must not contain '/': {0:?}")]
    Separator(String),
    /// The path contains a NUL byte.
    #[error("path contains a NUL byte: {0:?}")]
    Nul(String),
    /// The path contains a backslash.
    #[error("path contains a backslash: {0:?}")]
    Backslash(String),
    /// A component is longer than [`MAX_COMPONENT_BYTES`].
    #[error("path component is {len} bytes, the limit is {MAX_COMPONENT_BYTES}: {start:?}...")]
    ComponentTooLong {
        /// Length of the offending component in bytes.
        len: usize,
        /// The first few characters of the offending component.
        start: String,
    },
    /// The whole path is longer than [`MAX_PATH_BYTES`].
    #[error("path is {0} bytes, the limit is {MAX_PATH_BYTES}")]
    PathTooLong(usize),
    /// The path has more than [`MAX_DEPTH`] components.
    #[error("path has {0} components, the limit is {MAX_DEPTH}")]
    TooDeep(usize),
    /// A component is a Windows device name (`CON`, `NUL`, `COM1`, `lpt1.txt`, ...).
    #[error("path component is a reserved Windows device name: {0:?}")]
    ReservedName(String),
    /// A component ends in `.` or a space, which Windows silently strips.
    #[error("path component ends with '.' or a space: {0:?}")]
    TrailingDotOrSpace(String),
    /// A component contains a control character (U+0000-U+001F, U+007F-U+009F).
    #[error("path component contains a control character: {0:?}")]
    ControlCharacter(String),
    /// A local path component is not valid UTF-8 (lossy rendering shown).
    #[error("path component is not valid UTF-8: {0:?}")]
    NotUtf8(String),
    /// A symbolic link was found under the destination root.
    #[error("refusing to follow a symlink under the destination: {}", .0.display())]
    Symlink(PathBuf),
    /// An existing non-directory is in the way where a directory is needed.
    #[error("not a directory: {}", .0.display())]
    NotADirectory(PathBuf),
    /// What a peer is told when it asks for something the share does not serve: missing,
    /// unreadable, or (through a symbolic link) outside the share, all alike, so that the
    /// answer says nothing about files outside the share.
    #[error("{0:?}: no such file or directory in the share")]
    NotInShare(String),
    /// The shared directory itself cannot be read (its path stays local).
    #[error("the share is not available")]
    ShareUnavailable,
    /// An I/O error while inspecting the file system (message includes the path).
    #[error("I/O error: {0}")]
    Io(String),
}

/// A validated relative path: components joined by `/`, none of them empty,
/// `.`, `..`, or containing NUL, `/`, `\`, `:` or control characters; no
/// Windows device names, no trailing dot or space, and within
/// [`MAX_COMPONENT_BYTES`], [`MAX_PATH_BYTES`] and [`MAX_DEPTH`].
///
/// The only ways to obtain one are [`RelPath::parse`], [`RelPath::single`],
/// [`RelPath::from_local`] and [`RelPath::join`], all of which enforce these
/// rules, so holding a `RelPath` means the rules hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    /// Parses a wire path such as `"a/b/c.txt"`.
    ///
    /// Rejects: the empty string; a leading `/` or `\` (absolute, UNC);
    /// any `:` anywhere (drive prefixes like `C:`, NTFS streams); backslashes
    /// anywhere; empty components (`a//b`, trailing `/`); `.` and `..`
    /// components; NUL and other control characters; components longer than
    /// [`MAX_COMPONENT_BYTES`]; paths longer than [`MAX_PATH_BYTES`] or deeper
    /// than [`MAX_DEPTH`]; Windows reserved device names (`CON`, `PRN`, `AUX`,
    /// `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, `CONIN$`, `CONOUT$`, `CLOCK$`, in
    /// any case and with any extension); components ending in `.` or space.
    /// Any other Unicode is accepted.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(PathError::PathTooLong(s.len()));
        }
        check_whole(s)?;
        let depth = s.split('/').count();
        if depth > MAX_DEPTH {
            return Err(PathError::TooDeep(depth));
        }
        for component in s.split('/') {
            if component.is_empty() {
                return Err(PathError::EmptyComponent(s.to_owned()));
            }
            check_component(component, s)?;
        }
        Ok(RelPath(s.to_owned()))
    }

    /// Validates one file or directory name: the same rules as
    /// [`RelPath::parse`], and additionally no `/`.
    pub fn single(name: &str) -> Result<Self, PathError> {
        if name.is_empty() {
            return Err(PathError::Empty);
        }
        if name.len() > MAX_COMPONENT_BYTES {
            return Err(too_long(name));
        }
        check_whole(name)?;
        if name.contains('/') {
            return Err(PathError::Separator(name.to_owned()));
        }
        check_component(name, name)?;
        Ok(RelPath(name.to_owned()))
    }

    /// Appends `other` below `self` (`"a/b"` joined with `"c"` is `"a/b/c"`).
    ///
    /// Both parts are already valid, so only the total length
    /// ([`PathError::PathTooLong`]) and depth ([`PathError::TooDeep`]) can fail.
    pub fn join(&self, other: &RelPath) -> Result<RelPath, PathError> {
        let len = self.0.len() + 1 + other.0.len();
        if len > MAX_PATH_BYTES {
            return Err(PathError::PathTooLong(len));
        }
        let depth = self.depth() + other.depth();
        if depth > MAX_DEPTH {
            return Err(PathError::TooDeep(depth));
        }
        let mut s = String::with_capacity(len);
        s.push_str(&self.0);
        s.push('/');
        s.push_str(&other.0);
        Ok(RelPath(s))
    }

    /// The path as a `/`-separated string, as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components of the path, first to last. Never empty.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component (the file name).
    pub fn file_name(&self) -> &str {
        self.0
            .rsplit_once('/')
            .map_or(self.0.as_str(), |(_, name)| name)
    }

    /// Builds a `RelPath` from a local relative path (for example one
    /// obtained by walking a directory and stripping its root).
    ///
    /// Every component must be valid UTF-8 and pass the rules of
    /// [`RelPath::parse`]; root, drive prefixes, `.` and `..` components are
    /// rejected. (`std::path` already drops interior `.` components and
    /// repeated separators, so `a/./b` and `a//b` become `a/b`.)
    pub fn from_local(p: &Path) -> Result<Self, PathError> {
        let mut s = String::new();
        for component in p.components() {
            let name = match component {
                Component::Prefix(prefix) => {
                    return Err(PathError::DrivePrefix(
                        prefix.as_os_str().to_string_lossy().into_owned(),
                    ));
                }
                Component::RootDir => {
                    return Err(PathError::Absolute(p.to_string_lossy().into_owned()));
                }
                Component::CurDir => {
                    return Err(PathError::CurrentComponent(
                        p.to_string_lossy().into_owned(),
                    ));
                }
                Component::ParentDir => {
                    return Err(PathError::ParentComponent(p.to_string_lossy().into_owned()));
                }
                Component::Normal(os) => os
                    .to_str()
                    .ok_or_else(|| PathError::NotUtf8(os.to_string_lossy().into_owned()))?,
            };
            if !s.is_empty() {
                s.push('/');
            }
            s.push_str(name);
            if s.len() > MAX_PATH_BYTES {
                return Err(PathError::PathTooLong(s.len()));
            }
        }
        RelPath::parse(&s)
    }

    /// Number of components.
    fn depth(&self) -> usize {
        self.components().count()
    }

    /// `base` with every component of `self` pushed onto it.
    pub(crate) fn under(&self, base: &Path) -> PathBuf {
        let mut out = base.to_path_buf();
        out.extend(self.components());
        out
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RelPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks that apply to the whole string, in a fixed order so that each
/// input maps to one predictable error.
fn check_whole(s: &str) -> Result<(), PathError> {
    if s.contains('\0') {
        return Err(PathError::Nul(s.to_owned()));
    }
    if s.starts_with('/') || s.starts_with('\\') {
        return Err(PathError::Absolute(s.to_owned()));
    }
    if s.contains(':') {
        return Err(PathError::DrivePrefix(s.to_owned()));
    }
    if s.contains('\\') {
        return Err(PathError::Backslash(s.to_owned()));
    }
    Ok(())
}

/// Checks one non-empty component `c` of `whole` that is already free of
/// NUL, `/`, `\` and `:`. `.` and `..` errors carry the whole path (the
/// component itself says nothing); the others carry the offending component.
fn check_component(c: &str, whole: &str) -> Result<(), PathError> {
    if c == "." {
        return Err(PathError::CurrentComponent(whole.to_owned()));
    }
    if c == ".." {
        return Err(PathError::ParentComponent(whole.to_owned()));
    }
    if c.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter(c.to_owned()));
    }
    if c.len() > MAX_COMPONENT_BYTES {
        return Err(too_long(c));
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace(c.to_owned()));
    }
    if is_reserved_windows_name(c) {
        return Err(PathError::ReservedName(c.to_owned()));
    }
    Ok(())
}

fn too_long(c: &str) -> PathError {
    PathError::ComponentTooLong {
        len: c.len(),
        start: c.chars().take(ERROR_PREVIEW_CHARS).collect(),
    }
}

/// Whether `name` is a Windows device name, ignoring ASCII case, anything
/// from the first `.` on (`con.txt`, `nul.tar.gz`), and spaces before it.
fn is_reserved_windows_name(name: &str) -> bool {
    const DEVICES: [&str; 7] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"];
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    if DEVICES.iter().any(|d| stem.eq_ignore_ascii_case(d)) {
        return true;
    }
    let (Some(prefix), Some(rest)) = (stem.get(..3), stem.get(3..)) else {
        return false;
    };
    if !prefix.eq_ignore_ascii_case("COM") && !prefix.eq_ignore_ascii_case("LPT") {
        return false;
    }
    let mut digits = rest.chars();
    match (digits.next(), digits.next()) {
        // Windows also treats the superscript digits as port numbers.
        (Some(d), None) => d.is_ascii_digit() || matches!(d, '\u{b9}' | '\u{b2}' | '\u{b3}'),
        _ => false,
    }
}

fn io_error(path: &Path, e: &io::Error) -> PathError {
    PathError::Io(format!("{}: {e}", path.display()))
}

/// What [`inspect`] found at a path, without following a final symlink.
enum Found {
    Missing,
    Directory,
    Other,
}

/// Looks at `path` with `symlink_metadata`; a symlink is an error.
fn inspect(path: &Path) -> Result<Found, PathError> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Err(PathError::Symlink(path.to_path_buf())),
        Ok(md) if md.is_dir() => Ok(Found::Directory),
        Ok(_) => Ok(Found::Other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Missing),
        Err(e) => Err(io_error(path, &e)),
    }
}

/// Resolves `rel` under `root` for writing and returns `root` joined with
/// the components of `rel`.
///
/// `root` itself is trusted (it may be a symlink the user chose). Every
/// existing path between `root` (exclusive) and the target, and the target
/// itself if it exists, is checked with `symlink_metadata`: a symlink is
/// [`PathError::Symlink`], an existing non-directory where a directory is
/// needed is [`PathError::NotADirectory`]. An existing regular file as the
/// target is fine (the caller decides about overwriting). Nothing is created.
pub fn resolve_under(root: &Path, rel: &RelPath) -> Result<PathBuf, PathError> {
    let depth = rel.depth();
    let mut current = root.to_path_buf();
    for (index, component) in rel.components().enumerate() {
        current.push(component);
        let is_target = index + 1 == depth;
        match inspect(&current)? {
            // Nothing below a missing entry can exist either.
            Found::Missing => return Ok(rel.under(root)),
            Found::Directory => {}
            Found::Other if is_target => {}
            Found::Other => return Err(PathError::NotADirectory(current)),
        }
    }
    Ok(current)
}

/// Creates the directories for `rel` (every component is treated as a
/// directory) under `root`, which must already exist, and returns the full
/// path.
///
/// Directories are created one component at a time with
/// [`std::fs::create_dir`], which never follows a symlink in the last
/// component. Each component is checked with `symlink_metadata` before and
/// after: a symlink is [`PathError::Symlink`], a non-directory is
/// [`PathError::NotADirectory`]; an already existing real directory is fine.
pub fn create_dirs_under(root: &Path, rel: &RelPath) -> Result<PathBuf, PathError> {
    let mut current = root.to_path_buf();
    for component in rel.components() {
        current.push(component);
        match inspect(&current)? {
            Found::Directory => continue,
            Found::Other => return Err(PathError::NotADirectory(current)),
            Found::Missing => {}
        }
        match fs::create_dir(&current) {
            Ok(()) => {}
            // Lost a race with someone else creating it; re-checked below.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&current, &e)),
        }
        match inspect(&current)? {
            Found::Directory => {}
            Found::Other => return Err(PathError::NotADirectory(current)),
            Found::Missing => {
                return Err(PathError::Io(format!(
                    "{}: directory vanished right after creation",
                    current.display()
                )));
            }
        }
    }
    Ok(current)
}

/// Resolves a requested `rel` under a shared `root` for reading (the
/// serving side of a pull) and returns the canonical path.
///
/// Both `root` and the result are canonicalized with
/// [`std::fs::canonicalize`], and the canonical result must lie inside the
/// canonical root: a symlink inside the share pointing outside of it is
/// [`PathError::NotInShare`], one pointing elsewhere inside is fine. A
/// missing target is [`PathError::Io`]; that message names only `rel`, not
/// the local location of the share.
pub fn resolve_for_reading(root: &Path, rel: &RelPath) -> Result<PathBuf, PathError> {
    let canonical_root = fs::canonicalize(root).map_err(|e| {
        tracing::warn!(root = %root.display(), error = %e, "shared directory unreadable");
        PathError::ShareUnavailable
    })?;
    let candidate = rel.under(&canonical_root);
    // Missing and outside look the same to the asking peer: a symbolic link in the share must
    // not tell it whether its target exists.
    match fs::canonicalize(&candidate) {
        Ok(canonical) if canonical.starts_with(&canonical_root) => Ok(canonical),
        _ => Err(PathError::NotInShare(rel.to_string())),
    }
}

impl serde::Serialize for RelPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RelPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique scratch directory under the system temp dir, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("rats-pathsafety-{}-{tag}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TestDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    fn err(s: &str) -> PathError {
        match RelPath::parse(s) {
            Ok(p) => panic!("{s:?} was accepted as {p:?}"),
            Err(e) => e,
        }
    }

    // ---- parse: acceptance -------------------------------------------------

    #[test]
    fn accepts_plain_paths() {
        for s in [
            "a",
            "a.txt",
            "a/b/c.txt",
            ".hidden",
            "dir/.config",
            "..foo",
            "foo..bar",
            "name with spaces.txt",
            " leading space",
            "con-tract.txt",
            "console",
            "COM10",
            "LPT",
            "nullable.rs",
            "auxiliary/prn_report.pdf",
            "a-b_c+d=e,f;g'h!i@j#k$l%m^n&o(p)q[r]s{t}u~v`w",
        ] {
            let p = rel(s);
            assert_eq!(p.as_str(), s);
        }
    }

    #[test]
    fn accepts_unicode() {
        let p = rel("données/日本語 файл.txt");
        assert_eq!(
            p.components().collect::<Vec<_>>(),
            ["données", "日本語 файл.txt"]
        );
        assert_eq!(p.file_name(), "日本語 файл.txt");
        rel("emoji 🦀/Ελληνικά/עברית.md");
        RelPath::single("日本語 файл.txt").unwrap();
    }

    // ---- parse: rejection, one per rule ------------------------------------

    #[test]
    fn rejects_empty() {
        assert_eq!(err(""), PathError::Empty);
        assert_eq!(RelPath::single(""), Err(PathError::Empty));
    }

    #[test]
    fn rejects_absolute_and_unc() {
        assert!(matches!(err("/etc/passwd"), PathError::Absolute(_)));
        assert!(matches!(err("/"), PathError::Absolute(_)));
        assert!(matches!(err("//server/share"), PathError::Absolute(_)));
        assert!(matches!(err("\\\\server\\share"), PathError::Absolute(_)));
        assert!(matches!(err("\\windows"), PathError::Absolute(_)));
    }

    #[test]
    fn rejects_any_colon() {
        for s in [
            "C:",
            "C:foo",
            "c:\\windows",
            "C:/x",
            "a/b:c",
            "file.txt:stream",
            ":",
        ] {
            assert!(matches!(err(s), PathError::DrivePrefix(_)), "{s:?}");
        }
    }

    #[test]
    fn rejects_backslash() {
        for s in ["a\\b", "a/b\\..", "dir\\", "..\\..\\x"] {
            assert!(matches!(err(s), PathError::Backslash(_)), "{s:?}");
        }
    }

    #[test]
    fn rejects_empty_components() {
        for s in ["a//b", "a/", "a/b/", "a///"] {
            assert!(matches!(err(s), PathError::EmptyComponent(_)), "{s:?}");
        }
    }

    #[test]
    fn rejects_dot_components() {
        for s in [".", "./a", "a/.", "a/./b"] {
            assert!(matches!(err(s), PathError::CurrentComponent(_)), "{s:?}");
        }
        for s in ["..", "../a", "a/..", "a/../b", "../../etc/passwd"] {
            assert!(matches!(err(s), PathError::ParentComponent(_)), "{s:?}");
        }
    }

    #[test]
    fn rejects_nul() {
        assert!(matches!(err("a\0b"), PathError::Nul(_)));
        assert!(matches!(err("\0"), PathError::Nul(_)));
        assert!(matches!(RelPath::single("x\0"), Err(PathError::Nul(_))));
    }

    #[test]
    fn rejects_control_characters() {
        for s in [
            "a\nb",
            "a\rb",
            "tab\there",
            "bell\x07",
            "esc\x1b[31m",
            "del\x7f",
            "dir/\x01file",
            "c1\u{85}",
        ] {
            assert!(matches!(err(s), PathError::ControlCharacter(_)), "{s:?}");
        }
    }

    #[test]
    fn component_length_limit() {
        let ok = "a".repeat(MAX_COMPONENT_BYTES);
        rel(&ok);
        rel(&format!("dir/{ok}"));
        RelPath::single(&ok).unwrap();

        let long = "a".repeat(MAX_COMPONENT_BYTES + 1);
        assert!(matches!(
            err(&long),
            PathError::ComponentTooLong { len, .. } if len == MAX_COMPONENT_BYTES + 1
        ));
        assert!(matches!(
            err(&format!("dir/{long}/x")),
            PathError::ComponentTooLong { .. }
        ));
        assert!(matches!(
            RelPath::single(&long),
            Err(PathError::ComponentTooLong { .. })
        ));
        // The limit counts bytes, not characters: 128 * 'é' (2 bytes) = 256.
        let accented = "é".repeat(128);
        assert!(matches!(
            err(&accented),
            PathError::ComponentTooLong { len: 256, .. }
        ));
        rel(&"é".repeat(127));
    }

    #[test]
    fn path_length_limit() {
        // 16 components of 255 bytes + 15 separators = 4095 bytes.
        let part = "a".repeat(MAX_COMPONENT_BYTES);
        let mut s = vec![part.as_str(); 16].join("/");
        assert_eq!(s.len(), 4095);
        rel(&s);
        s.push_str("/b");
        assert_eq!(err(&s), PathError::PathTooLong(MAX_PATH_BYTES + 1));

        // Exactly at the limit is fine.
        // 17 components of 240 bytes + 16 separators = 4096 bytes.
        let exact = vec!["b".repeat(240); 17].join("/");
        assert_eq!(exact.len(), MAX_PATH_BYTES);
        rel(&exact);

        // Huge inputs are refused up front.
        let huge = "a/".repeat(100_000);
        assert!(matches!(err(&huge), PathError::PathTooLong(_)));
    }

    #[test]
    fn depth_limit() {
        let ok = vec!["d"; MAX_DEPTH].join("/");
        assert_eq!(rel(&ok).components().count(), MAX_DEPTH);
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert_eq!(err(&deep), PathError::TooDeep(MAX_DEPTH + 1));
    }

    #[test]
    fn rejects_reserved_windows_names() {
        for s in [
            "CON",
            "con",
            "Con",
            "PRN",
            "aux",
            "NUL",
            "nul",
            "COM1",
            "com9",
            "COM0",
            "LPT1",
            "lpt9",
            "con.txt",
            "NUL.tar.gz",
            "aux.c",
            "Com1.log",
            "lpt3.",
            "dir/con",
            "dir/nul.txt/x",
            "con .txt",
            "COM\u{b9}",
            "lpt\u{b2}.txt",
            "CONIN$",
            "conout$",
        ] {
            let e = err(s);
            // "lpt3." trips the trailing-dot rule first; both are refusals.
            assert!(
                matches!(
                    e,
                    PathError::ReservedName(_) | PathError::TrailingDotOrSpace(_)
                ),
                "{s:?}: {e:?}"
            );
        }
        assert_eq!(err("con.txt"), PathError::ReservedName("con.txt".into()));
        assert_eq!(err("a/COM1"), PathError::ReservedName("COM1".into()));
        assert_eq!(err("LPT1"), PathError::ReservedName("LPT1".into()));
        assert_eq!(
            RelPath::single("Nul.md"),
            Err(PathError::ReservedName("Nul.md".into()))
        );
    }

    #[test]
    fn rejects_trailing_dot_or_space() {
        for s in [
            "a.",
            "a ",
            "dir./x",
            "dir /x",
            "x/file.txt.",
            "x/file.txt ",
            "...",
            "a.. ",
        ] {
            assert!(matches!(err(s), PathError::TrailingDotOrSpace(_)), "{s:?}");
        }
    }

    #[test]
    fn error_messages_show_name_escaped() {
        let msg = err("a/../b").to_string();
        assert!(msg.contains("..") && msg.contains("a/../b"), "{msg}");
        let msg = err("bad\x1b[2Jname").to_string();
        assert!(!msg.contains('\x1b'), "{msg}");
        assert!(msg.contains("\\u{1b}"), "{msg}");
        let msg = err(&"x".repeat(300)).to_string();
        assert!(msg.contains("300") && msg.contains("255"), "{msg}");
        assert!(msg.len() < 200, "{msg}");
    }

    // ---- single ------------------------------------------------------------

    #[test]
    fn single_rules() {
        assert_eq!(RelPath::single("file.txt").unwrap().as_str(), "file.txt");
        assert!(matches!(
            RelPath::single("a/b"),
            Err(PathError::Separator(_))
        ));
        assert!(matches!(RelPath::single("/a"), Err(PathError::Absolute(_))));
        assert!(matches!(
            RelPath::single(".."),
            Err(PathError::ParentComponent(_))
        ));
        assert!(matches!(
            RelPath::single("."),
            Err(PathError::CurrentComponent(_))
        ));
        assert!(matches!(
            RelPath::single("a\\b"),
            Err(PathError::Backslash(_))
        ));
        assert!(matches!(
            RelPath::single("c:"),
            Err(PathError::DrivePrefix(_))
        ));
        assert!(matches!(
            RelPath::single("x\n"),
            Err(PathError::ControlCharacter(_))
        ));
        assert!(matches!(
            RelPath::single("x "),
            Err(PathError::TrailingDotOrSpace(_))
        ));
    }

    // ---- accessors, join ---------------------------------------------------

    #[test]
    fn accessors() {
        let p = rel("a/b/c.txt");
        assert_eq!(p.components().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
        assert_eq!(p.file_name(), "c.txt");
        assert_eq!(p.to_string(), "a/b/c.txt");
        assert_eq!(rel("solo").file_name(), "solo");
        assert_eq!(AsRef::<str>::as_ref(&p), "a/b/c.txt");
    }

    #[test]
    fn join_works_and_respects_limits() {
        let j = rel("a/b").join(&rel("c/d.txt")).unwrap();
        assert_eq!(j.as_str(), "a/b/c/d.txt");
        assert_eq!(j, rel("a/b/c/d.txt"));

        let half = vec!["d"; MAX_DEPTH / 2].join("/");
        let full = rel(&half).join(&rel(&half)).unwrap();
        assert_eq!(full.components().count(), MAX_DEPTH);
        assert_eq!(full.join(&rel("x")), Err(PathError::TooDeep(MAX_DEPTH + 1)));

        let part = "a".repeat(MAX_COMPONENT_BYTES);
        let big = rel(&[part.as_str(); 8].join("/")); // 2047 bytes
        let twice = big.join(&big).unwrap(); // 4095 bytes
        assert_eq!(twice.as_str().len(), 4095);
        assert_eq!(twice.join(&rel("b")), Err(PathError::PathTooLong(4097)));
        // Joined results re-parse to the same value.
        assert_eq!(RelPath::parse(twice.as_str()).unwrap(), twice);
    }

    // ---- from_local --------------------------------------------------------

    #[test]
    fn from_local_accepts_relative() {
        let p = RelPath::from_local(Path::new("a/b/c.txt")).unwrap();
        assert_eq!(p.as_str(), "a/b/c.txt");
        let p = RelPath::from_local(&Path::new("données").join("日本語.txt")).unwrap();
        assert_eq!(p.as_str(), "données/日本語.txt");
        // std normalises interior "." and repeated separators away.
        assert_eq!(
            RelPath::from_local(Path::new("a/./b//c")).unwrap().as_str(),
            "a/b/c"
        );
    }

    #[test]
    fn from_local_rejects() {
        assert_eq!(RelPath::from_local(Path::new("")), Err(PathError::Empty));
        assert!(matches!(
            RelPath::from_local(Path::new("/abs/x")),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            RelPath::from_local(Path::new("./x")),
            Err(PathError::CurrentComponent(_))
        ));
        assert!(matches!(
            RelPath::from_local(Path::new("a/../x")),
            Err(PathError::ParentComponent(_))
        ));
        assert!(matches!(
            RelPath::from_local(Path::new("a/con.txt")),
            Err(PathError::ReservedName(_))
        ));
        assert!(matches!(
            RelPath::from_local(Path::new("a/b:c")),
            Err(PathError::DrivePrefix(_))
        ));
        assert!(matches!(
            RelPath::from_local(Path::new("a\nb")),
            Err(PathError::ControlCharacter(_))
        ));
        let deep = PathBuf::from(vec!["d"; MAX_DEPTH + 1].join("/"));
        assert!(matches!(
            RelPath::from_local(&deep),
            Err(PathError::TooDeep(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn from_local_rejects_non_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(OsStr::from_bytes(b"dir/bad\xffname"));
        assert!(matches!(RelPath::from_local(p), Err(PathError::NotUtf8(_))));
    }

    #[cfg(unix)]
    #[test]
    fn from_local_rejects_backslash_in_unix_name() {
        assert!(matches!(
            RelPath::from_local(Path::new("a/b\\c")),
            Err(PathError::Backslash(_))
        ));
    }

    // ---- resolve_under -----------------------------------------------------

    #[test]
    fn resolve_under_missing_and_existing() {
        let dir = TestDir::new("resolve");
        let root = dir.path();
        assert_eq!(
            resolve_under(root, &rel("a/b/c.txt")).unwrap(),
            root.join("a").join("b").join("c.txt")
        );
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/c.txt"), b"x").unwrap();
        assert_eq!(
            resolve_under(root, &rel("a/b/c.txt")).unwrap(),
            root.join("a/b/c.txt")
        );
        // An existing directory as the target is fine too.
        assert_eq!(resolve_under(root, &rel("a/b")).unwrap(), root.join("a/b"));
        // Nothing was created for the missing path.
        resolve_under(root, &rel("new/dir/file")).unwrap();
        assert!(!root.join("new").exists());
    }

    #[test]
    fn resolve_under_file_in_the_way() {
        let dir = TestDir::new("notdir");
        let root = dir.path();
        fs::write(root.join("f"), b"x").unwrap();
        assert_eq!(
            resolve_under(root, &rel("f/g.txt")),
            Err(PathError::NotADirectory(root.join("f")))
        );
    }

    #[cfg(unix)]
    #[test]
    fn resolve_under_refuses_symlinked_dir_pointing_outside() {
        use std::os::unix::fs::symlink;
        let outside = TestDir::new("outside");
        let dir = TestDir::new("dest");
        let root = dir.path();
        fs::create_dir(root.join("sub")).unwrap();
        symlink(outside.path(), root.join("sub/escape")).unwrap();
        assert_eq!(
            resolve_under(root, &rel("sub/escape/pwned.txt")),
            Err(PathError::Symlink(root.join("sub/escape")))
        );
        // Even a symlink pointing inside the destination is refused for writing.
        symlink(root.join("sub"), root.join("inner")).unwrap();
        assert_eq!(
            resolve_under(root, &rel("inner/x")),
            Err(PathError::Symlink(root.join("inner")))
        );
    }

    #[cfg(unix)]
    #[test]
    fn resolve_under_refuses_symlink_as_target() {
        use std::os::unix::fs::symlink;
        let outside = TestDir::new("outside-target");
        let victim = outside.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let dir = TestDir::new("dest-target");
        let root = dir.path();
        symlink(&victim, root.join("file.txt")).unwrap();
        assert_eq!(
            resolve_under(root, &rel("file.txt")),
            Err(PathError::Symlink(root.join("file.txt")))
        );
        // A dangling symlink is caught as well.
        symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        assert_eq!(
            resolve_under(root, &rel("dangling")),
            Err(PathError::Symlink(root.join("dangling")))
        );
    }

    #[cfg(unix)]
    #[test]
    fn resolve_under_allows_symlinked_root() {
        use std::os::unix::fs::symlink;
        let real = TestDir::new("real-root");
        let links = TestDir::new("link-holder");
        let root = links.path().join("root-link");
        symlink(real.path(), &root).unwrap();
        fs::create_dir(real.path().join("a")).unwrap();
        assert_eq!(resolve_under(&root, &rel("a/b")).unwrap(), root.join("a/b"));
    }

    // ---- create_dirs_under -------------------------------------------------

    #[test]
    fn create_dirs_under_creates_and_is_idempotent() {
        let dir = TestDir::new("create");
        let root = dir.path();
        let p = create_dirs_under(root, &rel("a/b/c")).unwrap();
        assert_eq!(p, root.join("a/b/c"));
        assert!(root.join("a/b/c").is_dir());
        assert_eq!(create_dirs_under(root, &rel("a/b/c")).unwrap(), p);
        create_dirs_under(root, &rel("a/b/d")).unwrap();
        assert!(root.join("a/b/d").is_dir());
    }

    #[test]
    fn create_dirs_under_file_in_the_way() {
        let dir = TestDir::new("create-file");
        let root = dir.path();
        fs::create_dir(root.join("a")).unwrap();
        fs::write(root.join("a/b"), b"x").unwrap();
        assert_eq!(
            create_dirs_under(root, &rel("a/b/c")),
            Err(PathError::NotADirectory(root.join("a/b")))
        );
        assert_eq!(
            create_dirs_under(root, &rel("a/b")),
            Err(PathError::NotADirectory(root.join("a/b")))
        );
    }

    #[test]
    fn create_dirs_under_missing_root_is_io_error() {
        let dir = TestDir::new("create-noroot");
        let root = dir.path().join("missing");
        assert!(matches!(
            create_dirs_under(&root, &rel("a")),
            Err(PathError::Io(_))
        ));
        assert!(!root.exists());
    }

    #[cfg(unix)]
    #[test]
    fn create_dirs_under_refuses_symlinks() {
        use std::os::unix::fs::symlink;
        let outside = TestDir::new("create-outside");
        let dir = TestDir::new("create-dest");
        let root = dir.path();
        fs::create_dir(root.join("a")).unwrap();
        symlink(outside.path(), root.join("a/link")).unwrap();
        assert_eq!(
            create_dirs_under(root, &rel("a/link/b")),
            Err(PathError::Symlink(root.join("a/link")))
        );
        assert_eq!(
            create_dirs_under(root, &rel("a/link")),
            Err(PathError::Symlink(root.join("a/link")))
        );
        // Nothing was created through the link.
        assert!(!outside.path().join("b").exists());
        // Dangling link: create_dir must not create its target.
        symlink(outside.path().join("ghost"), root.join("dangling")).unwrap();
        assert_eq!(
            create_dirs_under(root, &rel("dangling")),
            Err(PathError::Symlink(root.join("dangling")))
        );
        assert!(!outside.path().join("ghost").exists());
    }

    // ---- length limits are inclusive ---------------------------------------

    #[test]
    fn join_and_from_local_take_exactly_the_longest_path() {
        // 15 components of 255 bytes and one of 200, then a last one to reach the limit.
        let part = "a".repeat(MAX_COMPONENT_BYTES);
        let fifteen = format!("{}/{}", vec![part.as_str(); 15].join("/"), "c".repeat(200));
        let base = rel(&fifteen);
        let room = MAX_PATH_BYTES - fifteen.len() - 1;
        let last = "b".repeat(room);
        assert_eq!(
            base.join(&rel(&last)).unwrap().as_str().len(),
            MAX_PATH_BYTES
        );
        let over = "b".repeat(room + 1);
        assert_eq!(
            base.join(&rel(&over)),
            Err(PathError::PathTooLong(MAX_PATH_BYTES + 1))
        );
        let exact = PathBuf::from(format!("{fifteen}/{last}"));
        assert_eq!(
            RelPath::from_local(&exact).unwrap().as_str().len(),
            MAX_PATH_BYTES
        );
        let too_long = PathBuf::from(format!("{fifteen}/{over}"));
        assert!(matches!(
            RelPath::from_local(&too_long),
            Err(PathError::PathTooLong(_))
        ));
    }

    // ---- resolve_for_reading -----------------------------------------------

    #[test]
    fn resolve_for_reading_nested_file() {
        let dir = TestDir::new("read");
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/c.txt"), b"hi").unwrap();
        let got = resolve_for_reading(root, &rel("a/b/c.txt")).unwrap();
        assert_eq!(got, fs::canonicalize(root.join("a/b/c.txt")).unwrap());
        assert_eq!(fs::read(got).unwrap(), b"hi");
    }

    #[test]
    fn resolve_for_reading_missing_is_not_in_share_without_root() {
        let dir = TestDir::new("read-missing");
        let root = dir.path();
        let err = resolve_for_reading(root, &rel("nope.txt")).unwrap_err();
        assert_eq!(err, PathError::NotInShare("nope.txt".into()));
        assert_eq!(
            err.to_string(),
            "\"nope.txt\": no such file or directory in the share"
        );
        // An unreadable share says so without its local path.
        let err = resolve_for_reading(&root.join("no-root"), &rel("x")).unwrap_err();
        assert_eq!(err, PathError::ShareUnavailable);
        assert!(!err.to_string().contains(&*root.to_string_lossy()));
    }

    #[test]
    fn resolve_for_reading_parent_refused_by_parse() {
        // A `../` request never becomes a RelPath in the first place.
        assert!(matches!(
            RelPath::parse("../secret"),
            Err(PathError::ParentComponent(_))
        ));
        assert!(matches!(
            RelPath::parse("a/../../secret"),
            Err(PathError::ParentComponent(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn resolve_for_reading_symlinks() {
        use std::os::unix::fs::symlink;
        let outside = TestDir::new("read-outside");
        fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = TestDir::new("read-share");
        let root = dir.path();
        fs::create_dir(root.join("docs")).unwrap();
        fs::write(root.join("docs/readme"), b"r").unwrap();

        // Escaping links: to a file and to a directory outside the share.
        symlink(outside.path().join("secret"), root.join("leak")).unwrap();
        symlink(outside.path(), root.join("docs/out")).unwrap();
        assert_eq!(
            resolve_for_reading(root, &rel("leak")),
            Err(PathError::NotInShare("leak".into()))
        );
        assert_eq!(
            resolve_for_reading(root, &rel("docs/out/secret")),
            Err(PathError::NotInShare("docs/out/secret".into()))
        );
        // A link to a missing file outside answers exactly like a link to an existing one:
        // the share tells nothing about what exists outside it.
        symlink(outside.path().join("missing"), root.join("probe")).unwrap();
        symlink(outside.path().join("secret"), root.join("probe2")).unwrap();
        let (missing, existing) = (
            resolve_for_reading(root, &rel("probe")).unwrap_err(),
            resolve_for_reading(root, &rel("probe2")).unwrap_err(),
        );
        assert_eq!(
            missing.to_string().replace("probe", "X"),
            existing.to_string().replace("probe2", "X")
        );

        // A sibling directory sharing the root's name as a prefix is outside.
        let sibling = PathBuf::from(format!("{}-sibling", root.display()));
        fs::create_dir_all(&sibling).unwrap();
        fs::write(sibling.join("f"), b"f").unwrap();
        symlink(&sibling, root.join("sib")).unwrap();
        let r = resolve_for_reading(root, &rel("sib/f"));
        fs::remove_dir_all(&sibling).unwrap();
        assert_eq!(r, Err(PathError::NotInShare("sib/f".into())));

        // A link pointing inside the share is fine.
        symlink(root.join("docs/readme"), root.join("alias")).unwrap();
        assert_eq!(
            resolve_for_reading(root, &rel("alias")).unwrap(),
            fs::canonicalize(root.join("docs/readme")).unwrap()
        );

        // The share root may itself be reached through a symlink.
        let links = TestDir::new("read-links");
        let root_link = links.path().join("share");
        symlink(root, &root_link).unwrap();
        assert_eq!(
            resolve_for_reading(&root_link, &rel("docs/readme")).unwrap(),
            fs::canonicalize(root.join("docs/readme")).unwrap()
        );
        assert!(matches!(
            resolve_for_reading(&root_link, &rel("leak")),
            Err(PathError::NotInShare(_))
        ));
    }
}
