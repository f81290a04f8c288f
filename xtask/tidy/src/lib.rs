//! Tree-health checks that run under `cargo test`, so `cargo test --workspace` alone says whether the
//! tree follows the project's rules: each crate's doc names what it must not depend on and its
//! dependencies obey it, the dependency arrows in docs/ARCHITECTURE.md's code map hold for the
//! graph `cargo metadata` reports, every document the code cites is in the repository, and every
//! configuration variable is in the README.
//!
//! This crate depends on nothing of the gateway's (only `serde_json`, to read `cargo metadata`),
//! so `cargo test -p tidy` builds in seconds on a fresh checkout.
//! Must not depend on: any workspace crate, or anything with a database, Redis or HTTP stack.

#![cfg(test)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// The workspace root (this crate lives at `xtask/tidy`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tidy is two levels inside the workspace")
        .to_path_buf()
}

/// One workspace package as `cargo metadata --no-deps` reports it.
struct Package {
    name: String,
    /// Its manifest's directory.
    dir: PathBuf,
    /// What it depends on to build and run (normal and build dependencies, not dev).
    dependencies: Vec<String>,
}

/// Runs cargo (the one running the tests) in the workspace root, offline; its standard output.
fn cargo(args: &[&str]) -> Vec<u8> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|err| panic!("running cargo {args:?}: {err}"));
    assert!(
        output.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The workspace's packages, read from `cargo metadata --no-deps` (no network, no build).
fn workspace_packages() -> Vec<Package> {
    let stdout = cargo(&["metadata", "--format-version", "1", "--no-deps"]);
    let metadata: Value = serde_json::from_slice(&stdout).expect("cargo metadata's JSON");
    let mut packages: Vec<Package> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| Package {
            name: package["name"].as_str().unwrap().to_owned(),
            dir: Path::new(package["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf(),
            dependencies: package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| dep["kind"].as_str() != Some("dev"))
                .map(|dep| dep["name"].as_str().unwrap().to_owned())
                .collect(),
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
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

/// The workspace's library crates (those under `crates/`), with their root file.
fn library_crates() -> Vec<(Package, PathBuf)> {
    let crates_dir = workspace_root().join("crates");
    workspace_packages()
        .into_iter()
        .filter(|package| package.dir.starts_with(&crates_dir))
        .map(|package| {
            let lib = package.dir.join("src/lib.rs");
            (package, lib)
        })
        .collect()
}

/// The crates a "Must not depend on" sentence forbids. It is read the way it is written:
/// backticked crate names (workspace or outside ones); "vendor crates" (`deepgram`, `openai`, `elevenlabs`); "other" or
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
        // A backticked name is a crate: a workspace one, or an outside one such as `fred`.
        if !except.contains(name) {
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

/// Every crate a package needs to build and run with its default features: its normal and build
/// dependencies, all the way down (`cargo tree`, which resolves the features of this package
/// alone, so a crate another member turns on is not counted here).
fn closure(package: &str) -> Vec<String> {
    let stdout = cargo(&[
        "tree",
        "-p",
        package,
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let mut names: Vec<String> = String::from_utf8_lossy(&stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != package)
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The "Must not depend on" line of each crate holds for everything it builds with (its
/// normal and build dependencies and theirs, default features; dev-dependencies and optional
/// simulators may use anything).
#[test]
fn every_crate_obeys_its_must_not_depend_on_line() {
    let crates = library_crates();
    let workspace: Vec<String> = crates
        .iter()
        .map(|(package, _)| package.name.clone())
        .collect();
    let mut problems = Vec::new();
    for (package, lib) in &crates {
        let name = &package.name;
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
        for dep in closure(name) {
            if forbidden.contains(&dep) {
                problems.push(format!(
                    "{name} builds with `{dep}` (cargo tree -p {name} -i {dep}), which its doc forbids"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The layers of docs/ARCHITECTURE.md's code map, top first: the fenced block after "Dependencies
/// point down this list". A line is a layer of comma-separated crates; a crate may stand on two
/// lines (`twilio`: its REST module above its pure modules), words in parentheses are notes.
fn architecture_layers(text: &str) -> Vec<Vec<String>> {
    let after = text
        .split_once("Dependencies point down this list")
        .expect("docs/ARCHITECTURE.md names the dependency order")
        .1;
    let block = after
        .split("```")
        .nth(1)
        .expect("the dependency order is a fenced block");
    block
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut depth = 0;
            let plain: String = line
                .chars()
                .filter(|&c| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => return depth == 0,
                    }
                    false
                })
                .collect();
            plain
                .split(',')
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect()
        })
        .collect()
}

/// What breaks the code map's arrows in `packages`: a package the map does not place, or a
/// dependency that does not point strictly down (from a crate's highest line to a line below the
/// dependency's lowest one).
fn arrow_problems(layers: &[Vec<String>], packages: &[Package]) -> Vec<String> {
    let mut place: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (depth, layer) in layers.iter().enumerate() {
        for name in layer {
            let entry = place.entry(name).or_insert((depth, depth));
            entry.1 = depth;
        }
    }
    let workspace: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let mut problems = Vec::new();
    for package in packages {
        let Some(&(top, _)) = place.get(package.name.as_str()) else {
            problems.push(format!("{} is not in the code map", package.name));
            continue;
        };
        for dep in &package.dependencies {
            if !workspace.contains(&dep.as_str()) {
                continue;
            }
            match place.get(dep.as_str()) {
                Some(&(_, bottom)) if bottom > top => {}
                Some(_) => problems.push(format!(
                    "{} depends on {dep}, which the code map does not put below it",
                    package.name
                )),
                None => {}
            }
        }
    }
    for name in place.keys() {
        if !workspace.contains(name) {
            problems.push(format!(
                "the code map names {name}, which is not a workspace package"
            ));
        }
    }
    problems
}

/// docs/ARCHITECTURE.md's dependency order is the graph's: every workspace package is placed
/// and every dependency between them points down.
#[test]
fn the_code_maps_arrows_hold_for_the_dependency_graph() {
    let text = std::fs::read_to_string(workspace_root().join("docs/ARCHITECTURE.md")).unwrap();
    let problems = arrow_problems(&architecture_layers(&text), &workspace_packages());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_arrow_check_catches_an_upward_or_sideways_arrow_and_an_unplaced_crate() {
    let text = "Dependencies point down this list, never up:\n\n```\nbin, tool\npipeline\nvendor, twilio (REST)\nbase, twilio (pure)\n```\n";
    let layers = architecture_layers(text);
    assert_eq!(layers[2], ["vendor", "twilio"]);
    let package = |name: &str, deps: &[&str]| Package {
        name: name.to_owned(),
        dir: PathBuf::new(),
        dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
    };
    let good = [
        package("bin", &["pipeline", "twilio", "serde"]),
        package("tool", &["base"]),
        package("pipeline", &["vendor", "twilio"]),
        package("vendor", &["base"]),
        package("twilio", &["base"]),
        package("base", &[]),
    ];
    assert_eq!(arrow_problems(&layers, &good), Vec::<String>::new());
    let bad = [
        package("bin", &["tool"]),
        package("tool", &[]),
        package("pipeline", &["bin"]),
        package("vendor", &["twilio"]),
        package("twilio", &[]),
        package("base", &[]),
        package("stray", &[]),
    ];
    assert_eq!(
        arrow_problems(&layers, &bad),
        [
            "bin depends on tool, which the code map does not put below it",
            "pipeline depends on bin, which the code map does not put below it",
            "stray is not in the code map",
        ]
    );
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
        ["call-pipeline", "crm", "deepgram", "elevenlabs", "twilio"]
    );
    assert_eq!(
        forbidden_by(
            "Must not depend on: vendor crates (`deepgram`), `crm`, `sea-orm`, `fred`, or the process environment",
            "call-pipeline",
            &workspace
        ),
        ["crm", "deepgram", "elevenlabs", "fred", "openai", "sea-orm"]
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
