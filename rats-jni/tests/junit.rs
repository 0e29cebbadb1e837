//! The Java binding's own tests: `java/build.sh test` compiles `java/` (the idiomatic API,
//! librats' compatibility classes and the JUnit 5 tests) against the `librats_jni.so` cargo
//! built for this test (`target/<profile>`), and runs them with JUnit's console launcher
//! (Debian's `junit5` package).

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>`: a test runs as `target/<profile>/deps/<test>-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .expect("target/<profile>")
}

/// The directory holding the built `librats_jni.so`: cargo builds it in `deps/` for the
/// tests and copies it up one level only sometimes.
fn lib_dir() -> PathBuf {
    let profile = profile_dir();
    [profile.join("deps"), profile]
        .into_iter()
        .find(|d| d.join("librats_jni.so").is_file())
        .unwrap_or_else(|| {
            panic!(
                "librats_jni.so was not built (in {})",
                profile_dir().display()
            )
        })
}

#[test]
#[ignore = "needs a JDK (javac) and Debian's junit5 (junit-platform-console-standalone.jar)"]
fn java_tests() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .expect("repository root");
    let lib_dir = lib_dir();
    let out = Command::new("bash")
        .arg(repo.join("java/build.sh"))
        .arg("test")
        .env("JNI_LIB_DIR_FOR_RATS", &lib_dir)
        .env("JAVA_BUILD_DIR", profile_dir().join("java-tests"))
        .output()
        .expect("run java/build.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "java/build.sh test failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// The `native` methods `NativeRats.java` declares.
fn java_natives(source: &str) -> std::collections::BTreeSet<String> {
    source
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("public static native ")?;
            let before_paren = rest.split('(').next()?;
            before_paren.split_whitespace().last().map(str::to_string)
        })
        .collect()
}

/// The `Java_io_rats_jni_NativeRats_*` functions the library exports.
fn exported_natives(lib: &std::path::Path) -> std::collections::BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .expect("nm (binutils) for the export check");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .last()?
                .strip_prefix("Java_io_rats_jni_NativeRats_")
        })
        .map(str::to_string)
        .collect()
}

/// Every native method of `NativeRats.java` is exported by the library and the library
/// exports no other: a method added on one side only fails here, not at run time with an
/// `UnsatisfiedLinkError`.
#[test]
fn java_natives_match_the_library() {
    let source_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../java/src/main/java/io/rats/jni/NativeRats.java");
    let source = std::fs::read_to_string(&source_path).expect("read NativeRats.java");
    let declared = java_natives(&source);
    let exported = exported_natives(&lib_dir().join("librats_jni.so"));
    assert!(declared.len() > 50, "parsed only {declared:?}");
    let missing: Vec<_> = declared.difference(&exported).collect();
    let extra: Vec<_> = exported.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "declared in NativeRats.java, not exported: {missing:?}; exported, not declared: {extra:?}"
    );
    assert_eq!(
        java_natives(
            "    public static native String[] getPeerIds(long handle);\n // public static native void x();"
        ),
        ["getPeerIds".to_string()].into_iter().collect()
    );
}
