//! `bridgepoint-bench`: measures the box (run by `scripts/bench`).
//!
//! ```text
//! bridgepoint-bench media   [--seconds N]   encoder→UDP latency; CPU/RSS vs gst-launch
//! bridgepoint-bench control [--pushes N]    push→applied, press→call.request, session.start→first packet
//! ```
//!
//! Benchmarks print figures; they pass or fail nothing.

mod control;
mod media;

use clap::{Parser, Subcommand};

/// Benchmarks of the Bridgepoint box.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Encoder-to-UDP latency, and CPU/RSS against a bare gst-launch pipeline.
    Media {
        /// Seconds to measure each part (at least 30 for the figures in docs/benchmarks.md).
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// The control plane against a local mosquitto and the real daemon.
    Control {
        /// Config pushes to time.
        #[arg(long, default_value_t = 200)]
        pushes: usize,
        /// Button presses to time.
        #[arg(long, default_value_t = 50)]
        presses: usize,
        /// Session starts to time.
        #[arg(long, default_value_t = 20)]
        sessions: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        BenchCommand::Media { seconds } => media::run(seconds),
        BenchCommand::Control {
            pushes,
            presses,
            sessions,
        } => control::run(pushes, presses, sessions),
    }
}
