//! What `bpctl push` reads from its config file, and the version it pushes.

use serde_json::{Map, Value};

use bridgepoint_core::config::PUSHED_KEYS;
use bridgepoint_proto::push::PUSH_KEYS;
use bridgepoint_proto::validate::check_sequence_number;

use crate::targets::check_device_id;

/// Sections of the pushed config that must be present.
pub const REQUIRED_SECTIONS: &[&str] = &["hub", "srtp"];

/// What a push file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PushFile {
    /// The `config` object.
    pub config: Map<String, Value>,
    /// The version the file names, if it is the `{"version":..,"config":..}` form.
    pub version: Option<u64>,
    /// The device the file names, if any.
    pub device_id: Option<String>,
}

/// Reads a push file: either the bare `config` object or
/// `{"version":N,"config":{...}}` (optionally with `"device_id"`). Members
/// appearing twice are refused, as the box refuses them.
pub fn parse_push_file(text: &str) -> Result<PushFile, String> {
    let doc = bridgepoint_proto::strict_json::parse(text.as_bytes(), "the file")
        .map_err(|e| e.to_string())?;
    let Value::Object(map) = doc else {
        return Err(format!(
            "expected a JSON object (the config {{\"hub\":..,\"srtp\":..}} or {{\"version\":N,\"config\":{{..}}}}), got {}",
            kind_of(&doc)
        ));
    };
    if !map.contains_key("config") {
        check_config(&map)?;
        return Ok(PushFile {
            config: map,
            version: None,
            device_id: None,
        });
    }
    if let Some(unknown) = map.keys().find(|k| !PUSH_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown key next to \"config\" (known keys here: {})",
            PUSH_KEYS.join(", ")
        ));
    }
    let version = match map.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| format!("must be an integer of at least 1, got {v}"))
                .and_then(|n| check_sequence_number(n).map(|()| n))
                .map_err(|e| format!("version: {e}"))?,
        ),
    };
    let device_id = match map.get("device_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => {
            check_device_id(id).map_err(|e| format!("device_id: {e}"))?;
            Some(id.clone())
        }
        Some(other) => return Err(format!("device_id: expected a string, got {other}")),
    };
    let config = match map.get("config") {
        Some(Value::Object(c)) => c.clone(),
        Some(other) => {
            return Err(format!(
                "config: expected an object, got {}",
                kind_of(other)
            ))
        }
        None => return Err("config: missing".into()),
    };
    check_config(&config).map_err(|e| format!("config.{e}"))?;
    Ok(PushFile {
        config,
        version,
        device_id,
    })
}

/// The shape checks bpctl can make without knowing the box's limits: known
/// top-level keys, `hub` and `srtp` present, sections are objects. The box
/// checks every value and reports what it refuses.
pub fn check_config(config: &Map<String, Value>) -> Result<(), String> {
    if let Some(unknown) = config.keys().find(|k| !PUSHED_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown key in the config (known keys: {})",
            PUSHED_KEYS.join(", ")
        ));
    }
    for required in REQUIRED_SECTIONS {
        if !config.contains_key(*required) {
            return Err(format!(
                "{required}: missing; a push must hold the hub and srtp sections"
            ));
        }
    }
    for (key, value) in config {
        match (key.as_str(), value) {
            ("telemetry_interval_s", v) if !v.is_u64() => {
                return Err(format!(
                    "telemetry_interval_s: expected a whole number of seconds, got {v}"
                ))
            }
            ("telemetry_interval_s", _) => {}
            (section, v) if !v.is_object() => {
                return Err(format!(
                    "{section}: expected an object of settings, got {}",
                    kind_of(v)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The version to push: `--version` if given, else the file's, else the
/// current Unix time in milliseconds (which only grows, so a later push is
/// always newer than an earlier one from any machine with a sane clock).
pub fn choose_version(
    flag: Option<u64>,
    file: Option<u64>,
    now_unix_ms: u64,
) -> Result<u64, String> {
    match (flag, file) {
        (Some(v), _) => check_sequence_number(v)
            .map(|()| v)
            .map_err(|e| format!("--version {e}")),
        (None, Some(v)) => Ok(v),
        (None, None) if now_unix_ms == 0 => {
            Err("the system clock is before 1970: give --version".into())
        }
        (None, None) => Ok(now_unix_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"hub":{"host":"203.0.113.10"},"srtp":{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},"video":{"bitrate_kbps":1500}}"#;

    #[test]
    fn push_files_in_both_forms() {
        let bare = parse_push_file(CONFIG).unwrap();
        assert_eq!((bare.version, bare.device_id.as_deref()), (None, None));
        assert!(bare.config.contains_key("hub"));
        let wrapped = parse_push_file(&format!(
            r#"{{"version":17,"device_id":"lang-son-01","config":{CONFIG}}}"#
        ))
        .unwrap();
        assert_eq!(wrapped.version, Some(17));
        assert_eq!(wrapped.device_id.as_deref(), Some("lang-son-01"));
        assert_eq!(wrapped.config, bare.config);
        let no_version = parse_push_file(&format!(r#"{{"config":{CONFIG}}}"#)).unwrap();
        assert_eq!(no_version.version, None);
    }

    #[test]
    fn bad_push_files_say_what_is_wrong() {
        let e = |s: &str| parse_push_file(s).unwrap_err();
        assert!(
            e("{oops").starts_with("the file is not valid JSON"),
            "{}",
            e("{oops")
        );
        assert!(e("[1]").contains("got an array"));
        assert!(e(r#"{"hub":{"host":"h"}}"#).starts_with("srtp: missing"));
        assert!(e(r#"{"srtp":{"key":"k"}}"#).starts_with("hub: missing"));
        assert!(e(r#"{"hub":{},"srtp":{},"vidoe":{}}"#).starts_with("vidoe: unknown key"));
        assert!(e(r#"{"hub":"h","srtp":{}}"#).starts_with("hub: expected an object"));
        assert!(e(r#"{"hub":{},"srtp":{},"telemetry_interval_s":"60"}"#)
            .starts_with("telemetry_interval_s"));
        assert!(e(r#"{"version":0,"config":{"hub":{},"srtp":{}}}"#).starts_with("version: must be"));
        assert!(
            e(r#"{"version":-3,"config":{"hub":{},"srtp":{}}}"#).starts_with("version: must be")
        );
        assert!(
            e(r#"{"version":9007199254740992,"config":{"hub":{},"srtp":{}}}"#)
                .starts_with("version: must be an integer from 1 to")
        );
        assert!(e(r#"{"version":1,"config":{"hub":{}}}"#).starts_with("config.srtp: missing"));
        assert!(e(r#"{"version":1,"config":[]}"#).starts_with("config: expected an object"));
        assert!(e(r#"{"version":1,"config":{},"extra":1}"#).starts_with("extra: unknown key"));
        assert!(e(r#"{"device_id":"A","config":{"hub":{},"srtp":{}}}"#).starts_with("device_id:"));
        assert!(e(r#"{"hub":{},"srtp":{},"hub":{}}"#).contains("hub (it appears twice)"));
    }

    #[test]
    fn version_choice() {
        assert_eq!(choose_version(Some(17), Some(3), 1_000), Ok(17));
        assert_eq!(choose_version(None, Some(3), 1_000), Ok(3));
        assert_eq!(
            choose_version(None, None, 1_700_000_000_123),
            Ok(1_700_000_000_123)
        );
        assert!(choose_version(Some(0), None, 5)
            .unwrap_err()
            .contains("--version"));
        assert!(choose_version(Some(u64::MAX), None, 5)
            .unwrap_err()
            .contains("--version must be an integer from 1"));
        assert!(choose_version(None, None, 0).is_err());
    }
}
