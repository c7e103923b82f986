//! HTTPS helpers: a test certificate authority and the server
//! certificates it signs, an HTTPS client that trusts only it, and the
//! certificate a server actually presents.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SerialNumber};
use rustls::pki_types::{CertificateDer, ServerName};

/// PEM files are padded to this size, so that a swapped pair can keep
/// the size (and modification time) of the one it replaces.
const PEM_FILE_BYTES: usize = 4096;

/// A certificate authority made for one test.
pub struct Authority {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

/// A server certificate for `127.0.0.1` and `localhost`, with its key.
pub struct ServerPair {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Authority {
    pub fn new() -> Authority {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "deskpulse test CA");
        let certificate = params.self_signed(&key).expect("the CA certificate");
        Authority { certificate, key }
    }

    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A new server certificate with its own key and `serial`.
    pub fn server(&self, serial: u64) -> ServerPair {
        let key = KeyPair::generate().expect("a server key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server parameters");
        params.serial_number = Some(SerialNumber::from(serial));
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("the server certificate");
        ServerPair {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            der: certificate.der().clone(),
        }
    }

    /// An HTTPS client that trusts this authority alone; statuses are
    /// answers, not errors.
    pub fn agent(&self) -> ureq::Agent {
        use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
        let ca = Certificate::from_pem(self.pem().as_bytes())
            .expect("the CA certificate is PEM")
            .to_owned();
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::new_with_certs(&[ca]))
            .unversioned_rustls_crypto_provider(ring())
            .build();
        super::http_client(Duration::from_secs(30))
            .tls_config(tls)
            .build()
            .new_agent()
    }

    /// The certificate the server at `address` presents in a handshake
    /// this authority's trust completes.
    pub fn served_certificate(&self, address: &str) -> CertificateDer<'static> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.certificate.der().clone())
            .expect("the CA is a trust anchor");
        let config = rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("127.0.0.1").expect("a server name");
        let mut connection =
            rustls::ClientConnection::new(Arc::new(config), name).expect("a TLS client");
        let mut socket = TcpStream::connect(address).expect("the server accepts");
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        while connection.is_handshaking() {
            connection
                .complete_io(&mut socket)
                .expect("the TLS handshake completes");
        }
        connection
            .peer_certificates()
            .expect("a server certificate")[0]
            .clone()
    }
}

impl ServerPair {
    /// Writes the pair to `cert` and `key`, each replaced whole (a
    /// rename), and, with `keep_stamp`, with the modification time and
    /// size of the files it replaces: a change only a reload on demand
    /// picks up.
    pub fn install(&self, cert: &Path, key: &Path, keep_stamp: bool) {
        for (path, pem) in [(cert, &self.cert_pem), (key, &self.key_pem)] {
            write_replacing(path, pem, keep_stamp);
        }
    }
}

fn write_replacing(path: &Path, pem: &str, keep_stamp: bool) {
    assert!(pem.len() < PEM_FILE_BYTES, "a PEM file fits the padding");
    let mut padded = pem.to_owned();
    padded.push_str(&"\n".repeat(PEM_FILE_BYTES - pem.len()));
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, padded).expect("the new PEM file is written");
    if keep_stamp {
        let modified: SystemTime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("the old file's modification time");
        std::fs::File::options()
            .write(true)
            .open(&fresh)
            .and_then(|f| f.set_modified(modified))
            .expect("the old modification time is kept");
    }
    std::fs::rename(&fresh, path).expect("the PEM file is replaced");
}

/// The id of the one running process with `marker` among its arguments
/// (a path unique to a test), for a signal.
pub fn pid_with_argument(marker: &str) -> u32 {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc is readable") {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let mut cmdline = String::new();
        let read = std::fs::File::open(entry.path().join("cmdline"))
            .and_then(|mut f| f.read_to_string(&mut cmdline));
        if read.is_ok() && cmdline.split('\0').any(|arg| arg.contains(marker)) {
            found.push(pid);
        }
    }
    assert_eq!(found.len(), 1, "one process with {marker} in its arguments");
    found[0]
}
