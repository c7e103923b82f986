//! Live mode wired together: the polling thread, the HTTP server, and a
//! graceful stop on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context as _};

use crate::checkpoint::{self, Checkpoints};
use crate::config::Config;
use crate::serve;
use crate::source::kafka::LiveConsumer;

/// Runs until a signal, or until the polling thread ends. With
/// `state_reset` the saved state is deleted first. `announce` is called
/// with the HTTP address once it is listening.
pub fn run(
    config: &Config,
    state_reset: bool,
    announce: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("http")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // First, so that a wrong certificate or secret file stops at once.
    let security = serve::Security::from_config(&config.http)?;
    let stores = checkpoint::open_stores(config)?;
    if state_reset {
        checkpoint::reset(&stores, &config.kafka.group_id)?;
    }
    let checkpoints = match stores.is_empty() {
        true => None,
        false => {
            Some(Checkpoints::start(stores, config).context("cannot start the checkpoint thread")?)
        }
    };
    let consumer = LiveConsumer::connect(config, checkpoints)?;
    let listen = config.http.listen;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|e| {
            anyhow!(
                "cannot listen on {listen}: {e}; set http.listen (or --listen) to a free address"
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!("HTTP: {}", security.describe());

    let (requests, inbox) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let (consumer_done, consumer_ended) = tokio::sync::oneshot::channel::<()>();
    let consumer_thread = std::thread::Builder::new()
        .name("poll".into())
        .spawn({
            let stop = stop.clone();
            move || {
                consumer.run(inbox, &stop);
                let _ = consumer_done.send(());
            }
        })
        .context("cannot start the polling thread")?;
    announce(address);

    let shutdown = {
        let stop = stop.clone();
        async move {
            tokio::select! {
                signal = termination() => tracing::info!(signal, "stopping"),
                _ = consumer_ended => tracing::warn!("the consumer stopped"),
            }
            stop.store(true, Ordering::Relaxed);
        }
    };
    let server = {
        // The server listens for SIGHUP as it is made, inside the runtime.
        let _runtime = runtime.enter();
        serve::serve(
            listener,
            requests,
            config.metrics.prefix.clone(),
            security,
            config.http.header_read_timeout,
            shutdown,
        )?
    };
    let served = runtime.block_on(server);
    stop.store(true, Ordering::Relaxed);
    consumer_thread
        .join()
        .map_err(|_| anyhow!("the polling thread failed; see the log above"))?;
    served.context("the HTTP server failed")
}

/// Waits for SIGTERM (how orchestrators stop a process) or SIGINT.
async fn termination() -> &'static str {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = interrupt => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            Err(_) => {
                interrupt.await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        interrupt.await;
        "interrupt"
    }
}
