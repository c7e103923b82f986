//! HTTPS: the certificate chain and key from PEM files, read again on
//! SIGHUP and when either file changes, so that a renewed certificate is
//! served without a restart. A new pair that cannot be used (unreadable,
//! not PEM, a key that does not match) keeps the pair being served.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context as _};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::config::HttpConfig;

/// How often the files are looked at for a change.
const POLL: Duration = Duration::from_secs(2);

/// The pair being served, and where it is read from.
#[derive(Debug)]
pub struct Certificate {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// Reloads that failed.
    pub(super) reload_errors: AtomicU64,
}

/// What tells that a file changed: its modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

impl Certificate {
    /// The pair `http` names, read now; `None` for plain HTTP.
    pub fn from_config(http: &HttpConfig) -> anyhow::Result<Option<Arc<Certificate>>> {
        let (Some(cert_file), Some(key_file)) = (&http.tls_cert_file, &http.tls_key_file) else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert_file, key_file) = (PathBuf::from(cert_file), PathBuf::from(key_file));
        let pair = load(&cert_file, &key_file, &provider)?;
        Ok(Some(Arc::new(Certificate {
            cert_file,
            key_file,
            provider,
            current: RwLock::new(Arc::new(pair)),
            reload_errors: AtomicU64::new(0),
        })))
    }

    /// The acceptor of connections, serving whichever pair is current.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    fn stamps(&self) -> (Stamp, Stamp) {
        (stamp(&self.cert_file), stamp(&self.key_file))
    }

    /// Reads the pair again, keeping the one served if the new one fails.
    fn reload(&self, why: &str) {
        match load(&self.cert_file, &self.key_file, &self.provider) {
            Ok(pair) => {
                // A poisoned lock still holds a whole pair: it is only ever
                // replaced whole.
                let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
                *current = Arc::new(pair);
                tracing::info!(why, "HTTP: TLS certificate reloaded");
            }
            Err(error) => {
                self.reload_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    why,
                    "HTTP: TLS certificate not reloaded, still serving the previous one: {error:#}"
                );
            }
        }
    }

    /// Reloads on SIGHUP and whenever either file changes, for ever.
    /// `hangups` is taken before the server starts, so that a SIGHUP is
    /// never the default one that ends the process.
    pub async fn watch(self: Arc<Self>, mut hangups: Hangups) {
        let mut seen = self.stamps();
        let mut poll = tokio::time::interval(POLL);
        loop {
            let why = tokio::select! {
                () = hangups.next() => "SIGHUP",
                _ = poll.tick() => {
                    let now = self.stamps();
                    if now == seen {
                        continue;
                    }
                    "file changed"
                }
            };
            // Recorded before reading, so that a pair half written when
            // read is tried again once the next write changes it.
            seen = self.stamps();
            self.reload(why);
        }
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// The certificate chain and the key, checked to belong together.
fn load(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            anyhow!(
                "cannot read http.tls_cert_file {}: {e}; give a PEM certificate chain",
                cert_file.display()
            )
        })?;
    if chain.is_empty() {
        return Err(anyhow!(
            "http.tls_cert_file {} holds no certificate; give a PEM certificate chain",
            cert_file.display()
        ));
    }
    // Never quotes the key: its errors name the file and what is wrong.
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        anyhow!(
            "cannot read http.tls_key_file {}: {e}; give a PEM private key",
            key_file.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        anyhow!(
            "http.tls_key_file {} and http.tls_cert_file {} do not make a pair: {e}; give the key of the certificate",
            key_file.display(),
            cert_file.display()
        )
    })
}

/// SIGHUPs, from when this is made.
pub struct Hangups(#[cfg(unix)] tokio::signal::unix::Signal);

impl Hangups {
    /// Must run inside the runtime.
    pub fn listen() -> anyhow::Result<Hangups> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let hangups = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
            Ok(Hangups(hangups))
        }
        #[cfg(not(unix))]
        Ok(Hangups())
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if self.0.recv().await.is_some() {
            return;
        }
        std::future::pending::<()>().await;
    }
}
