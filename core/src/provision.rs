//! Provisioning decisions: is a pushed config applied or rejected, and how.
//!
//! Central IT publishes `{"version":N,"config":{...}}` (optionally with
//! `"device_id"`), signed as a JWS when the box has trusted keys. The box
//! validates the whole push before touching anything, refuses replays (a
//! version not newer than the one it runs), refuses configs for another box,
//! and classifies an accepted change: nothing, live (bitrates, telemetry
//! interval: no stream restart), or a pipeline restart. Signature checking
//! is passed in as a function, so this module stays free of crypto and IO.

use serde_json::Value;

use crate::config::{parse_pushed_settings, Settings};

/// The largest push the box reads; anything bigger is refused unread.
pub const MAX_PUSH_BYTES: usize = 64 * 1024;

/// How the box treats signatures.
pub enum SignaturePolicy<'a> {
    /// No trusted keys: plain JSON is accepted (development only).
    Unsigned,
    /// Only JWS tokens that this function verifies are accepted; it returns the payload.
    Required(&'a dyn Fn(&str) -> Result<Vec<u8>, String>),
}

/// What the box knows when a push arrives.
pub struct PushContext<'a> {
    /// This box's id.
    pub device_id: &'a str,
    /// The version it runs (0 = never provisioned).
    pub applied_version: u64,
    /// The settings it runs.
    pub current: &'a Settings,
    /// Signature policy.
    pub signatures: SignaturePolicy<'a>,
}

/// How much of the box an accepted config changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Same settings, new version.
    Nothing,
    /// Only values that apply to a running stream (bitrates, session timing,
    /// telemetry interval).
    Live,
    /// The pipeline must be rebuilt (hub, key, camera, size, ...).
    Restart,
}

/// The verdict on one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Apply these settings.
    Apply {
        /// The pushed version.
        version: u64,
        /// The new settings.
        settings: Settings,
        /// What must happen to the running box.
        change: Change,
        /// The `config` object as compact JSON, for the store.
        config_json: String,
    },
    /// The push the box already runs, sent again (the broker resends the
    /// retained push after every reconnect): nothing changes, and the box
    /// confirms it is applied.
    AlreadyApplied {
        /// The version it runs.
        version: u64,
    },
    /// Keep running on the last good config.
    Reject {
        /// The version the push carried, if it could be read.
        version: Option<u64>,
        /// Why, naming the key or check that failed.
        reason: String,
    },
}

/// Whether `text` looks like a JWS compact serialization rather than JSON.
fn looks_signed(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("eyJ") && t.matches('.').count() == 2
}

fn reject(version: Option<u64>, reason: impl Into<String>) -> Decision {
    Decision::Reject {
        version,
        reason: reason.into(),
    }
}

/// Decides on a raw push.
pub fn evaluate(raw: &[u8], ctx: &PushContext<'_>) -> Decision {
    if raw.len() > MAX_PUSH_BYTES {
        return reject(
            None,
            format!("payload is {} bytes, limit {MAX_PUSH_BYTES}", raw.len()),
        );
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return reject(None, "payload is not UTF-8 text");
    };
    let payload: Vec<u8> = match (&ctx.signatures, looks_signed(text)) {
        (SignaturePolicy::Required(verify), true) => match verify(text.trim()) {
            Ok(p) => p,
            Err(e) => return reject(None, format!("signature: {e}")),
        },
        (SignaturePolicy::Required(_), false) => {
            return reject(
                version_of(text.as_bytes()),
                "unsigned config refused: this box has trust.config_keys, so configs must be signed (JWS, EdDSA)",
            )
        }
        (SignaturePolicy::Unsigned, true) => {
            return reject(
                None,
                "signed config but this box has no trust.config_keys to verify it with",
            )
        }
        (SignaturePolicy::Unsigned, false) => text.as_bytes().to_vec(),
    };
    let doc: Value = match serde_json::from_slice(&payload) {
        Ok(v) => v,
        Err(e) => return reject(None, format!("payload is not valid JSON: {e}")),
    };
    let Value::Object(map) = &doc else {
        return reject(
            None,
            "payload must be an object {\"version\":N,\"config\":{...}}",
        );
    };
    let version = match map.get("version") {
        Some(v) => match v.as_u64().filter(|n| *n >= 1) {
            Some(n) => n,
            None => {
                return reject(
                    None,
                    format!("version: must be an integer of at least 1, got {v}"),
                )
            }
        },
        None => return reject(None, "version: missing"),
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !["version", "config", "device_id"].contains(&k.as_str()))
    {
        return reject(
            Some(version),
            format!("{unknown}: unknown key (known keys here: version, config, device_id)"),
        );
    }
    match map.get("device_id") {
        None => {}
        Some(Value::String(id)) if id == ctx.device_id => {}
        Some(Value::String(id)) => {
            return reject(
                Some(version),
                format!(
                    "device_id: config is for {id:?}, this box is {:?}",
                    ctx.device_id
                ),
            )
        }
        Some(other) => {
            return reject(
                Some(version),
                format!("device_id: expected a string, got {other}"),
            )
        }
    }
    let not_newer = || {
        reject(
            Some(version),
            format!(
                "version: {version} is not newer than the applied version {} (replayed or out-of-order push)",
                ctx.applied_version
            ),
        )
    };
    if version < ctx.applied_version {
        return not_newer();
    }
    let Some(config) = map.get("config") else {
        return reject(Some(version), "config: missing");
    };
    let settings = match parse_pushed_settings(config) {
        Ok(s) => s,
        Err(errors) => return reject(Some(version), errors.to_string()),
    };
    if version == ctx.applied_version {
        // The same version again: harmless if it is the very config the box
        // runs (a retained resend); a replay with other content otherwise.
        return if &settings == ctx.current {
            Decision::AlreadyApplied { version }
        } else {
            not_newer()
        };
    }
    let change = classify(ctx.current, &settings);
    Decision::Apply {
        version,
        settings,
        change,
        config_json: config.to_string(),
    }
}

/// The version field of a payload, if it can be read (for reports on rejection).
fn version_of(payload: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(payload)
        .ok()?
        .get("version")?
        .as_u64()
}

/// How much of the running box a change of settings touches.
pub fn classify(current: &Settings, next: &Settings) -> Change {
    if current == next {
        return Change::Nothing;
    }
    let mut live_only = next.clone();
    live_only.video.bitrate_kbps = current.video.bitrate_kbps;
    live_only.audio.bitrate_kbps = current.audio.bitrate_kbps;
    live_only.session = current.session.clone();
    live_only.telemetry_interval_s = current.telemetry_interval_s;
    if &live_only == current {
        Change::Live
    } else {
        Change::Restart
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;

    fn current() -> Settings {
        parse_toml(
            r#"device_id = "box-1"
[hub]
host = "10.0.0.1"
[srtp]
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
"#,
        )
        .unwrap()
        .settings
    }

    fn push(version: u64, config: serde_json::Value) -> Vec<u8> {
        serde_json::json!({"version": version, "config": config})
            .to_string()
            .into_bytes()
    }

    fn config(bitrate: u32, host: &str) -> serde_json::Value {
        serde_json::json!({
            "hub": {"host": host},
            "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},
            "video": {"bitrate_kbps": bitrate}
        })
    }

    fn ctx<'a>(current: &'a Settings, applied: u64) -> PushContext<'a> {
        PushContext {
            device_id: "box-1",
            applied_version: applied,
            current,
            signatures: SignaturePolicy::Unsigned,
        }
    }

    fn reason(d: Decision) -> String {
        match d {
            Decision::Reject { reason, .. } => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_bitrate_change_is_live_and_a_hub_change_restarts() {
        let cur = current();
        match evaluate(&push(1, config(900, "10.0.0.1")), &ctx(&cur, 0)) {
            Decision::Apply {
                version, change, ..
            } => assert_eq!((version, change), (1, Change::Live)),
            other => panic!("{other:?}"),
        }
        match evaluate(&push(2, config(2000, "10.0.0.9")), &ctx(&cur, 1)) {
            Decision::Apply { change, .. } => assert_eq!(change, Change::Restart),
            other => panic!("{other:?}"),
        }
        match evaluate(&push(3, config(2000, "10.0.0.1")), &ctx(&cur, 2)) {
            Decision::Apply { change, .. } => assert_eq!(change, Change::Nothing),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_applied_push_sent_again_is_confirmed_not_applied_twice() {
        let cur = parse_pushed_settings(&config(900, "10.0.0.1")).unwrap();
        assert_eq!(
            evaluate(&push(5, config(900, "10.0.0.1")), &ctx(&cur, 5)),
            Decision::AlreadyApplied { version: 5 }
        );
    }

    #[test]
    fn replays_and_old_versions_are_refused() {
        let cur = current();
        let r = reason(evaluate(&push(5, config(900, "10.0.0.1")), &ctx(&cur, 5)));
        assert!(
            r.starts_with("version: 5 is not newer than the applied version 5"),
            "{r}"
        );
        let d = evaluate(&push(4, config(900, "10.0.0.1")), &ctx(&cur, 5));
        assert!(matches!(
            d,
            Decision::Reject {
                version: Some(4),
                ..
            }
        ));
    }

    #[test]
    fn every_kind_of_bad_push_is_refused_with_a_reason() {
        let cur = current();
        let c = ctx(&cur, 0);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "payload is not valid JSON"),
            (
                vec![b' '; 1024 * 1024],
                "payload is 1048576 bytes, limit 65536",
            ),
            (b"[1,2]".to_vec(), "payload must be an object"),
            (br#"{"config":{}}"#.to_vec(), "version: missing"),
            (
                br#"{"version":"7","config":{}}"#.to_vec(),
                "version: must be an integer",
            ),
            (
                br#"{"version":0,"config":{}}"#.to_vec(),
                "version: must be an integer of at least 1",
            ),
            (br#"{"version":1}"#.to_vec(), "config: missing"),
            (
                br#"{"version":1,"config":{},"extra":1}"#.to_vec(),
                "extra: unknown key",
            ),
            (
                push(
                    1,
                    serde_json::json!({"hub": {"host": "h"}, "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"}, "video": {"width": "wide"}}),
                ),
                "config.video.width: expected an integer, got a string",
            ),
            (
                push(
                    1,
                    serde_json::json!({"hub": {"host": "h", "video_port": 99999}, "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"}}),
                ),
                "config.hub.video_port: must be between 1 and 65534, got 99999",
            ),
            (
                push(
                    1,
                    serde_json::json!({"hub": {"host": "h"}, "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"}, "colour": 1}),
                ),
                "config.colour: unknown key",
            ),
            (
                br#"{"version":1,"device_id":"box-2","config":{}}"#.to_vec(),
                "device_id: config is for \"box-2\", this box is \"box-1\"",
            ),
            (vec![0xff, 0xfe], "payload is not UTF-8"),
        ];
        for (raw, expected) in cases {
            let r = reason(evaluate(&raw, &c));
            assert!(r.contains(expected), "expected {expected:?}, got {r:?}");
        }
    }

    #[test]
    fn signatures_are_required_when_keys_are_trusted() {
        let cur = current();
        let verify = |token: &str| -> Result<Vec<u8>, String> {
            if token == "eyJhbGciOiJFZERTQSJ9.good.sig" {
                Ok(push(1, config(900, "10.0.0.1")))
            } else {
                Err("signature does not verify with any of the 1 trusted keys".into())
            }
        };
        let c = PushContext {
            signatures: SignaturePolicy::Required(&verify),
            ..ctx(&cur, 0)
        };
        assert!(matches!(
            evaluate(b"eyJhbGciOiJFZERTQSJ9.good.sig", &c),
            Decision::Apply { version: 1, .. }
        ));
        let r = reason(evaluate(b"eyJhbGciOiJFZERTQSJ9.bad.sig", &c));
        assert_eq!(
            r,
            "signature: signature does not verify with any of the 1 trusted keys"
        );
        let r = reason(evaluate(&push(1, config(900, "10.0.0.1")), &c));
        assert!(r.starts_with("unsigned config refused"), "{r}");
        // And a box without keys refuses tokens it cannot check.
        let r = reason(evaluate(b"eyJhbGciOiJFZERTQSJ9.good.sig", &ctx(&cur, 0)));
        assert!(
            r.starts_with("signed config but this box has no trust.config_keys"),
            "{r}"
        );
    }
}
