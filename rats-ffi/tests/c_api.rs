//! The C tests: each program in `tests/c/` is compiled with the system C compiler against
//! `include/librats_c.h` and the built `librats.so` (cargo builds the crate's cdylib before
//! its integration tests), then run: plain, with `-fsanitize=address,undefined`, and under
//! valgrind when it is installed. Also the header-drift check: the header's functions and
//! the library's exported `rats_*` symbols must be the same set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{crate_dir, header_functions, library, profile_dir};

const PROGRAMS: &[&str] = &[
    "bad_args",
    "two_clients",
    "reentrant",
    "gossip",
    "transfer",
    "discovery",
    "settings",
    "nat",
    "ice",
    "stream",
];

/// Arguments for a program under valgrind (slower by tens of times): fewer messages.
fn valgrind_args(name: &str) -> &'static [&'static str] {
    match name {
        "stream" => &["1800"],
        _ => &[],
    }
}

/// The library links, made once per test binary (the tests run in parallel).
fn lib_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| common::lib_dir("c-tests")).clone()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles `tests/c/<name>.c` with `extra` flags into a fresh directory; returns the binary.
fn compile(name: &str, variant: &str, extra: &[&str]) -> Result<PathBuf, String> {
    let lib_dir = lib_dir();
    let out_dir = profile_dir().join("c-tests").join(variant);
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let out = out_dir.join(name);
    let src = crate_dir().join("tests/c").join(format!("{name}.c"));
    let output = Command::new("cc")
        .args([
            "-std=c11", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread",
        ])
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
        .map_err(|e| format!("cc: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cc {name}.c ({variant}) failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

fn run(cmd: &mut Command, what: &str) {
    common::run_program(cmd, what);
}

#[test]
fn c_programs() {
    for name in PROGRAMS {
        let bin = compile(name, "plain", &[]).unwrap_or_else(|e| panic!("{e}"));
        run(&mut Command::new(&bin), name);
    }
}

/// The C side built with AddressSanitizer and UBSan (the Rust library is not instrumented;
/// ASan still checks every C access and the library's malloc/free pairing with the C side).
#[test]
fn c_programs_sanitized() {
    let probe = compile("bad_args", "asan", &["-fsanitize=address,undefined"]);
    let bin = match probe {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "SKIPPED: this C toolchain cannot build with -fsanitize=address,undefined: {e}"
            );
            return;
        }
    };
    // ASan's leak checker sees the library's process-wide runtime as reachable, not leaked.
    let env = [
        (
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:halt_on_error=1",
        ),
        ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
    ];
    run(Command::new(&bin).envs(env), "bad_args (asan)");
    for name in PROGRAMS.iter().filter(|n| **n != "bad_args") {
        let bin = compile(name, "asan", &["-fsanitize=address,undefined"])
            .unwrap_or_else(|e| panic!("{e}"));
        run(Command::new(&bin).envs(env), &format!("{name} (asan)"));
    }
}

/// Under valgrind: no memory errors and no definite leaks.
#[test]
fn c_programs_valgrind() {
    if !have("valgrind") {
        eprintln!("SKIPPED: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    for name in PROGRAMS {
        let bin = compile(name, "valgrind", &[]).unwrap_or_else(|e| panic!("{e}"));
        run(
            Command::new("valgrind")
                .args([
                    "--quiet",
                    "--error-exitcode=1",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite",
                ])
                .arg(format!(
                    "--suppressions={}",
                    crate_dir().join("tests/valgrind.supp").display()
                ))
                .arg(&bin)
                .args(valgrind_args(name)),
            &format!("{name} (valgrind)"),
        );
    }
}

/// The library's exported functions named `rats_*`.
fn exported_functions(lib: &Path) -> BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .expect("nm (binutils) is needed for the header-drift check");
    assert!(out.status.success(), "nm failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_addr, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "T" && name.starts_with("rats_")).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn header_matches_exports() {
    let declared = header_functions(
        &std::fs::read_to_string(crate_dir().join("include/librats_c.h")).expect("read header"),
    );
    let exported = exported_functions(&library());
    assert!(declared.len() > 40, "header parse found only {declared:?}");
    let missing: Vec<_> = declared.difference(&exported).collect();
    let undeclared: Vec<_> = exported.difference(&declared).collect();
    assert!(
        missing.is_empty() && undeclared.is_empty(),
        "header and library drifted apart:\n declared, not exported: {missing:?}\n exported, not declared: {undeclared:?}"
    );
}

/// Every function of the header has a row in the README's table, and the README's "not yet"
/// rows name no function that is exported.
#[test]
fn readme_lists_every_function() {
    let readme = std::fs::read_to_string(crate_dir().join("README.md")).expect("README.md");
    let declared = header_functions(
        &std::fs::read_to_string(crate_dir().join("include/librats_c.h")).expect("read header"),
    );
    for f in &declared {
        assert!(
            readme.contains(&format!("| `{f}` |")),
            "README has no row for {f}"
        );
    }
    for line in readme.lines().filter(|l| l.contains("| not yet |")) {
        let name = line.split('`').nth(1).unwrap_or_default();
        assert!(
            !declared.contains(name),
            "README says {name} is not yet there, but it is"
        );
    }
}

/// `install.sh` into a prefix, then a C program built with `pkg-config` flags against the
/// installed shared library, and one linked statically against `librats.a`.
#[test]
fn install_and_pkg_config() {
    if !have("pkg-config") {
        eprintln!("SKIPPED: pkg-config is not installed");
        return;
    }
    let prefix = profile_dir().join("c-tests").join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let status = Command::new(crate_dir().join("install.sh"))
        .arg(&prefix)
        .env("RATS_FFI_LIB_DIR", profile_dir().join("deps"))
        .status()
        .expect("run install.sh");
    assert!(status.success(), "install.sh failed");
    for f in [
        "include/librats_c.h",
        "lib/librats.so",
        "lib/librats.so.0",
        "lib/librats.a",
        "lib/pkgconfig/librats.pc",
    ] {
        assert!(prefix.join(f).exists(), "{f} not installed");
    }
    let pkg = |args: &[&str]| -> Vec<String> {
        let out = Command::new("pkg-config")
            .args(args)
            .arg("librats")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .output()
            .expect("pkg-config");
        assert!(out.status.success(), "pkg-config {args:?} failed");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let src = crate_dir().join("tests/c/bad_args.c");
    let out_dir = profile_dir().join("c-tests").join("installed");
    std::fs::create_dir_all(&out_dir).expect("create dir");
    let libdir = prefix.join("lib");

    let shared = out_dir.join("bad_args_shared");
    let status = Command::new("cc")
        .args(["-std=c11", "-pthread"])
        .args(pkg(&["--cflags"]))
        .arg(&src)
        .arg("-o")
        .arg(&shared)
        .args(pkg(&["--libs"]))
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .status()
        .expect("cc");
    assert!(status.success(), "cc with pkg-config flags failed");
    run(&mut Command::new(&shared), "bad_args (installed, shared)");

    // rats' plugins register themselves from static constructors in objects nothing else
    // references: a linker keeps them from an archive only with --whole-archive.
    let libs_static: Vec<String> = pkg(&["--static", "--libs"])
        .into_iter()
        .flat_map(|f| {
            if f == "-lrats" {
                vec![
                    "-Wl,--whole-archive".to_string(),
                    "-l:librats.a".to_string(),
                    "-Wl,--no-whole-archive".to_string(),
                ]
            } else {
                vec![f]
            }
        })
        .collect();
    let statically = out_dir.join("bad_args_static");
    let status = Command::new("cc")
        .args(["-std=c11", "-pthread"])
        .args(pkg(&["--cflags"]))
        .arg(&src)
        .arg("-o")
        .arg(&statically)
        .args(libs_static)
        .status()
        .expect("cc");
    assert!(status.success(), "cc against librats.a failed");
    run(
        &mut Command::new(&statically),
        "bad_args (installed, static)",
    );
}
