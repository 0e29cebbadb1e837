//! Test hygiene: every node that a test, a benchmark or a lab program starts reaches nothing
//! beyond this machine unless its code says why. A node starts from `local_only()`,
//! `local_builder()` or `test_config()` (no DHT routers, public STUN servers, gateway or
//! multicast); anything else needs a `// network:` comment just above it. CI also captures
//! the machine's own interfaces while the tests run and fails on any packet sent.

use std::path::{Path, PathBuf};

/// Where nodes are started from test code.
const STARTERS: &[&str] = &[
    "RatsClient::builder()",
    "NodeBuilder::new(",
    "Node::builder()",
];
/// What makes a start local.
const LOCAL: &[&str] = &["local_only()", "local_builder()", "test_config()"];
/// How far a builder chain is read (lines).
const CHAIN_LINES: usize = 30;
/// How far above a builder its configuration may be made (lines).
const CONFIG_LINES: usize = 8;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The places in `text` that start a node with neither a local configuration nor a reason.
fn unexplained_starts(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut bad = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        if !STARTERS.iter().any(|s| code.contains(s)) {
            continue;
        }
        // The chain up to the statement's end (`.start()` or `;`), and the lines just before
        // it (where a configuration it takes is built).
        let mut chain = String::new();
        for l in &lines[i.saturating_sub(CONFIG_LINES)..i] {
            chain.push_str(l);
            chain.push('\n');
        }
        for l in lines.iter().skip(i).take(CHAIN_LINES) {
            chain.push_str(l);
            chain.push('\n');
            if l.contains(".start()") || l.trim_end().ends_with(';') {
                break;
            }
        }
        let explained = lines[i.saturating_sub(3)..i]
            .iter()
            .any(|l| l.trim_start().starts_with("// network:"));
        if !explained && !LOCAL.iter().any(|m| chain.contains(m)) {
            bad.push(i + 1);
        }
    }
    bad
}

#[test]
fn every_test_node_is_local_or_says_why_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let mut files = Vec::new();
    for dir in [
        "tests/src",
        "tests/tests",
        "tests/plugins",
        "rats-cli/tests",
        "rats/examples",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    // Doc examples run as doc tests: the README's and the crate docs'.
    files.extend(["README.md", "rats/src/lib.rs"].map(|f| root.join(f)));
    assert!(files.len() > 20, "found only {} files", files.len());
    let this = Path::new(file!()).file_name().expect("name");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| f.file_name() != Some(this)) {
        let text = std::fs::read_to_string(f).expect("read");
        for line in unexplained_starts(&text) {
            found.push(format!("{}:{line}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "nodes started without local_only()/local_builder()/test_config() or a `// network:` \
         reason: {found:#?}"
    );
}

#[test]
fn the_check_itself_finds_a_node_started_with_everything_on() {
    let open = "let n = RatsClient::builder()\n    .listen(\"tcp:127.0.0.1:0\")?\n    .start()\n    .await;\n";
    assert_eq!(unexplained_starts(open), vec![1]);
    let local = "let n = RatsClient::builder()\n    .local_only()\n    .start()\n    .await;\n";
    assert!(unexplained_starts(local).is_empty());
    let explained = "// network: inside the lab\nlet n = RatsClient::builder()\n    .start();\n";
    assert!(unexplained_starts(explained).is_empty());
}
