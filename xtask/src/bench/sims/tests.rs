use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use deepgram::sim::listen::{SpeechTracker, SttOut};

use super::{LlmSimConfig, SimConfig, Sims, SttSimConfig, TtsSimConfig};
use crate::bench::audio;

const KEY: &str = "test-key";
/// Hang guard for socket tests; the delays under test are tens of milliseconds.
const GUARD: Duration = Duration::from_secs(5);

fn stt_config() -> SttSimConfig {
    SttSimConfig {
        endpointing_delay: Duration::from_millis(100),
        first_interim_after: Duration::from_millis(60),
        speech_started_after: Duration::ZERO,
        interim_interval: Duration::from_millis(100),
        finalize_delay: Duration::ZERO,
        silence_result_every: Duration::from_millis(100),
        energy_threshold: 500,
        idle_timeout: Duration::from_secs(10),
        script: vec!["book an oil change".to_owned(), "a red honda".to_owned()].into(),
    }
}

fn config() -> SimConfig {
    SimConfig {
        api_key: KEY.to_owned(),
        stt: stt_config(),
        tts: TtsSimConfig {
            time_to_first_audio: Duration::from_millis(30),
            ms_per_char: 65,
            speed: 20.0,
            chunk: Duration::from_millis(100),
        },
        llm: LlmSimConfig {
            time_to_first_token: Duration::from_millis(20),
            tokens_per_second: 500.0,
            replies: vec![
                "Sure, I can help. What car is it?".to_owned(),
                "Thanks. When works for you?".to_owned(),
            ]
            .into(),
        },
    }
}

/// Drives a tracker with `steps` (`v` = voiced frame, `s` = silent frame, `wN` = N ms pass) and
/// logs what it emits, firing deadlines as time passes.
#[track_caller]
fn check_tracker(steps: &str, expected: &[&str]) {
    check_tracker_with(stt_config(), steps, expected);
}

#[track_caller]
fn check_tracker_with(config: SttSimConfig, steps: &str, expected: &[&str]) {
    let mut tracker = SpeechTracker::new(config);
    let voice = audio::voice_pattern();
    let mut now = Instant::now();
    let mut log = Vec::new();
    let record = |out: Vec<SttOut>, log: &mut Vec<String>| {
        for o in out {
            log.push(match o {
                SttOut::SpeechStarted { timestamp } => format!("started@{timestamp:.2}"),
                SttOut::Results {
                    transcript,
                    is_final,
                    speech_final,
                    from_finalize,
                    ..
                } => {
                    format!(
                        "{}:{transcript}:{speech_final}:{from_finalize}",
                        if is_final { "final" } else { "interim" }
                    )
                }
            });
        }
    };
    for step in steps.split_whitespace() {
        match step {
            "v" => record(tracker.on_frame(&audio::frame_of(&voice, 3), now), &mut log),
            "s" => record(tracker.on_frame(&audio::silence_frame(), now), &mut log),
            "finalize" => record(tracker.ask_finalize(now), &mut log),
            wait => {
                let ms: u64 = wait.trim_start_matches('w').parse().unwrap();
                let end = now + Duration::from_millis(ms);
                while let Some(due) = tracker.next_deadline().filter(|d| *d <= end) {
                    now = due.max(now);
                    record(tracker.on_deadline(now), &mut log);
                }
                now = end;
            }
        }
    }
    assert_eq!(log, expected);
}

#[test]
fn tracker_sends_onset_interims_and_final_per_segment() {
    check_tracker(
        "s w20 v w20 v w20 v w20 v w20 s w150 v w20 s w200",
        &[
            "started@0.02",
            "interim:book an:false:false",
            "final:book an oil change:true:false",
            "started@0.12",
            "final:a red honda:true:false",
        ],
    );
}

/// A slow `Finalize` is answered after `finalize_delay`, with what was heard by then.
#[test]
fn tracker_answers_a_finalize_after_its_delay() {
    let config = SttSimConfig {
        finalize_delay: Duration::from_millis(160),
        endpointing_delay: Duration::from_millis(400),
        ..stt_config()
    };
    // 100 ms after the `Finalize`, nothing yet; 200 ms after, the final.
    check_tracker_with(
        config.clone(),
        "v w20 v w20 s finalize w100",
        &["started@0.00"],
    );
    check_tracker_with(
        config,
        "v w20 v w20 s finalize w100 s w100",
        &["started@0.00", "final:book an oil change:true:true"],
    );
}

#[test]
fn tracker_answers_a_silent_stream_with_empty_finals() {
    check_tracker(
        "s s s s s s s s s s s",
        &["final::false:false", "final::false:false"],
    );
    // The count restarts after a final: four silent frames after it are not yet 100 ms.
    check_tracker(
        "v s w120 s s s s",
        &["started@0.00", "final:book an oil change:true:false"],
    );
}

#[test]
fn tracker_keeps_a_segment_through_a_short_pause() {
    check_tracker(
        "v w20 s w50 v w20 s w120",
        &[
            "started@0.00",
            "interim:book an:false:false",
            "final:book an oil change:true:false",
        ],
    );
}

#[test]
fn tracker_finalize_answers_with_or_without_speech() {
    check_tracker("finalize", &["final::false:true"]);
    check_tracker(
        "v w20 finalize w500",
        &["started@0.00", "final:book an oil change:true:true"],
    );
}

fn ws_request(url: &str, key: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    request
}

fn json_type(message: &Message) -> Option<serde_json::Value> {
    match message {
        Message::Text(text) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn stt_sim_answers_speech_finalize_and_close_stream() {
    let sims = Sims::start(config()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_request(&sims.stt_url, KEY))
        .await
        .unwrap();
    let voice = audio::voice_pattern();
    for i in 0..5 {
        ws.send(Message::Binary(audio::frame_of(&voice, i)))
            .await
            .unwrap();
    }
    ws.send(Message::Binary(audio::silence_frame()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"KeepAlive"}"#.into()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let final_result = timeout(GUARD, async {
        loop {
            let message = ws.next().await.unwrap().unwrap();
            let value = json_type(&message).unwrap();
            seen.push(value["type"].as_str().unwrap().to_owned());
            if value["is_final"] == true {
                return value;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(seen.first().map(String::as_str), Some("SpeechStarted"));
    assert_eq!(final_result["speech_final"], true);
    assert_eq!(
        final_result["channel"]["alternatives"][0]["transcript"],
        "book an oil change"
    );

    ws.send(Message::Text(r#"{"type":"Finalize"}"#.into()))
        .await
        .unwrap();
    let empty = timeout(GUARD, ws.next()).await.unwrap().unwrap().unwrap();
    let empty = json_type(&empty).unwrap();
    assert_eq!(
        (
            empty["from_finalize"].clone(),
            empty["channel"]["alternatives"][0]["transcript"].clone()
        ),
        (true.into(), "".into())
    );

    ws.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let metadata = json_type(&timeout(GUARD, ws.next()).await.unwrap().unwrap().unwrap()).unwrap();
    assert_eq!(metadata["type"], "Metadata");
    let close = timeout(GUARD, ws.next()).await.unwrap().unwrap().unwrap();
    assert!(
        matches!(close, Message::Close(Some(ref f)) if u16::from(f.code) == 1000),
        "{close:?}"
    );
    let counts = sims.counts();
    assert_eq!((counts.stt_sessions, counts.stt_finals), (1, 1));
    sims.shutdown().await;
}

#[tokio::test]
async fn sims_refuse_a_wrong_key() {
    let sims = Sims::start(config()).await.unwrap();
    for url in [&sims.stt_url, &sims.tts_url] {
        let err = tokio_tungstenite::connect_async(ws_request(url, "wrong"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("401"), "{err}");
    }
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/chat/completions", sims.llm_base_url))
        .bearer_auth("wrong")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(sims.counts().rejected, 3);
    sims.shutdown().await;
}

/// Reads TTS messages until a text message of `kind`; returns it and the audio bytes before it.
async fn tts_until(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    kind: &str,
) -> (serde_json::Value, usize) {
    let mut audio_bytes = 0;
    timeout(GUARD, async {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Binary(bytes) => audio_bytes += bytes.len(),
                message => {
                    if let Some(value) = json_type(&message)
                        && value["type"] == kind
                    {
                        return (value, audio_bytes);
                    }
                }
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn tts_sim_speaks_flushes_clears_and_closes() {
    let sims = Sims::start(config()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_request(&sims.tts_url, KEY))
        .await
        .unwrap();
    let (metadata, _) = tts_until(&mut ws, "Metadata").await;
    assert_eq!(metadata["type"], "Metadata");

    ws.send(Message::Text(r#"{"type":"Speak","text":"Hello "}"#.into()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"Speak","text":"there."}"#.into()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"Flush"}"#.into()))
        .await
        .unwrap();
    let (flushed, bytes) = tts_until(&mut ws, "Flushed").await;
    assert_eq!(flushed["sequence_id"], 0);
    assert_eq!(bytes, config().tts.audio_bytes_for("Hello there."));
    assert_eq!(bytes, 12 * 65 * 8);

    // Cleared before the first audio (30 ms away): nothing of the long text arrives.
    ws.send(Message::Text(
        r#"{"type":"Speak","text":"A much longer sentence that would take a while."}"#.into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(r#"{"type":"Flush"}"#.into()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"Clear"}"#.into()))
        .await
        .unwrap();
    let (cleared, bytes) = tts_until(&mut ws, "Cleared").await;
    assert_eq!((cleared["sequence_id"].clone(), bytes), (2.into(), 0));

    ws.send(Message::Text(r#"{"type":"Speak","text":"Bye."}"#.into()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"Close"}"#.into()))
        .await
        .unwrap();
    let mut audio_bytes = 0;
    let close = timeout(GUARD, async {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Binary(bytes) => audio_bytes += bytes.len(),
                Message::Close(frame) => return frame,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(audio_bytes, config().tts.audio_bytes_for("Bye."));
    assert!(close.is_some_and(|f| u16::from(f.code) == 1000));
    let counts = sims.counts();
    assert_eq!(
        (counts.tts_sessions, counts.tts_flushes, counts.tts_clears),
        (1, 2, 1)
    );
    sims.shutdown().await;
}

#[test]
fn llm_deltas_put_the_first_sentence_in_one_piece() {
    assert_eq!(
        openai::sim::server::deltas("Sure, I can help. What car is it?"),
        ["Sure, I can help. ", "What", " car", " is", " it?"]
    );
    assert_eq!(
        openai::sim::server::deltas("No sentence end"),
        ["No", " sentence", " end"]
    );
}

#[tokio::test]
async fn llm_sim_streams_the_reply_for_the_turn() {
    let sims = Sims::start(config()).await.unwrap();
    let body = serde_json::json!({
        "model": "bench",
        "stream": true,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "a red honda"},
        ],
    });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = timeout(
        GUARD,
        client
            .post(format!("{}/chat/completions", sims.llm_base_url))
            .bearer_auth(KEY)
            .json(&body)
            .send(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = timeout(GUARD, response.text()).await.unwrap().unwrap();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap())
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"));
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Thanks. When works for you?");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    assert_eq!(sims.counts().llm_requests, 1);
    sims.shutdown().await;
}
