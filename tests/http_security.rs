//! The HTTP endpoints secured, through real clients against a real
//! `deskpulse run`: HTTPS with a certificate from a test authority, a
//! bearer token from the environment and a basic-auth password from a
//! file. Right credentials open `/metrics`, `/api/v1/kpis` and the
//! wallboard, missing and wrong ones get 401, the probes stay open; plain
//! HTTP and a handshake that never ends get nowhere; a swapped
//! certificate is served after SIGHUP or once its files change, a bad one
//! keeps the old; no secret reaches the log or `check-config`; a secret
//! written in the config file is refused.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::kafka::{eventually, topic, Deskpulse};
use common::tls::{pid_with_argument, Authority};
use common::{Metrics, TempFile};
use deskpulse::config::HttpConfig;

/// Given to every deskpulse of this test process through its environment.
const TOKEN: &str = "bearer-Zq81-never-logged";
const USER: &str = "prometheus";
/// Given through `http.basic_password_file`.
const PASSWORD: &str = "basic-Kx27-never-logged";
/// Longer than the server's poll of the certificate files.
const POLLS: Duration = Duration::from_secs(5);

static TOKEN_IN_ENVIRONMENT: Once = Once::new();

/// A secured `deskpulse run`, its certificate files and its authority.
struct Secured {
    deskpulse: Deskpulse,
    authority: Authority,
    agent: ureq::Agent,
    /// host:port
    address: String,
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// Scratch files of one test, removed with it.
fn scratch_dir() -> PathBuf {
    let marker = TempFile::new("", b"");
    let dir = marker.0.with_extension("d");
    std::fs::create_dir_all(&dir).expect("the scratch directory is made");
    dir
}

/// The settings of `dir`'s certificate pair and password file.
fn secured_settings(dir: &std::path::Path) -> Vec<String> {
    let password = dir.join("password");
    std::fs::write(&password, format!("{PASSWORD}\n")).expect("the password file is written");
    [
        format!("http.tls_cert_file={}", dir.join("tls.crt").display()),
        format!("http.tls_key_file={}", dir.join("tls.key").display()),
        format!("http.basic_user={USER}"),
        format!("http.basic_password_file={}", password.display()),
    ]
    .into_iter()
    .flat_map(|setting| ["--set".to_owned(), setting])
    .collect()
}

impl Secured {
    fn start() -> Secured {
        // Every deskpulse started here inherits it; set before any starts.
        TOKEN_IN_ENVIRONMENT.call_once(|| std::env::set_var("DESKPULSE_HTTP_BEARER_TOKEN", TOKEN));
        let dir = scratch_dir();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        let authority = Authority::new();
        authority.server(1).install(&cert, &key, false);
        let topic = topic("http-security", 1);
        let mut args = vec![
            "--topics".to_owned(),
            topic.clone(),
            "--group-id".to_owned(),
            topic,
        ];
        args.extend(secured_settings(&dir));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let deskpulse = Deskpulse::run(&args);
        let address = deskpulse.base.trim_start_matches("http://").to_owned();
        let agent = authority.agent();
        Secured {
            deskpulse,
            authority,
            agent,
            address,
            dir,
            cert,
            key,
        }
    }

    /// GET `path` over HTTPS with `authorization`: status, challenges, body.
    fn get(&self, path: &str, authorization: Option<&str>) -> (u16, Vec<String>, String) {
        let mut request = self.agent.get(&format!("https://{}{path}", self.address));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        let mut response = request
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}; stderr:\n{}", self.deskpulse.stderr()));
        let challenges = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().expect("an ASCII challenge").to_owned())
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .expect("the body is read");
        (response.status().as_u16(), challenges, body)
    }

    fn metrics(&self) -> Metrics {
        let (status, _, body) = self.get("/metrics", Some(&bearer(TOKEN)));
        assert_eq!(status, 200, "/metrics: {body}");
        Metrics::parse(&body)
    }

    fn served(&self) -> rustls::pki_types::CertificateDer<'static> {
        self.authority.served_certificate(&self.address)
    }
}

impl Drop for Secured {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[test]
fn right_credentials_open_the_endpoints_wrong_and_missing_ones_get_401() {
    let s = Secured::start();
    eventually(
        "ready, asked without credentials",
        || s.deskpulse.stderr(),
        || s.get("/readyz", None).0 == 200,
    );
    assert_eq!(s.get("/healthz", None).0, 200, "/healthz is open");

    let right = [bearer(TOKEN), basic(USER, PASSWORD)];
    // What each endpoint answers with, so that a 200 is the real answer.
    for (path, shows) in [
        ("/metrics", "deskpulse_build_info"),
        ("/api/v1/kpis", "\"metrics\""),
        ("/", "<html"),
    ] {
        for authorization in &right {
            let (status, _, body) = s.get(path, Some(authorization));
            assert_eq!(status, 200, "{path} with {}", &authorization[..6]);
            assert!(body.contains(shows), "{path} shows {shows}");
        }
    }

    let wrong = [
        None,
        Some(bearer("bearer-Zq81-never-logge")),
        Some(bearer(PASSWORD)),
        Some(basic(USER, "basic-Kx27-never-loggeD")),
        Some(basic("grafana", PASSWORD)),
        Some(basic(USER, TOKEN)),
        Some(format!("Token {TOKEN}")),
    ];
    let mut refused = 0.0;
    for path in ["/metrics", "/api/v1/kpis", "/"] {
        for authorization in &wrong {
            let (status, challenges, body) = s.get(path, authorization.as_deref());
            assert_eq!(status, 401, "{path} with {authorization:?}: {body}");
            assert_eq!(
                challenges,
                [
                    "Basic realm=\"deskpulse\", charset=\"UTF-8\"",
                    "Bearer realm=\"deskpulse\""
                ],
                "{path}: one challenge per scheme"
            );
            refused += 1.0;
        }
    }
    let metrics = s.metrics();
    assert_eq!(
        metrics.value("deskpulse_http_unauthorized_total", &[]),
        refused
    );
    assert_eq!(
        metrics.value("deskpulse_http_tls_reload_errors_total", &[]),
        0.0
    );

    // Plain HTTP to the HTTPS port gets no answer at all.
    let plain = ureq::get(&format!("http://{}/healthz", s.address)).call();
    assert!(plain.is_err(), "plain HTTP is answered: {plain:?}");

    let stderr = s.deskpulse.stderr();
    for secret in [TOKEN, PASSWORD] {
        assert!(!stderr.contains(secret), "{secret} in stderr:\n{stderr}");
    }
    assert!(
        stderr.contains("HTTPS, credentials required except on /healthz and /readyz"),
        "the log says how HTTP is secured:\n{stderr}"
    );
}

/// Runs `deskpulse` to its end: success, stdout, stderr.
fn deskpulse(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(args)
        .env("DESKPULSE_HTTP_BEARER_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("deskpulse runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn check_config_shows_where_each_secret_came_from_but_never_the_secret() {
    let dir = scratch_dir();
    let settings = secured_settings(&dir);
    let mut args = vec!["check-config"];
    args.extend(settings.iter().map(String::as_str));
    let (ok, stdout, stderr) = deskpulse(&args);
    std::fs::remove_dir_all(&dir).expect("the scratch directory is removed");
    assert!(ok, "check-config fails: {stderr}");
    assert!(
        stdout.contains(
            "http.bearer_token = \"********\"  (environment variable DESKPULSE_HTTP_BEARER_TOKEN)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "http.basic_password_file = \"{}\"  (--set http.basic_password_file)",
            dir.join("password").display()
        )),
        "the file holding a secret is named: {stdout}"
    );
    for secret in [TOKEN, PASSWORD] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
}

#[test]
fn a_secret_in_the_config_file_or_half_a_pair_is_refused_with_one_line() {
    let literal = TempFile::new(
        ".toml",
        b"[http]\nbasic_user = \"p\"\nbasic_password = \"pw-in-the-file-31\"\n",
    );
    let literal = literal.0.display().to_string();
    for (args, says) in [
        (
            vec!["run", "--config", &literal],
            "http.basic_password is a secret and cannot be written in the config file; remove it and set DESKPULSE_HTTP_BASIC_PASSWORD or http.basic_password_file instead",
        ),
        (
            vec!["run", "--set", "http.tls_cert_file=/etc/tls.crt"],
            "http.tls_cert_file and http.tls_key_file go together",
        ),
        (
            vec!["check-config", "--set", "http.bearer_token=pw-on-the-line-31"],
            "a secret on the command line is visible to every user of the machine",
        ),
    ] {
        let (ok, stdout, stderr) = deskpulse(&args);
        assert!(!ok, "{args:?} is refused");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("-31"), "{args:?} quotes the secret: {stderr}");
    }
}

#[test]
fn a_swapped_certificate_is_served_after_sighup_or_a_file_change_and_a_bad_one_keeps_the_old() {
    let s = Secured::start();
    let first = s.served();
    let second = s.authority.server(2);
    assert_ne!(first, second.der, "two certificates");

    // The same modification times and sizes: only SIGHUP reloads it.
    second.install(&s.cert, &s.key, true);
    std::thread::sleep(POLLS);
    assert_eq!(s.served(), first, "no reload without a change to see");
    let pid = pid_with_argument(&s.cert.display().to_string());
    let hangup = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(hangup.success(), "kill -HUP {pid}");
    eventually(
        "the second certificate served after SIGHUP",
        || s.deskpulse.stderr(),
        || s.served() == second.der,
    );

    // Renewed in place, as cert-manager or a mounted secret does.
    let third = s.authority.server(3);
    third.install(&s.cert, &s.key, false);
    eventually(
        "the third certificate served once its files changed",
        || s.deskpulse.stderr(),
        || s.served() == third.der,
    );

    // A key that is not the certificate's: the third stays served.
    let errors = s
        .metrics()
        .value("deskpulse_http_tls_reload_errors_total", &[]);
    let stranger = s.authority.server(4);
    std::fs::write(&s.key, &stranger.key_pem).expect("the key is replaced");
    eventually(
        "the failed reload counted",
        || s.deskpulse.stderr(),
        || {
            s.metrics()
                .value("deskpulse_http_tls_reload_errors_total", &[])
                > errors
        },
    );
    assert_eq!(s.served(), third.der, "a bad pair keeps the old one");
    let (status, _, _) = s.get("/metrics", Some(&basic(USER, PASSWORD)));
    assert_eq!(status, 200, "still serving");
    let stderr = s.deskpulse.stderr();
    assert!(
        stderr.contains("TLS certificate not reloaded, still serving the previous one")
            && stderr.contains("do not make a pair"),
        "the failed reload is logged: {stderr}"
    );
    assert!(!stderr.contains("PRIVATE KEY"), "no key in the log");
}

#[test]
fn a_tls_handshake_that_never_completes_is_closed_after_the_header_timeout() {
    let s = Secured::start();
    // One sends nothing, one the start of a ClientHello record.
    let stalled: Vec<TcpStream> = [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]]
        .iter()
        .map(|start| {
            let mut stream = TcpStream::connect(&s.address).expect("the server accepts");
            stream.write_all(start).expect("the start is sent");
            stream
        })
        .collect();
    let opened = Instant::now();
    let timeout = HttpConfig::default().header_read_timeout;
    // Meanwhile a full client is served at once.
    assert_eq!(s.get("/healthz", None).0, 200);
    let margin = Duration::from_secs(10);
    for mut stream in stalled {
        stream
            .set_read_timeout(Some(timeout + margin))
            .expect("a read timeout");
        let mut byte = [0u8; 64];
        let closed = match stream.read(&mut byte) {
            Ok(0) => true,
            Ok(n) => panic!("{n} bytes sent to a client that never said hello"),
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        };
        let after = opened.elapsed();
        assert!(closed, "a stalled handshake still open after {after:?}");
        assert!(
            after >= timeout - Duration::from_secs(1),
            "closed after {after:?}, before the {timeout:?} timeout"
        );
    }
}

#[test]
fn the_scrape_configs_of_the_readme_pass_promtool() {
    let doc = std::fs::read_to_string("README.md").expect("README.md is read");
    let configs: Vec<&str> = doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(yaml, _)| yaml))
        .filter(|yaml| yaml.contains("scrape_configs:"))
        .collect();
    assert_eq!(configs.len(), 2, "a bearer and a basic-auth example");
    // promtool wants the files the examples name to exist.
    let dir = scratch_dir();
    for file in [
        "deskpulse-ca.crt",
        "secrets/deskpulse-token",
        "secrets/deskpulse-password",
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("it is made");
        std::fs::write(&path, "x\n").expect("the file is written");
    }
    for (config, secret_key) in configs.iter().zip(["credentials_file", "password_file"]) {
        assert!(config.contains(secret_key) && config.contains("scheme: https"));
        let config = config.replace("/etc/prometheus/", &format!("{}/", dir.display()));
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, &config).expect("the config is written");
        let checked =
            common::prometheus::promtool(&["check", "config", &file.display().to_string()], None);
        assert!(checked.status.success(), "{config}\n{}", checked.report);
    }
    std::fs::remove_dir_all(&dir).expect("the scratch directory is removed");
}
