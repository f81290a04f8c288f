use std::time::Duration;

use tokio::time::Instant;

use super::{Playback, path_of};

#[test]
fn stream_path_keeps_path_and_query() {
    assert_eq!(
        path_of("wss://gw.example.com/twilio/stream"),
        "/twilio/stream"
    );
    assert_eq!(path_of("ws://127.0.0.1:9/a?b=c"), "/a?b=c");
    assert_eq!(path_of("wss://gw.example.com"), "/");
}

#[test]
fn played_out_needs_the_settle_time_after_the_last_audio() {
    let mut playback = Playback::default();
    let now = Instant::now();
    assert!(!playback.played_out(now, Duration::ZERO), "no audio yet");
    playback.on_frame(
        twilio::media::Outbound::Media {
            stream_sid: twilio::StreamSid::from_wire("MZ1"),
            payload: vec![0xFF; 160],
        },
        now,
    );
    assert!(!playback.played_out(now, Duration::ZERO), "still queued");
    playback.tick();
    assert!(playback.played_out(now, Duration::ZERO));
    assert!(!playback.played_out(now + Duration::from_millis(100), Duration::from_millis(200)));
    assert!(playback.played_out(now + Duration::from_millis(200), Duration::from_millis(200)));
}

/// A stand-in gateway for the caller's script: TwiML with a token, a greeting, a reply after
/// every stretch of caller speech, and a `clear` when the caller talks over a reply whose mark
/// has not come back yet.
mod fake_gateway {
    use std::sync::Arc;

    use axum::{
        Router,
        extract::{
            WebSocketUpgrade,
            ws::{Message, WebSocket},
        },
        response::IntoResponse,
        routing::{get, post},
    };
    use twilio::media::{self, Inbound};

    use crate::bench::audio;

    const TWIML: &str = r#"<Response><Connect><Stream url="wss://public.example.com/twilio/stream"><Parameter name="From" value="+15550001111"/><Parameter name="token" value="t&amp;1"/></Stream></Connect></Response>"#;

    pub(super) fn router() -> Router {
        Router::new()
            .route(
                "/twilio/voice",
                post(|| async { ([("content-type", "text/xml")], TWIML) }),
            )
            .route(
                "/twilio/stream",
                get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(stream).into_response() }),
            )
    }

    async fn say(socket: &mut WebSocket, sid: &twilio::StreamSid, frames: usize, mark: &str) {
        let payload = audio::voice_pattern();
        for _ in 0..frames {
            let mut text = String::new();
            media::encode_media_into(&mut text, sid, &payload[..audio::FRAME_BYTES]);
            socket.send(Message::Text(text.into())).await.unwrap();
        }
        let mut text = String::new();
        media::encode_mark_into(&mut text, sid, mark);
        socket.send(Message::Text(text.into())).await.unwrap();
    }

    async fn stream(mut socket: WebSocket) {
        let mut sid = None;
        let mut talking = false;
        let mut pending_mark: Option<String> = None;
        let mut cleared = false;
        let mut replies = 0;
        while let Some(Ok(Message::Text(text))) = socket.recv().await {
            match media::decode(&text).unwrap() {
                Inbound::Start(start) => {
                    assert_eq!(
                        start.custom_parameters.get("token").map(String::as_str),
                        Some("t&1")
                    );
                    let stream_sid = Arc::new(start.stream_sid);
                    say(&mut socket, &stream_sid, 10, "greeting").await;
                    pending_mark = Some("greeting".to_owned());
                    sid = Some(stream_sid);
                }
                Inbound::Media(frame) => {
                    let Some(sid) = sid.clone() else { continue };
                    let voiced = audio_codec::mean_abs_mulaw(&frame.payload) > 500;
                    if voiced && pending_mark.is_some() && !cleared {
                        let mut text = String::new();
                        media::encode_clear_into(&mut text, &sid);
                        socket.send(Message::Text(text.into())).await.unwrap();
                        cleared = true;
                    }
                    if talking && !voiced {
                        replies += 1;
                        let name = format!("reply-{replies}");
                        say(&mut socket, &sid, 40, &name).await;
                        pending_mark = Some(name);
                        cleared = false;
                    }
                    talking = voiced;
                }
                Inbound::Mark(mark) if pending_mark.as_deref() == Some(mark.name.as_str()) => {
                    pending_mark = None;
                }
                Inbound::Stop(_) => return,
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn a_call_follows_its_script_with_a_barge_in() {
    use std::sync::Arc;

    use super::{Active, BargeIn, CallPlan, CallTarget, run_load};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, fake_gateway::router()).await });
    let target = Arc::new(CallTarget {
        http_base: format!("http://{addr}"),
        ws_base: format!("ws://{addr}"),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        auth_token: "test-token".to_owned(),
    });
    let plan = Arc::new(CallPlan {
        turns: 2,
        speech: Duration::from_millis(100),
        barge_in: Some(BargeIn {
            turn: 1,
            after: Duration::from_millis(100),
        }),
        settle: Duration::from_millis(100),
        reply_timeout: Duration::from_secs(3),
        max_call: Duration::from_secs(10),
    });
    let active = Arc::new(Active::default());
    let results = tokio::time::timeout(
        Duration::from_secs(20),
        run_load(
            target,
            plan,
            2,
            Duration::from_millis(50),
            7,
            active.clone(),
        ),
    )
    .await
    .unwrap();
    server.abort();
    assert_eq!(results.len(), 2);
    for result in &results {
        assert_eq!(result.failure, None, "{result:?}");
        // Two turns plus the barge-in utterance, each answered.
        assert_eq!(
            (result.replies, result.voice_to_voice_ms.len()),
            (3, 3),
            "{result:?}"
        );
        assert_eq!(result.barge_in_ms.len(), 1, "{result:?}");
        assert_eq!(
            (result.unexpected_clears, result.bad_frames),
            (0, 0),
            "{result:?}"
        );
        // The fake answers on the first silent frame: about one tick after speech ends.
        assert!(
            result.voice_to_voice_ms.iter().all(|ms| *ms < 1_000.0),
            "{result:?}"
        );
    }
    assert!(active.peak() >= 1);
}
