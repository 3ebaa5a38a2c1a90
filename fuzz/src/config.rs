//! The config parsers (`bridgepoint_core::config`): the box's TOML file, and
//! the `config` object of a push on arbitrary JSON.

use bridgepoint_core::config::{parse_pushed_settings, Config, ConfigErrors, Settings};
use bridgepoint_proto::validate::check_device_id;
use serde_json::Value;

use crate::non_empty;

/// The text of a config file (the daemon reads it with `read_to_string`,
/// so it is UTF-8).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Every error has a key and a message, and there is at least one.
pub fn check_errors(errors: &ConfigErrors, key_prefix: &str) {
    assert!(!errors.0.is_empty(), "a rejection with no error in it");
    for e in &errors.0 {
        non_empty("config error key", &e.key);
        non_empty("config error message", &e.message);
        assert!(
            e.key.starts_with(key_prefix),
            "error key {:?} does not start with {key_prefix:?}",
            e.key
        );
    }
}

/// Settings that parsed are within the documented limits.
pub fn check_settings(s: &Settings) {
    if let Some(srtp) = &s.srtp {
        assert_eq!(
            srtp.key.len(),
            srtp.suite.key_len(),
            "key length for the suite"
        );
        assert!(srtp.key.iter().any(|b| *b != srtp.key[0]), "a constant key");
    }
    if let Some(hub) = &s.hub {
        non_empty("hub.host", &hub.host);
        assert!(
            hub.host.len() <= 253,
            "hub.host of {} bytes",
            hub.host.len()
        );
        assert!(hub.video_port >= 1 && hub.video_port <= 65534);
        assert!(hub.audio_port >= 1 && hub.audio_port <= 65534);
        // The two RTP/RTCP port pairs do not overlap.
        assert!(hub.video_port.abs_diff(hub.audio_port) >= 2, "{hub:?}");
    }
    let v = &s.video;
    assert!(
        (16..=3840).contains(&v.width) && v.width % 2 == 0,
        "width {}",
        v.width
    );
    assert!(
        (16..=2160).contains(&v.height) && v.height % 2 == 0,
        "height {}",
        v.height
    );
    assert!((1..=60).contains(&v.fps));
    assert!((100..=20000).contains(&v.bitrate_kbps));
    assert!((1..=10).contains(&v.keyframe_interval_s));
    assert!((6..=510).contains(&s.audio.bitrate_kbps));
    assert!((5..=3600).contains(&s.session.call_timeout_s));
    assert!((5..=3600).contains(&s.telemetry_interval_s));
}

/// Checks `parse_toml(text)`'s answer.
pub fn check_toml(result: &Result<Config, ConfigErrors>) {
    match result {
        Err(errors) => check_errors(errors, ""),
        Ok(config) => {
            assert_eq!(check_device_id(&config.device_id), Ok(()));
            assert!(!config.data_dir.as_os_str().is_empty());
            check_settings(&config.settings);
            match &config.mqtt {
                // A standalone box must be able to stream from its file alone.
                None => assert!(
                    config.settings.media().is_some(),
                    "standalone without media"
                ),
                Some(m) => {
                    assert!(m.port > 0);
                    non_empty("mqtt host", &m.host);
                    assert!(!m.host.contains(['/', '@']), "mqtt host {:?}", m.host);
                }
            }
        }
    }
}

/// Checks `parse_pushed_settings(value)`'s answer, and that the JSON
/// written back reads as the same value and the same settings.
pub fn check_pushed(value: &Value, result: &Result<Settings, ConfigErrors>) {
    let written = value.to_string();
    let reread: Value = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("JSON written back does not parse: {e}: {written}"));
    assert!(
        crate::json_same(&reread, value),
        "JSON does not round-trip: {value} came back as {reread}"
    );
    match result {
        Err(errors) => check_errors(errors, "config"),
        Ok(settings) => {
            check_settings(settings);
            assert!(
                settings.media().is_some(),
                "a push without hub or key parsed"
            );
            assert_eq!(parse_pushed_settings(&reread).as_ref(), Ok(settings));
        }
    }
}
