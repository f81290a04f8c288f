//! The crate's own client against the crate's own simulator (`elevenlabs::sim`): what the
//! simulator sends is what the client reads, end to end over a real socket.

use std::time::Duration;

use elevenlabs::sim::{TtsSimConfig, router};
use providers::sim::{Counters, SimState};
use providers::{TtsEvent, TtsOptions};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::mock::GUARD;
use crate::{API_KEY, Client, test_config};

/// Serves the simulator on 127.0.0.1:0; returns its base URL and its state.
async fn start(cancel: &CancellationToken) -> (String, std::sync::Arc<SimState<TtsSimConfig>>) {
    let config = TtsSimConfig {
        time_to_first_audio: Duration::from_millis(10),
        ms_per_char: 20,
        speed: 50.0,
        chunk: Duration::from_millis(100),
    };
    let state = SimState::new(config, API_KEY, cancel.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(state.clone());
    let shutdown = cancel.clone().cancelled_owned();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .unwrap();
    });
    (format!("ws://{addr}"), state)
}

/// Audio bytes until `Flushed`.
async fn audio_until_flushed(client: &mut Client) -> usize {
    let mut bytes = 0;
    loop {
        match timeout(GUARD, client.next_event()).await.unwrap() {
            TtsEvent::Audio { mulaw, .. } => bytes += mulaw.len(),
            TtsEvent::Flushed { .. } => return bytes,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_client_speaks_two_replies_through_the_simulator_and_closes() {
    let cancel = CancellationToken::new();
    let (base_url, state) = start(&cancel).await;
    let options = TtsOptions {
        call_id: "CA123".to_owned(),
        voice: None,
    };
    let mut client = Client::connect(test_config(&base_url), options).await;
    for reply in ["Your car will be ready at four.", "Anything else?"] {
        client.handle.send_text(reply).await.unwrap();
        client.handle.flush().await.unwrap();
        // The client ends each text chunk with a space (docs/protocols.md, 7.2).
        let expected = state.config.audio_bytes_for(&format!("{reply} "));
        assert_eq!(audio_until_flushed(&mut client).await, expected, "{reply}");
    }
    client.handle.close().await.unwrap();
    assert!(client.until_closed().await.ends_with("closed\n"));
    assert_eq!(Counters::get(&state.counters.sessions), 1);
    assert_eq!(Counters::get(&state.counters.flushes), 2);
    cancel.cancel();
}

#[tokio::test]
async fn the_simulator_refuses_a_wrong_key() {
    let cancel = CancellationToken::new();
    let (base_url, state) = start(&cancel).await;
    let mut config = test_config(&base_url);
    config.api_key = elevenlabs::ApiKey::new("sk-wrong");
    config.reconnect.max_attempts = 1;
    let tts = elevenlabs::ElevenLabsTts::new(config).unwrap();
    let options = TtsOptions {
        call_id: "CA124".to_owned(),
        voice: None,
    };
    assert!(
        timeout(GUARD, providers::TextToSpeech::connect(&tts, options))
            .await
            .unwrap()
            .is_err()
    );
    assert!(Counters::get(&state.counters.rejected) >= 1);
    cancel.cancel();
}
