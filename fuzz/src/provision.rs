//! Pushed configs (`bridgepoint_core::provision::evaluate`): the verdict
//! on a raw push, with and without required signatures.

use bridgepoint_core::config::parse_pushed_settings;
use bridgepoint_core::provision::{
    classify, Decision, PushContext, SignaturePolicy, MAX_VERSION_AHEAD,
};
use bridgepoint_proto::push::MAX_PUSH_BYTES;
use bridgepoint_proto::PushPayload;
use bridgepoint_signing::verify_compact;

use crate::{fixtures, non_empty};

/// The box without trusted keys (development): plain JSON pushes.
pub fn unsigned() -> PushContext<'static> {
    PushContext {
        device_id: fixtures::DEVICE_ID,
        applied_version: fixtures::APPLIED_VERSION,
        current: fixtures::current(),
        signatures: SignaturePolicy::Unsigned,
        now_unix_ms: Some(fixtures::NOW_UNIX_MS),
    }
}

/// The real verifier against the fixed trusted keys, as the daemon wires it.
pub fn verify(token: &str) -> Result<Vec<u8>, String> {
    verify_compact(token, fixtures::trusted()).map_err(|e| e.to_string())
}

/// The box with trusted keys: only tokens that [`verify`] accepts.
pub fn signed() -> PushContext<'static> {
    PushContext {
        signatures: SignaturePolicy::Required(&verify),
        ..unsigned()
    }
}

/// Checks the decision on `raw` taken in `ctx`.
pub fn check(raw: &[u8], ctx: &PushContext<'_>, decision: &Decision) {
    check_payload_round_trip(raw);
    match decision {
        Decision::Reject { reason, version } => {
            non_empty("rejection reason", reason);
            if let Some(v) = version {
                assert!(*v >= 1, "a rejection reports version {v}, below 1");
            }
        }
        Decision::AlreadyApplied { version } => {
            assert_eq!(
                *version, ctx.applied_version,
                "AlreadyApplied for another version"
            );
        }
        Decision::Apply {
            version,
            settings,
            change,
            config_json,
        } => {
            assert!(raw.len() <= MAX_PUSH_BYTES, "an oversized push was applied");
            assert!(
                *version > ctx.applied_version,
                "version {version} applied over {}",
                ctx.applied_version
            );
            // What the box stores reads back as the settings it applies
            // (after a restart the box runs on config_json).
            let stored: serde_json::Value = serde_json::from_str(config_json)
                .unwrap_or_else(|e| panic!("config_json is not JSON: {e}: {config_json}"));
            let again = parse_pushed_settings(&stored)
                .unwrap_or_else(|e| panic!("config_json does not parse again: {e}"));
            assert_eq!(&again, &**settings, "config_json reads back as other settings");
            if let Some(now) = ctx.now_unix_ms {
                let limit = now + MAX_VERSION_AHEAD.as_millis() as u64;
                assert!(
                    *version <= limit,
                    "version {version} is beyond the clock's limit"
                );
            }
            assert_eq!(*change, classify(ctx.current, settings));
            assert!(
                settings.media().is_some(),
                "an applied push without hub or key"
            );
            if let SignaturePolicy::Required(verify) = ctx.signatures {
                let text = std::str::from_utf8(raw).expect("applied text is UTF-8");
                assert!(
                    verify(text.trim()).is_ok(),
                    "a push was applied that does not verify"
                );
            }
        }
    }
}

/// A push payload that reads writes back (what bpctl publishes) to JSON
/// that reads as the same payload.
pub fn check_payload_round_trip(raw: &[u8]) {
    if let Ok(push) = PushPayload::parse(raw) {
        let again = push.to_json();
        let back = PushPayload::parse(again.as_bytes())
            .unwrap_or_else(|e| panic!("{again} does not parse back: {e:?}"));
        assert_eq!(
            (back.version, &back.device_id),
            (push.version, &push.device_id)
        );
        assert!(
            crate::json_same(&back.config.into(), &push.config.clone().into()),
            "{again} reads back as another config"
        );
    }
}
