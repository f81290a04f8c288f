//! A local stand-in for Deepgram's WebSocket endpoints: the test owns the listener and plays the
//! server by hand, one accepted connection at a time, so it can hold a handshake (the client is then
//! "reconnecting"), refuse it, or script every frame.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Hang guard for every wait in these tests.
pub(crate) const GUARD: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it hangs.
pub(crate) async fn guard<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// What the client asked for in its upgrade request.
#[derive(Debug, Clone)]
pub(crate) struct Upgrade {
    pub(crate) path: String,
    /// Query pairs in order.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) authorization: Option<String>,
}

impl Upgrade {
    fn from_request(request: &Request) -> Self {
        let uri = request.uri();
        let query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let authorization = request
            .headers()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Self {
            path: uri.path().to_owned(),
            query,
            authorization,
        }
    }

    /// `k=v&k=v`, for one-line comparisons.
    pub(crate) fn query_string(&self) -> String {
        self.query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The test's end of a listener on 127.0.0.1.
pub(crate) struct MockDeepgram {
    listener: TcpListener,
}

impl MockDeepgram {
    pub(crate) async fn start() -> Self {
        Self {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> url::Url {
        let addr = self.listener.local_addr().unwrap();
        url::Url::parse(&format!("ws://{addr}{path}")).unwrap()
    }

    /// Accepts the next connection and completes the WebSocket handshake.
    // tungstenite's handshake callback fixes the `Err` type.
    #[allow(clippy::result_large_err)]
    pub(crate) async fn accept(&self) -> ServerConn {
        let (stream, _) = guard("a client connection", self.listener.accept())
            .await
            .unwrap();
        let mut upgrade = None;
        let ws =
            tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
                upgrade = Some(Upgrade::from_request(request));
                Ok(response)
            })
            .await
            .unwrap();
        ServerConn {
            ws,
            upgrade: upgrade.unwrap(),
        }
    }

    /// Accepts the next connection and refuses the upgrade with `status`, the way Deepgram does
    /// (`dg-error` and `dg-request-id` headers, reason in the body). Returns what was asked for.
    // tungstenite's handshake callback fixes the `Err` type.
    #[allow(clippy::result_large_err)]
    pub(crate) async fn refuse(&self, status: u16, dg_error: &str) -> Upgrade {
        self.refuse_with(status, dg_error, &[]).await
    }

    /// Like `refuse`, with extra response headers.
    // tungstenite's handshake callback fixes the `Err` type.
    #[allow(clippy::result_large_err)]
    pub(crate) async fn refuse_with(
        &self,
        status: u16,
        dg_error: &str,
        extra_headers: &[(&str, &str)],
    ) -> Upgrade {
        let (stream, _) = guard("a client connection", self.listener.accept())
            .await
            .unwrap();
        let mut upgrade = None;
        let result = tokio_tungstenite::accept_hdr_async(
            stream,
            |request: &Request, _response: Response| {
                upgrade = Some(Upgrade::from_request(request));
                let mut refusal = http::Response::builder();
                for (name, value) in extra_headers {
                    refusal = refusal.header(*name, *value);
                }
                let refusal: ErrorResponse = refusal
                    .status(status)
                    .header("dg-error", dg_error)
                    .header("dg-request-id", "req-refused")
                    .body(Some(dg_error.to_owned()))
                    .unwrap();
                Err(refusal)
            },
        )
        .await;
        assert!(result.is_err(), "the handshake should have been refused");
        upgrade.unwrap()
    }
}

/// One accepted connection, driven by the test.
pub(crate) struct ServerConn {
    ws: WebSocketStream<TcpStream>,
    pub(crate) upgrade: Upgrade,
}

/// A client frame, simplified for assertions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientFrame {
    Text(serde_json::Value),
    Binary(Vec<u8>),
    Close,
    /// The socket ended without a close frame.
    Gone,
}

impl ServerConn {
    /// The next data or close frame from the client (pings are skipped).
    pub(crate) async fn recv(&mut self) -> ClientFrame {
        loop {
            let frame = guard("a client frame", self.ws.next()).await;
            return match frame {
                Some(Ok(Message::Text(text))) => ClientFrame::Text(
                    serde_json::from_str(text.as_str()).expect("client text frames are JSON"),
                ),
                Some(Ok(Message::Binary(bytes))) => ClientFrame::Binary(bytes.to_vec()),
                Some(Ok(Message::Close(_))) => ClientFrame::Close,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => ClientFrame::Gone,
            };
        }
    }

    /// The next client frame, which must be a JSON control message of this `type`.
    pub(crate) async fn expect_control(&mut self, kind: &str) {
        let frame = self.recv().await;
        assert_eq!(
            frame,
            ClientFrame::Text(serde_json::json!({ "type": kind }))
        );
    }

    /// The next client frame, which must be binary audio; returns it.
    pub(crate) async fn expect_audio(&mut self) -> Vec<u8> {
        match self.recv().await {
            ClientFrame::Binary(bytes) => bytes,
            other => panic!("expected audio, got {other:?}"),
        }
    }

    pub(crate) async fn send_json(&mut self, json: &str) {
        self.ws.send(Message::text(json)).await.unwrap();
    }

    pub(crate) async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws.send(Message::binary(bytes.to_vec())).await.unwrap();
    }

    /// Sends a close frame (as Deepgram does for errors and after `CloseStream`).
    pub(crate) async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
        // Let the client's close reply arrive, so the TCP close is orderly.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.next()).await;
    }

    /// Drops the TCP connection without a close frame (a network failure).
    pub(crate) fn drop_abruptly(self) {
        drop(self.ws);
    }
}
