//! Accepting and serving HTTP connections, with the limits a server open
//! to any client needs: a client gets a few seconds
//! (`http.header_read_timeout`) to send each request's headers, a request
//! head is at most 16 KiB, and at most 4,096 connections are served at
//! once. Without the first, a client that never finished its headers
//! held its connection for ever, and a thousand such clients held a
//! thousand. Under TLS the handshake gets the same few seconds, so a
//! client that never finishes it is closed too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// A longer request head is answered 431; every endpoint is a GET.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Connections served at once, to bound file descriptors and memory; one
/// beyond is closed as it is accepted. Clients that stall are closed
/// after the header timeout, so they cannot hold these for long.
const MAX_CONNECTIONS: usize = 4096;
/// After a failed accept (out of file descriptors, say), rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app`, over TLS with `tls`, until `shutdown` completes, then
/// lets open requests finish, for at most the header timeout. A client
/// has `header_timeout` to send each request's headers, on a kept-alive
/// connection too.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
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
        let (app, tls, watcher) = (app.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            // A client that goes away, breaks the protocol or fails the
            // handshake ends only its own connection.
            match tls {
                None => serve_connection(stream, app, header_timeout, watcher).await,
                Some(tls) => {
                    let handshake = tokio::time::timeout(header_timeout, tls.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, app, header_timeout, watcher).await
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "HTTP: TLS handshake failed"),
                        Err(_) => tracing::debug!("HTTP: TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(header_timeout) => {}
    }
    Ok(())
}

async fn serve_connection<S>(stream: S, app: Router, header_timeout: Duration, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let _ = watcher.watch(connection).await;
}
