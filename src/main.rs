//! The `deskpulse` command.

use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use deskpulse::config::Config;
use deskpulse::engine::Engine;
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
    }
}
