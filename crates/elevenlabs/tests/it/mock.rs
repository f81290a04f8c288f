//! A local ElevenLabs `multi-stream-input` server on 127.0.0.1 that hands each accepted connection
//! to the test, which then reads what the client sent and scripts the replies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Hang guard for every wait in the tests.
pub(crate) const GUARD: Duration = Duration::from_secs(5);

/// How the server answers WebSocket upgrades.
#[derive(Clone)]
pub(crate) enum Mode {
    /// Accept every connection.
    Accept,
    /// Accept this many, then stop listening (later connects are refused).
    AcceptThenRefuse(usize),
    /// Refuse the upgrade with this status and headers.
    Reject(u16, Vec<(&'static str, &'static str)>),
}

pub(crate) struct MockServer {
    pub(crate) base_url: String,
    conns_rx: mpsc::Receiver<Conn>,
    accept_task: JoinHandle<()>,
}

/// One accepted connection, as the client opened it.
pub(crate) struct Conn {
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) api_key: Option<String>,
    ws: WebSocketStream<TcpStream>,
}

#[derive(Default, Clone)]
struct Handshake {
    path: String,
    query: BTreeMap<String, String>,
    api_key: Option<String>,
}

impl MockServer {
    pub(crate) async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("ws://{}", listener.local_addr().unwrap());
        let (conns_tx, conns_rx) = mpsc::channel(8);
        let accept_task = tokio::spawn(accept_loop(listener, mode, conns_tx));
        Self {
            base_url,
            conns_rx,
            accept_task,
        }
    }

    /// The next connection the client opened.
    pub(crate) async fn next_conn(&mut self) -> Conn {
        timeout(GUARD, self.conns_rx.recv())
            .await
            .expect("client did not connect in time")
            .expect("accept loop ended")
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, mode: Mode, conns_tx: mpsc::Sender<Conn>) {
    let mut n_accepted = 0;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let seen = Arc::new(Mutex::new(Handshake::default()));
        let seen_in_callback = Arc::clone(&seen);
        let reject = match &mode {
            Mode::Reject(status, headers) => Some((*status, headers.clone())),
            _ => None,
        };
        #[allow(clippy::result_large_err)] // the shape of tungstenite's `Callback`
        let callback = move |request: &Request, response: Response| {
            let uri = request.uri();
            *seen_in_callback.lock().unwrap() = Handshake {
                path: uri.path().to_owned(),
                query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect(),
                api_key: request
                    .headers()
                    .get("xi-api-key")
                    .map(|v| v.to_str().unwrap().to_owned()),
            };
            match reject {
                None => Ok(response),
                Some((status, headers)) => {
                    let mut res = ErrorResponse::new(Some("{\"detail\":\"refused\"}".to_owned()));
                    *res.status_mut() = StatusCode::from_u16(status).unwrap();
                    for (name, value) in headers {
                        res.headers_mut().insert(name, value.parse().unwrap());
                    }
                    Err(res)
                }
            }
        };
        let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
            continue;
        };
        let handshake = seen.lock().unwrap().clone();
        let conn = Conn {
            path: handshake.path,
            query: handshake.query,
            api_key: handshake.api_key,
            ws,
        };
        if conns_tx.send(conn).await.is_err() {
            return;
        }
        n_accepted += 1;
        if let Mode::AcceptThenRefuse(limit) = mode
            && n_accepted >= limit
        {
            return; // drops the listener: later connects are refused
        }
    }
}

impl Conn {
    /// The next JSON text frame the client sent.
    pub(crate) async fn recv(&mut self) -> Value {
        loop {
            let frame = timeout(GUARD, self.ws.next())
                .await
                .expect("client sent nothing in time")
                .expect("client closed the socket")
                .expect("socket error");
            match frame {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame from client: {other:?}"),
            }
        }
    }

    /// Reads frames and checks them against `expected`, in order.
    pub(crate) async fn expect(&mut self, expected: &[Value]) {
        for want in expected {
            let got = self.recv().await;
            assert_eq!(&got, want);
        }
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    pub(crate) async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// Audio for a context, camelCase as the server sends it, with alignment for `spoken`.
    pub(crate) async fn send_audio(&mut self, context_id: &str, audio: &[u8], spoken: &str) {
        self.send(audio_message(context_id, audio, spoken)).await;
    }

    pub(crate) async fn send_final(&mut self, context_id: &str) {
        self.send(json!({"isFinal": true, "contextId": context_id}))
            .await;
    }

    /// A clean close with a code, after which the client should reconnect.
    pub(crate) async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
        // Wait for the client's close reply (or the end) so the close is seen before the drop.
        let _ = timeout(GUARD, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Drops the TCP connection with no close frame (a socket that dies mid-utterance).
    pub(crate) fn kill(self) {
        drop(self.ws);
    }

    /// Waits until the client ends the socket (close frame or EOF).
    pub(crate) async fn wait_closed(mut self) {
        timeout(GUARD, async {
            while let Some(Ok(frame)) = self.ws.next().await {
                if let Message::Close(_) = frame {
                    break;
                }
            }
        })
        .await
        .expect("client did not close the socket");
    }
}

pub(crate) fn b64(audio: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(audio)
}

pub(crate) fn audio_message(context_id: &str, audio: &[u8], spoken: &str) -> Value {
    let chars: Vec<String> = spoken.chars().map(String::from).collect();
    let starts: Vec<u64> = (0..chars.len() as u64).map(|i| i * 60).collect();
    let durations = vec![60; chars.len()];
    json!({
        "audio": b64(audio),
        "isFinal": false,
        "normalizedAlignment": {"chars": chars, "charStartTimesMs": starts, "charDurationsMs": durations},
        "alignment": {"chars": chars, "charStartTimesMs": starts, "charDurationsMs": durations},
        "contextId": context_id,
    })
}
