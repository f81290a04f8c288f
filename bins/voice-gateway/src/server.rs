//! Serving: bind, run until a shutdown signal, then drain calls and save what is left.
//!
//! Shutdown order: stop taking calls (webhooks hand new callers to a person, readiness fails), let
//! calls in progress finish for up to the drain time (`SHUTDOWN_DRAIN_SECS`, default 18 s), hand
//! the rest to the advisor through Twilio's REST API or tell them goodbye (`HANDOFF_BUDGET`, 7 s),
//! end whatever still runs (each saves its final state; 2 s), stop the HTTP server (1 s), then
//! flush the call-record outbox (records not written stay spooled) and the session store. With
//! the defaults the sequence fits Kubernetes' 30 s termination grace period.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    app::{self, AppState, Overrides},
    config::{Config, HANDOFF_BUDGET, redact_url},
    routes, telemetry,
};

/// After the handoff, how long calls get to end once told to.
const HARD_STOP_WAIT: Duration = Duration::from_secs(2);

/// The runtime's workers run the labelled set's tuning part before the server listens, so
/// callers' first turns find their patterns compiled and the worker's regex caches warm
/// (`conversation::warm_up_this_thread`). One task is spawned per worker; the runtime decides
/// where each runs, so this is best effort: the log line says how many threads warmed up (a
/// worker left out warms up on its first calls, as before).
async fn warm_up_workers() -> anyhow::Result<()> {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let started = std::time::Instant::now();
    let warming: Vec<_> = (0..workers)
        .map(|_| {
            tokio::spawn(async {
                let utterances = conversation::warm_up_this_thread();
                (std::thread::current().id(), utterances)
            })
        })
        .collect();
    let mut utterances = 0;
    let mut threads = Vec::new();
    for task in warming {
        let (thread, ran) = task.await.context("warming up the patterns")?;
        utterances += ran;
        if !threads.contains(&thread) {
            threads.push(thread);
        }
    }
    info!(
        workers,
        threads = threads.len(),
        utterances,
        took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "patterns warmed up"
    );
    Ok(())
}

/// Runs the server until SIGTERM or ctrl-c.
pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    log_effective_config(&config);
    // Train the intent model now (under a second in a release build, off the async workers)
    // rather than in the first caller's turn.
    tokio::task::spawn_blocking(conversation::warm_up_intent_model)
        .await
        .context("training the intent model")?;
    warm_up_workers().await?;
    let metrics = telemetry::init_metrics().context("installing the Prometheus recorder")?;
    let listener = TcpListener::bind(config.bind_addr)
        .await
        .with_context(|| format!("binding listener on {}", config.bind_addr))?;
    run(
        config,
        Overrides::default(),
        Some(metrics),
        listener,
        wait_for_signal(),
    )
    .await
}

/// Builds the app and serves on `listener` until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    overrides: Overrides,
    metrics: Option<PrometheusHandle>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app::Built { state, outbox } = app::build(config, overrides, metrics.clone()).await?;
    let background = CancellationToken::new();
    let outbox_task = tokio::spawn(outbox.run(background.clone()));
    let webhook_task = match (
        &state.config.outcome_webhook_url,
        &state.config.outcome_webhook_secret,
        &state.crm_store,
    ) {
        (Some(url), Some(secret), Some(crm)) => {
            let webhook = crate::outcome_webhook::OutcomeWebhook::new(
                crm.clone(),
                url.clone(),
                secret.expose().to_owned(),
                state.clock.clone(),
                state.webhook_timing.clone(),
            )?;
            Some(tokio::spawn(webhook.run(background.clone())))
        }
        _ => None,
    };
    let retention_task = match (&state.rest, &state.crm_store) {
        (Some(rest), Some(crm))
            if state.config.call_recording && state.config.recording_retention_days > 0 =>
        {
            let retention = crate::recordings::Retention {
                crm: crm.clone(),
                rest: rest.clone(),
                keep: chrono::Duration::days(
                    i64::try_from(state.config.recording_retention_days.min(36_500))
                        .unwrap_or(36_500),
                ),
                clock: state.clock.clone(),
            };
            Some(tokio::spawn(
                retention.run(Duration::from_secs(3600), background.clone()),
            ))
        }
        _ => None,
    };
    let upkeep = metrics.map(|handle| tokio::spawn(run_metrics_upkeep(handle, background.clone())));
    let fleet_report = tokio::spawn(crate::fleet::report_until(
        state.clone(),
        background.clone(),
    ));
    info!(addr = %listener.local_addr().context("reading the bound address")?, "listening");

    let http_stop = CancellationToken::new();
    let server = tokio::spawn(crate::http::serve(
        listener,
        routes::router(state.clone()),
        state.config.http_max_connections.get(),
        state.config.http_header_timeout,
        http_stop.clone(),
        Duration::from_secs(1),
    ));

    shutdown.await;
    drain(&state).await;
    http_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(2), server).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => warn!(error = %err, "http server task failed"),
        Err(_) => warn!("http server did not stop within 2 s"),
    }
    background.cancel();
    let _ = outbox_task.await;
    let _ = fleet_report.await;
    for task in [webhook_task, retention_task].into_iter().flatten() {
        let _ = task.await;
    }
    if let Some(upkeep) = upkeep {
        let _ = upkeep.await;
    }
    if let Err(err) = state.sessions.shutdown().await {
        warn!(error = %err, "session store shutdown left writes unsaved");
    }
    info!("stopped");
    Ok(())
}

/// Stops new calls, waits up to the drain time for calls in progress, then hands the rest to the
/// advisor (or tells them goodbye) within `HANDOFF_BUDGET`, then ends whatever still runs.
async fn drain(state: &Arc<AppState>) {
    state.draining.cancel();
    state.calls.close();
    let in_progress = state.calls.len();
    info!(
        in_progress,
        drain_s = state.config.drain_timeout.as_secs(),
        "draining calls"
    );
    if tokio::time::timeout(state.config.drain_timeout, state.calls.wait())
        .await
        .is_ok()
    {
        return;
    }
    warn!(
        remaining = state.calls.len(),
        "drain time over; handing the remaining calls to the advisor"
    );
    state.handoff.cancel();
    if tokio::time::timeout(HANDOFF_BUDGET, state.calls.wait())
        .await
        .is_ok()
    {
        return;
    }
    warn!(
        remaining = state.calls.len(),
        "handoff time over; ending the remaining calls"
    );
    state.calls_shutdown.cancel();
    if tokio::time::timeout(HARD_STOP_WAIT, state.calls.wait())
        .await
        .is_err()
    {
        warn!(
            remaining = state.calls.len(),
            "calls did not end within 2 s of being told to"
        );
    }
}

/// The Prometheus exporter needs periodic upkeep to bound histogram memory.
async fn run_metrics_upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// Completes on SIGTERM or ctrl-c.
async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            warn!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => info!("ctrl-c received, shutting down"),
        _ = terminate => info!("SIGTERM received, shutting down"),
    }
}

fn log_effective_config(config: &Config) {
    let public_url = config.public_url.as_ref().map(|u| redact_url(u.as_str()));
    info!(
        bind_addr = %config.bind_addr,
        public_url = public_url.as_deref().unwrap_or("(unset)"),
        database = %config.database_url_redacted(),
        sessions = config.redis_url_redacted().as_deref().unwrap_or("in-memory"),
        tts_provider = ?config.tts_provider,
        deepgram_stt_url = %redact_url(config.deepgram_stt.url.as_str()),
        deepgram_tts_url = %redact_url(config.deepgram_tts.url.as_str()),
        openai_base_url = %redact_url(config.openai_base_url.as_str()),
        openai_model = %config.openai_model,
        elevenlabs_base_url = %redact_url(config.elevenlabs.base_url.as_str()),
        twilio_api_base_url = %redact_url(config.twilio_api_base_url.as_str()),
        twilio_account = config.twilio_account_sid.is_some(),
        twilio_signatures_checked = config.twilio_auth_token.is_some(),
        advisor_configured = config.advisor_phone.is_some(),
        api_enabled = config.api_token.is_some(),
        shop_config = config.shop_config.as_ref().map(|p| p.display().to_string()).as_deref().unwrap_or("(built in)"),
        max_concurrent_calls = config.max_concurrent_calls.get(),
        drain_timeout_s = config.drain_timeout.as_secs(),
        log_transcripts = config.log_transcripts,
        capture_dir = config.capture_dir.as_ref().map(|p| p.display().to_string()).as_deref().unwrap_or("(off)"),
        "effective configuration"
    );
    match (&config.twilio_auth_token, config.allow_unsigned_twilio) {
        (Some(_), true) => warn!(
            "ALLOW_UNSIGNED_TWILIO is ignored: TWILIO_AUTH_TOKEN is set, so every Twilio request must be signed"
        ),
        (None, true) => warn!(
            "ALLOW_UNSIGNED_TWILIO=true: unsigned Twilio webhooks and streams are accepted. Development only: anyone who can reach this server can place calls on your providers"
        ),
        (None, false) => warn!(
            "TWILIO_AUTH_TOKEN unset: nothing unsigned is accepted; every incoming call hears the apology and goes to the advisor"
        ),
        (Some(_), false) => {}
    }
    if config.log_transcripts {
        warn!("LOG_TRANSCRIPTS=true: what callers say, their names and keypresses go to the logs");
    }
    let missing = config.missing_providers();
    if !missing.is_empty() {
        warn!(
            missing = %missing.join(", "),
            "providers not configured: incoming calls will be answered with a spoken apology and transferred to the advisor"
        );
    }
    if config.stream_token_secret.is_none() {
        info!("STREAM_TOKEN_SECRET unset: stream tokens use a per-process secret");
    }
}
