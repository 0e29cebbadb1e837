//! The C++ tests: each program in `tests/cpp/` is compiled with the system C++ compiler
//! (`g++ -std=c++17 -Wall -Wextra -Werror`) against `include/rats.hpp` and the built
//! `librats.so` (cargo builds the crate's cdylib before its integration tests), then run:
//! plain and with `-fsanitize=address,undefined`. The header alone is also compiled as
//! C++20, where nothing in it may be deprecated. `wrapper_calls_every_c_function` fails when
//! `librats_c.h` declares a function that `rats.hpp` does not call.

use std::path::PathBuf;
use std::process::Command;

mod common;

use common::{crate_dir, header_functions, profile_dir};

const PROGRAMS: &[&str] = &[
    "two_clients",
    "callbacks",
    "move",
    "gossip",
    "transfer",
    "discovery",
    "settings",
    "nat_ice",
];

/// Functions of `librats_c.h` that `rats.hpp` may leave uncalled, each with its reason. Empty:
/// every function has a use in C++ (`rats_string_free` frees what the wrapper takes,
/// `rats_create`/`rats_destroy` are the constructor and destructor).
const NOT_WRAPPED: &[&str] = &[];

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
    let stderr = common::run_program(cmd, what);
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

/// C++ source without its comments (`//` and `/* */`), string and character literals kept,
/// so that a function named only in a comment does not count as called.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for c in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
                out.push(' ');
            }
            '"' | '\'' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether `code` calls `name`: `name(` not preceded by a character of an identifier (so
/// `rats_connect(` is not found in `my_rats_connect(`; `rats_connect_with_strategy(` never
/// contains it).
fn calls(code: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    code.match_indices(&pattern).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// Every function of `librats_c.h` is called by `rats.hpp` (outside comments), except the
/// reasoned `NOT_WRAPPED` ones: a function added to the C API and not to the wrapper fails
/// here with its name.
#[test]
fn wrapper_calls_every_c_function() {
    let read = |name: &str| {
        std::fs::read_to_string(crate_dir().join("include").join(name))
            .unwrap_or_else(|e| panic!("read include/{name}: {e}"))
    };
    let declared = header_functions(&read("librats_c.h"));
    // librats' 122 and the rats extensions: the parse must find them all.
    assert!(
        declared.len() >= 125,
        "header parse found only {declared:?}"
    );
    let wrapper = strip_comments(&read("rats.hpp"));
    let missing: Vec<&String> = declared
        .iter()
        .filter(|f| !NOT_WRAPPED.contains(&f.as_str()) && !calls(&wrapper, f))
        .collect();
    assert!(
        missing.is_empty(),
        "rats.hpp does not call {} of the {} functions of librats_c.h (add a method for \
         each, see \"WHAT IS WRAPPED\" in rats.hpp): {missing:?}",
        missing.len(),
        declared.len()
    );
    // The exclusions stay honest: each names a declared function that is really not called.
    for f in NOT_WRAPPED {
        assert!(
            declared.contains(*f),
            "NOT_WRAPPED names {f}, not in librats_c.h"
        );
        assert!(
            !calls(&wrapper, f),
            "NOT_WRAPPED names {f}, but rats.hpp calls it"
        );
    }
}

/// The helpers above on small inputs, so that a parse that finds nothing cannot pass.
#[test]
fn drift_check_helpers() {
    let header = "#define RATS_API __attribute__((visibility(\"default\")))\n\
                  RATS_API char** rats_get_peer_ids(rats_client_t client, int* count);\n\
                  /* RATS_API in a comment */\n  RATS_API void rats_stop(rats_client_t c);\n";
    let names: Vec<String> = header_functions(header).into_iter().collect();
    assert_eq!(names, ["rats_get_peer_ids", "rats_stop"]);
    let code = strip_comments(
        "// rats_stop(h);\n/* rats_start(h); */ f(\"// not a comment\", '\"'); x = my_rats_connect(h);\n",
    );
    assert!(!calls(&code, "rats_stop") && !calls(&code, "rats_start"));
    assert!(code.contains("\"// not a comment\"") && !calls(&code, "rats_connect"));
    assert!(calls("{ rats_connect(h, p, 1); }", "rats_connect"));
    assert!(!calls("rats_connect_with_strategy(h)", "rats_connect"));
}
