//! The `deskpulse` command.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use deskpulse::config::{Config, Provenance, Sources};
use deskpulse::demo::DemoOptions;
use deskpulse::engine::Engine;
use deskpulse::generate::{Generator, GeneratorConfig};
use deskpulse::{demo, export, live, produce, source};

#[derive(Parser)]
#[command(version, about = "Customer-support KPIs from ticket-lifecycle events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Consume Kafka in a consumer group; serve /metrics, /api/v1/kpis and the wallboard.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        #[command(flatten)]
        settings: Settings,
        /// Delete the saved state (checkpoints) of this consumer group
        /// first: every partition starts empty from its committed offset.
        #[arg(long)]
        state_reset: bool,
    },
    /// Live mode with no external services: an embedded broker fed by the generator.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo {
        #[command(flatten)]
        settings: Settings,
        /// Events per second, in real time.
        #[arg(long, default_value_t = 200.0, value_parser = positive_rate)]
        rate: f64,
        /// Partitions of the demo topic.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=256))]
        partitions: i32,
        /// Seed of the simulated support centre.
        #[arg(long, default_value_t = GeneratorConfig::default().seed)]
        seed: u64,
    },
    /// Write JSON lines from standard input to a Kafka topic, keyed by ticket (SPEC §1).
    #[command(after_help = PRODUCE_EXAMPLES)]
    Produce {
        /// Topic to write to.
        #[arg(long)]
        topic: String,
        /// Create the topic with this many partitions if it does not exist.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        create_partitions: Option<i32>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Read JSON lines with the event-time clock and print the final metrics.
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay {
        /// JSON-lines file, or `-` for standard input.
        file: PathBuf,
        /// Export as at this instant (RFC 3339, e.g. 2026-11-23T09:00:00Z)
        /// instead of the last event's time: what a live scrape then showed.
        #[arg(long, value_parser = instant_ms)]
        at: Option<i64>,
        /// How the summary on stderr is written: a line of text, or one JSON object.
        #[arg(long, value_enum, default_value_t = Report::Text)]
        report: Report,
        #[command(flatten)]
        settings: Settings,
    },
    /// Validate a config as the start does; print each setting and where it came from.
    ///
    /// The checks and one-line errors are the start's, `[sla]` included.
    /// Secrets (keys with password, secret, token, sasl.oauthbearer or
    /// ssl.key) are masked.
    #[command(after_help = CHECK_CONFIG_EXAMPLES)]
    CheckConfig {
        /// Configuration file (TOML); defaults apply without one.
        #[arg(env = "DESKPULSE_CONFIG")]
        file: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Write a simulated support centre's events as JSON lines to stdout.
    #[command(after_help = GENERATE_EXAMPLES)]
    Generate {
        /// Number of events to write; without it, `--live` writes until stopped.
        #[arg(long, required_unless_present = "live")]
        events: Option<u64>,
        /// Events from now on, each written when the wall clock reaches
        /// its time: a live feed for `produce`, whose windows fill as in
        /// production. Without it the stream starts on 2026-01-05 and is
        /// written at once.
        #[arg(long)]
        live: bool,
        /// Seed; the same seed and options give the same lines.
        #[arg(long, default_value_t = GeneratorConfig::default().seed)]
        seed: u64,
        /// Events per second of event time.
        #[arg(long, default_value_t = GeneratorConfig::default().events_per_sec, value_parser = positive_rate)]
        rate: f64,
        /// Number of queues (1–65535).
        #[arg(long, default_value_t = GeneratorConfig::default().queues as u16, value_parser = clap::value_parser!(u16).range(1..))]
        queues: u16,
        /// Number of agents (1–65535).
        #[arg(long, default_value_t = GeneratorConfig::default().agents as u16, value_parser = clap::value_parser!(u16).range(1..))]
        agents: u16,
    },
}

// The "Examples" section of each subcommand's --help: how it is usually
// called, which the option list alone does not show.
const RUN_EXAMPLES: &str = "\
Examples:
  deskpulse run --config /etc/deskpulse/deskpulse.toml
  deskpulse run --brokers kafka-1:9092,kafka-2:9092 --topics support-events --group-id support-kpis
  DESKPULSE_KAFKA_PROPERTIES_SASL_PASSWORD=... deskpulse run --set kafka.properties.security.protocol=SASL_SSL
  deskpulse run --config deskpulse.toml --state-reset";
const DEMO_EXAMPLES: &str = "\
Examples:
  deskpulse demo                 then open http://127.0.0.1:9750/
  deskpulse demo --rate 1000 --partitions 8 --listen 127.0.0.1:9800";
const PRODUCE_EXAMPLES: &str = "\
Examples:
  deskpulse generate --events 100000 | deskpulse produce --topic support-events --create-partitions 4
  deskpulse produce --topic support-events --brokers kafka-1:9092 < events.jsonl";
const REPLAY_EXAMPLES: &str = "\
Examples:
  deskpulse replay events.jsonl > metrics.txt
  deskpulse generate --events 100000 | deskpulse replay - --config deskpulse.toml
  deskpulse replay events.jsonl --at 2026-11-23T09:00:00Z
  deskpulse replay events.jsonl --report json 2> summary.json > /dev/null";
const CHECK_CONFIG_EXAMPLES: &str = "\
Examples:
  deskpulse check-config deskpulse.toml
  DESKPULSE_KAFKA_BROKERS=b:9092 deskpulse check-config deskpulse.toml --set http.listen=0.0.0.0:9750
  DESKPULSE_CONFIG=/etc/deskpulse/deskpulse.toml deskpulse check-config";
const GENERATE_EXAMPLES: &str = "\
Examples:
  deskpulse generate --events 1000 > events.jsonl
  deskpulse generate --events 200000 --seed 7 --queues 20 --agents 400 | deskpulse replay -
  deskpulse generate --live --rate 20 | deskpulse produce --topic support-events";

/// The form of `replay`'s summary.
#[derive(Clone, Copy, ValueEnum)]
enum Report {
    /// `replayed N lines: accepted A (late L), …`
    Text,
    /// `{"lines": N, "accepted": A, …, "rejected_by_reason": {…}}`
    Json,
}

/// Where settings come from: the file, then `DESKPULSE_*` variables,
/// then these flags, each overriding the one before.
#[derive(Args)]
struct Settings {
    /// Configuration file (TOML); defaults apply without one.
    #[arg(long, env = "DESKPULSE_CONFIG")]
    config: Option<PathBuf>,
    /// Kafka bootstrap servers (kafka.brokers).
    #[arg(long)]
    brokers: Option<String>,
    /// Topics to consume, comma-separated (kafka.topics).
    #[arg(long)]
    topics: Option<String>,
    /// Consumer group (kafka.group_id).
    #[arg(long)]
    group_id: Option<String>,
    /// Dead-letter topic for rejected messages (kafka.dead_letter_topic).
    #[arg(long)]
    dead_letter_topic: Option<String>,
    /// HTTP address of /metrics and the wallboard (http.listen).
    #[arg(long)]
    listen: Option<String>,
    /// Any setting as section.key=value, e.g. kafka.properties.security.protocol=SSL.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl Settings {
    fn resolve(self) -> anyhow::Result<Config> {
        Ok(self.resolve_traced()?.0)
    }

    /// The config, and where each of its settings came from.
    fn resolve_traced(self) -> anyhow::Result<(Config, Provenance)> {
        let mut overrides: Vec<(String, String)> = [
            ("kafka.brokers", self.brokers),
            ("kafka.topics", self.topics),
            ("kafka.group_id", self.group_id),
            ("kafka.dead_letter_topic", self.dead_letter_topic),
            ("http.listen", self.listen),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value?)))
        .collect();
        for pair in &self.set {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                anyhow::anyhow!(
                    "--set {pair}: expected KEY=VALUE, e.g. --set kafka.group_id=support-kpis"
                )
            })?;
            overrides.push((key.trim().to_owned(), value.to_owned()));
        }
        // Variables that are not UTF-8 cannot be settings; skip them
        // rather than fail on an unrelated one.
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("DESKPULSE_"))
            .collect();
        Ok(Config::resolve_traced(&Sources {
            file: self.config.as_deref(),
            env,
            overrides,
        })?)
    }
}

/// A bar of lines read and events per second on stderr, only when stderr
/// is a terminal: a pipe or a log file gets the summary line alone.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style = ProgressStyle::with_template("{spinner} {human_pos} lines  {rate}  {elapsed}")
        .ok()?
        .with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                // A bar never breaks the replay: a failed write only loses a frame.
                let _ = write!(out, "{:.0} events/s", state.per_sec());
            },
        );
    let bar = ProgressBar::new_spinner().with_style(style);
    // Redrawn on a timer too, so that a slow input still shows it is alive.
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}

fn instant_ms(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{s:?} is not an RFC 3339 instant such as 2026-11-23T09:00:00Z: {e}"))
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of events per second"
        )),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskpulse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            settings,
            state_reset,
        } => {
            let config = settings.resolve()?;
            live::run(
                &config,
                state_reset,
                |address| tracing::info!(%address, "serving HTTP"),
            )
        }
        Command::Demo {
            settings,
            rate,
            partitions,
            seed,
        } => demo::run(
            settings.resolve()?,
            &DemoOptions {
                rate,
                partitions,
                seed,
            },
        ),
        Command::Produce {
            topic,
            create_partitions,
            settings,
        } => {
            let config = settings.resolve()?;
            if let Some(partitions) = create_partitions {
                produce::ensure_topic(&config.kafka, &topic, partitions)?;
            }
            let producer = produce::EventProducer::new(&config.kafka, &topic)?;
            let sent = produce::lines(&producer, &mut std::io::stdin().lock())?;
            eprintln!("produced {sent} events to {topic}");
            Ok(())
        }
        Command::Replay {
            file,
            at,
            report,
            settings,
        } => {
            let config = settings.resolve()?;
            let mut engine = Engine::new(&config);
            let bar = progress_bar();
            let mut progress = |lines| {
                if let Some(bar) = &bar {
                    bar.set_position(lines);
                }
            };
            let summary = if file.as_os_str() == "-" {
                source::replay::replay(&mut engine, &mut std::io::stdin().lock(), &mut progress)
            } else {
                let f = std::fs::File::open(&file).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot open {}: {e}; give a JSON-lines file or - for stdin",
                        file.display()
                    )
                })?;
                source::replay::replay(
                    &mut engine,
                    &mut BufReader::with_capacity(1 << 20, f),
                    &mut progress,
                )
            }?;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let now = at.or(engine.clock_ms()).unwrap_or(0);
            engine.advance(now);
            let text = export::render(&engine.snapshot(now), &config.metrics.prefix);
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            match report {
                Report::Text => eprintln!("{summary}"),
                Report::Json => eprintln!("{}", summary.to_json()),
            }
            Ok(())
        }
        Command::CheckConfig { file, mut settings } => {
            // The positional file is the usual way here; --config works too.
            settings.config = file.or(settings.config);
            let (config, provenance) = settings.resolve_traced()?;
            let mut stdout = std::io::stdout().lock();
            for setting in provenance.settings(&config)? {
                writeln!(stdout, "{setting}")?;
            }
            stdout.flush()?;
            Ok(())
        }
        Command::Generate {
            events,
            live,
            seed,
            rate,
            queues,
            agents,
        } => {
            let defaults = GeneratorConfig::default();
            let mut generator = Generator::new(GeneratorConfig {
                seed,
                start_ms: if live {
                    source::wall_ms()
                } else {
                    defaults.start_ms
                },
                events_per_sec: rate,
                queues: queues.into(),
                agents: agents.into(),
                ..defaults
            });
            let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            let mut write = || -> std::io::Result<()> {
                for _ in 0..events.unwrap_or(u64::MAX) {
                    let Some(line) = generator.next() else { break };
                    if live {
                        // What is written goes out before each wait, so
                        // that the reader gets every event at its time.
                        out.flush()?;
                        generator.pace(std::thread::sleep, || false);
                    }
                    writeln!(out, "{line}")?;
                }
                out.flush()
            };
            let written = write();
            match written {
                // The reader went away (`| head`): that is how a pipe ends, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
    }
}
