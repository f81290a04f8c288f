//! The HTTP/WebSocket server: routes, shared state, graceful shutdown.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{config::Config, telemetry};

/// What every route handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    metrics: Option<PrometheusHandle>,
}

/// Runs the server until SIGTERM or ctrl-c, then drains.
pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    log_effective_config(&config);
    let metrics = telemetry::init_metrics().context("installing the Prometheus recorder")?;
    let shutdown = CancellationToken::new();
    let upkeep = tokio::spawn(run_metrics_upkeep(metrics.clone(), shutdown.clone()));

    let state = AppState {
        metrics: Some(metrics),
    };
    let listener = tokio::net::TcpListener::bind(config.bind_addr)
        .await
        .with_context(|| format!("binding listener on {}", config.bind_addr))?;
    info!(addr = %listener.local_addr().context("reading the bound address")?, "listening");

    tokio::spawn(cancel_on_signal(shutdown.clone()));
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving HTTP")?;
    shutdown.cancel();
    let _ = upkeep.await;
    info!("stopped");
    Ok(())
}

/// The route table.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(Arc::new(state))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match &state.metrics {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (StatusCode::NOT_FOUND, String::new()),
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

/// Cancels `shutdown` on SIGTERM or ctrl-c.
async fn cancel_on_signal(shutdown: CancellationToken) {
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
        _ = shutdown.cancelled() => {}
    }
    shutdown.cancel();
}

fn log_effective_config(config: &Config) {
    info!(
        bind_addr = %config.bind_addr,
        public_url = config.public_url.as_ref().map(|u| u.as_str()).unwrap_or("(unset)"),
        database = %config.database_url_redacted(),
        sessions = config.redis_url_redacted().as_deref().unwrap_or("in-memory"),
        tts_provider = ?config.tts_provider,
        deepgram_stt_url = %config.deepgram_stt_url,
        deepgram_tts_url = %config.deepgram_tts_url,
        openai_base_url = %config.openai_base_url,
        openai_model = %config.openai_model,
        elevenlabs_base_url = %config.elevenlabs_base_url,
        twilio_api_base_url = %config.twilio_api_base_url,
        twilio_account = config.twilio_account_sid.is_some(),
        twilio_signatures_checked = config.twilio_auth_token.is_some(),
        advisor_configured = config.advisor_phone.is_some(),
        api_enabled = config.api_token.is_some(),
        shop_config = %config.shop_config.display(),
        max_concurrent_calls = config.max_concurrent_calls.get(),
        drain_timeout_s = config.drain_timeout.as_secs(),
        capture_dir = config.capture_dir.as_ref().map(|p| p.display().to_string()).as_deref().unwrap_or("(off)"),
        "effective configuration"
    );
    let missing = config.missing_providers();
    if !missing.is_empty() {
        warn!(
            missing = %missing.join(", "),
            "providers not configured: incoming calls will be answered with a spoken apology and transferred to the advisor"
        );
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn healthz_answers_ok() {
        let app = router(AppState { metrics: None });
        let response = app
            .oneshot(
                axum::http::Request::get("/healthz")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
    }
}
