//! Provisioning decisions: is a pushed config applied or rejected, and how.
//!
//! Central IT publishes a [`PushPayload`] (`{"version":N,"device_id":..,
//! "config":{...}}`), signed as a JWS when the box has trusted keys. The box
//! validates the whole push before touching anything, refuses replays (a
//! version not newer than the one it runs), versions too far ahead of its
//! clock (one of them would make every later push look old), configs for
//! another box, and classifies an accepted change: nothing, live (bitrates,
//! telemetry interval: no stream restart), or a pipeline restart. Signature
//! checking is passed in as a function, so this module stays free of crypto
//! and IO.

use std::time::Duration;

use bridgepoint_proto::push::{PushUnreadable, MAX_PUSH_BYTES};
use bridgepoint_proto::{Envelope, PushPayload};
use serde_json::Value;

use crate::config::{parse_pushed_settings, Settings};
pub use crate::signature::SignaturePolicy;

/// How far ahead of the box's (plausible) clock a version may be: versions
/// are Unix times in milliseconds (bpctl's default) or small counters, so a
/// larger one is a mistake that would block every later push.
pub const MAX_VERSION_AHEAD: Duration = Duration::from_secs(24 * 3600);

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
    /// The box's wall clock in Unix milliseconds, when it is plausible
    /// ([`crate::wall_clock::plausible`]); `None` for a clock not yet set.
    pub now_unix_ms: Option<u64>,
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
        /// The new settings (boxed: the other verdicts are small).
        settings: Box<Settings>,
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

fn reject(version: Option<u64>, reason: impl Into<String>) -> Decision {
    Decision::Reject {
        version,
        reason: reason.into(),
    }
}

/// Decides on a raw push.
pub fn evaluate(raw: &[u8], ctx: &PushContext<'_>) -> Decision {
    let envelope = match Envelope::open(raw, "payload", MAX_PUSH_BYTES) {
        Ok(e) => e,
        Err(e) => return reject(None, e.to_string()),
    };
    let payload: Vec<u8> = match (&ctx.signatures, envelope) {
        (SignaturePolicy::Required(verify), Envelope::Signed(token)) => match verify(token) {
            Ok(p) => p,
            Err(e) => return reject(None, format!("signature: {e}")),
        },
        (SignaturePolicy::Required(_), Envelope::Plain(text)) => {
            return reject(
                PushPayload::version_of(text.as_bytes()),
                "unsigned config refused: this box has trust.config_keys, so configs must be signed (JWS, EdDSA)",
            )
        }
        (SignaturePolicy::Unsigned, Envelope::Signed(_)) => {
            return reject(
                None,
                "signed config but this box has no trust.config_keys to verify it with",
            )
        }
        (SignaturePolicy::Unsigned, Envelope::Plain(text)) => text.as_bytes().to_vec(),
    };
    let push = match PushPayload::parse(&payload) {
        Ok(p) => p,
        Err(PushUnreadable { version, error }) => return reject(version, error.to_string()),
    };
    let version = push.version;
    if let Some(id) = &push.device_id {
        if id != ctx.device_id {
            return reject(
                Some(version),
                format!(
                    "device_id: config is for {id:?}, this box is {:?}",
                    ctx.device_id
                ),
            );
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
    if let Some(now) = ctx.now_unix_ms {
        let limit = now.saturating_add(MAX_VERSION_AHEAD.as_millis() as u64);
        if version > ctx.applied_version && version > limit {
            return reject(
                Some(version),
                format!(
                    "version: {version} is more than a day ahead of this box's clock ({now} ms since 1970); a version is a Unix time in milliseconds or a small counter, and a larger one would make every later push look old"
                ),
            );
        }
    }
    let settings = match parse_pushed_settings(&Value::Object(push.config.clone())) {
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
        settings: Box::new(settings),
        change,
        config_json: Value::Object(push.config).to_string(),
    }
}

/// Whether the provisioned config in force may be renumbered to `to`
/// (`config.set_version`, a signed command): the way central IT recovers a
/// box that took a version so high that no normal push is newer. Only a
/// provisioned config (version ≥ 1) has a version to change; `to` may be
/// lower or higher, within 1 to 2^53 − 1.
pub fn check_renumber(applied_version: u64, to: u64) -> Result<(), String> {
    if applied_version == 0 {
        return Err("this box runs its local file (config version 0): there is no pushed config to renumber".into());
    }
    bridgepoint_proto::validate::check_sequence_number(to).map_err(|e| format!("args.version: {e}"))
}

/// How much of the running box a change of settings touches.
pub fn classify(current: &Settings, next: &Settings) -> Change {
    if current == next {
        return Change::Nothing;
    }
    let mut live_only = next.clone();
    live_only.video.bitrate_kbps = current.video.bitrate_kbps;
    live_only.video.min_bitrate_kbps = current.video.min_bitrate_kbps;
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
            now_unix_ms: None,
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
    fn a_change_of_hub_feedback_restarts_the_pipeline() {
        // rtpbin's profile, the retransmission sender and the SDP change
        // with it: nothing of that can change under a running pipeline.
        let cur = current();
        let mut avpf = config(2000, "10.0.0.1");
        avpf["hub"]["feedback"] = serde_json::json!("avpf");
        let next = match evaluate(&push(1, avpf), &ctx(&cur, 0)) {
            Decision::Apply {
                change, settings, ..
            } => {
                assert_eq!(change, Change::Restart);
                settings
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            next.hub.as_ref().map(|h| h.feedback),
            Some(crate::config::HubFeedback::Avpf)
        );
        assert_eq!(classify(&next, &cur), Change::Restart);
        let mut bad = config(2000, "10.0.0.1");
        bad["hub"]["feedback"] = serde_json::json!("always");
        assert!(reason(evaluate(&push(2, bad), &ctx(&cur, 0)))
            .contains("config.hub.feedback: must be \"none\" or \"avpf\", got \"always\""),);
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
                "version: must be an integer from 1 to",
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

    #[test]
    fn versions_past_json_safe_integers_are_refused_whatever_the_clock() {
        let cur = current();
        for v in [1u64 << 63, u64::MAX] {
            let r = reason(evaluate(&push(v, config(900, "10.0.0.1")), &ctx(&cur, 0)));
            assert!(
                r.starts_with("version: must be an integer from 1 to 9007199254740991"),
                "{v}: {r}"
            );
        }
    }

    #[test]
    fn a_version_far_ahead_of_a_set_clock_is_refused_and_a_normal_one_applies_after() {
        let cur = current();
        let now = 1_795_459_805_123u64;
        let with_clock = PushContext {
            now_unix_ms: Some(now),
            ..ctx(&cur, 17)
        };
        let r = reason(evaluate(
            &push((1 << 53) - 1, config(900, "10.0.0.1")),
            &with_clock,
        ));
        assert!(
            r.contains("more than a day ahead of this box's clock"),
            "{r}"
        );
        let day = MAX_VERSION_AHEAD.as_millis() as u64;
        assert!(matches!(
            evaluate(&push(now + day, config(900, "10.0.0.1")), &with_clock),
            Decision::Apply { .. }
        ));
        assert!(matches!(
            evaluate(&push(now + day + 1, config(900, "10.0.0.1")), &with_clock),
            Decision::Reject { .. }
        ));
        // Small hand-picked versions are below any plausible clock.
        assert!(matches!(
            evaluate(&push(18, config(900, "10.0.0.1")), &with_clock),
            Decision::Apply { version: 18, .. }
        ));
        // Without a set clock only the JSON-safe bound applies.
        assert!(matches!(
            evaluate(
                &push((1 << 53) - 1, config(900, "10.0.0.1")),
                &ctx(&cur, 17)
            ),
            Decision::Apply { .. }
        ));
    }

    #[test]
    fn a_push_with_a_duplicated_member_is_refused() {
        let cur = current();
        let raw = br#"{"version":1,"device_id":"box-2","device_id":"box-1","config":{}}"#;
        let r = reason(evaluate(raw, &ctx(&cur, 0)));
        assert!(r.contains("device_id (it appears twice)"), "{r}");
    }

    #[test]
    fn only_a_pushed_config_can_be_renumbered() {
        assert!(check_renumber(0, 5).unwrap_err().contains("local file"));
        assert_eq!(check_renumber((1 << 53) - 1, 17), Ok(()));
        assert!(check_renumber(3, 0)
            .unwrap_err()
            .starts_with("args.version: must be"));
    }
}
