//! `config/desired` (retained, central → box): a pushed config,
//! `{"version":N,"device_id":"<box>","config":{...}}`, signed as a JWS when
//! the box trusts keys.
//!
//! This module reads and writes the payload's shape. Whether the box applies
//! it (signature, device, version order, the settings themselves) is decided
//! by `bridgepoint_core::provision`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{check_device_id, check_sequence_number};
use crate::{strict_json, ProtoError};

/// The largest push a box reads; anything bigger is refused unread, and
/// bpctl refuses to publish it.
pub const MAX_PUSH_BYTES: usize = 64 * 1024;

/// The members of a push payload.
pub const PUSH_KEYS: &[&str] = &["version", "config", "device_id"];

/// A pushed config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushPayload {
    /// Must be newer than the version the box runs; 1 to 2^53 − 1.
    pub version: u64,
    /// The box it is for (bpctl always writes it; the box refuses another box's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The settings, validated by the box key by key.
    pub config: Map<String, Value>,
}

/// A push that could not be read, with its version when that could be read
/// (the box's report names it, so central IT knows which push failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUnreadable {
    /// The version member, if it was a valid one.
    pub version: Option<u64>,
    /// Why.
    pub error: ProtoError,
}

impl PushPayload {
    /// Reads the JSON of a push (already verified, when it was signed):
    /// duplicated members, unknown members, a missing or out-of-range
    /// version, a `device_id` that is not a device id and a `config` that is
    /// not an object are refused, each naming the member.
    pub fn parse(json: &[u8]) -> Result<PushPayload, PushUnreadable> {
        let unreadable = |version, error| PushUnreadable { version, error };
        let doc = strict_json::parse(json, "payload").map_err(|e| unreadable(None, e))?;
        let Value::Object(map) = doc else {
            return Err(unreadable(
                None,
                ProtoError::Shape(
                    "payload must be an object {\"version\":N,\"config\":{...}}".into(),
                ),
            ));
        };
        let version = match map.get("version") {
            None => return Err(unreadable(None, ProtoError::member("version", "missing"))),
            Some(v) => match v.as_u64().map(|n| (n, check_sequence_number(n))) {
                Some((n, Ok(()))) => n,
                Some((_, Err(message))) => {
                    return Err(unreadable(None, ProtoError::member("version", message)))
                }
                None => {
                    return Err(unreadable(
                        None,
                        ProtoError::member(
                            "version",
                            format!("must be an integer of at least 1, got {v}"),
                        ),
                    ))
                }
            },
        };
        let fail = |error| Err(unreadable(Some(version), error));
        if let Some(unknown) = map.keys().find(|k| !PUSH_KEYS.contains(&k.as_str())) {
            return fail(ProtoError::member(
                unknown.as_str(),
                format!("unknown key (known keys here: {})", PUSH_KEYS.join(", ")),
            ));
        }
        let device_id = match map.get("device_id") {
            None => None,
            Some(Value::String(id)) => match check_device_id(id) {
                Ok(()) => Some(id.clone()),
                Err(message) => return fail(ProtoError::member("device_id", message)),
            },
            Some(other) => {
                return fail(ProtoError::member(
                    "device_id",
                    format!("expected a string, got {other}"),
                ))
            }
        };
        let config = match map.get("config") {
            None => return fail(ProtoError::member("config", "missing")),
            Some(Value::Object(c)) => c.clone(),
            Some(_) => {
                return fail(ProtoError::member(
                    "config",
                    "expected an object of settings",
                ))
            }
        };
        Ok(PushPayload {
            version,
            device_id,
            config,
        })
    }

    /// The version member of a payload, if it can be read at all (for the
    /// report on a push refused before it was parsed, e.g. unsigned).
    pub fn version_of(json: &[u8]) -> Option<u64> {
        serde_json::from_slice::<Value>(json)
            .ok()?
            .get("version")?
            .as_u64()
            .filter(|n| check_sequence_number(*n).is_ok())
    }

    /// The payload's JSON (what bpctl signs).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(raw: &[u8]) -> String {
        PushPayload::parse(raw).unwrap_err().error.to_string()
    }

    #[test]
    fn a_push_reads_and_writes_the_same() {
        let text = r#"{"version":17,"device_id":"lang-son-01","config":{"hub":{"host":"h"}}}"#;
        let p = PushPayload::parse(text.as_bytes()).unwrap();
        assert_eq!(p.version, 17);
        assert_eq!(p.device_id.as_deref(), Some("lang-son-01"));
        assert_eq!(
            serde_json::from_str::<Value>(&p.to_json()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        let bare = PushPayload::parse(br#"{"version":1,"config":{}}"#).unwrap();
        assert_eq!(bare.to_json(), r#"{"version":1,"config":{}}"#);
    }

    #[test]
    fn every_kind_of_bad_push_names_its_member() {
        assert!(reason(b"{not json").starts_with("payload is not valid JSON"));
        assert!(reason(b"[1,2]").starts_with("payload must be an object"));
        assert_eq!(reason(br#"{"config":{}}"#), "version: missing");
        assert!(
            reason(br#"{"version":"7","config":{}}"#).starts_with("version: must be an integer")
        );
        assert!(reason(br#"{"version":0,"config":{}}"#).starts_with("version: must be an integer"));
        assert!(reason(br#"{"version":-3,"config":{}}"#).starts_with("version: must be an integer"));
        assert_eq!(reason(br#"{"version":1}"#), "config: missing");
        assert!(reason(br#"{"version":1,"config":{},"extra":1}"#).starts_with("extra: unknown key"));
        assert!(reason(br#"{"version":1,"config":[]}"#).starts_with("config: expected an object"));
        assert!(reason(br#"{"version":1,"device_id":5,"config":{}}"#)
            .starts_with("device_id: expected a string"));
        assert!(reason(br#"{"version":1,"device_id":"A/B","config":{}}"#)
            .starts_with("device_id: may only hold"));
        let late = PushPayload::parse(br#"{"version":4,"config":{},"x":1}"#).unwrap_err();
        assert_eq!(late.version, Some(4), "the report can name the version");
    }

    #[test]
    fn versions_beyond_json_safe_integers_are_refused() {
        for v in [1u64 << 63, u64::MAX, (1 << 53)] {
            let raw = json!({"version": v, "config": {}}).to_string();
            let r = reason(raw.as_bytes());
            assert!(
                r.starts_with("version: must be an integer from 1 to 9007199254740991"),
                "{v}: {r}"
            );
        }
        assert!(PushPayload::parse(br#"{"version":9007199254740991,"config":{}}"#).is_ok());
    }

    #[test]
    fn a_duplicated_member_anywhere_is_refused() {
        let r = reason(br#"{"version":1,"device_id":"a","device_id":"b","config":{}}"#);
        assert!(r.contains("device_id (it appears twice)"), "{r}");
        let r = reason(br#"{"version":1,"config":{"srtp":{"key":"a","key":"b"}}}"#);
        assert!(r.contains("config.srtp.key (it appears twice)"), "{r}");
    }
}
