//! Accepting and serving HTTP connections, with the limits a server open
//! to any client needs: a client gets a few seconds to send each
//! request's headers, a request head is at most 16 KiB, and at most
//! 4,096 connections are served at once. Without the first, a client
//! that never finished its headers held its connection for ever, and a
//! thousand such clients held a thousand.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a client has to send a request's headers, on a kept-alive
/// connection too, before its connection is closed. Prometheus and
/// browsers send theirs at once.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A longer request head is answered 431; every endpoint is a GET.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Connections served at once, to bound file descriptors and memory; one
/// beyond is closed as it is accepted. Clients that stall are closed
/// after the header timeout, so they cannot hold these for long.
const MAX_CONNECTIONS: usize = 4096;
/// After a failed accept (out of file descriptors, say), rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` until `shutdown` completes, then lets open requests
/// finish, for at most the header timeout.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "HTTP: cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or breaks the protocol ends only its
            // own connection.
            let _ = connection.await;
            drop(slot);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(HEADER_READ_TIMEOUT) => {}
    }
    Ok(())
}
