//! The contracts sit below the runtime: no module of rats-core but the crate root imports
//! `node` (the runtime), and the top-level modules import each other without a cycle. Read
//! from the sources, so a change that breaks the layering fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files at the top of `src/` that sit above everything, like the crate root: the fuzz
/// targets' entry points and the round-trip property tests reach into the runtime on purpose.
const ABOVE_EVERYTHING: &[&str] = &["lib", "fuzz_entry", "roundtrip_tests"];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module → the top-level modules its code (not its tests or comments) names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let target: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !target.is_empty() && target != module {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    edges
}

#[test]
fn only_the_crate_root_imports_the_runtime() {
    let into_node: Vec<String> = imports()
        .into_iter()
        .filter(|(m, to)| {
            !ABOVE_EVERYTHING.contains(&m.as_str()) && m != "node" && to.contains("node")
        })
        .map(|(m, _)| m)
        .collect();
    assert!(
        into_node.is_empty(),
        "contracts importing node/: {into_node:?}"
    );
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let mut edges = imports();
    for m in ABOVE_EVERYTHING {
        edges.remove(*m);
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => return None,
            Some(false) => {
                let start = path.iter().position(|p| p == m).unwrap_or(0);
                return Some(path[start..].to_vec());
            }
            None => {}
        }
        state.insert(m.to_string(), false);
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(m.to_string(), true);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        let cycle = visit(m, &edges, &mut state, &mut Vec::new());
        assert!(cycle.is_none(), "import cycle: {cycle:?}");
    }
}
