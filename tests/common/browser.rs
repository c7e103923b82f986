//! A real headless Chromium, driven through chromedriver's W3C WebDriver
//! HTTP API. Both come from Debian's `chromium` and `chromium-driver`
//! packages, which `tests/with-broker` installs; the tests fail, never
//! skip, without them.
//!
//! WebDriver over plain HTTP needs nothing beyond `ureq` and `serde_json`,
//! which the tests already use, and it is how the page is reached by any
//! browser automation; a CDP crate would bring a websocket stack and its
//! own browser launcher for the same few calls.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

pub const MISSING: &str = "is not on PATH: run the tests as `tests/with-broker cargo test`, \
                           which installs Debian's chromium and chromium-driver packages";

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One console message, as Chromium logged it.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// Where it came from: `javascript`, `console-api`, `network`, …
    pub source: String,
    pub message: String,
}

/// A chromedriver process (in a process group of its own, with the
/// browser it starts) and one session in it. Dropping it ends the
/// session and then kills the whole group, so no browser outlives a test,
/// even one that failed.
pub struct Browser {
    driver: Child,
    agent: ureq::Agent,
    session: String,
    /// The browser's profile: a new, empty directory for each browser.
    profile: PathBuf,
    /// What chromedriver printed, for failure messages.
    output: Arc<Mutex<String>>,
}

/// `name` found in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    /// Starts chromedriver on a port of its choosing and opens a headless
    /// session with a `width` × `height` window whose console is logged.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = on_path("chromium").unwrap_or_else(|| panic!("chromium {MISSING}"));
        let profile = std::env::temp_dir().join(format!(
            "deskpulse-chromium-{}-{}",
            std::process::id(),
            super::UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).expect("the browser profile directory is created");

        // Port 0: chromedriver binds a free port itself and says which, so
        // no other process can take it between a pick and the bind.
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver {MISSING} ({e})"));
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        for stream in [
            Box::new(driver.stdout.take().expect("stdout is piped"))
                as Box<dyn std::io::Read + Send>,
            Box::new(driver.stderr.take().expect("stderr is piped")),
        ] {
            let (port_tx, output) = (port_tx.clone(), output.clone());
            // Reads to the end, so that chromedriver never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(port) = line
                        .split_once("started successfully on port ")
                        .and_then(|(_, rest)| rest.trim_end_matches('.').parse::<u16>().ok())
                    {
                        let _ = port_tx.send(port);
                    }
                    let mut kept = output.lock().expect("chromedriver output");
                    kept.push_str(&line);
                    kept.push('\n');
                }
            });
        }
        drop(port_tx);
        let agent = super::http_client(Duration::from_secs(60))
            .build()
            .new_agent();
        let mut browser = Browser {
            driver,
            agent,
            session: String::new(),
            profile,
            output,
        };
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "chromedriver did not say its port within 30 s; it printed:\n{}",
                    browser.output()
                )
            });

        // Without the background-networking flags Chromium keeps trying
        // services it cannot reach from a closed network.
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}/session");
        let created = browser.send("POST", &url, Some(&capabilities));
        browser.session = format!(
            "{url}/{}",
            created["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no sessionId in {created}"))
        );
        browser
    }

    fn output(&self) -> String {
        self.output.lock().expect("chromedriver output").clone()
    }

    /// One WebDriver command; returns its `value`, panics on an error.
    fn send(&self, method: &str, url: &str, body: Option<&Value>) -> Value {
        let response = match body {
            Some(body) => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.to_string()),
            None if method == "DELETE" => self.agent.delete(url).call(),
            None => self.agent.get(url).call(),
        };
        let mut response = response.unwrap_or_else(|e| {
            panic!(
                "WebDriver {method} {url}: {e}; chromedriver printed:\n{}",
                self.output()
            )
        });
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_else(|e| panic!("WebDriver {method} {url}: body: {e}"));
        let reply: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("WebDriver {method} {url}: not JSON ({e}): {text}"));
        assert!(
            status == 200,
            "WebDriver {method} {url}: HTTP {status}: {}",
            reply["value"]
        );
        reply["value"].clone()
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.send(method, &format!("{}/{path}", self.session), body.as_ref())
    }

    /// Opens `url` and returns once its load event has fired.
    pub fn navigate(&self, url: &str) {
        self.command("POST", "url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page and returns what it
    /// returns.
    pub fn execute(&self, script: &str) -> Value {
        self.command(
            "POST",
            "execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Runs `script` with a callback as its last argument
    /// (`arguments[arguments.length - 1]`) and returns what it is called with.
    pub fn execute_async(&self, script: &str) -> Value {
        self.command(
            "POST",
            "execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The references of the elements that match a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.command(
            "POST",
            "elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found
            .as_array()
            .unwrap_or_else(|| panic!("find {css}: {found}"))
            .iter()
            .map(|element| {
                element[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("find {css}: {element}"))
                    .to_owned()
            })
            .collect()
    }

    /// Whether an element is rendered visibly (WebDriver's own test).
    pub fn displayed(&self, element: &str) -> bool {
        let shown = self.command("GET", &format!("element/{element}/displayed"), None);
        shown
            .as_bool()
            .unwrap_or_else(|| panic!("displayed: {shown}"))
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("the screenshot is a string"))
            .expect("the screenshot is base64")
    }

    /// The console messages logged since the last call (chromedriver
    /// hands each one out once).
    pub fn console(&self) -> Vec<LogEntry> {
        let entries = self.command("POST", "se/log", Some(json!({ "type": "browser" })));
        entries
            .as_array()
            .unwrap_or_else(|| panic!("browser log: {entries}"))
            .iter()
            .map(|entry| LogEntry {
                level: entry["level"].as_str().unwrap_or_default().to_owned(),
                source: entry["source"].as_str().unwrap_or_default().to_owned(),
                message: entry["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes the browser; an error here (say the
        // browser crashed) must not hide the test's own failure.
        if !self.session.is_empty() {
            let _ = self.agent.delete(&self.session).call();
        }
        // The group: chromedriver and whatever browser processes remain.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
