//! A scripted OpenAI-compatible server on 127.0.0.1:0: it records every request and answers each
//! with the next scripted `Reply`, streaming the body in the scripted pieces.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::sync::mpsc;

/// One scripted response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<Part>,
}

/// A piece of a response body.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// Written as one chunk.
    Bytes(Vec<u8>),
    /// Nothing for this long.
    Wait(Duration),
    /// Nothing ever again (the connection stays open).
    Hang,
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: serde_json::Value,
    pub(crate) peer: SocketAddr,
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// One message per response body dropped before it was fully sent: the client went away.
    pub(crate) body_dropped_rx: mpsc::UnboundedReceiver<()>,
}

#[derive(Clone)]
struct Shared {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    body_dropped_tx: mpsc::UnboundedSender<()>,
}

impl TestServer {
    /// Starts a server answering `replies` in order (then 500 "no scripted reply").
    pub(crate) async fn start(replies: impl IntoIterator<Item = Reply>) -> Self {
        let replies = Arc::new(Mutex::new(replies.into_iter().collect::<VecDeque<_>>()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (body_dropped_tx, body_dropped_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            replies: Arc::clone(&replies),
            requests: Arc::clone(&requests),
            body_dropped_tx,
        };
        let app = Router::new().fallback(move |request: Request| answer(shared.clone(), request));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            addr,
            replies,
            requests,
            body_dropped_rx,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> url::Url {
        format!("http://{}{path}", self.addr).parse().unwrap()
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn n_replies_left(&self) -> usize {
        self.replies.lock().unwrap().len()
    }
}

async fn answer(shared: Shared, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers = request.headers().clone();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    shared.requests.lock().unwrap().push(Recorded {
        path_and_query,
        headers,
        body,
        peer,
    });
    let reply = shared.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return Response::builder()
            .status(500)
            .body(Body::from("no scripted reply"))
            .unwrap();
    };
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    let guard = DropSignal {
        finished: false,
        tx: shared.body_dropped_tx,
    };
    let body = futures::stream::unfold((VecDeque::from(reply.body), guard), next_part);
    builder.body(Body::from_stream(body)).unwrap()
}

/// Reports a body dropped before its last part: hyper drops it when the connection closes.
struct DropSignal {
    finished: bool,
    tx: mpsc::UnboundedSender<()>,
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.tx.send(());
        }
    }
}

async fn next_part(
    (mut parts, mut guard): (VecDeque<Part>, DropSignal),
) -> Option<(Result<Bytes, std::io::Error>, (VecDeque<Part>, DropSignal))> {
    loop {
        match parts.pop_front() {
            None => {
                guard.finished = true;
                return None;
            }
            Some(Part::Wait(delay)) => tokio::time::sleep(delay).await,
            Some(Part::Hang) => std::future::pending::<()>().await,
            Some(Part::Bytes(bytes)) => return Some((Ok(Bytes::from(bytes)), (parts, guard))),
        }
    }
}

/// A 200 `text/event-stream` reply with these body parts.
pub(crate) fn sse(body: Vec<Part>) -> Reply {
    Reply {
        status: 200,
        headers: vec![("content-type", "text/event-stream; charset=utf-8".into())],
        body,
    }
}

/// `data: <payload>\n\n` for each payload, as one part each.
pub(crate) fn events(payloads: &[&str]) -> Vec<Part> {
    payloads
        .iter()
        .map(|p| Part::Bytes(format!("data: {p}\n\n").into_bytes()))
        .collect()
}

/// A JSON error reply (8.6).
pub(crate) fn error_reply(status: u16, headers: &[(&'static str, &str)], message: &str) -> Reply {
    let mut all = vec![("content-type", "application/json".to_owned())];
    all.extend(headers.iter().map(|(n, v)| (*n, (*v).to_owned())));
    let body = serde_json::json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}});
    Reply {
        status,
        headers: all,
        body: vec![Part::Bytes(body.to_string().into_bytes())],
    }
}

/// A text chunk as OpenAI sends it.
pub(crate) fn text_chunk(text: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_720_000_000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
    })
    .to_string()
}

/// The last chunks of a normal reply: finish reason, usage, `[DONE]`.
pub(crate) fn ending(reason: &str) -> Vec<String> {
    vec![
        serde_json::json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1_720_000_000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":reason}],"usage":null}).to_string(),
        serde_json::json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1_720_000_000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":24,"completion_tokens":58,"total_tokens":82}}).to_string(),
        "[DONE]".to_owned(),
    ]
}
