//! The gateway under replay: a small axum server on 127.0.0.1:0 whose `/twilio/stream` route
//! adapts the WebSocket into a `PhoneLink` and runs the current `run_call`, as the real binary's
//! route does (minus the stream token check and the concurrency limit).

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{
    Router,
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::Response,
    routing::get,
};
use call_pipeline::{CallDeps, CallOutcome, PhoneError, PhoneLink, PipelineConfig, run_call};
use futures::{SinkExt, StreamExt};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// A running gateway; its calls report their outcome on `outcomes`.
pub(crate) struct Gateway {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// One outcome per finished call.
    pub(crate) outcomes: mpsc::Receiver<CallOutcome>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

struct AppState {
    deps: CallDeps,
    config: Arc<PipelineConfig>,
    shutdown: CancellationToken,
    outcomes_tx: mpsc::Sender<CallOutcome>,
}

impl Gateway {
    /// Binds 127.0.0.1:0 and serves `/twilio/stream` with `deps`.
    pub(crate) async fn start(deps: CallDeps, config: PipelineConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the replay gateway on 127.0.0.1")?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let shutdown = CancellationToken::new();
        let (outcomes_tx, outcomes) = mpsc::channel(4);
        let state = Arc::new(AppState {
            deps,
            config: Arc::new(config),
            shutdown: shutdown.clone(),
            outcomes_tx,
        });
        let app = Router::new()
            .route("/twilio/stream", get(stream))
            .with_state(state);
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(Self {
            addr,
            outcomes,
            shutdown,
            server,
        })
    }

    /// The media stream URL.
    pub(crate) fn stream_url(&self) -> String {
        format!("ws://{}/twilio/stream", self.addr)
    }

    /// Stops the server and waits for it.
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}

async fn stream(State(state): State<Arc<AppState>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| async move {
        let outcome = run_call(
            phone_link(socket),
            state.deps.clone(),
            state.config.clone(),
            &state.shutdown,
        )
        .await;
        let _ = state.outcomes_tx.send(outcome).await;
    })
}

/// The gateway's adapter (bins/voice-gateway/src/routes.rs), text frames both ways.
fn phone_link(socket: WebSocket) -> PhoneLink {
    let (sink, stream) = socket.split();
    let inbound = stream
        .filter_map(|message| async move {
            match message {
                Ok(Message::Text(text)) => Some(Ok(text.to_string())),
                Ok(Message::Close(_)) => Some(Err(PhoneError("closed by Twilio".to_owned()))),
                Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_)) => None,
                Err(err) => Some(Err(PhoneError(err.to_string()))),
            }
        })
        .boxed();
    let outbound = sink
        .sink_map_err(|err| PhoneError(err.to_string()))
        .with(|frame: String| {
            futures::future::ready(Ok::<_, PhoneError>(Message::Text(frame.into())))
        });
    PhoneLink {
        inbound,
        outbound: Box::pin(outbound),
    }
}
