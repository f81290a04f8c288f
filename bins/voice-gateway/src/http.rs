//! The HTTP accept loop: a connection cap, header and request timeouts, `TCP_NODELAY`, and
//! graceful shutdown.
//!
//! `axum::serve` leaves hyper's header-read timeout off (it needs a timer) and accepts without
//! limit, so a client trickling a request header byte by byte (slowloris) or opening sockets by
//! the thousand would hold the gateway's file descriptors and memory. Here:
//! - at most `max_connections` HTTP connections are open; the next `accept` waits for one to
//!   close (a connection upgraded to a media stream leaves this count: streams have their own
//!   caps, `MAX_PENDING_STREAMS` and `MAX_CONCURRENT_CALLS`, in call-pipeline's admission);
//! - request headers must arrive within `header_timeout` (`HTTP_HEADER_TIMEOUT_SECS`), counted
//!   from the moment the connection is accepted, so a client that sends nothing is cut off too;
//! - a request (body read and handler) must finish within `REQUEST_TIMEOUT` (routes.rs applies
//!   it; a WebSocket upgrade finishes at once, the stream then lives on its own);
//! - Nagle is off on every socket: media frames and marks are small writes that must not wait
//!   for delayed ACKs.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, warn};

/// How long one request (not a WebSocket stream) may take, body included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves `app` on `listener` until `stop`, then lets open connections finish their requests for
/// up to `grace` (media streams were already ended by the drain).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    header_timeout: Duration,
    stop: CancellationToken,
    grace: Duration,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let connections = TaskTracker::new();
    // HTTP/1.1 only: Twilio's webhooks and Media Streams use it, and protocol sniffing for HTTP/2
    // would wait for a first byte without any timeout.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
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
        let builder = builder.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            // hyper's header timeout starts at the first byte: a client that sends nothing is
            // cut off here instead.
            if tokio::time::timeout(header_timeout, tcp.readable())
                .await
                .is_err()
            {
                debug!(%peer, "connection sent nothing; closed");
                return;
            }
            let connection = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = ended {
                debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        debug!("open connections did not close within the grace time");
    }
}
