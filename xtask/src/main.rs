//! `cargo xtask <task>`: developer chores for the voice-gateway workspace.
//!
//! Run bare, it lists the tasks. The tree-health tests live in their own small crate
//! (`xtask/tidy`), so they run without building anything of the gateway's.
//! Must not depend on: the gateway's heavy crates, unless a task needs them.

#![allow(clippy::print_stdout)]

mod bench;
mod corpus;
mod replay;
mod scale;

const TASKS: &str = "\
cargo xtask <task>

tasks:
  help     this list
  bench    latency, CPU and memory per call at scale, against local vendor simulators
           (`cargo xtask bench --help`; `--smoke` is the short CI run)
  scale    a fleet under load: N gateways behind HAProxy, a rolling restart and a kill -9
           (`cargo xtask scale --instances 2 --calls 20`; needs redis-server, haproxy, psql)
  replay   replay captured calls against the current pipeline, no API keys needed:
           `cargo xtask replay <capture.jsonl or dir> [--fast] [--update] [--out DIR]`
  make-fixture  make a call capture from a scenario script (needs espeak-ng):
           `cargo xtask make-fixture fixtures/calls/<name>.script.json...`
  corpus   make the barge-in corpus's clips from fixtures/corpus/barge-in/events.json
           (needs espeak-ng and sox): `cargo xtask corpus barge-in`";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        None | Some("help" | "-h" | "--help") => {
            println!("{TASKS}");
            Ok(())
        }
        Some("bench") => bench::main(std::env::args().skip(2).collect()),
        Some("replay") => replay::main(std::env::args().skip(2).collect()),
        Some("scale") => scale::main(std::env::args().skip(2).collect()),
        Some("corpus") => corpus::main(std::env::args().skip(2).collect()),
        Some("make-fixture") => replay::make_fixture_main(std::env::args().skip(2).collect()),
        Some(other) => anyhow::bail!("unknown task `{other}`; run `cargo xtask` for the list"),
    }
}
