//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Central IT's tool for Bridgepoint boxes: signed config pushes, the box
/// list, commands and live events, all over the MQTT broker the boxes use.
#[derive(Debug, Parser)]
#[command(name = "bpctl", version)]
#[command(
    after_help = "Broker flags can also come from the environment: BPCTL_URL, BPCTL_CA_FILE, \
BPCTL_CERT_FILE, BPCTL_KEY_FILE, BPCTL_USERNAME, BPCTL_PASSWORD, BPCTL_TOPIC_ROOT, BPCTL_CLIENT_ID, \
BPCTL_TIMEOUT, BPCTL_ALLOW_PLAINTEXT.\nSee docs/provisioning.md."
)]
pub struct Cli {
    /// Broker connection.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// How to reach the broker (the same settings as the box's `[mqtt]` section).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Broker options")]
pub struct BrokerArgs {
    /// Broker URL, mqtts://host[:port] (port 8883 by default); mqtt:// only with --allow-plaintext.
    #[arg(long, global = true, env = "BPCTL_URL", value_name = "URL")]
    pub url: Option<String>,
    /// Allow mqtt:// (no TLS). Configs and SRTP keys then cross the network in the clear: development only.
    #[arg(long, global = true, env = "BPCTL_ALLOW_PLAINTEXT")]
    pub allow_plaintext: bool,
    /// CA certificate(s) to verify the broker with (PEM); default: the system bundle.
    #[arg(long, global = true, env = "BPCTL_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS (PEM); needs --key-file.
    #[arg(long, global = true, env = "BPCTL_CERT_FILE", value_name = "PEM")]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM); needs --cert-file.
    #[arg(long, global = true, env = "BPCTL_KEY_FILE", value_name = "PEM")]
    pub key_file: Option<PathBuf>,
    /// MQTT user name.
    #[arg(long, global = true, env = "BPCTL_USERNAME")]
    pub username: Option<String>,
    /// MQTT password (prefer BPCTL_PASSWORD: a flag shows in the process list).
    #[arg(long, global = true, env = "BPCTL_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Topics are <TOPIC_ROOT>/<device_id>/<leaf>.
    #[arg(
        long,
        global = true,
        env = "BPCTL_TOPIC_ROOT",
        default_value = "bridgepoint/v1"
    )]
    pub topic_root: String,
    /// MQTT client id [default: bpctl-<random>].
    #[arg(long, global = true, env = "BPCTL_CLIENT_ID")]
    pub client_id: Option<String>,
    /// How long to wait for the broker and for the boxes' answers, in seconds.
    #[arg(long, global = true, env = "BPCTL_TIMEOUT", value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: f64,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of seconds, got {s:?}"))?;
    if t.is_finite() && t > 0.0 && t <= 3600.0 {
        Ok(t)
    } else {
        Err(format!(
            "must be more than 0 and at most 3600 seconds, got {s}"
        ))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Make a config-signing key pair: PREFIX.key.jwk (private, mode 0600) and PREFIX.pub.
    ///
    /// The public key (also printed) goes into every box's `[trust] config_keys`.
    /// Keep PREFIX.key.jwk offline and backed up: whoever holds it can configure every box.
    Keygen(KeygenArgs),
    /// Sign a config and push it to one or more boxes (or --all), then wait for their reports.
    ///
    /// The config file holds the `config` object ({"hub":..,"srtp":..,...}) or
    /// {"version":N,"config":{...}}. Each box gets its own token, signed over
    /// {"version":N,"device_id":"<box>","config":{...}}, published retained (QoS 1) to
    /// <root>/<box>/config/desired. Prints one line per box and a summary; exits 0 only
    /// if every box applied it.
    #[command(
        override_usage = "bpctl push [OPTIONS] --key <PREFIX.key.jwk> <DEVICE>... <CONFIG.json>\n       \
                                bpctl push [OPTIONS] --key <PREFIX.key.jwk> --all <CONFIG.json>"
    )]
    Push(PushArgs),
    /// List the boxes under the topic root: online, firmware, config version, call and stream state.
    List(ListArgs),
    /// Print the boxes' events and telemetry as they come, one line each, until Ctrl-C.
    Watch(WatchArgs),
    /// Start or end a box's session.
    Session {
        /// start or end.
        #[command(subcommand)]
        action: SessionCmd,
    },
    /// Make a box blink its LEDs so an installer can find it.
    Identify(IdentifyArgs),
    /// Ask a streaming box for a keyframe now.
    Keyframe(DeviceArg),
    /// Restart a box (signed: give --key).
    Reboot(DeviceArg),
    /// Have a box install a signed RAUC bundle and reboot into it (signed: give --key; see docs/updates.md).
    Update(UpdateArgs),
    /// Set the config version a box considers applied (signed: give --key).
    ///
    /// For recovering a box that took a version so high that no normal push is
    /// newer: set it back (e.g. to 1), then push as usual. The box keeps its
    /// config; only its version changes.
    SetVersion(SetVersionArgs),
}

/// Signing a command (`--key`), as configs are signed.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Signing")]
pub struct SigningArgs {
    /// Sign the command with this private key (PREFIX.key.jwk from `bpctl keygen`). A box with
    /// trust.config_keys obeys session.start with --srtp-key, update, reboot and set-version only signed.
    #[arg(long, env = "BPCTL_SIGNING_KEY", value_name = "PREFIX.key.jwk")]
    pub key: Option<PathBuf>,
    /// How long a signed command stays valid, in seconds (1 to 3600).
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub valid_for: u64,
}

/// `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Path prefix: writes PREFIX.key.jwk and PREFIX.pub.
    #[arg(value_name = "PREFIX")]
    pub prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push to every box that has a retained status under the topic root.
    #[arg(long)]
    pub all: bool,
    /// Device id(s) then the config file, or only the config file with --all.
    #[arg(value_name = "DEVICE... CONFIG.json", required = true, num_args = 1..)]
    pub args: Vec<String>,
    /// The private signing key (PREFIX.key.jwk from `bpctl keygen`).
    #[arg(
        long,
        value_name = "PREFIX.key.jwk",
        required_unless_present = "unsigned"
    )]
    pub key: Option<PathBuf>,
    /// The config version; must be newer than what the boxes run [default: the file's, else Unix time in ms].
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    /// Publish plain JSON, unsigned. Only boxes without trust.config_keys accept it: development only.
    #[arg(long, conflicts_with = "key")]
    pub unsigned: bool,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only this box [default: every box].
    pub device: Option<String>,
    /// Stop after N messages.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Print JSON lines {"device_id":..,"topic":"event"|"telemetry","message":{...}}.
    #[arg(long)]
    pub json: bool,
}

/// `session start|end`.
#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Start a session (answer a pending call, or start streaming).
    Start {
        /// The box.
        device: String,
        /// A per-session SRTP master key + salt, base64 (30 bytes for the AES_CM suites); signed: give --key.
        #[arg(
            long,
            env = "BPCTL_SRTP_KEY",
            hide_env_values = true,
            value_name = "BASE64"
        )]
        srtp_key: Option<String>,
        /// A per-session key of what the hub sends back, base64, same suite, not the --srtp-key; signed: give --key.
        #[arg(
            long,
            env = "BPCTL_RECEIVE_KEY",
            hide_env_values = true,
            value_name = "BASE64"
        )]
        receive_key: Option<String>,
        /// Signing.
        #[command(flatten)]
        signing: SigningArgs,
    },
    /// End the session.
    End {
        /// The box.
        device: String,
        /// Signing.
        #[command(flatten)]
        signing: SigningArgs,
    },
}

/// `identify`.
#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// The box.
    pub device: String,
    /// How long to blink (1 to 600 s) [default: the box's, 10 s].
    #[arg(long, value_name = "N")]
    pub seconds: Option<u32>,
    /// Signing.
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The box.
    pub device: String,
    /// The bundle, an http(s) URL ending in .raucb.
    pub url: String,
    /// Signing.
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// `set-version`.
#[derive(Debug, Args)]
pub struct SetVersionArgs {
    /// The box.
    pub device: String,
    /// The version it should consider applied (1 to 9007199254740991).
    pub version: u64,
    /// Signing.
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// A command that names only a box.
#[derive(Debug, Args)]
pub struct DeviceArg {
    /// The box.
    pub device: String,
    /// Signing.
    #[command(flatten)]
    pub signing: SigningArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bpctl").chain(args.iter().copied()))
    }

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn broker_flags_work_after_the_subcommand() {
        let cli = parse(&[
            "list",
            "--url",
            "mqtts://b:8883",
            "--timeout",
            "2.5",
            "--topic-root",
            "x/y",
        ])
        .unwrap();
        assert_eq!(cli.broker.url.as_deref(), Some("mqtts://b:8883"));
        assert_eq!(cli.broker.timeout, 2.5);
        assert_eq!(cli.broker.topic_root, "x/y");
    }

    #[test]
    fn argument_checks() {
        assert!(parse(&["list", "--timeout", "0"]).is_err());
        assert!(parse(&["list", "--timeout", "soon"]).is_err());
        assert!(
            parse(&["push", "a", "c.json"]).is_err(),
            "--key or --unsigned is required"
        );
        assert!(parse(&["push", "a", "c.json", "--key", "k", "--unsigned"]).is_err());
        assert!(parse(&["push", "a", "c.json", "--unsigned"]).is_ok());
        assert!(parse(&["watch", "--count", "0"]).is_err());
        assert!(parse(&["session", "end", "a", "--srtp-key", "x"]).is_err());
        assert!(parse(&["reboot", "a", "--key", "k.key.jwk", "--valid-for", "30"]).is_ok());
        assert!(parse(&["reboot", "a", "--valid-for", "0"]).is_err());
        assert!(parse(&["reboot", "a", "--valid-for", "3601"]).is_err());
        assert!(parse(&["set-version", "a", "17", "--key", "k"]).is_ok());
        assert!(parse(&["set-version", "a", "soon"]).is_err());
        let cli = parse(&[
            "push",
            "--all",
            "c.json",
            "--key",
            "k.key.jwk",
            "--version",
            "9",
        ])
        .unwrap();
        match cli.command {
            Cmd::Push(p) => assert_eq!(
                (p.all, p.args, p.version),
                (true, vec!["c.json".to_owned()], Some(9))
            ),
            other => panic!("{other:?}"),
        }
    }
}
