//! `bpctl`: central IT's command-line tool for Bridgepoint boxes. See
//! docs/provisioning.md for the MQTT contract and every command.

mod broker;
mod cli;
mod command;
mod keygen;
mod list;
mod list_table;
mod outcome;
mod push;
mod push_file;
mod targets;
mod watch;
mod watch_line;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use bridgepoint_proto::Command;

use crate::cli::{Cli, Cmd, SessionCmd};

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
        Cmd::Session { action } => {
            match action {
                SessionCmd::Start {
                    device,
                    srtp_key,
                    receive_key,
                    signing,
                } => {
                    let srtp_key = srtp_key
                        .as_deref()
                        .map(command::read_srtp_key)
                        .transpose()
                        .map_err(|e| anyhow::anyhow!(e))?;
                    let receive_key = receive_key
                        .as_deref()
                        .map(command::read_receive_key)
                        .transpose()
                        .map_err(|e| anyhow::anyhow!(e))?;
                    if srtp_key.is_some() && srtp_key == receive_key {
                        anyhow::bail!("--receive-key must differ from --srtp-key: each direction has its own key");
                    }
                    let start = Command::SessionStart {
                        srtp_key,
                        receive_key,
                    };
                    command::run(b, device, start, signing).await?
                }
                SessionCmd::End { device, signing } => {
                    command::run(b, device, Command::SessionEnd, signing).await?
                }
            }
        }
        Cmd::Identify(a) => {
            let command = Command::Identify { seconds: a.seconds };
            command::run(b, &a.device, command, &a.signing).await?
        }
        Cmd::Keyframe(a) => command::run(b, &a.device, Command::Keyframe, &a.signing).await?,
        Cmd::Reboot(a) => command::run(b, &a.device, Command::Reboot, &a.signing).await?,
        Cmd::Update(a) => {
            let command = Command::Update {
                url: a.url.trim().to_owned(),
            };
            command::run(b, &a.device, command, &a.signing).await?
        }
        Cmd::SetVersion(a) => {
            let command = Command::SetConfigVersion { version: a.version };
            command::run(b, &a.device, command, &a.signing).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rumqttc is built without a default TLS crypto provider.
    bridgepoint_mqtt::install_crypto_provider();
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
