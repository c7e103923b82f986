//! The `deskpulse` command.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use deskpulse::config::Config;
use deskpulse::engine::Engine;
use deskpulse::generate::{Generator, GeneratorConfig};
use deskpulse::{export, source};

#[derive(Parser)]
#[command(version, about = "Customer-support KPIs from ticket-lifecycle events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read JSON lines with the event-time clock and print the final metrics.
    Replay {
        /// JSON-lines file, or `-` for standard input.
        file: PathBuf,
        /// Configuration file (TOML); defaults apply without one.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write a simulated support centre's events as JSON lines to stdout.
    Generate {
        /// Number of events to write.
        #[arg(long)]
        events: u64,
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
        Command::Replay { file, config } => {
            let config = match config {
                Some(path) => Config::load(&path)?,
                None => Config::default(),
            };
            let mut engine = Engine::new(&config);
            let summary = if file.as_os_str() == "-" {
                source::replay::replay(&mut engine, &mut std::io::stdin().lock())
            } else {
                let f = std::fs::File::open(&file).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot open {}: {e}; give a JSON-lines file or - for stdin",
                        file.display()
                    )
                })?;
                source::replay::replay(&mut engine, &mut BufReader::with_capacity(1 << 20, f))
            }?;
            let now = engine.clock_ms().unwrap_or(0);
            let text = export::render(&engine.snapshot(now), &config.metrics.prefix);
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            eprintln!("{summary}");
            Ok(())
        }
        Command::Generate {
            events,
            seed,
            rate,
            queues,
            agents,
        } => {
            let generator = Generator::new(GeneratorConfig {
                seed,
                events_per_sec: rate,
                queues: queues.into(),
                agents: agents.into(),
                ..GeneratorConfig::default()
            });
            let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            let written = generator
                .take(events.try_into().unwrap_or(usize::MAX))
                .try_for_each(|line| writeln!(out, "{line}"))
                .and_then(|()| out.flush());
            match written {
                // The reader went away (`| head`): that is how a pipe ends, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
    }
}
