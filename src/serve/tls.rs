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
use rustls::pki_types::pem::{self, PemObject};
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
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
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
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow!(
            "http.tls_key_file {} holds no private key; give the PEM private key of the certificate",
            key_file.display()
        ),
        e => anyhow!(
            "cannot read http.tls_key_file {}: {e}; give a PEM private key",
            key_file.display()
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, as PEM.
    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("a key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("a certificate");
        (cert.pem(), key.serialize_pem())
    }

    fn served(certificate: &Certificate) -> Vec<u8> {
        let current = certificate.current.read().expect("not poisoned");
        current.cert[0].to_vec()
    }

    #[test]
    fn a_bad_new_pair_keeps_the_served_one_and_is_counted() {
        let dir = std::env::temp_dir().join(format!("deskpulse-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
        let (cert, key) = pair();
        std::fs::write(&cert_file, &cert).expect("written");
        std::fs::write(&key_file, &key).expect("written");
        let http = HttpConfig {
            tls_cert_file: Some(cert_file.display().to_string()),
            tls_key_file: Some(key_file.display().to_string()),
            ..HttpConfig::default()
        };
        let certificate = Certificate::from_config(&http)
            .expect("the pair is read")
            .expect("TLS is asked for");
        let first = served(&certificate);

        let (other_cert, other_key) = pair();
        for (file, text, says) in [
            (&key_file, &other_key, "do not make a pair"),
            (&key_file, &cert, "holds no private key"),
            (&cert_file, &key, "holds no certificate"),
        ] {
            std::fs::write(file, text).expect("written");
            let error = load(&cert_file, &key_file, &certificate.provider).expect_err("refused");
            assert!(format!("{error:#}").contains(says), "{error:#}");
            certificate.reload("test");
        }
        assert_eq!(certificate.reload_errors.load(Ordering::Relaxed), 3);
        assert_eq!(served(&certificate), first, "the first pair is kept");

        std::fs::write(&cert_file, &other_cert).expect("written");
        std::fs::write(&key_file, &other_key).expect("written");
        certificate.reload("test");
        assert_ne!(served(&certificate), first, "a good pair is taken");
        assert_eq!(certificate.reload_errors.load(Ordering::Relaxed), 3);
        std::fs::remove_dir_all(&dir).expect("removed");
    }

    #[test]
    fn plain_http_without_the_files() {
        assert!(Certificate::from_config(&HttpConfig::default())
            .expect("nothing to read")
            .is_none());
    }
}
