//! The checks the daemon makes before it starts anything, shared with
//! `bridgepointd check-config` so that a file that passes `check-config`
//! also starts the daemon.
//!
//! Parsing (`bridgepoint_core::config`) already checked every key on its own
//! (types, ranges, and `data_dir`'s pure rules: absolute, no `..`, not under
//! `/proc`, `/sys`, `/dev`, `/run`). [`check`] adds what needs the
//! filesystem or another crate, each error named by its key:
//!
//! - `board`: a known board: `sim`, a built-in profile, or a profile file in
//!   `/etc/bridgepoint/boards` or `<data_dir>/boards` that parses (the error
//!   lists the known names). Opening the GPIO chips and pins is not a static
//!   check: the daemon does it when it starts the board.
//! - `data_dir`: if it exists, a directory (else its nearest existing parent
//!   is a directory, so it can be created); `<data_dir>/store` is not a
//!   file; with `board = "sim"`, `<data_dir>/board.sock` fits in a Unix
//!   socket address (107 bytes). On the box also: writable (a probe file is
//!   created and removed).
//! - `mqtt.ca_file` (or the system CA bundle when it is not set, with
//!   `mqtts://`), `mqtt.cert_file`, `mqtt.key_file`: readable, with a PEM
//!   block (`-----BEGIN `) in them, as the MQTT client wants them.
//! - `trust.config_keys[i]`: a usable Ed25519 public key (a curve point that
//!   is not of small order), so that a key that could never verify a push is
//!   refused instead of silently ignored.
//! - `video.width`, `video.height`, `video.fps`, `video.keyframe_interval_s`
//!   with `video.encoder = "auto"`: within the limits of the encoder this
//!   box picks (`bridgepoint_core::encoder_limits`). Parsing already checked
//!   a named encoder, and with `auto` what no encoder can do; here `auto` on
//!   a board with the hardware encoder is checked against the hardware's
//!   limits (1920×1920, level 4: 1080p30). Which encoder the box picks is
//!   the planner's decision (`media::plan::choose_encoder`), made from the
//!   GStreamer registry (`v4l2h264enc` exists only where a V4L2 M2M encoder
//!   device does): no pipeline is built and no device opened, but GStreamer
//!   must be initialised, so on the box this check initialises it itself
//!   (`gst::init` is idempotent: the daemon's own `media::init` right after
//!   is then a no-op). Elsewhere nothing is initialised: the hardware's
//!   limits are reported as warnings, since a Pi 4 would refuse the file.
//!
//! Where the check runs matters ([`Place`]): on central IT's desk the box's
//! files do not exist, so `check-config` (without `--on-box`) reports
//! unusable `[mqtt]` files as warnings and skips the writability probe; the
//! daemon and `check-config --on-box` treat them as errors.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use bridgepoint_board::{profile, BoardError};
use bridgepoint_core::config::{Config, ConfigError, ConfigErrors, VideoEncoder};
use bridgepoint_core::encoder_limits::{self, EncoderFamily};
// The CA bundle the MQTT link reads when `mqtt.ca_file` is not set.
use bridgepoint_mqtt::settings::SYSTEM_CA_BUNDLE;
use bridgepoint_signing::PublicKey;

use crate::media::plan;
use crate::DaemonError;

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes
/// with its terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Where the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On the box itself (the daemon, `check-config --on-box`): every check,
    /// and anything missing is an error.
    Box,
    /// Anywhere else (central IT's desk): the box's own files (`[mqtt]`
    /// certificates) may be missing here, which is a warning; `data_dir` is
    /// not probed for writing.
    Elsewhere,
}

/// What the checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// What keeps the daemon from starting.
    pub errors: Vec<ConfigError>,
    /// What could not be checked here and would be an error on the box.
    pub warnings: Vec<ConfigError>,
}

/// Runs every startup check on a parsed config (see the module docs).
pub fn check(config: &Config, place: Place) -> Findings {
    let mut found = Findings::default();
    if let Some(e) = board(config) {
        found.errors.push(e);
    }
    found.errors.extend(data_dir(config, place));
    for (key, path, what) in mqtt_files(config) {
        if let Err(message) = pem_file(&path, what) {
            let e = error(&key, message);
            match place {
                Place::Box => found.errors.push(e),
                Place::Elsewhere => found.warnings.push(e),
            }
        }
    }
    found.errors.extend(trust_keys(config));
    encoder(config, place, &mut found);
    found
}

/// The daemon's use of [`check`]: on the box, every error refuses the start.
/// The error is [`DaemonError::InvalidConfig`] with an empty path (the
/// config's file is the caller's to name).
pub fn refuse_on_error(config: &Config) -> Result<(), DaemonError> {
    let found = check(config, Place::Box);
    if found.errors.is_empty() {
        Ok(())
    } else {
        Err(DaemonError::StartupChecks {
            errors: ConfigErrors(found.errors),
        })
    }
}

fn error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// `board`: `sim`, or a profile that loads (built in or a file).
fn board(config: &Config) -> Option<ConfigError> {
    if config.board == "sim" {
        return None;
    }
    match profile::load(&config.board, &profile::search_dirs(&config.data_dir)) {
        Ok(_) => None,
        Err(e @ BoardError::UnknownBoard { .. }) => Some(error("board", e.to_string())),
        Err(e) => Some(error("board", format!("{:?}: {e}", config.board))),
    }
}

/// `data_dir`: what the daemon's `create_dir_all`, `Store::open` and the
/// simulated board's socket need.
fn data_dir(config: &Config, place: Place) -> Vec<ConfigError> {
    let dir = &config.data_dir;
    let mut errors = Vec::new();
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            errors.push(error(
                "data_dir",
                format!("{} exists and is not a directory", dir.display()),
            ));
            return errors;
        }
        Ok(_) => {
            let store = dir.join("store");
            if std::fs::metadata(&store).is_ok_and(|m| !m.is_dir()) {
                errors.push(error(
                    "data_dir",
                    format!(
                        "{} (the store) exists and is not a directory",
                        store.display()
                    ),
                ));
            }
            if place == Place::Box {
                if let Err(e) = probe_write(dir) {
                    errors.push(error(
                        "data_dir",
                        format!("{} is not writable: {e}", dir.display()),
                    ));
                }
            }
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            // The daemon creates it: the nearest existing parent must be a directory.
            let parent = dir.ancestors().skip(1).find(|p| p.exists());
            if let Some(parent) = parent.filter(|p| !p.is_dir()) {
                errors.push(error(
                    "data_dir",
                    format!(
                        "{} cannot be created: {} is not a directory",
                        dir.display(),
                        parent.display()
                    ),
                ));
                return errors;
            }
        }
        Err(e) => {
            errors.push(error(
                "data_dir",
                format!("cannot inspect {}: {e}", dir.display()),
            ));
            return errors;
        }
    }
    if config.board == "sim" {
        let socket = dir.join("board.sock");
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            errors.push(error(
                "data_dir",
                format!(
                    "too long for the simulated board's socket {} ({len} bytes; a Unix socket path holds at most {MAX_SOCKET_PATH})",
                    socket.display()
                ),
            ));
        }
    }
    errors
}

/// Creates and removes a file in `dir`: the one honest test of writability
/// (permission bits say nothing of a read-only mount, and root ignores them).
fn probe_write(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".bridgepoint-write-check.{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// The files the MQTT link reads at start: key, path, what they hold.
fn mqtt_files(config: &Config) -> Vec<(String, PathBuf, &'static str)> {
    let Some(mqtt) = config.mqtt.as_ref().filter(|m| m.tls) else {
        return Vec::new();
    };
    let mut files = vec![match &mqtt.ca_file {
        Some(path) => ("mqtt.ca_file".to_owned(), path.clone(), "certificate"),
        None => (
            "mqtt.ca_file (not set: the system CA bundle)".to_owned(),
            PathBuf::from(SYSTEM_CA_BUNDLE),
            "certificate",
        ),
    }];
    if let (Some(cert), Some(key)) = (&mqtt.cert_file, &mqtt.key_file) {
        files.push(("mqtt.cert_file".to_owned(), cert.clone(), "certificate"));
        files.push(("mqtt.key_file".to_owned(), key.clone(), "private key"));
    }
    files
}

/// The most of a certificate or key file read to find its PEM block (a
/// system CA bundle is about 200 KiB).
const MAX_PEM_READ: u64 = 1024 * 1024;

/// Whether `path` can be read and holds a PEM block (`-----BEGIN `) in its
/// first [`MAX_PEM_READ`] bytes.
fn pem_file(path: &Path, what: &str) -> Result<(), String> {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX_PEM_READ).read_to_end(&mut bytes));
    match read {
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        Ok(0) => Err(format!("{} is empty", path.display())),
        Ok(_) if !bytes.windows(11).any(|w| w == b"-----BEGIN ") => Err(format!(
            "{}: no PEM {what} in it (expected a -----BEGIN ...----- block)",
            path.display()
        )),
        Ok(_) => Ok(()),
    }
}

/// `video.*` with `video.encoder = "auto"`: the limits of the encoder the
/// box picks (on the box), or of the hardware encoder a Pi would pick
/// (elsewhere, as warnings). See the module docs.
fn encoder(config: &Config, place: Place, found: &mut Findings) {
    let video = &config.settings.video;
    if video.encoder != VideoEncoder::Auto {
        return; // parsing checked the encoder the file names
    }
    match place {
        Place::Box => {
            if let Err(e) = crate::media::init() {
                found.warnings.push(error(
                    "video.encoder",
                    format!("cannot tell which encoder \"auto\" picks on this box: {e}"),
                ));
                return;
            }
            let Ok((picked, _why)) = plan::choose_encoder(VideoEncoder::Auto) else {
                return;
            };
            let Some(family) = picked.family() else {
                return;
            };
            for v in encoder_limits::check(video, family) {
                let mut e = v.into_config_error();
                if family == EncoderFamily::Hardware {
                    e.message.push_str(&format!(
                        "; video.encoder = \"auto\" uses this board's hardware encoder ({})",
                        plan::HARDWARE_ENCODER
                    ));
                }
                found.errors.push(e);
            }
        }
        Place::Elsewhere => {
            for v in encoder_limits::check(video, EncoderFamily::Hardware) {
                let mut e = v.into_config_error();
                e.message.push_str(&format!(
                    "; a board with the hardware encoder ({}, Raspberry Pi 4) uses it for video.encoder = \"auto\" and refuses this file",
                    plan::HARDWARE_ENCODER
                ));
                found.warnings.push(e);
            }
        }
    }
}

/// `trust.config_keys[i]`: each a usable Ed25519 public key.
fn trust_keys(config: &Config) -> Vec<ConfigError> {
    config
        .trust
        .config_keys
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            PublicKey::from_bytes(raw).err().map(|e| {
                error(
                    &format!("trust.config_keys[{i}]"),
                    format!("not a usable Ed25519 public key: {e}"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::plan::EncoderPlan;
    use bridgepoint_core::config::parse_toml;

    /// A valid public key (RFC 8037's example).
    const GOOD_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    /// base64 of the identity point (y = 1): small order, a weak key.
    const WEAK_KEY: &str = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    use bridgepoint_testkit::TempDir as Dir;

    fn config(data_dir: &Path, extra: &str) -> Config {
        let text = format!(
            "device_id = \"x\"\ndata_dir = \"{}\"\n{extra}\n[hub]\nhost = \"h\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n",
            data_dir.display()
        );
        parse_toml(&text).unwrap()
    }

    fn errors(found: &Findings) -> Vec<String> {
        found.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_config_on_the_box_has_no_findings() {
        let dir = Dir::new("good");
        let found = check(&config(&dir.path().join("data"), ""), Place::Box);
        assert_eq!(found, Findings::default());
        let found = check(&config(dir.path(), ""), Place::Box);
        assert_eq!(found, Findings::default());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "probe left behind"
        );
    }

    #[test]
    fn an_unknown_board_is_an_error_listing_the_known_ones() {
        let dir = Dir::new("board");
        let found = check(
            &config(dir.path(), "board = \"no-such-board\""),
            Place::Elsewhere,
        );
        let errs = errors(&found);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "board: unknown board \"no-such-board\" (known: sim, rpi4, rpi5, generic-cdev, gpio-sim"
            ),
            "{errs:?}"
        );
        // A built-in profile is known; its pins are opened only by the daemon.
        let found = check(&config(dir.path(), "board = \"rpi4\""), Place::Elsewhere);
        assert_eq!(found, Findings::default());
    }

    #[test]
    fn a_broken_profile_file_is_an_error_naming_the_board() {
        let dir = Dir::new("profile");
        std::fs::create_dir_all(dir.path().join("boards")).unwrap();
        std::fs::write(dir.path().join("boards/mine.toml"), "backend = \"cdev\"\n").unwrap();
        let errs = errors(&check(
            &config(dir.path(), "board = \"mine\""),
            Place::Elsewhere,
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("board: \"mine\": board profile "),
            "{errs:?}"
        );
    }

    #[test]
    fn a_data_dir_that_is_a_file_is_an_error() {
        let dir = Dir::new("file");
        let file = dir.path().join("data");
        std::fs::write(&file, "").unwrap();
        let errs = errors(&check(&config(&file, ""), Place::Elsewhere));
        assert_eq!(
            errs,
            vec![format!(
                "data_dir: {} exists and is not a directory",
                file.display()
            )]
        );
        let below = file.join("sub");
        let errs = errors(&check(&config(&below, ""), Place::Elsewhere));
        assert_eq!(
            errs,
            vec![format!(
                "data_dir: {} cannot be created: {} is not a directory",
                below.display(),
                file.display()
            )]
        );
    }

    #[test]
    fn a_store_that_is_a_file_is_an_error() {
        let dir = Dir::new("store");
        std::fs::write(dir.path().join("store"), "").unwrap();
        let errs = errors(&check(&config(dir.path(), ""), Place::Elsewhere));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].ends_with("/store (the store) exists and is not a directory"),
            "{errs:?}"
        );
    }

    #[test]
    fn a_data_dir_too_long_for_the_board_socket_is_an_error() {
        let long = PathBuf::from(format!("/nonexistent-bp/{}", "d".repeat(100)));
        let errs = errors(&check(&config(&long, ""), Place::Elsewhere));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("data_dir: too long for the simulated board's socket"),
            "{errs:?}"
        );
        // A hardware board has no socket.
        let found = check(&config(&long, "board = \"rpi4\""), Place::Elsewhere);
        assert!(found.errors.is_empty(), "{found:?}");
    }

    #[test]
    fn missing_mqtt_files_are_warnings_elsewhere_and_errors_on_the_box() {
        let dir = Dir::new("mqtt");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let c = config(
            dir.path(),
            &format!(
                "[mqtt]\nurl = \"mqtts://broker\"\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"/nonexistent/box.key\"",
                ca.display(),
                empty.display()
            ),
        );
        let expected = vec![
            format!("mqtt.cert_file: {} is empty", empty.display()),
            "mqtt.key_file: cannot read /nonexistent/box.key: No such file or directory (os error 2)"
                .to_owned(),
        ];
        let here = check(&c, Place::Elsewhere);
        assert!(here.errors.is_empty(), "{here:?}");
        let warnings: Vec<String> = here.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings, expected);
        let on_box = check(&c, Place::Box);
        assert!(on_box.warnings.is_empty(), "{on_box:?}");
        assert_eq!(errors(&on_box), expected);
        let e = refuse_on_error(&c).unwrap_err();
        assert!(
            matches!(&e, DaemonError::StartupChecks { errors } if errors.0.len() == 2),
            "{e:?}"
        );
    }

    #[test]
    fn an_unusable_trust_key_is_an_error() {
        let dir = Dir::new("trust");
        let c = config(
            dir.path(),
            &format!("[trust]\nconfig_keys = [\"{GOOD_KEY}\", \"{WEAK_KEY}\"]"),
        );
        assert_eq!(
            errors(&check(&c, Place::Elsewhere)),
            vec!["trust.config_keys[1]: not a usable Ed25519 public key: public key is a weak (small-order) Ed25519 point"]
        );
    }

    #[test]
    fn auto_at_1080p60_is_checked_against_the_encoder_this_box_picks() {
        let dir = Dir::new("encoder");
        let c = config(
            dir.path(),
            "[video]\nencoder = \"auto\"\nwidth = 1920\nheight = 1080\nfps = 60",
        );
        let fps = "video.fps: 60 fps at 1920x1080 is more than H.264 level 4 allows (245760 macroblocks/s; at most 30 fps at this size)";
        // At the desk: a warning, since a Pi 4 would refuse it.
        let desk = check(&c, Place::Elsewhere);
        assert!(desk.errors.is_empty(), "{desk:?}");
        assert_eq!(desk.warnings.len(), 1, "{desk:?}");
        assert!(desk.warnings[0].to_string().starts_with(fps), "{desk:?}");
        assert!(desk.warnings[0].message.contains("v4l2h264enc"), "{desk:?}");
        // On the box: refused only where the hardware encoder is what
        // "auto" picks (not on this test machine unless it has one).
        let on_box = check(&c, Place::Box);
        if plan::element_exists(plan::HARDWARE_ENCODER) {
            assert_eq!(on_box.errors.len(), 1, "{on_box:?}");
            assert!(on_box.errors[0].to_string().starts_with(fps), "{on_box:?}");
        } else {
            assert_eq!(on_box, Findings::default(), "x264 encodes 1080p60");
        }
    }

    #[test]
    fn a_named_software_encoder_is_not_held_to_the_hardware_limits() {
        let dir = Dir::new("x264");
        let c = config(
            dir.path(),
            "[video]\nencoder = \"x264\"\nwidth = 1920\nheight = 1080\nfps = 60",
        );
        assert_eq!(check(&c, Place::Elsewhere), Findings::default());
        assert_eq!(check(&c, Place::Box), Findings::default());
    }

    #[test]
    fn every_planned_encoder_has_its_family() {
        assert_eq!(
            EncoderPlan::Hardware.family(),
            Some(EncoderFamily::Hardware)
        );
        assert_eq!(EncoderPlan::X264.family(), Some(EncoderFamily::X264));
        assert_eq!(
            EncoderPlan::OpenH264.family(),
            Some(EncoderFamily::OpenH264)
        );
        assert_eq!(EncoderPlan::PassThrough.family(), None);
    }

    #[test]
    fn an_mqtt_file_without_a_pem_block_is_named() {
        let dir = Dir::new("pem");
        let der = dir.path().join("box.der");
        std::fs::write(&der, [0x30, 0x82, 0x01, 0x0a]).unwrap();
        let c = config(
            dir.path(),
            &format!(
                "[mqtt]\nurl = \"mqtts://broker\"\nca_file = \"{}\"",
                der.display()
            ),
        );
        assert_eq!(
            errors(&check(&c, Place::Box)),
            vec![format!(
                "mqtt.ca_file: {}: no PEM certificate in it (expected a -----BEGIN ...----- block)",
                der.display()
            )]
        );
    }
}
