use std::time::Duration;

use super::*;
use crate::ApiKey;

fn chunk(byte: u8, len: usize) -> Bytes {
    Bytes::from(vec![byte; len])
}

/// Drains what the current socket would be sent, as `(first byte, len)` pairs.
fn drain(log: &mut AudioLog) -> Vec<(u8, usize)> {
    std::iter::from_fn(|| log.next_unsent())
        .map(|c| (c[0], c.len()))
        .collect()
}

#[test]
fn finals_trim_the_replay_and_rewind_reports_the_origin() {
    let mut log = AudioLog::new(10_000);
    for byte in 1..=4 {
        log.push(chunk(byte, 160));
    }
    assert_eq!(drain(&mut log), [(1, 160), (2, 160), (3, 160), (4, 160)]);
    // A final covering 0.03 s = 240 bytes forgets chunk 1 only (chunk 2 straddles it).
    log.finalized_up_to(240);
    log.push(chunk(5, 160));
    assert_eq!(log.rewind(), 160);
    assert_eq!(drain(&mut log), [(2, 160), (3, 160), (4, 160), (5, 160)]);
    log.finalized_up_to(800);
    assert!(log.is_empty());
    assert_eq!(log.rewind(), 800);
}

#[test]
fn unsent_audio_is_never_forgotten_by_a_final() {
    let mut log = AudioLog::new(10_000);
    log.push(chunk(1, 160));
    log.finalized_up_to(1_000);
    assert_eq!(drain(&mut log), [(1, 160)]);
}

#[test]
fn the_bound_drops_sent_audio_first_and_counts_lost_audio() {
    let mut log = AudioLog::new(400);
    log.push(chunk(1, 160));
    log.push(chunk(2, 160));
    assert_eq!(drain(&mut log), [(1, 160), (2, 160)]);
    // Over the bound: the oldest (already sent) chunk goes, nothing is lost.
    log.push(chunk(3, 160));
    assert_eq!(log.n_dropped_unsent, 0);
    // Reconnecting: everything is unsent now; two more chunks push out two unsent ones.
    assert_eq!(log.rewind(), 160);
    log.push(chunk(4, 160));
    log.push(chunk(5, 160));
    assert_eq!(log.n_dropped_unsent, 320);
    assert_eq!(drain(&mut log), [(4, 160), (5, 160)]);
}

#[test]
fn listen_url_has_every_phone_parameter() {
    let mut config = DeepgramSttConfig::new(ApiKey::new("k"));
    assert_eq!(
        listen_url(&config).as_str(),
        "wss://api.deepgram.com/v1/listen?model=nova-3&language=en-US&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true&punctuate=true&smart_format=true"
    );
    config.url = Url::parse("ws://127.0.0.1:1/v1/listen?keyterm=brakes").unwrap();
    config.endpointing = None;
    config.utterance_end = None;
    config.smart_format = false;
    config.model = "nova-2-phonecall".to_owned();
    config.keepalive_interval = Duration::from_secs(3);
    assert_eq!(
        listen_url(&config).as_str(),
        "ws://127.0.0.1:1/v1/listen?keyterm=brakes&model=nova-2-phonecall&language=en-US&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&endpointing=false&vad_events=true&punctuate=true&smart_format=false"
    );
}
