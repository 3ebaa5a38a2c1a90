//! The JSON payloads the box publishes (documented in docs/provisioning.md).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// The firmware version reported in `status`.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Retained `status` while the box is up; `slot` is the booted RAUC slot.
pub fn online_status(
    device_id: &str,
    config_version: u64,
    call: &str,
    stream: &str,
    slot: Option<&str>,
) -> String {
    json!({
        "online": true,
        "device_id": device_id,
        "firmware": FIRMWARE_VERSION,
        "slot": slot,
        "config_version": config_version,
        "call": call,
        "stream": stream,
    })
    .to_string()
}

/// The Last Will: retained `status` once the broker loses the box.
pub fn offline_status(device_id: &str) -> String {
    json!({ "online": false, "device_id": device_id }).to_string()
}

/// Retained `config/reported` after a push.
pub fn reported(version: Option<u64>, error: Option<&str>, applied_version: u64) -> String {
    json!({
        "version": version,
        "state": if error.is_none() { "applied" } else { "rejected" },
        "error": error,
        "applied_version": applied_version,
    })
    .to_string()
}

/// `cmd/result` for a command.
pub fn command_result(id: Option<&str>, error: Option<&str>) -> String {
    json!({ "id": id, "ok": error.is_none(), "error": error }).to_string()
}

/// An `event` with its outbox sequence number; `fields` are merged in.
pub fn event(seq: u64, event_type: &str, at: SystemTime, fields: Value) -> String {
    let mut doc = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "seq": seq,
        "at": rfc3339(at),
        "type": event_type,
    });
    if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, fields) {
        for (k, v) in extra {
            doc.entry(k).or_insert(v);
        }
    }
    doc.to_string()
}

/// `2026-11-23T18:30:05.123Z` (UTC, milliseconds).
pub fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_459_805_123);
        assert_eq!(rfc3339(t), "2026-11-23T18:50:05.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn payloads_have_the_documented_shape() {
        let r: Value =
            serde_json::from_str(&reported(Some(4), Some("config.video.width: bad"), 3)).unwrap();
        assert_eq!(
            r,
            json!({"version":4,"state":"rejected","error":"config.video.width: bad","applied_version":3})
        );
        let r: Value = serde_json::from_str(&reported(None, None, 3)).unwrap();
        assert_eq!(r["state"], "applied");
        let e: Value =
            serde_json::from_str(&event(7, "call.request", UNIX_EPOCH, json!({"reason":"x"})))
                .unwrap();
        assert_eq!(
            (e["seq"].as_u64(), e["type"].as_str(), e["reason"].as_str()),
            (Some(7), Some("call.request"), Some("x"))
        );
        assert_eq!(e["id"].as_str().map(str::len), Some(36));
        let s: Value =
            serde_json::from_str(&online_status("b", 2, "idle", "stopped", Some("A"))).unwrap();
        assert_eq!(s["online"], true);
        assert_eq!(s["config_version"], 2);
        assert_eq!(s["slot"], "A");
        let c: Value = serde_json::from_str(&command_result(Some("t"), Some("nope"))).unwrap();
        assert_eq!(c, json!({"id":"t","ok":false,"error":"nope"}));
    }
}
