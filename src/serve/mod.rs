//! HTTP: `/metrics`, `/healthz`, `/readyz`, `/api/v1/kpis` and the
//! wallboard at `/`. Every answer comes from the polling thread, asked
//! over a channel; names and formats come from `export`. Optionally over
//! TLS, and with credentials on all but the probes.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::export::{self, Format};
use export::Exposition;

use crate::config::HttpConfig;
use crate::source::{ConsumerStats, HttpStats, Picture, Readiness, Request};

mod auth;
mod connections;
mod tls;
use auth::Credentials;
use tls::{Certificate, Hangups};

const WALLBOARD: &str = include_str!("wallboard.html");
/// What a request says when the polling thread does not answer.
const NOT_ANSWERING: &str = "the consumer is not answering\n";
/// A polling thread that does not answer within this is not alive.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

struct Endpoints {
    requests: Sender<Request>,
    prefix: String,
    security: Security,
}

/// TLS and credentials, as `[http]` asks, read before the server starts
/// so that a wrong setting or file stops it with one line.
pub struct Security {
    credentials: Option<Arc<Credentials>>,
    certificate: Option<Arc<Certificate>>,
}

impl Security {
    pub fn from_config(http: &HttpConfig) -> anyhow::Result<Security> {
        Ok(Security {
            credentials: Credentials::from_config(http)?,
            certificate: Certificate::from_config(http)?,
        })
    }

    /// What the log says of it at startup; never a credential.
    pub fn describe(&self) -> String {
        let scheme = match self.certificate {
            Some(_) => "HTTPS",
            None => "plain HTTP",
        };
        match &self.credentials {
            Some(_) => format!("{scheme}, credentials required except on /healthz and /readyz"),
            None => format!("{scheme}, no credentials required"),
        }
    }

    fn stats(&self) -> HttpStats {
        HttpStats {
            unauthorized: self
                .credentials
                .as_ref()
                .map_or(0, |c| c.refused.load(Ordering::Relaxed)),
            tls_reload_errors: self
                .certificate
                .as_ref()
                .map_or(0, |c| c.reload_errors.load(Ordering::Relaxed)),
        }
    }
}

/// Serves until `shutdown` completes, then finishes open requests. Must
/// be called inside the runtime (it listens for SIGHUP at once).
pub fn serve(
    listener: tokio::net::TcpListener,
    requests: Sender<Request>,
    prefix: String,
    security: Security,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<impl Future<Output = std::io::Result<()>>> {
    let tls = match &security.certificate {
        Some(certificate) => {
            tokio::spawn(certificate.clone().watch(Hangups::listen()?));
            Some(certificate.acceptor()?)
        }
        None => None,
    };
    let credentials = security.credentials.clone();
    let endpoints = Arc::new(Endpoints {
        requests,
        prefix,
        security,
    });
    let mut app = Router::new()
        .route("/", get(|| async { Html(WALLBOARD) }))
        .route("/metrics", get(metrics))
        .route("/api/v1/kpis", get(kpis));
    // Only on the routes above: the probes stay open to orchestrators.
    if let Some(credentials) = credentials {
        app = app.route_layer(axum::middleware::from_fn_with_state(
            credentials,
            auth::require,
        ));
    }
    let app = app
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(endpoints);
    Ok(connections::serve(
        listener,
        app,
        tls,
        header_read_timeout,
        shutdown,
    ))
}

impl Endpoints {
    async fn ask<T>(&self, request: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(request(reply)).ok()?;
        tokio::time::timeout(ANSWER_TIMEOUT, answer)
            .await
            .ok()?
            .ok()
    }

    /// The exposition of a fresh picture, handed with it to `work`.
    /// Building and encoding ~10,000 series takes milliseconds, so both
    /// run off the async workers.
    async fn with_families<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Picture, Exposition) -> T + Send + 'static,
    ) -> Result<T, Response> {
        let picture = self
            .ask(Request::Picture)
            .await
            .ok_or_else(|| (StatusCode::SERVICE_UNAVAILABLE, NOT_ANSWERING).into_response())?;
        let prefix = self.prefix.clone();
        let http = self.security.stats();
        tokio::task::spawn_blocking(move || {
            // The picture is shared; the server's own counts join a copy.
            let consumer = ConsumerStats {
                http,
                ..picture.consumer.clone()
            };
            let exposition = export::exposition(&picture.snapshot, Some(&consumer), &prefix);
            work(&picture, exposition)
        })
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

async fn metrics(State(endpoints): State<Arc<Endpoints>>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    );
    match endpoints
        .with_families(move |_, exposition| export::encode(&exposition, format))
        .await
    {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(response) => response,
    }
}

async fn healthz(State(endpoints): State<Arc<Endpoints>>) -> impl IntoResponse {
    match endpoints.ask(Request::Ready).await {
        Some(_) => (StatusCode::OK, "ok\n"),
        None => (StatusCode::SERVICE_UNAVAILABLE, NOT_ANSWERING),
    }
}

async fn readyz(State(endpoints): State<Arc<Endpoints>>) -> impl IntoResponse {
    match endpoints.ask(Request::Ready).await {
        Some(Readiness::Ready) => (StatusCode::OK, "ready\n"),
        Some(Readiness::CatchingUp) => (StatusCode::SERVICE_UNAVAILABLE, "catching up\n"),
        Some(Readiness::BrokersNotAnswering) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the Kafka brokers are not answering\n",
        ),
        None => (StatusCode::SERVICE_UNAVAILABLE, NOT_ANSWERING),
    }
}

#[derive(Deserialize)]
struct KpiQuery {
    /// Comma-separated family names; all families without it.
    names: Option<String>,
}

async fn kpis(State(endpoints): State<Arc<Endpoints>>, Query(query): Query<KpiQuery>) -> Response {
    let prefix = endpoints.prefix.clone();
    let body = endpoints
        .with_families(move |picture, exposition| {
            let names: Option<Vec<&str>> = query.names.as_deref().map(|names| {
                names
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .collect()
            });
            let generated_at = chrono::DateTime::from_timestamp_millis(picture.snapshot.now_ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            serde_json::json!({
                "generated_at": generated_at,
                "prefix": prefix,
                "ready": picture.consumer.ready,
                "metrics": export::json(&exposition.families, names.as_deref()),
            })
        })
        .await;
    match body {
        Ok(body) => axum::Json(body).into_response(),
        Err(response) => response,
    }
}
