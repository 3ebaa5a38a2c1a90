//! `bridgepointd`: the box daemon's command line.
//!
//! ```text
//! bridgepointd --config FILE          run the box
//! bridgepointd check-config FILE      run every check the daemon runs at start
//!                                     (--on-box: also the box's own files)
//! bridgepointd sdp --config FILE      print the SDP a hub receiver records with
//! bridgepointd board --config FILE CMD send a command to the simulated board
//! bridgepointd card --state STATE --out FILE.png [--language vi|en] [--name NAME]
//!                                     draw the card the room's screen shows
//! bridgepointd probe [--config FILE] [--json]
//!                                     the cameras, microphones, speakers,
//!                                     displays and GPIO chips found, and
//!                                     what the box would use
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bridgepoint_firmware::startup_checks::{self, Place};
use bridgepoint_firmware::{config_file, daemon, logging, DaemonError};
use clap::{Parser, Subcommand};

mod card;
use tokio_util::sync::CancellationToken;

/// Bridgepoint box daemon: streams the reception room to the central hub.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Config file to run with (TOML; see docs/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every check the daemon runs at start and print every error with its key.
    ///
    /// Without --on-box, the box's own files (the certificates of the mqtt
    /// section) are only warned about when missing here, and data_dir is not
    /// probed for writing.
    CheckConfig {
        /// The config file.
        file: PathBuf,
        /// Check as the daemon does on the box: missing mqtt files are
        /// errors and data_dir must be writable.
        #[arg(long)]
        on_box: bool,
    },
    /// Print the SDP (with a=crypto lines) a hub receiver such as ffmpeg records the stream with.
    Sdp {
        /// The config file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// List the cameras, microphones, speakers, displays and GPIO chips this box has,
    /// the modes each camera offers, and what the box would use and why.
    ///
    /// With --config, the choice follows that file's [video] and [audio]; without, it is
    /// what `source = "auto"` would pick at 1280x720@30.
    Probe {
        /// The config file whose [video] and [audio] settings the choice follows.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON (the same summary the box sends in its first telemetry report).
        #[arg(long)]
        json: bool,
    },
    /// Draw the card the room's screen shows in a state into a PNG file, with the
    /// box's own renderer (the clock shows the time of drawing).
    Card(card::CardArgs),
    /// Send one command to a running daemon's simulated board and print the answer
    /// (`press call`, `hold call <ms>`, `leds`, `state`, `help`).
    Board {
        /// The running daemon's config file (its data_dir holds board.sock).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The command words, e.g. `press call`.
        #[arg(required = true, num_args = 1..)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file, on_box }) => check_config(&file, on_box),
        Some(Command::Probe { config, json }) => probe(config.as_deref(), json),
        Some(Command::Card(args)) => card::draw(args),
        Some(Command::Sdp { config }) => match config_file::load(&config) {
            Ok(c) => match c.settings.media() {
                Some(media) => {
                    print!(
                        "{}",
                        bridgepoint_core::sdp::session_description(&c.device_id, &media)
                    );
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!(
                        "error: {} has no [hub] and [srtp]: this box gets them from central IT over MQTT (see `bpctl push`)",
                        config.display()
                    );
                    ExitCode::FAILURE
                }
            },
            Err(e) => report(&e),
        },
        Some(Command::Board { config, command }) => match config_file::load(&config) {
            Ok(c) => board_command(&c.data_dir.join("board.sock"), &command.join(" ")),
            Err(e) => report(&e),
        },
        None => match cli.config {
            Some(path) => match run(&path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            },
            None => {
                eprintln!("error: no config given; run `bridgepointd --config FILE` (see --help)");
                ExitCode::from(2)
            }
        },
    }
}

/// `probe`: discovery and the choices, for provincial and central IT.
fn probe(config: Option<&std::path::Path>, json: bool) -> ExitCode {
    use bridgepoint_firmware::media::discovery;
    let settings = match config {
        Some(path) => match config_file::load(path) {
            Ok(c) => c.settings,
            Err(e) => return report(&e),
        },
        None => {
            let text = "device_id = \"probe\"\n[hub]\nhost = \"127.0.0.1\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n[video]\nsource = \"auto\"\n[audio]\nsource = \"auto\"\n";
            match bridgepoint_core::config::parse_toml(text) {
                Ok(c) => c.settings,
                Err(e) => {
                    eprintln!("error: the built-in probe settings do not parse: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    if let Err(e) = bridgepoint_firmware::media::init() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let v = &settings.video;
    let devices = discovery::discover((v.width, v.height, v.fps));
    let summary = discovery::summary::summarize(&devices, v, &settings.audio);
    if json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", discovery::summary::render(&summary));
    }
    ExitCode::SUCCESS
}

fn board_command(socket: &std::path::Path, line: &str) -> ExitCode {
    use std::io::{BufRead, BufReader, Write};
    let stream = match std::os::unix::net::UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot connect to the simulated board at {}: {e} (is the daemon running with board = \"sim\"?)", socket.display());
            return ExitCode::FAILURE;
        }
    };
    let mut answer = String::new();
    let sent = (&stream).write_all(format!("{line}\n").as_bytes());
    let read = sent.and_then(|()| BufReader::new(&stream).read_line(&mut answer));
    if let Err(e) = read {
        eprintln!("error: simulated board at {}: {e}", socket.display());
        return ExitCode::FAILURE;
    }
    let answer = answer.trim_end();
    println!("{answer}");
    if answer.starts_with("error:") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn check_config(file: &std::path::Path, on_box: bool) -> ExitCode {
    let c = match config_file::load(file) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let place = if on_box { Place::Box } else { Place::Elsewhere };
    let found = startup_checks::check(&c, place);
    if !found.errors.is_empty() {
        print_errors(file, &found.errors);
    } else {
        let s = &c.settings;
        let hub = s
            .hub
            .as_ref()
            .map(|h| format!("{}:{}/{}", h.host, h.video_port, h.audio_port))
            .unwrap_or_else(|| "provisioned over MQTT".to_owned());
        let control = match &c.mqtt {
            Some(m) => format!(
                "mqtt {}://{}:{}",
                if m.tls { "mqtts" } else { "mqtt" },
                m.host,
                m.port
            ),
            None => "standalone".to_owned(),
        };
        println!(
            "{}: ok (device {}, hub {}, {}x{}@{}, {} kbit/s, session {:?}, {})",
            file.display(),
            c.device_id,
            hub,
            s.video.width,
            s.video.height,
            s.video.fps,
            s.video.bitrate_kbps,
            s.session.mode,
            control,
        );
    }
    for warning in &found.warnings {
        eprintln!(
            "warning: {}",
            config_file::escape_controls(&warning.to_string())
        );
    }
    if !found.warnings.is_empty() {
        eprintln!("note: the box's own files are not required here; on the box, `check-config --on-box` and the daemon refuse the config without them");
    }
    if found.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints a config error, one line per bad key (at most
/// `config_file::MAX_REPORTED_ERRORS`, then how many more).
fn report(e: &DaemonError) -> ExitCode {
    match e {
        DaemonError::InvalidConfig { path, errors } => print_errors(path, &errors.0),
        other => eprintln!(
            "error: {}",
            config_file::escape_controls(&other.to_string())
        ),
    }
    ExitCode::FAILURE
}

fn print_errors(path: &std::path::Path, errors: &[bridgepoint_core::config::ConfigError]) {
    for line in config_file::report_lines(path, errors) {
        eprintln!("{line}");
    }
}

fn run(path: &std::path::Path) -> anyhow::Result<()> {
    logging::init();
    let config = match config_file::load(path) {
        Ok(c) => c,
        Err(e) => {
            report(&e);
            anyhow::bail!("cannot start without a valid config");
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        tokio::spawn(shutdown_on_signal(cancel.clone()));
        daemon::run(config, cancel).await
    });
    match result {
        // The startup checks: the same report as check-config's, with the file's name.
        Err(DaemonError::StartupChecks { errors }) => {
            print_errors(path, &errors.0);
            anyhow::bail!("cannot start without a valid config");
        }
        other => Ok(other?),
    }
}

async fn shutdown_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the daemon with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    cancel.cancel();
}
