//! The binary runs from an empty directory, with no repository beside it: the shop
//! configuration and the demo data are built in.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::Duration,
};

fn gateway(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voice-gateway"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    command
}

#[test]
fn migrate_seed_nlu_chat_init_shop_and_serve_work_in_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["migrate"][..], &["seed-demo"][..]] {
        let status = gateway(dir.path()).args(args).status().unwrap();
        assert!(status.success(), "{args:?}: {status}");
    }
    assert!(dir.path().join("data").join("voice-gateway.db").exists());

    let mut nlu = gateway(dir.path())
        .args(["nlu", "--now", "2026-11-24T15:00:00Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    nlu.stdin
        .take()
        .unwrap()
        .write_all(b"I need an oil change tomorrow at 2pm\n")
        .unwrap();
    let output = nlu.wait_with_output().unwrap();
    assert!(output.status.success());
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["intent"], "schedule_appointment");
    assert_eq!(line["collected_slots"]["resolved_date"], "2026-11-25");

    // `chat` with no keys: the offline agent answers from the built-in shop.
    let mut chat = gateway(dir.path())
        .args(["chat", "--from", "+14135550100"])
        // A debug build on a loaded 2-core CI machine can take longer than the phone's 800 ms to
        // open the database and look the caller up; this checks who answers, not how fast.
        .env("CRM_LOOKUP_TIMEOUT_MS", "10000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    chat.stdin
        .take()
        .unwrap()
        .write_all(b"how much is an oil change\n")
        .unwrap();
    let output = chat.wait_with_output().unwrap();
    assert!(output.status.success());
    let transcript = String::from_utf8(output.stdout).unwrap();
    assert!(
        transcript.contains("agent> Hi John, thanks for calling")
            && transcript.contains("agent> Oil change usually runs $45 to $95"),
        "{transcript}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The starter configuration for a shop to edit, and the same shop read back from it.
    let shop = dir.path().join("my-shop.toml");
    assert!(
        gateway(dir.path())
            .args(["init-shop", "my-shop.toml"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        std::fs::read_to_string(&shop)
            .unwrap()
            .contains("name = \"")
    );
    assert!(
        !gateway(dir.path())
            .args(["init-shop", "my-shop.toml"])
            .status()
            .unwrap()
            .success(),
        "never over an existing file"
    );
    let with_shop = gateway(dir.path())
        .args(["--shop", "my-shop.toml", "nlu"])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(with_shop.success());

    // `serve` answers its health check.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = gateway(dir.path())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for its "listening" log line rather than polling the port.
    let stdout = server.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if line.contains("listening") {
                let _ = ready_tx.send(());
            }
        }
    });
    let ready = ready_rx.recv_timeout(Duration::from_secs(60));
    let healthy = ready.is_ok() && {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(healthy, "serve started and GET /healthz answered 200");
}
