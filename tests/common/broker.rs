//! A private broker, for a test that stops its broker: the shared one of
//! `tests/with-broker` serves the other tests at the same time and must
//! never be stopped. The same Tansu binary (`TANSU_BIN`, which
//! `tests/with-broker` exports) is started the same careful way: in-memory
//! storage on 127.0.0.1, and a port kept only once every socket listening
//! there is this broker's own.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deskpulse::config::KafkaConfig;

use super::kafka::kafka_on;
use super::{tail, TempFile};

/// Ports tried before giving up: a free port can be taken by another
/// process between being offered and Tansu binding it.
const ATTEMPTS: usize = 8;
/// How long a start may take before the port is given up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A Tansu broker of one test; killed when dropped (stopped or not).
pub struct PrivateBroker {
    child: Child,
    /// `127.0.0.1:PORT`, for `kafka.brokers`.
    pub address: String,
    log: TempFile,
}

impl PrivateBroker {
    /// Starts Tansu on a port of its own; panics, with its log, when no
    /// attempt comes up.
    pub fn start() -> PrivateBroker {
        let tansu = std::env::var("TANSU_BIN").expect(
            "TANSU_BIN is not set: run the tests as `tests/with-broker cargo test`, which finds or installs Tansu",
        );
        let mut last_log = String::new();
        for _ in 0..ATTEMPTS {
            // Tansu cannot be given port 0: it advertises the port it is
            // given, so one is picked here.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port is offered")
                .port();
            let url = format!("tcp://127.0.0.1:{port}");
            let log = TempFile::new(".tansu.log", b"");
            let output = File::create(&log.0).expect("the broker's log is created");
            let mut child = Command::new(&tansu)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", "memory://tansu/"])
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("the log file is shared"))
                .stderr(output)
                .spawn()
                .unwrap_or_else(|e| panic!("{tansu} starts: {e}"));
            let deadline = Instant::now() + START_TIMEOUT;
            while Instant::now() < deadline {
                if listens_alone(child.id(), port) {
                    return PrivateBroker {
                        child,
                        address: format!("127.0.0.1:{port}"),
                        log,
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log.0).unwrap_or_default();
        }
        panic!(
            "a private Tansu did not start on any of {ATTEMPTS} ports; its last log:\n{}",
            tail(&last_log)
        );
    }

    /// The client settings of the tests, against this broker.
    pub fn kafka(&self) -> KafkaConfig {
        kafka_on(&self.address)
    }

    /// SIGSTOP: the broker stops answering but its sockets stay open, as
    /// a hung broker's do; nothing is refused, requests just wait.
    pub fn stop_answering(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT: the broker answers again, the waiting requests first.
    pub fn answer_again(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid}");
    }

    /// The end of the broker's log, for failure messages.
    pub fn log(&self) -> String {
        tail(&std::fs::read_to_string(&self.log.0).unwrap_or_default())
    }
}

impl Drop for PrivateBroker {
    /// SIGKILL ends a stopped process too, so a test that fails during
    /// the outage leaves no broker behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Something listens on `port` and every socket listening there, on any
/// address, is an open file of process `pid` (Linux: the inodes of
/// /proc/net/tcp{,6} against /proc/PID/fd). Without /proc, only that
/// something answers there.
fn listens_alone(pid: u32, port: u16) -> bool {
    let tables: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .collect();
    if tables.is_empty() {
        let address = ([127, 0, 0, 1], port).into();
        return TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok();
    }
    let local_port = format!(":{port:04X}");
    // Columns: sl, local address, remote address, state (0A: listening),
    // …, inode (the tenth).
    let inodes: Vec<&str> = tables
        .iter()
        .flat_map(|table| table.lines().skip(1))
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let listening = columns.get(3) == Some(&"0A");
            let on_port = columns.get(1).is_some_and(|a| a.ends_with(&local_port));
            (listening && on_port)
                .then(|| columns.get(9).copied())
                .flatten()
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let sockets: Vec<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .collect();
    !inodes.is_empty()
        && inodes
            .iter()
            .all(|inode| sockets.contains(&format!("socket:[{inode}]")))
}
