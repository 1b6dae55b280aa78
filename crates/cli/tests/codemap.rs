//! ARCHITECTURE.md's codemap must match the real dependency graph.
//!
//! Each row of the codemap table starts with a crate and the crates it
//! depends on: "| `sql` -> store, hash |". This test reads every
//! `crates/*/Cargo.toml` and checks that the workspace crates listed under
//! `[dependencies]` (normal dependencies, not dev or build ones) are
//! exactly the ones the row names, and that every crate has a row. It
//! parses the manifests itself rather than running `cargo metadata`, so it
//! needs no network and no second cargo process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// Workspace crates (by directory name) each crate depends on, from its
/// manifest's `[dependencies]` and target-specific dependency tables.
fn real_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("crates")).expect("crates dir") {
        let dir = entry.expect("dir entry").path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                // `[dependencies]` and `[target.'cfg(..)'.dependencies]`, but
                // not dev- or build-dependencies.
                in_deps =
                    line == "[dependencies]" || (line.starts_with("[target.") && line.ends_with(".dependencies]"));
                continue;
            }
            if !in_deps {
                continue;
            }
            let Some(key) = line.split(['=', '.', ' ']).next() else { continue };
            if let Some(dep) = key.strip_prefix("aergo-") {
                deps.insert(dep.to_string());
            }
        }
        graph.insert(name, deps);
    }
    graph
}

/// The codemap rows of ARCHITECTURE.md: crate -> the crates after "->".
fn documented_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = doc.split("## Codemap").nth(1).expect("a '## Codemap' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut graph = BTreeMap::new();
    for line in section.lines() {
        let Some(first) = line.strip_prefix('|').and_then(|l| l.split('|').next()) else { continue };
        let first = first.trim();
        let Some(rest) = first.strip_prefix('`') else { continue };
        let Some((name, tail)) = rest.split_once('`') else { continue };
        let deps: BTreeSet<String> = match tail.trim().strip_prefix("->") {
            Some(list) => list.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect(),
            None => BTreeSet::new(),
        };
        graph.insert(name.to_string(), deps);
    }
    graph
}

#[test]
fn codemap_matches_the_manifests() {
    let root = workspace_root();
    let real = real_graph(&root);
    let documented = documented_graph(&root);
    assert!(real.len() >= 10, "found only {} crates under crates/", real.len());
    let mut problems = Vec::new();
    for (name, deps) in &real {
        match documented.get(name) {
            None => problems.push(format!("crate `{name}` has no codemap row")),
            Some(doc) if doc != deps => problems.push(format!(
                "`{name}`: the codemap says -> {}, Cargo.toml says -> {}",
                doc.iter().cloned().collect::<Vec<_>>().join(", "),
                deps.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            Some(_) => {}
        }
    }
    for name in documented.keys() {
        if !real.contains_key(name) {
            problems.push(format!("codemap row `{name}` names no crate under crates/"));
        }
    }
    assert!(problems.is_empty(), "ARCHITECTURE.md's codemap is out of date:\n{}", problems.join("\n"));
}
