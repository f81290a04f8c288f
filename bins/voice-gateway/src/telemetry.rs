//! Tracing subscriber and Prometheus recorder setup. Only the binary installs these.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// The filter used when `RUST_LOG` is unset. sqlx's Postgres notices ("relation already exists,
/// skipping") are noise on every start.
const DEFAULT_FILTER: &str = "info,sqlx::postgres::notice=warn,sqlx::query=warn";

/// Installs the global subscriber: human-readable lines, or JSON with `LOG_FORMAT=json`.
pub(crate) fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    // `try_init` so a second call (tests) is harmless.
    let _ = match format {
        LogFormat::Human => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
    };
}

/// Logging for an interactive command (`chat`): warnings and errors only unless `RUST_LOG` says
/// otherwise, on stderr, so the conversation on stdout stays readable.
pub(crate) fn init_quiet_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_target(false).with_writer(std::io::stderr))
        .try_init();
}

/// Installs the global Prometheus recorder and returns the handle `/metrics` renders.
pub(crate) fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    Ok(handle)
}
