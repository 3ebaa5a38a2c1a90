//! Turns a TOML (or JSON-shaped) document into a [`Config`], or into the list
//! of every error in it.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::Value;

use super::reader::{Reader, Section};
use super::*;

const ROOT_KEYS: &[&str] = &["device_id", "data_dir", "board", "hub", "srtp", "video", "audio", "session"];
const HUB_KEYS: &[&str] = &["host", "video_port", "audio_port"];
const SRTP_KEYS: &[&str] = &["suite", "key"];
const VIDEO_KEYS: &[&str] = &["source", "encoder", "width", "height", "fps", "bitrate_kbps", "keyframe_interval_s"];
const AUDIO_KEYS: &[&str] = &["source", "bitrate_kbps"];
const SESSION_KEYS: &[&str] = &["mode", "call_timeout_s"];

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
        check_device_id(&id).map(|()| id).map_err(|m| r.error("device_id", m)).ok()
    });
    let data_dir = r.string(&root, "data_dir", Some("/var/lib/bridgepoint")).and_then(|d| {
        if d.is_empty() {
            r.error("data_dir", "must not be empty");
            None
        } else {
            Some(PathBuf::from(d))
        }
    });
    let board = r.string(&root, "board", Some("sim")).and_then(|b| {
        if b.is_empty() || !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            r.error("board", format!("must be a board profile name like \"sim\", got {b:?}"));
            None
        } else {
            Some(b)
        }
    });
    let media = parse_media(&mut r, &root);

    match (device_id, data_dir, board, media) {
        (Some(device_id), Some(data_dir), Some(board), Some(media)) if !r.has_errors() => Ok(Config {
            device_id,
            data_dir,
            board,
            media,
        }),
        _ => Err(ConfigErrors(r.into_errors())),
    }
}

fn check_device_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 {
        return Err(format!("must be 1 to 64 characters, got {}", id.len()));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "may only hold lowercase letters, digits, '-' and '_', found {bad:?} in {id:?}"
        ));
    }
    Ok(())
}

fn parse_media(r: &mut Reader, root: &Section<'_>) -> Option<MediaConfig> {
    let hub = r.table(root, "hub", true).and_then(|s| parse_hub(r, &s));
    let srtp = r.table(root, "srtp", true).and_then(|s| parse_srtp(r, &s));
    let empty = serde_json::Map::new();
    let optional = |r: &mut Reader, name: &str| r.table(root, name, false).unwrap_or_else(|| Section::named(name, &empty));
    let section = optional(r, "video");
    let video = parse_video(r, &section);
    let section = optional(r, "audio");
    let audio = parse_audio(r, &section);
    let section = optional(r, "session");
    let session = parse_session(r, &section);
    Some(MediaConfig {
        hub: hub?,
        srtp: srtp?,
        video: video?,
        audio: audio?,
        session: session?,
    })
}

fn parse_hub(r: &mut Reader, s: &Section<'_>) -> Option<HubConfig> {
    r.reject_unknown(s, HUB_KEYS);
    let host = r.string(s, "host", None).and_then(|h| {
        let ok = !h.is_empty()
            && h.len() <= 253
            && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if ok {
            Some(h)
        } else {
            r.error(s.path("host"), format!("must be a host name or IP address, got {h:?}"));
            None
        }
    });
    // RTCP goes to port + 1, so the highest usable RTP port is 65534.
    let video_port = r.integer(s, "video_port", Some(5004), 1, 65534).map(|p| p as u16);
    let audio_port = r.integer(s, "audio_port", Some(5006), 1, 65534).map(|p| p as u16);
    if let (Some(v), Some(a)) = (video_port, audio_port) {
        if v.abs_diff(a) < 2 {
            r.error(
                s.path("audio_port"),
                format!("must not share a port with video (video uses {v} and {} for RTCP), got {a}", v + 1),
            );
            return None;
        }
    }
    Some(HubConfig {
        host: host?,
        video_port: video_port?,
        audio_port: audio_port?,
    })
}

fn parse_srtp(r: &mut Reader, s: &Section<'_>) -> Option<SrtpConfig> {
    r.reject_unknown(s, SRTP_KEYS);
    let suite = r
        .string(s, "suite", Some(SrtpSuite::AesCm128HmacSha1_80.name()))
        .and_then(|name| name.parse::<SrtpSuite>().map_err(|e| r.error(s.path("suite"), e.to_string())).ok());
    let key = r.string(s, "key", None).and_then(|k| {
        base64::engine::general_purpose::STANDARD
            .decode(k.trim())
            .map_err(|e| r.error(s.path("key"), format!("is not valid base64: {e}")))
            .ok()
    });
    let (suite, key) = (suite?, key?);
    if key.len() != suite.key_len() {
        r.error(
            s.path("key"),
            format!(
                "must be {} bytes (master key + salt) for {}, got {} bytes",
                suite.key_len(),
                suite,
                key.len()
            ),
        );
        return None;
    }
    if key.iter().all(|b| *b == key[0]) {
        r.error(s.path("key"), "is a constant byte pattern; generate a random key (e.g. `head -c 30 /dev/urandom | base64`)");
        return None;
    }
    Some(SrtpConfig { suite, key })
}

fn parse_video(r: &mut Reader, s: &Section<'_>) -> Option<VideoConfig> {
    r.reject_unknown(s, VIDEO_KEYS);
    let source = r.string(s, "source", Some("test")).and_then(|v| match v.as_str() {
        "test" => Some(VideoSource::Test),
        "auto" => Some(VideoSource::Auto),
        other => match other.strip_prefix("v4l2:") {
            Some(dev) if dev.starts_with("/dev/") => Some(VideoSource::V4l2(PathBuf::from(dev))),
            _ => {
                r.error(
                    s.path("source"),
                    format!("must be \"test\", \"auto\" or \"v4l2:/dev/videoN\", got {other:?}"),
                );
                None
            }
        },
    });
    let encoder = r.string(s, "encoder", Some("auto")).and_then(|v| match v.as_str() {
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
    let keyframe_interval_s = r_int(r, s, "keyframe_interval_s", 2, 1, 10);
    Some(VideoConfig {
        source: source?,
        encoder: encoder?,
        width: width?,
        height: height?,
        fps: fps?,
        bitrate_kbps: bitrate_kbps?,
        keyframe_interval_s: keyframe_interval_s?,
    })
}

fn parse_audio(r: &mut Reader, s: &Section<'_>) -> Option<AudioConfig> {
    r.reject_unknown(s, AUDIO_KEYS);
    let source = r.string(s, "source", Some("test")).and_then(|v| match v.as_str() {
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
    Some(AudioConfig {
        source: source?,
        bitrate_kbps: bitrate_kbps?,
    })
}

fn parse_session(r: &mut Reader, s: &Section<'_>) -> Option<SessionConfig> {
    r.reject_unknown(s, SESSION_KEYS);
    let mode = r.string(s, "mode", Some("on_call")).and_then(|v| match v.as_str() {
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

fn r_int(r: &mut Reader, s: &Section<'_>, key: &str, default: u64, min: u64, max: u64) -> Option<u32> {
    r.integer(s, key, Some(default), min, max).map(|v| v as u32)
}

fn even(r: &mut Reader, s: &Section<'_>, key: &str, v: Option<u32>) -> Option<u32> {
    match v {
        Some(n) if n % 2 == 1 => {
            r.error(s.path(key), format!("must be an even number of pixels, got {n}"));
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
        parse_toml(text).unwrap_err().0.iter().map(ToString::to_string).collect()
    }

    fn with(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "fixture lacks {from}");
        GOOD.replacen(from, to, 1)
    }

    #[test]
    fn a_complete_file_parses() {
        let c = parse_toml(GOOD).unwrap();
        assert_eq!(c.device_id, "lang-son-01");
        assert_eq!(c.media.hub.video_port, 5004);
        assert_eq!(c.media.srtp.key.len(), 30);
        assert_eq!(c.media.video.width, 640);
        assert_eq!(c.media.video.encoder, VideoEncoder::X264);
        assert_eq!(c.media.audio.bitrate_kbps, 48);
        assert_eq!(c.media.session.mode, SessionMode::Always);
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
        assert_eq!((c.media.video.width, c.media.video.height, c.media.video.fps), (1280, 720, 30));
        assert_eq!(c.media.video.bitrate_kbps, 2000);
        assert_eq!(c.media.session.mode, SessionMode::OnCall);
        assert_eq!(c.media.session.call_timeout_s, 60);
        assert_eq!(c.media.srtp.suite, SrtpSuite::AesCm128HmacSha1_80);
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
        assert_eq!(errs, vec!["video.width: must be between 16 and 3840, got 0"]);
    }

    #[test]
    fn port_over_65535_is_rejected() {
        let errs = errors_of(&with("video_port = 5004", "video_port = 70000"));
        assert_eq!(errs, vec!["hub.video_port: must be between 1 and 65534, got 70000"]);
    }

    #[test]
    fn key_of_the_wrong_length_names_the_lengths() {
        let errs = errors_of(&with("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", "AAECAwQFBgcICQoLDA0ODw=="));
        assert_eq!(
            errs,
            vec!["srtp.key: must be 30 bytes (master key + salt) for AES_CM_128_HMAC_SHA1_80, got 16 bytes"]
        );
    }

    #[test]
    fn key_that_is_not_base64_is_rejected() {
        let errs = errors_of(&with("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", "not base64!"));
        assert!(errs[0].starts_with("srtp.key: is not valid base64"), "{errs:?}");
    }

    #[test]
    fn unknown_suite_is_rejected() {
        let errs = errors_of(&with("suite = \"AES_CM_128_HMAC_SHA1_80\"", "suite = \"ROT13\""));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("srtp.suite: unknown SRTP suite \"ROT13\""), "{errs:?}");
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let text = with("width = 640", "width = 0").replace("fps = 25", "fps = 500").replace("mode = \"always\"", "mode = \"sometimes\"");
        let errs = errors_of(&text);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("video.width")));
        assert!(errs.iter().any(|e| e.starts_with("video.fps")));
        assert!(errs.iter().any(|e| e.starts_with("session.mode")));
    }

    #[test]
    fn missing_required_keys_are_named() {
        let errs = errors_of("board = \"sim\"\n");
        assert!(errs.contains(&"device_id: missing required key".to_string()), "{errs:?}");
        assert!(errs.contains(&"hub: missing section".to_string()), "{errs:?}");
        assert!(errs.contains(&"srtp: missing section".to_string()), "{errs:?}");
    }

    #[test]
    fn overlapping_ports_are_rejected() {
        let errs = errors_of(&with("audio_port = 5006", "audio_port = 5005"));
        assert!(errs[0].starts_with("hub.audio_port: must not share a port with video"), "{errs:?}");
    }

    #[test]
    fn device_id_with_topic_characters_is_rejected() {
        let errs = errors_of(&with("\"lang-son-01\"", "\"lang/son+01\""));
        assert!(errs[0].starts_with("device_id: may only hold"), "{errs:?}");
    }

    #[test]
    fn syntax_error_gives_the_line() {
        let errs = errors_of("device_id = \"x\"\n[hub\n");
        assert!(errs[0].starts_with("(file): not valid TOML (line 2)"), "{errs:?}");
    }

    #[test]
    fn odd_width_is_rejected() {
        let errs = errors_of(&with("width = 640", "width = 641"));
        assert_eq!(errs, vec!["video.width: must be an even number of pixels, got 641"]);
    }

    #[test]
    fn srtp_key_is_not_printed_in_debug_output() {
        let c = parse_toml(GOOD).unwrap();
        let dbg = format!("{:?}", c.media.srtp);
        assert!(dbg.contains("<30 bytes>") && !dbg.contains("0, 1, 2"), "{dbg}");
    }
}
