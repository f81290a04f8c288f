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

/// The workspace's library crates by package name, with their manifest and root file.
fn library_crates() -> Vec<(String, toml::Table, PathBuf)> {
    let root = workspace_root();
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
            continue;
        };
        let manifest: toml::Table = text.parse().unwrap();
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        crates.push((name, manifest, entry.path().join("src/lib.rs")));
    }
    crates.sort_by(|a, b| a.0.cmp(&b.0));
    crates
}

/// The crates a "Must not depend on" sentence forbids. It is read the way it is written:
/// backticked crate names; "vendor crates" (`deepgram`, `openai`, `elevenlabs`); "other" or
/// "any" "workspace crate(s)", with the names after "except" allowed; `axum`, `sea-orm`, and
/// `tokio` when it says "tokio or any async runtime".
fn forbidden_by(sentence: &str, this: &str, workspace: &[String]) -> Vec<String> {
    let lower = sentence.to_lowercase();
    let mut forbidden: Vec<String> = Vec::new();
    let ticked: Vec<&str> = lower.split('`').skip(1).step_by(2).collect();
    let except: Vec<&str> = lower
        .split_once("except")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    for name in &ticked {
        if workspace.iter().any(|w| w == name) && !except.contains(name) {
            forbidden.push((*name).to_owned());
        }
    }
    if lower.contains("vendor crate") {
        forbidden.extend(["deepgram", "openai", "elevenlabs"].map(str::to_owned));
    }
    if lower.contains("workspace crate") {
        forbidden.extend(
            workspace
                .iter()
                .filter(|name| !except.contains(&name.as_str()))
                .cloned(),
        );
    }
    for (phrase, krate) in [
        ("axum", "axum"),
        ("sea-orm", "sea-orm"),
        ("tokio or any async runtime", "tokio"),
    ] {
        if lower.contains(phrase) {
            forbidden.push(krate.to_owned());
        }
    }
    forbidden.retain(|name| name != this);
    forbidden.sort();
    forbidden.dedup();
    forbidden
}

/// The "Must not depend on" line of each crate holds for its `[dependencies]` (dev-dependencies
/// may use anything).
#[test]
fn every_crate_obeys_its_must_not_depend_on_line() {
    let crates = library_crates();
    let workspace: Vec<String> = crates.iter().map(|(name, ..)| name.clone()).collect();
    let mut problems = Vec::new();
    for (name, manifest, lib) in &crates {
        let text = std::fs::read_to_string(lib).unwrap();
        let doc: String = text
            .lines()
            .take_while(|line| line.starts_with("//!"))
            .map(|line| line.trim_start_matches("//!").trim())
            .collect::<Vec<_>>()
            .join(" ");
        let Some(at) = doc.find("Must not depend on:") else {
            continue;
        };
        let rest = &doc[at..];
        let sentence = rest
            .find(". ")
            .map_or(rest, |end| &rest[..end])
            .trim_end_matches('.');
        let forbidden = forbidden_by(sentence, name, &workspace);
        let deps: Vec<&String> = manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|deps| deps.keys().collect())
            .unwrap_or_default();
        for dep in deps {
            if forbidden.contains(dep) {
                problems.push(format!("{name} depends on `{dep}`, which its doc forbids"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_must_not_depend_on_reading_catches_what_it_should() {
    let workspace: Vec<String> = ["crm", "deepgram", "openai", "providers", "twilio"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(
        forbidden_by(
            "Must not depend on: other vendor crates, `call-pipeline`, or any workspace crate except `providers`",
            "openai",
            &workspace
        ),
        ["crm", "deepgram", "elevenlabs", "twilio"]
    );
    assert_eq!(
        forbidden_by(
            "Must not depend on: a tokio runtime in the pure modules, axum, or other workspace crates",
            "twilio",
            &workspace
        ),
        ["axum", "crm", "deepgram", "openai", "providers"]
    );
    assert_eq!(
        forbidden_by(
            "Must not depend on: tokio or any async runtime",
            "x",
            &workspace
        ),
        ["tokio"]
    );
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

/// Every Rust file under `crates/`, `bins/` and `xtask/`.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "bins", "xtask"] {
        walk(&root.join(dir), &mut files);
    }
    files
}

/// The `*.md` paths a text names (`docs/protocols.md`, `fixtures/nlu/README.md`).
fn cited_documents(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
        .filter(|word| word.ends_with(".md") && word.len() > 3)
        .collect()
}

#[test]
fn every_document_the_code_cites_is_in_the_repository() {
    let root = workspace_root();
    let mut missing = Vec::new();
    for file in rust_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for cited in cited_documents(&text) {
            // Paths are from the repository root; only the top-level README may go bare.
            if cited.starts_with("..") || !root.join(cited).is_file() {
                missing.push(format!(
                    "{}: {cited}",
                    file.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "cite documents by their path in this repository: {missing:#?}"
    );
}

#[test]
fn cited_documents_are_read_from_prose() {
    assert_eq!(
        cited_documents(
            "see docs/protocols.md 5.2 and (docs/dependencies.md, section 3); not x.mdx"
        ),
        ["docs/protocols.md", "docs/dependencies.md"]
    );
    assert_eq!(
        cited_documents("`fixtures/nlu/README.md`)."),
        ["fixtures/nlu/README.md"]
    );
}
