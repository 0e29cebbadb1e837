//! The C++ tests: each program in `tests/cpp/` is compiled with the system C++ compiler
//! (`g++ -std=c++17 -Wall -Wextra -Werror`) against `include/rats.hpp` and the built
//! `librats.so` (cargo builds the crate's cdylib before its integration tests), then run:
//! plain and with `-fsanitize=address,undefined`. The header alone is also compiled as
//! C++20, where nothing in it may be deprecated.

use std::path::PathBuf;
use std::process::Command;

mod common;

use common::{crate_dir, profile_dir};

const PROGRAMS: &[&str] = &["two_clients", "callbacks", "move"];

const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror"];

fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "g++".to_string())
}

/// The library links, made once per test binary (the tests run in parallel).
fn lib_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| common::lib_dir("cpp-tests")).clone()
}

/// Compiles `tests/cpp/<name>.cpp` with `extra` flags; returns the binary.
fn compile(name: &str, variant: &str, extra: &[&str]) -> Result<PathBuf, String> {
    let lib_dir = lib_dir();
    let out_dir = profile_dir().join("cpp-tests").join(variant);
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let out = out_dir.join(name);
    let src = crate_dir().join("tests/cpp").join(format!("{name}.cpp"));
    let output = Command::new(cxx())
        .args(["-std=c++17", "-g", "-O1", "-pthread"])
        .args(WARNINGS)
        .args(extra)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lrats")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .map_err(|e| format!("{}: {e} (apt-get install g++)", cxx()))?;
    if !output.status.success() {
        return Err(format!(
            "{} {name}.cpp ({variant}) failed:\n{}",
            cxx(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

fn run(cmd: &mut Command, what: &str) {
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
    // What the default callback error handler printed (callbacks.cpp provokes it).
    if !stderr.is_empty() {
        eprintln!("{what} stderr:\n{stderr}");
    }
}

#[test]
fn cpp_programs() {
    for name in PROGRAMS {
        let bin = compile(name, "plain", &[]).unwrap_or_else(|e| panic!("{e}"));
        run(&mut Command::new(&bin), name);
    }
}

/// The C++ side built with AddressSanitizer and UBSan (the Rust library is not
/// instrumented; ASan still checks every C++ access, the wrapper's callback state across
/// threads and moves, and the malloc/free pairing of returned strings).
#[test]
fn cpp_programs_sanitized() {
    let env = [
        (
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:halt_on_error=1",
        ),
        ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
    ];
    for name in PROGRAMS {
        let bin = compile(
            name,
            "asan",
            &["-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        run(Command::new(&bin).envs(env), &format!("{name} (asan)"));
    }
}

/// The header compiles on its own as C++20 too (no deprecated constructs), with the same
/// warnings as errors.
#[test]
fn header_compiles_as_cpp20() {
    let src = profile_dir().join("cpp-tests").join("header_only.cpp");
    std::fs::create_dir_all(src.parent().expect("dir")).expect("create dir");
    std::fs::write(&src, "#include \"rats.hpp\"\nint main() { return 0; }\n").expect("write");
    let output = Command::new(cxx())
        .args(["-std=c++20", "-fsyntax-only"])
        .args(WARNINGS)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&src)
        .output()
        .expect("run the C++ compiler");
    assert!(
        output.status.success(),
        "rats.hpp as C++20:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
