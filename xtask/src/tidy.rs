//! Tree-health checks that run under `cargo test`, so `cargo test --workspace` alone says whether the
//! tree follows the project's rules.

use std::path::{Path, PathBuf};

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Every library crate's root file and the binary's `main.rs`.
fn crate_roots() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut roots = Vec::new();
    for dir in ["crates", "bins"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            for file in ["src/lib.rs", "src/main.rs"] {
                let path = entry.path().join(file);
                if path.exists() {
                    roots.push(path);
                }
            }
        }
    }
    roots.sort();
    roots
}

#[test]
fn every_crate_opens_with_a_doc_that_names_what_it_must_not_depend_on() {
    let mut problems = Vec::new();
    for path in crate_roots() {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Vec<&str> = text
            .lines()
            .take_while(|line| line.starts_with("//!"))
            .collect();
        if doc.is_empty() {
            problems.push(format!("{}: no `//!` crate doc at the top", path.display()));
        } else if path.ends_with("lib.rs")
            && !doc.iter().any(|line| line.contains("Must not depend on"))
        {
            problems.push(format!(
                "{}: the `//!` doc has no `Must not depend on` line",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_config_variable_is_documented_in_the_readme() {
    let root = workspace_root();
    let config = std::fs::read_to_string(root.join("bins/voice-gateway/src/config.rs")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let keys: Vec<&str> = config
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.len() > 3 && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(keys.len() >= 20, "found only {keys:?}");
    let missing: Vec<&&str> = keys
        .iter()
        .filter(|key| !readme.contains(&format!("| `{key}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the README's configuration table: {missing:?}"
    );
}

#[test]
fn internal_crates_take_versions_from_the_workspace() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for dir in ["crates", "bins"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let manifest = entry.path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            let mut in_deps = false;
            for line in text.lines() {
                let trimmed = line.trim();
                if trimmed.starts_with('[') {
                    in_deps = trimmed.ends_with("dependencies]");
                    continue;
                }
                if in_deps
                    && !trimmed.is_empty()
                    && !trimmed.starts_with('#')
                    && !trimmed.contains("workspace = true")
                {
                    problems.push(format!(
                        "{}: `{trimmed}` does not use `.workspace = true`",
                        manifest.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
