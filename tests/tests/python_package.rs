//! The Python package's own tests (`python/tests`, pytest over real sockets on 127.0.0.1),
//! run with the interpreter of a virtual environment that has the package installed
//! (`pip install ./python pytest pytest-asyncio`; `.ci/run` makes one). The Rust `rats` tool
//! they talk to is this build's (`target/<profile>/rats`). The variables do not start with
//! `RATS_`: the `rats` tool reads those as configuration keys.

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The `rats` tool beside this test binary (`target/<profile>/deps/..`).
fn rats_tool() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let tool = exe.parent()?.parent()?.join("rats");
    tool.is_file().then_some(tool)
}

#[test]
#[ignore = "needs the Python package in a virtual environment: PYTHON_WITH_RATS=<venv>/bin/python (see .ci/run)"]
fn python_package_tests() {
    let python = std::env::var("PYTHON_WITH_RATS").unwrap_or_else(|_| {
        panic!(
            "set PYTHON_WITH_RATS to a Python with the package installed: python3 -m venv .venv && \
             .venv/bin/pip install ./python pytest pytest-asyncio"
        )
    });
    let tool = rats_tool()
        .unwrap_or_else(|| panic!("the rats tool is not built: cargo build -p rats-cli"));
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo_root().join("python/tests"))
        .env("PATH_TO_RATS_TOOL", &tool)
        // Not python/: there `import rats` would find the source folder (no native module)
        // instead of the installed package.
        .current_dir(repo_root().join("python/tests"))
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "pytest failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed"), "pytest ran nothing:\n{stdout}");
}
