//! Memory of an engine holding 1,000,000 open tickets across 20 queues,
//! against the targets: at most 300 bytes per open ticket and 0.5 GB of
//! process RSS; and what a checkpoint of that state costs: the copy a
//! worker pauses for, the encoding on the checkpoint thread, its size,
//! and a restore. Run with `cargo bench --bench state_memory`.
//!
//! Each scenario runs in a child process of its own, so that one
//! scenario's freed memory cannot hide in the next one's RSS. Lines are
//! built one at a time into one buffer, so the input takes no memory.

use std::fmt::Write;
use std::process::{Command, ExitCode};

use std::time::Instant;

use deskpulse::checkpoint::{format, Header, PartitionName};
use deskpulse::config::Config;
use deskpulse::engine::Engine;

const TICKETS: u64 = 1_000_000;
const QUEUES: u64 = 20;
/// Far past any `ts` here, so that no event is `future_ts`.
const WALL_MS: i64 = i64::MAX / 2;
/// 2026-01-05T08:00:00Z.
const START_MS: i64 = 1_767_600_000_000;
/// 3 ms apart: all million tickets arrive within 50 minutes of event time,
/// so every event id is still inside the one-hour dedup horizon: the worst
/// case for the dedup store.
const GAP_MS: i64 = 3;
/// Replies timed before a checkpoint's copy and while it is held.
const REPLIES: u64 = 100_000;
const TARGET_BYTES_PER_TICKET: f64 = 300.0;
const TARGET_RSS_BYTES: f64 = 0.5e9;

/// What each scenario changes, to show where the bytes go.
const SCENARIOS: [(&str, &str); 4] = [
    (
        "default",
        "defaults: dedup holds all 1M event ids, windows hold customer ids",
    ),
    (
        "small-dedup",
        "engine.dedup_max_entries = 1000: ticket state + windows",
    ),
    (
        "small-dedup-no-customer",
        "as above, tickets without customer_id: ticket state alone",
    ),
    (
        "sla",
        "defaults plus an SLA policy: first-response and resolution clocks running",
    ),
];

fn main() -> ExitCode {
    match std::env::args().find_map(|a| a.strip_prefix("--scenario=").map(str::to_owned)) {
        Some(name) => run_scenario(&name),
        None => report(),
    }
}

/// Runs every scenario in a child process and prints one table.
fn report() -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("state_memory: cannot find own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{:<26} {:>14} {:>12} {:>10} {:>9} {:>8} {:>10} {:>9} {:>10} {:>8} {:>10}  what",
        "scenario",
        "bytes/ticket",
        "RSS MB",
        "engine MB",
        "pause ms",
        "next ms",
        "slowest ms",
        "held ms",
        "encode ms",
        "ckpt MB",
        "restore ms"
    );
    let mut ok = true;
    for (name, what) in SCENARIOS {
        let output = Command::new(&exe)
            .arg(format!("--scenario={name}"))
            .output();
        let line = match output {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim_end().to_owned(),
            Ok(o) => {
                ok = false;
                format!("failed: {}", String::from_utf8_lossy(&o.stderr).trim())
            }
            Err(e) => {
                ok = false;
                format!("failed to start: {e}")
            }
        };
        println!("{name:<26} {line}  {what}");
    }
    println!(
        "targets: <= {TARGET_BYTES_PER_TICKET} bytes per open ticket, <= {} MB RSS with {TICKETS} open tickets",
        TARGET_RSS_BYTES / 1e6
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints `bytes/ticket RSS-MB engine-MB` and the checkpoint's costs for
/// one scenario.
fn run_scenario(name: &str) -> ExitCode {
    let mut config = Config::default();
    let with_customer = match name {
        "default" => true,
        "small-dedup" => {
            config.engine.dedup_max_entries = 1000;
            true
        }
        "small-dedup-no-customer" => {
            config.engine.dedup_max_entries = 1000;
            false
        }
        "sla" => {
            let sla = "[[sla.policy]]\nname = \"all\"\n[sla.policy.targets]\nnormal = { first_response = \"4h\", resolution = \"3d\" }\n";
            match Config::parse(sla) {
                Ok(c) => config = c,
                Err(e) => {
                    eprintln!("sla scenario config: {e}");
                    return ExitCode::FAILURE;
                }
            }
            true
        }
        _ => {
            eprintln!("unknown scenario {name:?}");
            return ExitCode::FAILURE;
        }
    };
    let Some(before) = rss_bytes() else {
        eprintln!("cannot read VmRSS from /proc/self/status");
        return ExitCode::FAILURE;
    };
    let mut engine = Engine::new(&config);
    let mut line = String::with_capacity(256);
    for n in 0..TICKETS {
        line.clear();
        let _ = write!(
            line,
            r#"{{"event_id":"e{n}","type":"ticket.created","ts":{},"ticket_id":"T{n}","channel":"{}","priority":"{}","queue":"queue-{:02}""#,
            START_MS + n as i64 * GAP_MS,
            ["email", "chat", "phone", "web", "social"][(n % 5) as usize],
            ["low", "normal", "high", "urgent"][(n / 5 % 4) as usize],
            n % QUEUES,
        );
        if with_customer {
            let _ = write!(line, r#","customer_id":"cust-{}""#, n % 250_000);
        }
        line.push('}');
        if let Err(reason) = engine.apply(line.as_bytes(), WALL_MS) {
            eprintln!("line {n} rejected ({reason}): {line}");
            return ExitCode::FAILURE;
        }
    }
    let Some(after) = rss_bytes() else {
        eprintln!("cannot read VmRSS from /proc/self/status");
        return ExitCode::FAILURE;
    };
    let open = engine
        .snapshot(engine.clock_ms().unwrap_or(0))
        .health
        .state_entries
        .get("tickets")
        .copied()
        .unwrap_or(0);
    if open != TICKETS {
        eprintln!("expected {TICKETS} open tickets, the engine holds {open}");
        return ExitCode::FAILURE;
    }
    let grown = after.saturating_sub(before);
    let Some(checkpoint) = checkpoint_costs(&config, &mut engine) else {
        return ExitCode::FAILURE;
    };
    println!(
        "{:>14.0} {:>12.1} {:>10.1} {checkpoint}",
        grown as f64 / TICKETS as f64,
        after as f64 / 1e6,
        grown as f64 / 1e6
    );
    ExitCode::SUCCESS
}

/// `pause-ms next-ms slowest-ms held-ms encode-ms checkpoint-MB
/// restore-ms` for the engine's state, through the code live mode runs.
/// `pause-ms` is the first copy, which moves every part into shared
/// memory, and `next-ms` the one after (after the events below and the
/// encoding), which finds most of them shared already. `held-ms` is the
/// slowest of the events that follow the first copy while it is held
/// (the copy-on-write parts they change are copied then), `slowest-ms`
/// that of as many events just before it.
fn checkpoint_costs(config: &Config, engine: &mut Engine) -> Option<String> {
    let ms = |since: Instant| since.elapsed().as_secs_f64() * 1000.0;
    let slowest = slowest_reply_ms(engine, 0)?;
    let started = Instant::now();
    let state = engine.checkpoint_copy();
    let pause = ms(started);
    let held = slowest_reply_ms(engine, REPLIES)?;
    let header = Header {
        group: "bench".into(),
        topic: "events".into(),
        partition: 0,
        next_offset: TICKETS as i64,
        taken_ms: 0,
        fingerprint: engine.state_fingerprint(),
        state_bytes: 0,
    };
    let started = Instant::now();
    let bytes = format::encode(header, &state)
        .map_err(|e| eprintln!("{e}"))
        .ok()?;
    let encode = ms(started);
    drop(state);
    let started = Instant::now();
    let next = engine.checkpoint_copy();
    let next_pause = ms(started);
    drop(next);
    let name = PartitionName {
        group: "bench",
        topic: "events",
        partition: 0,
    };
    let started = Instant::now();
    let (_, state) = format::decode(&bytes, &name, engine.state_fingerprint())
        .map_err(|e| eprintln!("{e}"))
        .ok()?;
    let restored = Engine::restore(config, state);
    let restore = ms(started);
    drop(restored);
    Some(format!(
        "{pause:>9.2} {next_pause:>8.2} {slowest:>10.2} {held:>9.2} {encode:>10.0} {:>8.1} {restore:>10.0}",
        bytes.len() as f64 / 1e6
    ))
}

/// The slowest of `REPLIES` agent replies to tickets spread over the
/// whole state, the first numbered `from`, in milliseconds.
fn slowest_reply_ms(engine: &mut Engine, from: u64) -> Option<f64> {
    let mut line = String::with_capacity(128);
    let mut slowest = 0f64;
    for n in from..from + REPLIES {
        line.clear();
        let _ = write!(
            line,
            r#"{{"event_id":"r{n}","type":"ticket.agent_replied","ts":{},"ticket_id":"T{}","agent_id":"a1"}}"#,
            START_MS + (TICKETS + n) as i64 * GAP_MS,
            n * 7_919 % TICKETS,
        );
        let started = Instant::now();
        if let Err(reason) = engine.apply(line.as_bytes(), WALL_MS) {
            eprintln!("reply {n} rejected ({reason}): {line}");
            return None;
        }
        let took = started.elapsed().as_secs_f64() * 1000.0;
        slowest = slowest.max(took);
    }
    Some(slowest)
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}
