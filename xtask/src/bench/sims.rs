//! Local protocol servers that imitate the vendors with fixed, configurable delays, so the bench
//! measures the gateway and not the internet. What they send is written by the protocol crates
//! (`deepgram::sim`, `openai::sim`); these modules hold only the timing and the HTTP plumbing.
//!
//! - [`stt`]: Deepgram live STT (`/v1/listen`): finds the caller's speech segments by energy and
//!   answers the Nth one with the Nth line of a script, `endpointing_delay` after it ends.
//! - [`tts`]: Deepgram Aura (`/v1/speak`): μ-law audio proportional to the text, after
//!   `time_to_first_audio`, paced at a multiple of real time.
//! - [`llm`]: OpenAI chat completions (`/v1/chat/completions`): SSE after `time_to_first_token`,
//!   then one word per token at `tokens_per_second`.
//!
//! Each listens on its own `127.0.0.1:0` socket. Every connection task watches one cancellation
//! token, so [`Sims::shutdown`] ends them all.

pub(crate) mod llm;
pub(crate) mod stt;
pub(crate) mod tts;

#[cfg(test)]
mod tests;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::Context;
use axum::{Router, http::HeaderMap, serve::ListenerExt};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub(crate) use llm::LlmSimConfig;
pub(crate) use stt::SttSimConfig;
pub(crate) use tts::TtsSimConfig;

/// Settings of all three simulators.
#[derive(Debug, Clone)]
pub(crate) struct SimConfig {
    /// The key every simulator expects (`Token <key>` for Deepgram, `Bearer <key>` for OpenAI).
    pub(crate) api_key: String,
    /// Deepgram live STT.
    pub(crate) stt: SttSimConfig,
    /// Deepgram Aura TTS.
    pub(crate) tts: TtsSimConfig,
    /// OpenAI chat completions.
    pub(crate) llm: LlmSimConfig,
}

/// What the simulators saw, for the run report.
#[derive(Debug, Default)]
pub(crate) struct SimCounters {
    /// WebSocket sessions opened on `/v1/listen`.
    pub(crate) stt_sessions: AtomicU64,
    /// Final transcripts sent.
    pub(crate) stt_finals: AtomicU64,
    /// WebSocket sessions opened on `/v1/speak`.
    pub(crate) tts_sessions: AtomicU64,
    /// `Flush` messages answered with audio.
    pub(crate) tts_flushes: AtomicU64,
    /// `Clear` messages.
    pub(crate) tts_clears: AtomicU64,
    /// Chat completion requests streamed.
    pub(crate) llm_requests: AtomicU64,
    /// Requests or upgrades refused (bad key, bad body).
    pub(crate) rejected: AtomicU64,
}

/// A copy of [`SimCounters`] for the JSON report.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct SimCountsSnapshot {
    pub(crate) stt_sessions: u64,
    pub(crate) stt_finals: u64,
    pub(crate) tts_sessions: u64,
    pub(crate) tts_flushes: u64,
    pub(crate) tts_clears: u64,
    pub(crate) llm_requests: u64,
    pub(crate) rejected: u64,
}

impl SimCounters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SimCountsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimCountsSnapshot {
            stt_sessions: get(&self.stt_sessions),
            stt_finals: get(&self.stt_finals),
            tts_sessions: get(&self.tts_sessions),
            tts_flushes: get(&self.tts_flushes),
            tts_clears: get(&self.tts_clears),
            llm_requests: get(&self.llm_requests),
            rejected: get(&self.rejected),
        }
    }
}

/// State shared by every handler of one simulator.
#[derive(Debug)]
pub(crate) struct SimShared<C> {
    pub(crate) config: C,
    pub(crate) api_key: String,
    pub(crate) counters: Arc<SimCounters>,
    pub(crate) cancel: CancellationToken,
}

impl<C> SimShared<C> {
    /// Whether `Authorization` is exactly `<scheme> <api_key>`.
    pub(crate) fn authorized(&self, headers: &HeaderMap, scheme: &str) -> bool {
        let ok = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(scheme))
            .and_then(|v| v.strip_prefix(' '))
            .is_some_and(|key| key == self.api_key);
        if !ok {
            SimCounters::bump(&self.counters.rejected);
        }
        ok
    }
}

/// The three running simulators.
#[derive(Debug)]
pub(crate) struct Sims {
    /// `ws://127.0.0.1:<port>/v1/listen`, for `DEEPGRAM_STT_URL`.
    pub(crate) stt_url: String,
    /// `ws://127.0.0.1:<port>/v1/speak`, for `DEEPGRAM_TTS_URL`.
    pub(crate) tts_url: String,
    /// `http://127.0.0.1:<port>/v1`, for `OPENAI_BASE_URL`.
    pub(crate) llm_base_url: String,
    /// What they saw so far.
    pub(crate) counters: Arc<SimCounters>,
    cancel: CancellationToken,
    servers: JoinSet<()>,
}

impl Sims {
    /// Binds the three servers on `127.0.0.1:0` and starts serving.
    pub(crate) async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let cancel = CancellationToken::new();
        let counters = Arc::new(SimCounters::default());
        let mut servers = JoinSet::new();
        fn shared<C>(
            c: C,
            key: &str,
            counters: &Arc<SimCounters>,
            cancel: &CancellationToken,
        ) -> Arc<SimShared<C>> {
            Arc::new(SimShared {
                config: c,
                api_key: key.to_owned(),
                counters: counters.clone(),
                cancel: cancel.clone(),
            })
        }
        let key = config.api_key.as_str();
        let stt = serve(
            stt::router(shared(config.stt.clone(), key, &counters, &cancel)),
            &cancel,
            &mut servers,
        )
        .await?;
        let tts = serve(
            tts::router(shared(config.tts.clone(), key, &counters, &cancel)),
            &cancel,
            &mut servers,
        )
        .await?;
        let llm = serve(
            llm::router(shared(config.llm.clone(), key, &counters, &cancel)),
            &cancel,
            &mut servers,
        )
        .await?;
        Ok(Self {
            stt_url: format!("ws://{stt}/v1/listen"),
            tts_url: format!("ws://{tts}/v1/speak"),
            llm_base_url: format!("http://{llm}/v1"),
            counters,
            cancel,
            servers,
        })
    }

    /// Stops the servers and every open session.
    pub(crate) async fn shutdown(mut self) {
        self.cancel.cancel();
        let drained = async { while self.servers.join_next().await.is_some() {} };
        // Graceful shutdown waits for streaming responses in flight; they are short, but bound it.
        if tokio::time::timeout(std::time::Duration::from_secs(5), drained)
            .await
            .is_err()
        {
            self.servers.abort_all();
        }
    }
}

impl Drop for Sims {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Serves `router` on a fresh `127.0.0.1:0` listener until `cancel` fires.
async fn serve(
    router: Router,
    cancel: &CancellationToken,
    servers: &mut JoinSet<()>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a simulator on 127.0.0.1")?;
    let addr = listener
        .local_addr()
        .context("reading the simulator's address")?;
    // Vendors answer without Nagle's delay; so do the simulators.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let cancel = cancel.clone();
    servers.spawn(async move {
        let shutdown = cancel.cancelled_owned();
        // Errors here are accept errors on a loopback socket; the bench notices missing answers.
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
    });
    Ok(addr)
}
