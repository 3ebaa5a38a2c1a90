//! `bpctl`: central IT's command-line tool for Bridgepoint boxes. See
//! docs/provisioning.md for the MQTT contract and every command.

mod broker;
mod cli;
mod command;
mod keygen;
mod list;
mod payload;
mod push;
mod watch;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Cmd, SessionCmd};
use crate::payload::Command;

/// Prints one line on stdout. A closed pipe (`bpctl watch | head`) ends
/// the program quietly instead of panicking.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let b = &cli.broker;
    match &cli.command {
        Cmd::Keygen(a) => say(&keygen::run(a)?),
        Cmd::Push(a) => return push::run(b, a).await,
        Cmd::List(a) => list::run(b, a).await?,
        Cmd::Watch(a) => watch::run(b, a).await?,
        Cmd::Session { action } => match action {
            SessionCmd::Start { device, srtp_key } => {
                command::run(
                    b,
                    device,
                    Command::SessionStart {
                        srtp_key: srtp_key.clone(),
                    },
                )
                .await?
            }
            SessionCmd::End { device } => command::run(b, device, Command::SessionEnd).await?,
        },
        Cmd::Identify(a) => {
            command::run(b, &a.device, Command::Identify { seconds: a.seconds }).await?
        }
        Cmd::Keyframe(a) => command::run(b, &a.device, Command::Keyframe).await?,
        Cmd::Reboot(a) => command::run(b, &a.device, Command::Reboot).await?,
        Cmd::Update(a) => {
            command::run(b, &a.device, Command::Update { url: a.url.clone() }).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rumqttc is built without a default TLS crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
