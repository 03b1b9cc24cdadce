//! Structural checks of the repository: file headers, the crate graph, and which crate
//! may know which outside world. They run as tests and as `cargo xtask tidy`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Our crates and the crates of ours each may depend on (DESIGN.md's table).
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("piste-media", &[]),
    ("piste-capture", &["piste-media"]),
    ("piste-sandbox", &[]),
    ("piste-store", &[]),
    ("piste-sync", &["piste-store"]),
    ("piste-archive", &["piste-sync", "piste-store"]),
    ("piste-image", &[]),
    ("piste", &["*"]),
];

/// Outside worlds and the one crate of ours allowed to know each.
const OUTSIDE_WORLDS: &[(&str, &str)] = &[
    ("wasmtime", "piste-sandbox"),
    ("wasmtime-wasi", "piste-sandbox"),
    ("gstreamer", "piste-capture"),
    ("gstreamer-app", "piste-capture"),
    ("gstreamer-video", "piste-capture"),
    ("object_store", "piste-archive"),
    ("quinn", "piste-sync"),
    ("clap", "piste"),
];

/// Runs every check and fails with all problems listed.
pub fn run_all(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    problems.extend(file_headers(root));
    problems.extend(crate_graph(root));
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    bail!(
        "tidy found {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    )
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file starts with a `//!` line saying what it is for.
pub fn file_headers(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    files
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.lines().next().is_some_and(|l| l.starts_with("//!"))
        })
        .map(|f| {
            format!(
                "{}: does not start with a `//!` line saying what it is for",
                rel(root, &f)
            )
        })
        .collect()
}

/// Host crates depend on each other only along DESIGN.md's table, and each outside world
/// is known by one crate.
pub fn crate_graph(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("host")) else {
        return vec!["host/ is missing".into()];
    };
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED_EDGES.iter().copied().collect();
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            problems.push(format!("{}: not valid TOML", rel(root, &manifest)));
            continue;
        };
        let name = doc["package"]["name"].as_str().unwrap_or("?").to_string();
        let deps: BTreeSet<String> = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        match allowed.get(name.as_str()) {
            None => problems.push(format!(
                "{}: crate `{name}` is not in DESIGN.md's table",
                rel(root, &manifest)
            )),
            Some(edges) => {
                for dep in deps.iter().filter(|d| d.starts_with("piste")) {
                    if !edges.contains(&"*") && !edges.contains(&dep.as_str()) {
                        problems.push(format!(
                            "{}: `{name}` may not depend on `{dep}`",
                            rel(root, &manifest)
                        ));
                    }
                }
            }
        }
        for (world, owner) in OUTSIDE_WORLDS {
            if deps.contains(*world) && name != *owner {
                problems.push(format!(
                    "{}: only `{owner}` may depend on `{world}`",
                    rel(root, &manifest)
                ));
            }
        }
        if doc["package"].get("publish").is_none() {
            problems.push(format!(
                "{}: set `publish.workspace = true` (only guest-sdk is published)",
                rel(root, &manifest)
            ));
        }
    }
    problems
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    #[test]
    fn every_rust_file_says_what_it_is_for() {
        let problems = file_headers(&root());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn crate_edges_follow_the_design() {
        let problems = crate_graph(&root());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_checks_catch_a_violation() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("host/media/src")).unwrap();
        std::fs::write(
            dir.path().join("host/media/Cargo.toml"),
            "[package]\nname = \"piste-media\"\npublish = false\n[dependencies]\npiste-sandbox = \"*\"\nwasmtime = \"*\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("host/media/src/lib.rs"), "// no header\n").unwrap();
        assert_eq!(crate_graph(dir.path()).len(), 2);
        assert_eq!(file_headers(dir.path()).len(), 1);
    }
}
