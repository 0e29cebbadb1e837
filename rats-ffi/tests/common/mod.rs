//! What the C and C++ test suites share: where cargo put the built library, and a directory
//! that holds it under the names an installation gives it.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// `target/<profile>`: a test runs as `target/<profile>/deps/<test>-<hash>`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    deps.parent().expect("profile directory").to_path_buf()
}

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built shared library. The crate's library is named rats_ffi (the Rust library `rats`
/// is the umbrella's); cargo builds it in deps/ for the tests and copies it up one level
/// only sometimes.
pub fn library() -> PathBuf {
    let lib = profile_dir().join("deps").join("librats_ffi.so");
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

/// `target/<profile>/<suite>/lib` with `librats.so` and `librats.so.0` (the SONAME the
/// programs record) linking to the built library, as an installation has them.
pub fn lib_dir(suite: &str) -> PathBuf {
    let dir = profile_dir().join(suite).join("lib");
    std::fs::create_dir_all(&dir).expect("create lib dir");
    for name in ["librats.so", "librats.so.0"] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(library(), &link).expect("symlink the library");
    }
    dir
}

/// The functions `librats_c.h` declares: the name before the first `(` of each line that
/// starts with `RATS_API` (every declaration in the header starts its line so).
pub fn header_functions(header: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let Some(rest) = line.trim_start().strip_prefix("RATS_API ") else {
            continue;
        };
        let Some(paren) = rest.find('(') else {
            continue;
        };
        let name = rest[..paren]
            .rsplit(|c: char| c.is_whitespace() || c == '*')
            .next()
            .unwrap_or_default();
        names.insert(name.to_string());
    }
    names
}

/// Runs a test program: it must exit 0 and print a line with `: ok`. Returns its stderr.
pub fn run_program(cmd: &mut std::process::Command, what: &str) -> String {
    let output = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(": ok"),
        "{what}: no ok line:\n{stdout}\n{stderr}"
    );
    stderr.into_owned()
}
