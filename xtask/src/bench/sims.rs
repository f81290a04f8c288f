//! The vendors' protocol servers, served on local sockets with fixed, configurable delays, so the
//! bench measures the gateway and not the internet. The servers are the protocol crates' own:
//!
//! - `deepgram::sim::listen`: Deepgram live STT (`/v1/listen`): finds the caller's speech
//!   segments by energy and answers the Nth one with the Nth line of a script,
//!   `endpointing_delay` after it ends.
//! - `deepgram::sim::speak`: Deepgram Aura (`/v1/speak`): μ-law audio proportional to the text,
//!   after `time_to_first_audio`, paced at a multiple of real time.
//! - `elevenlabs::sim`: ElevenLabs `multi-stream-input`, paced like Aura (`cargo xtask bench
//!   --tts elevenlabs`).
//! - `openai::sim::server`: OpenAI chat completions (`/v1/chat/completions`): SSE after
//!   `time_to_first_token`, then one word per token at `tokens_per_second`.
//!
//! This module only binds them and ends them.
//!
//! Each listens on its own `127.0.0.1:0` socket. Every connection task watches one cancellation
//! token, so [`Sims::shutdown`] ends them all.

#[cfg(test)]
mod tests;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{Router, serve::ListenerExt};
use providers::sim::{Counters, SimState};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub(crate) use deepgram::sim::{listen::SttSimConfig, speak::TtsSimConfig};
pub(crate) use openai::sim::server::LlmSimConfig;

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

/// The three running simulators.
#[derive(Debug)]
pub(crate) struct Sims {
    /// `ws://127.0.0.1:<port>/v1/listen`, for `DEEPGRAM_STT_URL`.
    pub(crate) stt_url: String,
    /// `ws://127.0.0.1:<port>/v1/speak`, for `DEEPGRAM_TTS_URL`.
    pub(crate) tts_url: String,
    /// `http://127.0.0.1:<port>/v1`, for `OPENAI_BASE_URL`.
    pub(crate) llm_base_url: String,
    /// `ws://127.0.0.1:<port>`, for `ELEVENLABS_BASE_URL`.
    pub(crate) elevenlabs_url: String,
    /// What each saw so far.
    stt_counters: Arc<Counters>,
    tts_counters: Arc<Counters>,
    llm_counters: Arc<Counters>,
    elevenlabs_counters: Arc<Counters>,
    cancel: CancellationToken,
    servers: JoinSet<()>,
}

impl Sims {
    /// Binds the three servers on `127.0.0.1:0` and starts serving.
    pub(crate) async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let cancel = CancellationToken::new();
        let mut servers = JoinSet::new();
        let key = config.api_key.as_str();
        let stt = SimState::new(config.stt, key, cancel.clone());
        let tts = SimState::new(config.tts.clone(), key, cancel.clone());
        let llm = SimState::new(config.llm, key, cancel.clone());
        // ElevenLabs is paced like Aura, so the two TTS vendors compare on the gateway alone.
        let elevenlabs = SimState::new(config.tts.clone(), key, cancel.clone());
        let elevenlabs_counters = elevenlabs.counters.clone();
        let (stt_counters, tts_counters, llm_counters) = (
            stt.counters.clone(),
            tts.counters.clone(),
            llm.counters.clone(),
        );
        let stt = serve(deepgram::sim::listen::router(stt), &cancel, &mut servers).await?;
        let tts = serve(deepgram::sim::speak::router(tts), &cancel, &mut servers).await?;
        let llm = serve(openai::sim::server::router(llm), &cancel, &mut servers).await?;
        let elevenlabs = serve(elevenlabs::sim::router(elevenlabs), &cancel, &mut servers).await?;
        Ok(Self {
            stt_url: format!("ws://{stt}/v1/listen"),
            tts_url: format!("ws://{tts}/v1/speak"),
            llm_base_url: format!("http://{llm}/v1"),
            stt_counters,
            tts_counters,
            llm_counters,
            elevenlabs_url: format!("ws://{elevenlabs}"),
            elevenlabs_counters,
            cancel,
            servers,
        })
    }

    /// What the simulators saw so far.
    pub(crate) fn counts(&self) -> SimCountsSnapshot {
        let get = Counters::get;
        let (stt, llm) = (&self.stt_counters, &self.llm_counters);
        // Only one TTS vendor is in use; their counts add up.
        let (aura, eleven) = (&self.tts_counters, &self.elevenlabs_counters);
        let both = |field: fn(&Counters) -> &std::sync::atomic::AtomicU64| {
            get(field(aura)) + get(field(eleven))
        };
        SimCountsSnapshot {
            stt_sessions: get(&stt.sessions),
            stt_finals: get(&stt.finals),
            tts_sessions: both(|c| &c.sessions),
            tts_flushes: both(|c| &c.flushes),
            tts_clears: both(|c| &c.clears),
            llm_requests: get(&llm.sessions),
            rejected: get(&stt.rejected) + get(&llm.rejected) + both(|c| &c.rejected),
        }
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
