//! Every fixture in fixtures/calls replayed with `--fast` through the same code as the command.

use super::{Options, list_captures, replay_file, workspace_root};

#[test]
fn every_call_fixture_replays_as_expected() {
    let dir = workspace_root().join("fixtures").join("calls");
    let captures = list_captures(&dir).expect("fixtures/calls holds captures");
    let out = tempfile::tempdir().expect("temp dir");
    let options = Options {
        fast: true,
        update: false,
        out: out.path().to_path_buf(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let failures = runtime.block_on(async {
        let mut replays = tokio::task::JoinSet::new();
        for path in captures.clone() {
            let options = options.clone();
            replays.spawn(async move {
                let report = replay_file(&path, &options).await;
                (path, report)
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = replays.join_next().await {
            let (path, report) = joined.expect("a replay task panicked");
            match report {
                Ok(report) if report.diff.is_empty() => {}
                Ok(report) => failures.push(format!(
                    "{}:\n  {}\n{}",
                    report.name,
                    report.diff.join("\n  "),
                    report.timeline
                )),
                Err(err) => failures.push(format!("{}: {err:#}", path.display())),
            }
        }
        failures
    });
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        captures.len(),
        failures.join("\n")
    );
    assert!(
        captures.len() >= 12,
        "expected the 12 call fixtures, found {}",
        captures.len()
    );
}

#[test]
fn every_fixture_expectation_agrees_with_its_recording() {
    let dir = workspace_root().join("fixtures").join("calls");
    for path in list_captures(&dir).expect("fixtures/calls holds captures") {
        let lines = super::capture::read_capture(&path).expect("a readable capture");
        let text = std::fs::read_to_string(super::expect_path(&path)).expect("expectations");
        let expected: serde_json::Value = serde_json::from_str(&text).expect("JSON expectations");
        let diff = super::expect::diff(&expected, &super::expect::recorded(&lines));
        assert!(
            diff.is_empty(),
            "{}:\n  {}",
            path.display(),
            diff.join("\n  ")
        );
    }
}
