//! Turns a TOML (or JSON-shaped) document into a [`Config`], or into the list
//! of every error in it.

use std::path::PathBuf;

use base64::Engine as _;
use bridgepoint_proto::topics::DEFAULT_TOPIC_ROOT;
use bridgepoint_proto::validate::{check_device_id, check_topic_root};
use bridgepoint_proto::BrokerUrl;
use serde_json::Value;

use super::reader::{Reader, Section, StringOrInteger};
use super::*;
use crate::health::HealthPolicy;

const ROOT_KEYS: &[&str] = &[
    "device_id",
    "data_dir",
    "board",
    "mqtt",
    "trust",
    "hub",
    "srtp",
    "video",
    "audio",
    "session",
    "return",
    "speaker",
    "display",
    "telemetry_interval_s",
    "updates",
];
/// Keys of a pushed config (the provisionable part of the file).
pub const PUSHED_KEYS: &[&str] = &[
    "hub",
    "srtp",
    "video",
    "audio",
    "session",
    "return",
    "speaker",
    "display",
    "telemetry_interval_s",
];
const MQTT_KEYS: &[&str] = &[
    "url",
    "ca_file",
    "cert_file",
    "key_file",
    "username",
    "password",
    "topic_root",
    "allow_plaintext",
    "keepalive_s",
];
const TRUST_KEYS: &[&str] = &["config_keys"];
const HUB_KEYS: &[&str] = &[
    "host",
    "video_port",
    "audio_port",
    "local_video_port",
    "local_audio_port",
    "feedback",
];
const SRTP_KEYS: &[&str] = &["suite", "key", "receive_key"];
const RETURN_KEYS: &[&str] = &["latency_ms"];
const VIDEO_KEYS: &[&str] = &[
    "source",
    "encoder",
    "width",
    "height",
    "fps",
    "bitrate_kbps",
    "min_bitrate_kbps",
    "keyframe_interval_s",
    "passthrough",
    "intra_refresh",
];
const AUDIO_KEYS: &[&str] = &[
    "source",
    "bitrate_kbps",
    "channel",
    "echo_cancellation",
    "echo_delay_ms",
    "noise_suppression",
    "gain_control",
];
const SPEAKER_KEYS: &[&str] = &["sink"];
const DISPLAY_KEYS: &[&str] = &["sink", "language", "self_view", "name"];
const SESSION_KEYS: &[&str] = &["mode", "call_timeout_s"];
const UPDATES_KEYS: &[&str] = &["health_hold_s", "health_deadline_s"];

/// Parses the text of a TOML config file.
pub fn parse_toml(text: &str) -> Result<Config, ConfigErrors> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let message = e.message().to_owned();
        let position = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        ConfigErrors(vec![ConfigError {
            key: "(file)".into(),
            message: format!("not valid TOML{position}: {message}"),
        }])
    })?;
    let value = serde_json::to_value(table).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            key: "(file)".into(),
            message: format!("cannot read document: {e}"),
        }])
    })?;
    parse_value(&value)
}

/// Parses a JSON-shaped config document.
pub fn parse_value(value: &Value) -> Result<Config, ConfigErrors> {
    let Value::Object(map) = value else {
        return Err(ConfigErrors(vec![ConfigError {
            key: "(document)".into(),
            message: "expected a table of settings".into(),
        }]));
    };
    let root = Section::root(map);
    let mut r = Reader::new();
    r.reject_unknown(&root, ROOT_KEYS);

    let device_id = r.string(&root, "device_id", None).and_then(|id| {
        check_device_id(&id)
            .map(|()| id)
            .map_err(|m| r.error("device_id", m))
            .ok()
    });
    let data_dir = r
        .string(&root, "data_dir", Some("/var/lib/bridgepoint"))
        .and_then(|d| check_data_dir(&d).map_err(|m| r.error("data_dir", m)).ok());
    let board = r.string(&root, "board", Some("sim")).and_then(|b| {
        if b.is_empty()
            || !b
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            r.error(
                "board",
                format!("must be a board profile name like \"sim\", got {b:?}"),
            );
            None
        } else {
            Some(b)
        }
    });
    let mqtt = r
        .table(&root, "mqtt", false)
        .and_then(|sec| parse_mqtt(&mut r, &sec));
    let mqtt_given = root.has("mqtt");
    let trust = match r.table(&root, "trust", false) {
        Some(sec) => parse_trust(&mut r, &sec),
        None => Some(TrustConfig::default()),
    };
    // Without MQTT nobody can provision the hub and key: the file must have them.
    let settings = parse_settings(&mut r, &root, !mqtt_given);
    let empty = serde_json::Map::new();
    let updates_section = r
        .table(&root, "updates", false)
        .unwrap_or_else(|| Section::named("updates", &empty));
    let updates = parse_updates(&mut r, &updates_section);

    match (device_id, data_dir, board, trust, settings, updates) {
        (
            Some(device_id),
            Some(data_dir),
            Some(board),
            Some(trust),
            Some(settings),
            Some(updates),
        ) if !r.has_errors() => Ok(Config {
            device_id,
            data_dir,
            board,
            mqtt,
            trust,
            settings,
            updates,
        }),
        _ => Err(ConfigErrors(r.into_errors())),
    }
}

/// Directories a `data_dir` may not be under, and why: kernel pseudo
/// filesystems and device files, and `/run` (with `/var/run`, its old name),
/// which is in RAM: the store would be lost at every boot.
const DATA_DIR_FORBIDDEN: &[(&str, &str)] = &[
    ("/proc", "a kernel pseudo filesystem"),
    ("/sys", "a kernel pseudo filesystem"),
    ("/dev", "device files"),
    ("/run", "in RAM, emptied at every boot"),
    ("/var/run", "in RAM (it is /run), emptied at every boot"),
];

/// The rules a `data_dir` must follow that need no filesystem: an absolute
/// path, without `..` or NUL, not under a directory of
/// [`DATA_DIR_FORBIDDEN`]. Whether it exists and is a writable directory is
/// the daemon's startup check (`bridgepoint_firmware::startup_checks`).
fn check_data_dir(dir: &str) -> Result<PathBuf, String> {
    use std::path::{Component, Path};
    if dir.is_empty() {
        return Err("must not be empty".into());
    }
    if dir.contains('\0') {
        return Err(format!("must not contain a NUL byte, got {dir:?}"));
    }
    let path = Path::new(dir);
    if !path.is_absolute() {
        return Err(format!(
            "must be an absolute path (the daemon's working directory is not fixed), got {dir:?}"
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!("must not contain \"..\", got {dir:?}"));
    }
    if let Some((top, why)) = DATA_DIR_FORBIDDEN
        .iter()
        .find(|(top, _)| path.starts_with(top))
    {
        return Err(format!("must not be under {top} ({why}), got {dir:?}"));
    }
    Ok(PathBuf::from(dir))
}

/// Parses the `config` object of a pushed config: the provisionable sections
/// only, with `hub` and `srtp` required (a push never takes a box off the
/// air by leaving them out). Error paths start with `config.`.
pub fn parse_pushed_settings(value: &Value) -> Result<Settings, ConfigErrors> {
    let Value::Object(map) = value else {
        return Err(ConfigErrors(vec![ConfigError {
            key: "config".into(),
            message: "expected an object of settings".into(),
        }]));
    };
    let root = Section::named("config", map);
    let mut r = Reader::new();
    r.reject_unknown(&root, PUSHED_KEYS);
    match parse_settings(&mut r, &root, true) {
        Some(settings) if !r.has_errors() => Ok(settings),
        _ => Err(ConfigErrors(r.into_errors())),
    }
}

fn parse_mqtt(r: &mut Reader, s: &Section<'_>) -> Option<MqttConfig> {
    r.reject_unknown(s, MQTT_KEYS);
    let allow_plaintext = r.boolean(s, "allow_plaintext", false);
    let url = r.string(s, "url", None).and_then(|url| {
        let parsed = BrokerUrl::parse(&url);
        parsed.map_err(|m| r.error(s.path("url"), m)).ok()
    });
    if let (Some(BrokerUrl { tls: false, .. }), Some(false)) = (&url, allow_plaintext) {
        r.error(
            s.path("url"),
            "mqtt:// sends configs and keys in the clear; use mqtts:// or set mqtt.allow_plaintext = true",
        );
    }
    let file = |r: &mut Reader, key: &str| {
        r.optional_string(s, key).and_then(|f| {
            if f.is_empty() {
                r.error(s.path(key), "must not be empty");
                None
            } else {
                Some(PathBuf::from(f))
            }
        })
    };
    let ca_file = file(r, "ca_file");
    let cert_file = file(r, "cert_file");
    let key_file = file(r, "key_file");
    if cert_file.is_some() != key_file.is_some() {
        let missing = if cert_file.is_some() {
            "key_file"
        } else {
            "cert_file"
        };
        r.error(
            s.path(missing),
            "cert_file and key_file go together (mutual TLS)",
        );
    }
    if let (Some(BrokerUrl { tls: false, .. }), true) =
        (&url, cert_file.is_some() || ca_file.is_some())
    {
        r.error(s.path("url"), "ca_file/cert_file need mqtts://");
    }
    let username = r.optional_string(s, "username");
    let password = r.optional_string(s, "password");
    if password.is_some() && username.is_none() {
        r.error(s.path("username"), "a password needs a username");
    }
    let topic_root = r
        .string(s, "topic_root", Some(DEFAULT_TOPIC_ROOT))
        .and_then(|t| match check_topic_root(&t) {
            Ok(()) => Some(t),
            Err(message) => {
                r.error(s.path("topic_root"), message);
                None
            }
        });
    let keepalive_s = r
        .integer(s, "keepalive_s", Some(30), 5, 600)
        .map(|v| v as u32);
    let BrokerUrl { tls, host, port } = url?;
    Some(MqttConfig {
        tls,
        host,
        port,
        ca_file,
        cert_file,
        key_file,
        username,
        password,
        topic_root: topic_root?,
        allow_plaintext: allow_plaintext?,
        keepalive_s: keepalive_s?,
    })
}

fn parse_trust(r: &mut Reader, s: &Section<'_>) -> Option<TrustConfig> {
    r.reject_unknown(s, TRUST_KEYS);
    let keys = r.string_list(s, "config_keys")?;
    let mut out = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let path = format!("{}[{i}]", s.path("config_keys"));
        let engine = base64::engine::general_purpose::STANDARD;
        match engine.decode(key.trim()) {
            Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
                Ok(raw) => out.push(raw),
                Err(_) => r.error(
                    path,
                    format!(
                        "must be 32 bytes (a raw Ed25519 public key), got {} bytes",
                        bytes.len()
                    ),
                ),
            },
            Err(e) => r.error(path, format!("is not valid base64: {e}")),
        }
    }
    Some(TrustConfig { config_keys: out })
}

fn parse_settings(r: &mut Reader, root: &Section<'_>, require_media: bool) -> Option<Settings> {
    let hub = r
        .table(root, "hub", require_media)
        .map(|s| parse_hub(r, &s));
    let srtp = r
        .table(root, "srtp", require_media)
        .map(|s| parse_srtp(r, &s));
    let empty = serde_json::Map::new();
    let optional = |r: &mut Reader, name: &str| {
        r.table(root, name, false)
            .unwrap_or_else(|| Section::named(name, &empty))
    };
    let section = optional(r, "video");
    let video = parse_video(r, &section);
    let section = optional(r, "audio");
    let audio = parse_audio(r, &section);
    let section = optional(r, "session");
    let session = parse_session(r, &section);
    let section = optional(r, "return");
    let return_media = parse_return(r, &section);
    let section = optional(r, "speaker");
    let speaker = parse_speaker(r, &section);
    let section = optional(r, "display");
    let display = parse_display(r, &section);
    let telemetry_interval_s = r
        .integer(root, "telemetry_interval_s", Some(60), 5, 3600)
        .map(|v| v as u32);
    Some(Settings {
        // A present section that failed to parse is an error (already recorded).
        hub: hub.map(|h| h.ok_or(())).transpose().ok()?,
        srtp: srtp.map(|s| s.ok_or(())).transpose().ok()?,
        video: video?,
        audio: audio?,
        session: session?,
        return_media: return_media?,
        speaker: speaker?,
        display: display?,
        telemetry_interval_s: telemetry_interval_s?,
    })
}

fn parse_return(r: &mut Reader, s: &Section<'_>) -> Option<ReturnConfig> {
    r.reject_unknown(s, RETURN_KEYS);
    let latency_ms = r_int(r, s, "latency_ms", 100, 0, 5000)?;
    Some(ReturnConfig { latency_ms })
}

/// An optional port of the box's own: `Some(None)` when absent, `None` on
/// an error (recorded). The daemon has no capabilities, so no port below
/// 1024; RTCP takes the next port, so at most 65534.
fn local_port(r: &mut Reader, s: &Section<'_>, key: &str) -> Option<Option<u16>> {
    if !s.has(key) {
        return Some(None);
    }
    r.integer(s, key, None, 1024, 65534).map(|p| Some(p as u16))
}

fn parse_hub(r: &mut Reader, s: &Section<'_>) -> Option<HubConfig> {
    r.reject_unknown(s, HUB_KEYS);
    let host = r.string(s, "host", None).and_then(|h| {
        let ok = !h.is_empty()
            && h.len() <= 253
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if ok {
            Some(h)
        } else {
            r.error(
                s.path("host"),
                format!("must be a host name or IP address, got {h:?}"),
            );
            None
        }
    });
    let feedback = r
        .string(s, "feedback", Some(HubFeedback::None.name()))
        .and_then(|v| match v.as_str() {
            "none" => Some(HubFeedback::None),
            "avpf" => Some(HubFeedback::Avpf),
            other => {
                r.error(
                    s.path("feedback"),
                    format!("must be \"none\" or \"avpf\", got {other:?}"),
                );
                None
            }
        });
    // RTCP goes to port + 1, so the highest usable RTP port is 65534.
    let video_port = r
        .integer(s, "video_port", Some(5004), 1, 65534)
        .map(|p| p as u16);
    let audio_port = r
        .integer(s, "audio_port", Some(5006), 1, 65534)
        .map(|p| p as u16);
    if let (Some(v), Some(a)) = (video_port, audio_port) {
        if v.abs_diff(a) < 2 {
            r.error(
                s.path("audio_port"),
                format!(
                    "must not share a port with video (video uses {v} and {} for RTCP), got {a}",
                    v + 1
                ),
            );
            return None;
        }
    }
    let local_video_port = local_port(r, s, "local_video_port");
    let local_audio_port = local_port(r, s, "local_audio_port");
    if let (Some(Some(v)), Some(Some(a))) = (local_video_port, local_audio_port) {
        if v.abs_diff(a) < 2 {
            r.error(
                s.path("local_audio_port"),
                format!(
                    "must not share a port with local video (it uses {v} and {} for RTCP), got {a}",
                    v + 1
                ),
            );
            return None;
        }
    }
    Some(HubConfig {
        host: host?,
        video_port: video_port?,
        audio_port: audio_port?,
        local_video_port: local_video_port?,
        local_audio_port: local_audio_port?,
        feedback: feedback?,
    })
}

fn parse_srtp(r: &mut Reader, s: &Section<'_>) -> Option<SrtpConfig> {
    r.reject_unknown(s, SRTP_KEYS);
    let suite = r
        .string(s, "suite", Some(SrtpSuite::AesCm128HmacSha1_80.name()))
        .and_then(|name| {
            name.parse::<SrtpSuite>()
                .map_err(|e| r.error(s.path("suite"), e.to_string()))
                .ok()
        });
    let key = r.string(s, "key", None).and_then(|k| {
        base64::engine::general_purpose::STANDARD
            .decode(k.trim())
            .map_err(|e| r.error(s.path("key"), format!("is not valid base64: {e}")))
            .ok()
    });
    let receive_key = if s.has("receive_key") {
        r.string(s, "receive_key", None).and_then(|k| {
            base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .map_err(|e| r.error(s.path("receive_key"), format!("is not valid base64: {e}")))
                .ok()
                .map(Some)
        })
    } else {
        Some(None)
    };
    let (suite, key, receive_key) = (suite?, key?, receive_key?);
    if let Err(message) = crate::srtp::check_key(suite, &key) {
        r.error(s.path("key"), message);
        return None;
    }
    if let Some(receive) = &receive_key {
        if let Err(message) = crate::srtp::check_key(suite, receive) {
            r.error(s.path("receive_key"), message);
            return None;
        }
        if *receive == key {
            r.error(
                s.path("receive_key"),
                "must differ from srtp.key: each direction has its own key",
            );
            return None;
        }
    }
    Some(SrtpConfig {
        suite,
        key,
        receive_key,
    })
}

fn parse_video(r: &mut Reader, s: &Section<'_>) -> Option<VideoConfig> {
    r.reject_unknown(s, VIDEO_KEYS);
    let source = r
        .string(s, "source", Some("test"))
        .and_then(|v| match v.as_str() {
            "test" => Some(VideoSource::Test),
            "auto" => Some(VideoSource::Auto),
            other => match other.strip_prefix("v4l2:") {
                Some(dev) if dev.starts_with("/dev/") => {
                    Some(VideoSource::V4l2(PathBuf::from(dev)))
                }
                _ => {
                    r.error(
                        s.path("source"),
                        format!(
                            "must be \"test\", \"auto\" or \"v4l2:/dev/videoN\", got {other:?}"
                        ),
                    );
                    None
                }
            },
        });
    let encoder =
        r.string(s, "encoder", Some("auto"))
            .and_then(|v| match v.as_str() {
                "auto" => Some(VideoEncoder::Auto),
                "hardware" => Some(VideoEncoder::Hardware),
                "x264" => Some(VideoEncoder::X264),
                "openh264" => Some(VideoEncoder::OpenH264),
                other => {
                    r.error(
                s.path("encoder"),
                format!("must be \"auto\", \"hardware\", \"x264\" or \"openh264\", got {other:?}"),
            );
                    None
                }
            });
    let width = r_int(r, s, "width", 1280, 16, 3840);
    let width = even(r, s, "width", width);
    let height = r_int(r, s, "height", 720, 16, 2160);
    let height = even(r, s, "height", height);
    let fps = r_int(r, s, "fps", 30, 1, 60);
    let bitrate_kbps = r_int(r, s, "bitrate_kbps", 2000, 100, 20000);
    // The floor the rate control never goes under; above the ceiling makes
    // no sense (a default floor over a low ceiling is the ceiling).
    let min_given = s.has("min_bitrate_kbps");
    let min_bitrate_kbps =
        r_int(r, s, "min_bitrate_kbps", 300, 100, 20000).and_then(|min| match bitrate_kbps {
            Some(max) if min > max && min_given => {
                r.error(
                    s.path("min_bitrate_kbps"),
                    format!("must not be above video.bitrate_kbps ({max}), got {min}"),
                );
                None
            }
            Some(max) => Some(min.min(max)),
            None => Some(min),
        });
    let keyframe_interval_s = r_int(r, s, "keyframe_interval_s", 2, 1, 10);
    let passthrough = r
        .string(s, "passthrough", Some("never"))
        .and_then(|v| match v.as_str() {
            "never" => Some(Passthrough::Never),
            "auto" => Some(Passthrough::Auto),
            "always" => Some(Passthrough::Always),
            other => {
                r.error(
                    s.path("passthrough"),
                    format!("must be \"never\", \"auto\" or \"always\", got {other:?}"),
                );
                None
            }
        });
    let intra_refresh = r.boolean(s, "intra_refresh", false);
    let video = VideoConfig {
        source: source?,
        encoder: encoder?,
        width: width?,
        height: height?,
        fps: fps?,
        bitrate_kbps: bitrate_kbps?,
        min_bitrate_kbps: min_bitrate_kbps?,
        keyframe_interval_s: keyframe_interval_s?,
        passthrough: passthrough?,
        intra_refresh: intra_refresh?,
    };
    // What no board can encode (the encoder named, or with "auto" the
    // laxest); the daemon checks the encoder it actually picks at start.
    for v in crate::encoder_limits::check_on_any_board(&video) {
        r.error(s.path(v.key), v.message);
    }
    Some(video)
}

fn parse_audio(r: &mut Reader, s: &Section<'_>) -> Option<AudioConfig> {
    r.reject_unknown(s, AUDIO_KEYS);
    let source = r
        .string(s, "source", Some("test"))
        .and_then(|v| match v.as_str() {
            "test" => Some(AudioSource::Test),
            "auto" => Some(AudioSource::Auto),
            other => match other.strip_prefix("alsa:") {
                Some(dev) if !dev.is_empty() => Some(AudioSource::Alsa(dev.to_owned())),
                _ => {
                    r.error(
                        s.path("source"),
                        format!("must be \"test\", \"auto\" or \"alsa:<device>\", got {other:?}"),
                    );
                    None
                }
            },
        });
    // Opus supports 6 to 510 kbit/s.
    let bitrate_kbps = r_int(r, s, "bitrate_kbps", 32, 6, 510);
    let channel = match s.has("channel") {
        false => Some(AudioChannel::Auto),
        true => match r.string_or_integer(s, "channel") {
            Some(StringOrInteger::Text(t)) if t == "auto" => Some(AudioChannel::Auto),
            Some(StringOrInteger::Text(t)) if t == "mix" => Some(AudioChannel::Mix),
            Some(StringOrInteger::Integer(n)) if (0..=31).contains(&n) => {
                Some(AudioChannel::Only(n as u32))
            }
            Some(other) => {
                r.error(
                    s.path("channel"),
                    format!("must be \"auto\", \"mix\" or a channel number 0 to 31, got {other}"),
                );
                None
            }
            None => None,
        },
    };
    let echo_cancellation = r.boolean(s, "echo_cancellation", true);
    // Up to half a second: the slowest TV's sound path plus a large room.
    let echo_delay_ms = r_int(r, s, "echo_delay_ms", 0, 0, 500);
    let noise_suppression = r.boolean(s, "noise_suppression", true);
    let gain_control = r.boolean(s, "gain_control", true);
    Some(AudioConfig {
        source: source?,
        bitrate_kbps: bitrate_kbps?,
        channel: channel?,
        echo_cancellation: echo_cancellation?,
        echo_delay_ms: echo_delay_ms?,
        noise_suppression: noise_suppression?,
        gain_control: gain_control?,
    })
}

fn parse_speaker(r: &mut Reader, s: &Section<'_>) -> Option<SpeakerConfig> {
    r.reject_unknown(s, SPEAKER_KEYS);
    let sink = r
        .string(s, "sink", Some("auto"))
        .and_then(|v| match v.as_str() {
            "auto" => Some(SpeakerSink::Auto),
            "fake" => Some(SpeakerSink::Fake),
            other => match other.strip_prefix("alsa:") {
                Some(dev) if !dev.is_empty() => Some(SpeakerSink::Alsa(dev.to_owned())),
                _ => {
                    r.error(
                        s.path("sink"),
                        format!("must be \"auto\", \"fake\" or \"alsa:<device>\", got {other:?}"),
                    );
                    None
                }
            },
        });
    Some(SpeakerConfig { sink: sink? })
}

fn parse_display(r: &mut Reader, s: &Section<'_>) -> Option<DisplayConfig> {
    r.reject_unknown(s, DISPLAY_KEYS);
    let sink = r
        .string(s, "sink", Some("auto"))
        .and_then(|v| match v.as_str() {
            "auto" => Some(DisplaySink::Auto),
            "kms" => Some(DisplaySink::Kms),
            "fake" => Some(DisplaySink::Fake),
            other => {
                r.error(
                    s.path("sink"),
                    format!("must be \"auto\", \"kms\" or \"fake\", got {other:?}"),
                );
                None
            }
        });
    let language = r
        .string(s, "language", Some("vi"))
        .and_then(|v| match v.as_str() {
            "vi" => Some(Language::Vi),
            "en" => Some(Language::En),
            other => {
                r.error(
                    s.path("language"),
                    format!("must be \"vi\" or \"en\", got {other:?}"),
                );
                None
            }
        });
    let self_view = r.boolean(s, "self_view", true);
    let name = r.optional_string(s, "name").and_then(|name| {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_DISPLAY_NAME_CHARS {
            r.error(
                s.path("name"),
                format!(
                    "must be 1 to {MAX_DISPLAY_NAME_CHARS} characters (not only spaces), got {} characters",
                    name.chars().count()
                ),
            );
            return None;
        }
        if name.chars().any(char::is_control) {
            r.error(s.path("name"), "must not contain control characters (newlines, tabs)");
            return None;
        }
        Some(trimmed.to_owned())
    });
    if s.has("name") && name.is_none() {
        return None;
    }
    Some(DisplayConfig {
        sink: sink?,
        language: language?,
        self_view: self_view?,
        name,
    })
}

/// The longest bridge point name the card shows on one line.
pub const MAX_DISPLAY_NAME_CHARS: usize = 60;

fn parse_updates(r: &mut Reader, s: &Section<'_>) -> Option<UpdatesConfig> {
    r.reject_unknown(s, UPDATES_KEYS);
    let defaults = HealthPolicy::default();
    let hold = r_int(r, s, "health_hold_s", defaults.hold.as_secs(), 5, 3600);
    let deadline = r_int(
        r,
        s,
        "health_deadline_s",
        defaults.deadline.as_secs(),
        30,
        86_400,
    );
    let (hold, deadline) = (hold?, deadline?);
    if deadline <= hold {
        r.error(
            s.path("health_deadline_s"),
            format!("must be longer than updates.health_hold_s ({hold} s), got {deadline}"),
        );
        return None;
    }
    Some(UpdatesConfig {
        health: HealthPolicy {
            hold: std::time::Duration::from_secs(u64::from(hold)),
            deadline: std::time::Duration::from_secs(u64::from(deadline)),
        },
    })
}

fn parse_session(r: &mut Reader, s: &Section<'_>) -> Option<SessionConfig> {
    r.reject_unknown(s, SESSION_KEYS);
    let mode = r
        .string(s, "mode", Some("on_call"))
        .and_then(|v| match v.as_str() {
            "on_call" => Some(SessionMode::OnCall),
            "always" => Some(SessionMode::Always),
            other => {
                r.error(
                    s.path("mode"),
                    format!("must be \"on_call\" or \"always\", got {other:?}"),
                );
                None
            }
        });
    let call_timeout_s = r_int(r, s, "call_timeout_s", 60, 5, 3600);
    Some(SessionConfig {
        mode: mode?,
        call_timeout_s: call_timeout_s?,
    })
}

fn r_int(
    r: &mut Reader,
    s: &Section<'_>,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Option<u32> {
    r.integer(s, key, Some(default), min, max).map(|v| v as u32)
}

fn even(r: &mut Reader, s: &Section<'_>, key: &str, v: Option<u32>) -> Option<u32> {
    match v {
        Some(n) if n % 2 == 1 => {
            r.error(
                s.path(key),
                format!("must be an even number of pixels, got {n}"),
            );
            None
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
device_id = "lang-son-01"
data_dir = "/tmp/bp"
board = "sim"
[hub]
host = "127.0.0.1"
video_port = 5004
audio_port = 5006
[srtp]
suite = "AES_CM_128_HMAC_SHA1_80"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
[video]
source = "test"
encoder = "x264"
width = 640
height = 360
fps = 25
bitrate_kbps = 800
keyframe_interval_s = 1
[audio]
source = "test"
bitrate_kbps = 48
[session]
mode = "always"
call_timeout_s = 30
"#;

    fn errors_of(text: &str) -> Vec<String> {
        parse_toml(text)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_blank_or_odd_key_is_named_quoted_not_by_nothing() {
        // Found by fuzzing: `' ' = 5` gave an error whose key was a space.
        for (line, named) in [
            ("' ' = 5", "\" \": unknown key"),
            ("'' = 5", "\"\": unknown key"),
            ("'a.b' = 5", "\"a.b\": unknown key"),
        ] {
            let errors = errors_of(&format!("{line}\n{GOOD}"));
            assert!(
                errors.iter().any(|e| e.starts_with(named)),
                "{line}: {errors:?}"
            );
        }
        let errors = errors_of(&GOOD.replace("[audio]\n", "[audio]\n' ' = 1\n"));
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("audio.\" \": unknown key")),
            "{errors:?}"
        );
    }

    fn with(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "fixture lacks {from}");
        GOOD.replacen(from, to, 1)
    }

    #[test]
    fn a_complete_file_parses() {
        let c = parse_toml(GOOD).unwrap();
        assert_eq!(c.device_id, "lang-son-01");
        assert_eq!(c.settings.hub.as_ref().unwrap().video_port, 5004);
        assert_eq!(c.settings.srtp.as_ref().unwrap().key.len(), 30);
        assert_eq!(c.settings.video.width, 640);
        assert_eq!(c.settings.video.encoder, VideoEncoder::X264);
        assert_eq!(c.settings.audio.bitrate_kbps, 48);
        assert_eq!(c.settings.session.mode, SessionMode::Always);
    }

    #[test]
    fn omitted_sections_take_documented_defaults() {
        let text = r#"
device_id = "x"
[hub]
host = "hub.example"
[srtp]
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
"#;
        let c = parse_toml(text).unwrap();
        assert_eq!(c.board, "sim");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/bridgepoint"));
        assert_eq!(
            (
                c.settings.video.width,
                c.settings.video.height,
                c.settings.video.fps
            ),
            (1280, 720, 30)
        );
        assert_eq!(c.settings.video.bitrate_kbps, 2000);
        assert_eq!(c.settings.session.mode, SessionMode::OnCall);
        assert_eq!(c.settings.session.call_timeout_s, 60);
        assert_eq!(
            c.settings.srtp.as_ref().unwrap().suite,
            SrtpSuite::AesCm128HmacSha1_80
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let errs = errors_of(&with("fps = 25", "fps = 25\ncolour = \"red\""));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("video.colour: unknown key"), "{errs:?}");
    }

    #[test]
    fn wrong_type_is_named() {
        let errs = errors_of(&with("width = 640", "width = \"wide\""));
        assert_eq!(errs, vec!["video.width: expected an integer, got a string"]);
    }

    #[test]
    fn zero_width_is_out_of_range() {
        let errs = errors_of(&with("width = 640", "width = 0"));
        assert_eq!(
            errs,
            vec!["video.width: must be between 16 and 3840, got 0"]
        );
    }

    #[test]
    fn port_over_65535_is_rejected() {
        let errs = errors_of(&with("video_port = 5004", "video_port = 70000"));
        assert_eq!(
            errs,
            vec!["hub.video_port: must be between 1 and 65534, got 70000"]
        );
    }

    #[test]
    fn key_of_the_wrong_length_names_the_lengths() {
        let errs = errors_of(&with(
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
            "AAECAwQFBgcICQoLDA0ODw==",
        ));
        assert_eq!(
            errs,
            vec!["srtp.key: must be 30 bytes (master key + salt) for AES_CM_128_HMAC_SHA1_80, got 16 bytes"]
        );
    }

    #[test]
    fn key_that_is_not_base64_is_rejected() {
        let errs = errors_of(&with(
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
            "not base64!",
        ));
        assert!(
            errs[0].starts_with("srtp.key: is not valid base64"),
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_suite_is_rejected() {
        let errs = errors_of(&with(
            "suite = \"AES_CM_128_HMAC_SHA1_80\"",
            "suite = \"ROT13\"",
        ));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("srtp.suite: unknown SRTP suite \"ROT13\""),
            "{errs:?}"
        );
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let text = with("width = 640", "width = 0")
            .replace("fps = 25", "fps = 500")
            .replace("mode = \"always\"", "mode = \"sometimes\"");
        let errs = errors_of(&text);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("video.width")));
        assert!(errs.iter().any(|e| e.starts_with("video.fps")));
        assert!(errs.iter().any(|e| e.starts_with("session.mode")));
    }

    #[test]
    fn missing_required_keys_are_named() {
        let errs = errors_of("board = \"sim\"\n");
        assert!(
            errs.contains(&"device_id: missing required key".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"hub: missing section".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"srtp: missing section".to_string()),
            "{errs:?}"
        );
    }

    #[test]
    fn overlapping_ports_are_rejected() {
        let errs = errors_of(&with("audio_port = 5006", "audio_port = 5005"));
        assert!(
            errs[0].starts_with("hub.audio_port: must not share a port with video"),
            "{errs:?}"
        );
    }

    const RECEIVE_KEY: &str = "HRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEA";

    #[test]
    fn the_return_direction_is_off_with_free_ports_by_default() {
        let c = parse_toml(GOOD).unwrap();
        let media = c.settings.media().unwrap();
        assert_eq!(media.srtp.receive_key, None);
        assert_eq!(media.hub.local_video_port, None);
        assert_eq!(media.hub.local_audio_port, None);
        assert_eq!(media.return_media.latency_ms, 100);
    }

    #[test]
    fn receive_key_local_ports_and_latency_parse() {
        let text = with(
            "key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"",
            &format!("key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\nreceive_key = \"{RECEIVE_KEY}\""),
        )
        .replacen(
            "audio_port = 5006",
            "audio_port = 5006\nlocal_video_port = 7004\nlocal_audio_port = 7006",
            1,
        ) + "[return]\nlatency_ms = 250\n";
        let media = parse_toml(&text).unwrap().settings.media().unwrap();
        assert_eq!(media.srtp.receive_key.as_deref().map(<[u8]>::len), Some(30));
        assert_eq!(media.hub.local_video_port, Some(7004));
        assert_eq!(media.hub.local_audio_port, Some(7006));
        assert_eq!(media.return_media.latency_ms, 250);
        let debug = format!("{:?}", media.srtp);
        assert!(
            debug.contains("receive_key: Some(\"<30 bytes>\")"),
            "{debug}"
        );
        assert!(!debug.contains(RECEIVE_KEY), "{debug}");
    }

    #[test]
    fn hub_feedback_is_none_by_default_and_avpf_when_asked() {
        let media = parse_toml(GOOD).unwrap().settings.media().unwrap();
        assert_eq!(media.hub.feedback, HubFeedback::None);
        let text = with(
            "audio_port = 5006",
            "audio_port = 5006\nfeedback = \"avpf\"",
        );
        let media = parse_toml(&text).unwrap().settings.media().unwrap();
        assert_eq!(media.hub.feedback, HubFeedback::Avpf);
    }

    #[test]
    fn a_bad_hub_feedback_is_named_with_the_allowed_values() {
        for (value, want) in [
            (
                "\"AVPF\"",
                "hub.feedback: must be \"none\" or \"avpf\", got \"AVPF\"",
            ),
            (
                "\"nack\"",
                "hub.feedback: must be \"none\" or \"avpf\", got \"nack\"",
            ),
            (
                "\"\"",
                "hub.feedback: must be \"none\" or \"avpf\", got \"\"",
            ),
            ("true", "hub.feedback: expected a string, got a boolean"),
        ] {
            let text = with(
                "audio_port = 5006",
                &format!("audio_port = 5006\nfeedback = {value}"),
            );
            assert_eq!(errors_of(&text), vec![want.to_owned()], "{value}");
        }
        // Reported together with the hub's other errors.
        let text = with("audio_port = 5006", "audio_port = 5005\nfeedback = \"rtx\"");
        let errs = errors_of(&text);
        assert!(
            errs.iter().any(|e| e.starts_with("hub.feedback:")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("hub.audio_port:")),
            "{errs:?}"
        );
    }

    #[test]
    fn bad_return_settings_are_named() {
        let key = "key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"";
        let cases: &[(&str, &str, &str)] = &[
            (key, "receive_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"",
             "srtp.receive_key: must differ from srtp.key: each direction has its own key"),
            (key, "receive_key = \"AAEC\"",
             "srtp.receive_key: must be 30 bytes (master key + salt) for AES_CM_128_HMAC_SHA1_80, got 3 bytes"),
            (key, "receive_key = \"not base64!\"", "srtp.receive_key: is not valid base64"),
            (key, "receive_key = 7", "srtp.receive_key: expected a string, got an integer"),
            ("audio_port = 5006", "local_video_port = 80", "hub.local_video_port: must be between 1024 and 65534, got 80"),
            ("audio_port = 5006", "local_audio_port = 65535", "hub.local_audio_port: must be between 1024 and 65534, got 65535"),
            ("audio_port = 5006", "local_video_port = 7004\nlocal_audio_port = 7005",
             "hub.local_audio_port: must not share a port with local video (it uses 7004 and 7005 for RTCP), got 7005"),
        ];
        for (anchor, added, want) in cases {
            let errs = errors_of(&with(anchor, &format!("{anchor}\n{added}")));
            assert!(
                errs.iter().any(|e| e.starts_with(want)),
                "{added}: {errs:?}"
            );
        }
        let errs = errors_of(&format!("{GOOD}[return]\nlatency_ms = 9000\n"));
        assert_eq!(
            errs,
            vec!["return.latency_ms: must be between 0 and 5000, got 9000"]
        );
        let errs = errors_of(&format!("{GOOD}[return]\nlatncy_ms = 10\n"));
        assert!(
            errs[0].starts_with("return.latncy_ms: unknown key"),
            "{errs:?}"
        );
    }

    #[test]
    fn device_id_with_topic_characters_is_rejected() {
        let errs = errors_of(&with("\"lang-son-01\"", "\"lang/son+01\""));
        assert!(errs[0].starts_with("device_id: may only hold"), "{errs:?}");
    }

    #[test]
    fn syntax_error_gives_the_line() {
        let errs = errors_of("device_id = \"x\"\n[hub\n");
        assert!(
            errs[0].starts_with("(file): not valid TOML (line 2)"),
            "{errs:?}"
        );
    }

    #[test]
    fn odd_width_is_rejected() {
        let errs = errors_of(&with("width = 640", "width = 641"));
        assert_eq!(
            errs,
            vec!["video.width: must be an even number of pixels, got 641"]
        );
    }

    #[test]
    fn srtp_key_is_not_printed_in_debug_output() {
        let c = parse_toml(GOOD).unwrap();
        let dbg = format!("{:?}", c.settings.srtp.as_ref().unwrap());
        assert!(
            dbg.contains("<30 bytes>") && !dbg.contains("0, 1, 2"),
            "{dbg}"
        );
    }
}

#[cfg(test)]
mod capture_key_tests {
    use super::*;

    const BASE: &str = "device_id = \"x\"\n[hub]\nhost = \"h\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n";

    #[test]
    fn passthrough_and_channel_take_their_defaults_and_values() {
        let c = parse_toml(BASE).unwrap();
        assert_eq!(c.settings.video.passthrough, Passthrough::Never);
        assert_eq!(c.settings.audio.channel, AudioChannel::Auto);
        let c = parse_toml(&format!(
            "{BASE}[video]\npassthrough = \"auto\"\n[audio]\nchannel = 3\n"
        ))
        .unwrap();
        assert_eq!(c.settings.video.passthrough, Passthrough::Auto);
        assert_eq!(c.settings.audio.channel, AudioChannel::Only(3));
        let c = parse_toml(&format!("{BASE}[audio]\nchannel = \"mix\"\n")).unwrap();
        assert_eq!(c.settings.audio.channel, AudioChannel::Mix);
    }

    #[test]
    fn bad_passthrough_and_channel_are_named() {
        let errs = parse_toml(&format!(
            "{BASE}[video]\npassthrough = \"sometimes\"\n[audio]\nchannel = 40\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            errs.contains(
                "video.passthrough: must be \"never\", \"auto\" or \"always\", got \"sometimes\""
            ),
            "{errs}"
        );
        assert!(
            errs.contains(
                "audio.channel: must be \"auto\", \"mix\" or a channel number 0 to 31, got 40"
            ),
            "{errs}"
        );
        let errs = parse_toml(&format!("{BASE}[audio]\nchannel = 1.5\n"))
            .unwrap_err()
            .to_string();
        assert!(
            errs.contains("audio.channel: expected a string or an integer, got a float"),
            "{errs}"
        );
    }
}

#[cfg(test)]
mod updates_tests {
    use super::*;

    const BASE: &str = "device_id = \"x\"\n[hub]\nhost = \"h\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n";

    #[test]
    fn the_health_gate_takes_its_times_from_updates_or_defaults() {
        let c = parse_toml(BASE).unwrap();
        assert_eq!(c.updates.health, HealthPolicy::default());
        let c = parse_toml(&format!(
            "{BASE}[updates]\nhealth_hold_s = 60\nhealth_deadline_s = 600\n"
        ))
        .unwrap();
        assert_eq!(c.updates.health.hold.as_secs(), 60);
        assert_eq!(c.updates.health.deadline.as_secs(), 600);
    }

    #[test]
    fn a_deadline_not_longer_than_the_hold_is_refused() {
        let errs = parse_toml(&format!(
            "{BASE}[updates]\nhealth_hold_s = 600\nhealth_deadline_s = 300\ncolour = 1\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(errs.contains("updates.health_deadline_s: must be longer than updates.health_hold_s (600 s), got 300"), "{errs}");
        assert!(errs.contains("updates.colour: unknown key"), "{errs}");
    }
}

#[cfg(test)]
mod control_plane_tests {
    use super::*;

    const BASE: &str = r#"
device_id = "lang-son-01"
[mqtt]
url = "mqtts://broker.example:8883"
ca_file = "/etc/bridgepoint/ca.pem"
cert_file = "/etc/bridgepoint/device.pem"
key_file = "/etc/bridgepoint/device.key"
[trust]
config_keys = ["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="]
"#;

    fn errors_of(text: &str) -> Vec<String> {
        parse_toml(text)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn with_mqtt_the_hub_and_key_may_come_later() {
        let c = parse_toml(BASE).unwrap();
        let m = c.mqtt.as_ref().unwrap();
        assert!(m.tls);
        assert_eq!((m.host.as_str(), m.port), ("broker.example", 8883));
        assert_eq!(m.topic_root, "bridgepoint/v1");
        assert_eq!(c.trust.config_keys.len(), 1);
        assert!(c.settings.hub.is_none() && c.settings.media().is_none());
        assert_eq!(c.settings.telemetry_interval_s, 60);
    }

    #[test]
    fn plaintext_needs_an_explicit_allowance() {
        let text = BASE
            .replace("mqtts://broker.example:8883", "mqtt://broker.example")
            .replace("ca_file", "#")
            .replace("cert_file", "#")
            .replace("key_file", "#");
        let errs = errors_of(&text);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("mqtt.url: mqtt:// sends configs and keys in the clear")),
            "{errs:?}"
        );
        let ok = text.replace("[mqtt]", "[mqtt]\nallow_plaintext = true");
        let c = parse_toml(&ok).unwrap();
        assert_eq!(c.mqtt.unwrap().port, 1883);
    }

    #[test]
    fn bad_mqtt_and_trust_keys_are_named() {
        let text = BASE
            .replace("mqtts://broker.example:8883", "http://x")
            .replace("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "AAAA");
        let errs = errors_of(&text);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("mqtt.url: must start with mqtts://")),
            "{errs:?}"
        );
        assert!(errs.iter().any(|e| e == "trust.config_keys[0]: must be 32 bytes (a raw Ed25519 public key), got 3 bytes"), "{errs:?}");
    }

    #[test]
    fn cert_without_key_is_refused() {
        let errs = errors_of(&BASE.replace("key_file = \"/etc/bridgepoint/device.key\"", ""));
        assert!(
            errs.iter()
                .any(|e| e.starts_with("mqtt.key_file: cert_file and key_file go together")),
            "{errs:?}"
        );
    }

    #[test]
    fn without_mqtt_the_hub_is_required() {
        let errs = errors_of("device_id = \"x\"\n");
        assert!(
            errs.contains(&"hub: missing section".to_string()),
            "{errs:?}"
        );
    }

    #[test]
    fn pushed_settings_require_hub_and_key_and_name_paths_under_config() {
        let v: Value = serde_json::json!({"video": {"width": 0}, "extra": 1});
        let errs: Vec<String> = parse_pushed_settings(&v)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            errs.iter()
                .any(|e| e.starts_with("config.extra: unknown key")),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"config.hub: missing section".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"config.srtp: missing section".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("config.video.width: must be between")),
            "{errs:?}"
        );
    }

    #[test]
    fn a_pushed_config_parses() {
        let v: Value = serde_json::json!({
            "hub": {"host": "10.0.0.5", "video_port": 5004, "audio_port": 5006},
            "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},
            "video": {"bitrate_kbps": 900},
            "telemetry_interval_s": 10
        });
        let s = parse_pushed_settings(&v).unwrap();
        assert_eq!(s.hub.unwrap().host, "10.0.0.5");
        assert_eq!(s.video.bitrate_kbps, 900);
        assert_eq!(s.telemetry_interval_s, 10);
        let errs = parse_pushed_settings(&serde_json::json!([1])).unwrap_err();
        assert_eq!(
            errs.0[0].to_string(),
            "config: expected an object of settings"
        );
    }
}

#[cfg(test)]
mod data_dir_tests {
    use super::*;

    fn data_dir_errors(dir: &str) -> Vec<String> {
        let text = format!(
            "device_id = \"x\"\ndata_dir = {dir:?}\n[hub]\nhost = \"h\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n"
        );
        match parse_toml(&text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn an_absolute_data_dir_is_accepted() {
        assert_eq!(
            data_dir_errors("/var/lib/bridgepoint"),
            Vec::<String>::new()
        );
        assert_eq!(data_dir_errors("/tmp/bp-test/data"), Vec::<String>::new());
        // Only whole components count: /processes is not /proc.
        assert_eq!(data_dir_errors("/processes/bp"), Vec::<String>::new());
        assert_eq!(data_dir_errors("/srv/running"), Vec::<String>::new());
    }

    #[test]
    fn a_relative_data_dir_is_refused() {
        for dir in ["data", "./data", "var/lib/bridgepoint"] {
            let errs = data_dir_errors(dir);
            assert_eq!(errs.len(), 1, "{dir}: {errs:?}");
            assert!(
                errs[0].starts_with("data_dir: must be an absolute path"),
                "{dir}: {errs:?}"
            );
        }
    }

    #[test]
    fn a_data_dir_on_a_pseudo_filesystem_or_in_ram_is_refused() {
        for (dir, top) in [
            ("/proc/self", "/proc"),
            ("/proc", "/proc"),
            ("/sys/kernel", "/sys"),
            ("/dev/shm/bp", "/dev"),
            ("/run/bridgepoint", "/run"),
            ("/var/run/bridgepoint", "/var/run"),
            ("//proc//self/", "/proc"),
            ("/./run/x", "/run"),
        ] {
            let errs = data_dir_errors(dir);
            assert_eq!(errs.len(), 1, "{dir}: {errs:?}");
            assert!(
                errs[0].starts_with(&format!("data_dir: must not be under {top} (")),
                "{dir}: {errs:?}"
            );
        }
    }

    #[test]
    fn a_data_dir_that_climbs_out_with_dot_dot_is_refused() {
        let errs = data_dir_errors("/var/lib/../../proc/self");
        assert_eq!(
            errs,
            vec!["data_dir: must not contain \"..\", got \"/var/lib/../../proc/self\""]
        );
    }

    #[test]
    fn an_empty_data_dir_or_one_with_nul_is_refused() {
        assert_eq!(data_dir_errors(""), vec!["data_dir: must not be empty"]);
        let text = "device_id = \"x\"\ndata_dir = \"/var/lib/bp\\u0000x\"\n[hub]\nhost = \"h\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n";
        let errs: Vec<String> = parse_toml(text)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            errs[0].starts_with("data_dir: must not contain a NUL byte"),
            "{errs:?}"
        );
    }
}
