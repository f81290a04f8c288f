//! The HTTP accept loop: a connection cap, header and request timeouts, `TCP_NODELAY`, and
//! graceful shutdown.
//!
//! `axum::serve` leaves hyper's header-read timeout off (it needs a timer) and accepts without
//! limit, so a client trickling a request header byte by byte (slowloris) or opening sockets by
//! the thousand would hold the gateway's file descriptors and memory. Here:
//! - at most `max_connections` connections are open; the next `accept` waits for one to close;
//! - HTTP/1 request headers must arrive within `header_timeout` (`HTTP_HEADER_TIMEOUT_SECS`);
//! - a request (body read and handler) must finish within `REQUEST_TIMEOUT` (routes.rs applies
//!   it; a WebSocket upgrade finishes at once, the stream then lives on its own);
//! - Nagle is off on every socket: media frames and marks are small writes that must not wait
//!   for delayed ACKs.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// How long one request (not a WebSocket stream) may take, body included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves `app` on `listener` until `stop`, then lets open connections finish for up to
/// `grace` (WebSocket streams were already ended by the drain).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    header_timeout: Duration,
    stop: CancellationToken,
    grace: Duration,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = tcp.set_nodelay(true) {
            debug!(error = %err, "cannot set TCP_NODELAY on a connection");
        }
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        debug!("open connections did not close within the grace time");
    }
}
