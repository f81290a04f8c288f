//! Opening a Deepgram WebSocket and turning transport failures into `ProviderError`s.

use std::future::pending;
use std::sync::Once;
use std::time::Duration;

use futures::SinkExt;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use providers::ProviderError;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::debug;
use url::Url;

use crate::ApiKey;

/// One open Deepgram socket.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `url` with `Authorization: Token <key>`, bounded by `timeout`.
///
/// A refused upgrade maps to `Auth` (401/403), `RateLimited` (429) or `Http` (other statuses);
/// Deepgram's `dg-error` and `dg-request-id` headers go into the message so they are logged once,
/// where the error is handled.
/// Read buffer of a vendor socket: Deepgram's messages are a few hundred bytes to a few KiB.
const READ_BUFFER_BYTES: usize = 8 * 1024;

pub(crate) async fn open(
    url: &Url,
    api_key: &ApiKey,
    timeout: Duration,
) -> Result<Socket, ProviderError> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|err| ProviderError::Connect(format!("bad request for {}: {err}", redact(url))))?;
    let authorization = HeaderValue::from_str(&api_key.authorization())
        .map_err(|_| ProviderError::Auth("the API key is not a valid header value".to_owned()))?;
    request.headers_mut().insert(AUTHORIZATION, authorization);
    if url.scheme() == "wss" {
        ensure_crypto_provider();
    }

    // Nagle off: `Speak` then `Flush` are two small writes and the second would wait for the
    // first's delayed ACK (up to 40 ms). A small read buffer: tungstenite zero-fills the whole
    // buffer on every read attempt, and its 128 KiB default was a third of the gateway's CPU.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(timeout, connect).await {
        Err(_) => Err(ProviderError::Timeout(format!(
            "connecting to {} took over {} ms",
            redact(url),
            timeout.as_millis()
        ))),
        Ok(Err(err)) => Err(handshake_error(url, err)),
        Ok(Ok((socket, response))) => {
            let request_id = header(response.headers(), "dg-request-id");
            debug!(url = %redact(url), request_id, "deepgram socket open");
            Ok(socket)
        }
    }
}

/// Sends one frame, bounded by `timeout`: a peer that stops reading must not stall the driver.
pub(crate) async fn send(
    socket: &mut Socket,
    message: Message,
    timeout: Duration,
) -> Result<(), ProviderError> {
    match tokio::time::timeout(timeout, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(ProviderError::Connect(format!("send failed: {err}"))),
        Err(_) => Err(ProviderError::Timeout(format!(
            "send blocked for over {} ms",
            timeout.as_millis()
        ))),
    }
}

/// Why the server closed the socket, and whether reconnecting can help.
pub(crate) fn close_reason(frame: Option<&CloseFrame>) -> (ProviderError, bool) {
    let Some(frame) = frame else {
        return (
            ProviderError::Connect("closed by the server without a reason".to_owned()),
            true,
        );
    };
    let code = u16::from(frame.code);
    let reason = frame.reason.as_str();
    let text = format!("closed by the server (code {code}: {reason})");
    if reason.starts_with("DATA-") {
        // Undecodable audio: a wrong encoding or sample rate. A new socket gets the same audio.
        (ProviderError::Protocol(text), false)
    } else if reason.starts_with("NET-") {
        (ProviderError::Timeout(text), true)
    } else if code == 1008 && reason.to_ascii_lowercase().contains("auth") {
        (ProviderError::Auth(text), false)
    } else {
        (ProviderError::Vendor(text), true)
    }
}

/// A driver that can keep taking its caller's commands while its socket is being reopened.
pub(crate) trait Reconnecting {
    /// What the caller sends.
    type Command;
    /// Log name: "deepgram stt", "deepgram tts".
    const WHAT: &'static str;
    /// The command channel, while it is open.
    fn commands(&mut self) -> Option<&mut tokio::sync::mpsc::Receiver<Self::Command>>;
    /// Consecutive failed attempts (reset by the driver when a socket proves healthy).
    fn failed_attempts(&mut self) -> &mut u32;
    /// Takes a command that arrived while no socket was up (`None`: the channel closed).
    /// Returns false to stop reconnecting (the session is over).
    async fn while_reconnecting(&mut self, command: Option<Self::Command>) -> bool;
}

/// Reopens `url` with `policy`'s backoff until it works, a failure cannot be retried, or the
/// policy's attempts are used up; commands that arrive meanwhile go to the driver. `Ok(None)` when
/// the driver stopped it.
pub(crate) async fn reconnect<D: Reconnecting>(
    driver: &mut D,
    url: &Url,
    api_key: &ApiKey,
    connect_timeout: Duration,
    policy: &crate::ReconnectPolicy,
    lost: ProviderError,
) -> Result<Option<Socket>, ProviderError> {
    let mut last_error = lost;
    loop {
        let attempts = driver.failed_attempts();
        if *attempts >= policy.max_attempts {
            tracing::warn!(attempts = *attempts, error = %last_error, "{} reconnect gave up", D::WHAT);
            return Err(last_error);
        }
        *attempts += 1;
        let attempt = *attempts;
        let delay = policy.backoff(attempt);
        let connect = async {
            tokio::time::sleep(delay).await;
            open(url, api_key, connect_timeout).await
        };
        let mut connect = std::pin::pin!(connect);
        let result = loop {
            let command = tokio::select! {
                result = &mut connect => break result,
                command = recv(driver.commands()) => command,
            };
            if !driver.while_reconnecting(command).await {
                return Ok(None);
            }
        };
        match result {
            Ok(socket) => return Ok(Some(socket)),
            Err(err) if !err.is_retryable() => return Err(err),
            Err(err) => {
                tracing::warn!(attempt, error = %err, "{} reconnect failed", D::WHAT);
                last_error = err;
            }
        }
    }
}

/// The next command, or never when the channel is already closed (a disabled `select!` arm).
async fn recv<C>(commands: Option<&mut tokio::sync::mpsc::Receiver<C>>) -> Option<C> {
    match commands {
        Some(commands) => commands.recv().await,
        None => pending().await,
    }
}

/// Sleeps until `at`, or forever when there is no deadline (a disabled `select!` arm).
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => pending().await,
    }
}

/// The URL without query or credentials, for logs.
pub(crate) fn redact(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    )
}

/// tokio-tungstenite builds its rustls config from the process-default crypto provider and panics
/// when there is none, or when rustls cannot pick one because both ring and aws-lc-rs are compiled
/// in (docs/dependencies.md, section 3). Install ring unless the binary already chose a provider.
fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // An `Err` means another thread installed one first, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

fn handshake_error(url: &Url, err: tungstenite::Error) -> ProviderError {
    let tungstenite::Error::Http(response) = err else {
        return ProviderError::Connect(format!("{}: {err}", redact(url)));
    };
    let status = response.status().as_u16();
    let headers = response.headers();
    let request_id = header(headers, "dg-request-id").unwrap_or_default();
    let body = response
        .body()
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let reason = header(headers, "dg-error").unwrap_or_else(|| body.trim().to_owned());
    let message = format!("{reason} (dg-request-id {request_id})");
    match status {
        401 | 403 => ProviderError::Auth(format!("status {status}: {message}")),
        429 => ProviderError::RateLimited {
            retry_after: header(headers, "retry-after")
                .and_then(|secs| secs.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        _ => ProviderError::Http { status, message },
    }
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
