//! How `bpctl watch` prints events and telemetry: one line per message,
//! device first, or JSON lines.

use std::fmt::Write as _;

use bridgepoint_proto::{Event, Leaf, Telemetry};
use serde_json::{json, Map, Value};

/// One message seen by `watch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    /// The line to print.
    pub line: String,
    /// The event id, for de-duplication (events may arrive twice).
    pub event_id: Option<String>,
}

/// Formats a message on `<root>/<device>/<leaf>`; with `as_json`, a JSON
/// object `{"device_id":..,"topic":"event"|"telemetry","message":<payload>}`.
/// An event of a type this bpctl does not know (a later firmware) is shown
/// with its members as they are.
pub fn watch_line(device: &str, leaf: Leaf, raw: &[u8], as_json: bool) -> Watched {
    let parsed: Option<Value> = serde_json::from_slice(raw).ok();
    let event_id = match (leaf, &parsed) {
        (Leaf::Event, Some(v)) => v.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    if as_json {
        let message = parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(raw).into_owned()));
        let line =
            json!({ "device_id": device, "topic": leaf.as_str(), "message": message }).to_string();
        return Watched { line, event_id };
    }
    let line = match (leaf, parsed) {
        (Leaf::Event, Some(Value::Object(map))) => event_line(device, raw, &map),
        (Leaf::Telemetry, Some(Value::Object(map))) => match Telemetry::parse(raw) {
            Ok(t) => telemetry_line(device, &t),
            Err(_) => generic_line(device, "telemetry", &map),
        },
        (_, _) => format!(
            "{device} {leaf} (not a JSON object): {}",
            String::from_utf8_lossy(raw)
                .chars()
                .take(200)
                .collect::<String>()
        ),
    };
    Watched { line, event_id }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `<at> <device> event <type> seq=N <member>=<value>...`
fn event_line(device: &str, raw: &[u8], map: &Map<String, Value>) -> String {
    let (at, kind, seq) = match Event::parse(raw) {
        Ok(e) => (e.at, e.kind.name().to_owned(), Some(e.seq.to_string())),
        Err(_) => (
            map.get("at").map(scalar).unwrap_or_else(|| "-".into()),
            map.get("type").map(scalar).unwrap_or_else(|| "?".into()),
            map.get("seq").map(scalar),
        ),
    };
    let mut line = format!("{at} {device} event {kind}");
    if let Some(seq) = seq {
        let _ = write!(line, " seq={seq}");
    }
    for (k, v) in map {
        if !["id", "seq", "at", "type"].contains(&k.as_str()) {
            let _ = write!(line, " {k}={}", scalar(v));
        }
    }
    line
}

fn generic_line(device: &str, what: &str, map: &Map<String, Value>) -> String {
    let at = map.get("at").map(scalar).unwrap_or_else(|| "-".into());
    let mut line = format!("{at} {device} {what}");
    for (k, v) in map {
        if k != "at" {
            let _ = write!(line, " {k}={}", scalar(v));
        }
    }
    line
}

fn telemetry_line(device: &str, t: &Telemetry) -> String {
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".into(), |v| format!("{v}{unit}"));
    let receive = t.receive.as_ref().map_or(String::new(), |r| {
        format!(
            " return={} return_fps={} return_lost={} return_rejected={} return_jitter={}ms lip_sync={}",
            r.status.name(),
            r.video_fps,
            r.lost_packets,
            r.rejected_packets,
            r.jitter_ms,
            r.lip_sync_ms.map_or("-".into(), |ms| format!("{ms}ms")),
        )
    });
    let send = t.send.as_ref().map_or(String::new(), |s| {
        format!(
            " video={} breaker_trips={} keyframes={} hub_keyframe_requests={} retransmissions={} audio_fec={}",
            s.video,
            s.breaker_trips,
            s.keyframes,
            s.hub_keyframe_requests,
            s.retransmissions,
            s.audio_fec,
        )
    });
    format!(
        "{} {device} telemetry call={} stream={} bitrate={}kbps target={} packets_sent={} bytes_sent={} uptime_s={} rtt={} lost={} feedback={} cpu_temp={} stalls={}{send}{receive}",
        t.at,
        t.call.name(),
        t.stream.name(),
        t.bitrate_kbps,
        t.target_kbps.map_or("-".into(), |k| format!("{k}kbps")),
        t.packets_sent,
        t.bytes_sent,
        t.uptime_s,
        opt(t.rtcp.rtt_ms, "ms"),
        opt(t.rtcp.fraction_lost, ""),
        t.rtcp.feedback.map_or("-", |f| f.name()),
        opt(t.cpu_temp_c, "C"),
        t.stalls,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_lines() {
        let e = watch_line(
            "lang-son-01",
            Leaf::Event,
            br#"{"id":"u1","seq":4,"at":"2026-11-23T18:30:05.123Z","type":"call.request"}"#,
            false,
        );
        assert_eq!(
            e.line,
            "2026-11-23T18:30:05.123Z lang-son-01 event call.request seq=4"
        );
        assert_eq!(e.event_id.as_deref(), Some("u1"));
        let ended = watch_line(
            "b",
            Leaf::Event,
            br#"{"id":"u3","seq":5,"at":"x","type":"session.ended","reason":"hub"}"#,
            false,
        );
        assert_eq!(ended.line, "x b event session.ended seq=5 reason=hub");
        let later = watch_line(
            "b",
            Leaf::Event,
            br#"{"id":"u4","seq":6,"at":"x","type":"dance","steps":3}"#,
            false,
        );
        assert_eq!(
            later.line, "x b event dance seq=6 steps=3",
            "a later firmware's event"
        );
        let t = watch_line(
            "lang-son-01",
            Leaf::Telemetry,
            br#"{"at":"2026-11-23T18:30:05.123Z","uptime_s":60,"call":"idle","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":12.5,"fraction_lost":null,"feedback":"receiver_reports"},"cpu_temp_c":null}"#,
            false,
        );
        assert_eq!(
            t.line,
            "2026-11-23T18:30:05.123Z lang-son-01 telemetry call=idle stream=streaming bitrate=1980kbps target=- packets_sent=10 bytes_sent=9000 uptime_s=60 rtt=12.5ms lost=- feedback=receiver_reports cpu_temp=- stalls=0",
            "a box that does not report stalls shows 0"
        );
        let stalled = watch_line(
            "b",
            Leaf::Telemetry,
            br#"{"at":"x","uptime_s":60,"call":"idle","stream":"starting","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":0,"stalls":2,"rtcp":{"rtt_ms":null,"fraction_lost":null},"cpu_temp_c":null}"#,
            false,
        );
        assert!(
            stalled
                .line
                .starts_with("x b telemetry call=idle stream=starting bitrate=0kbps")
                && stalled.line.ends_with(" stalls=2"),
            "{}",
            stalled.line
        );
        let in_session = watch_line(
            "b",
            Leaf::Telemetry,
            br#"{"at":"x","uptime_s":60,"call":"in_session","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":900,"stalls":0,"rtcp":{"rtt_ms":null,"fraction_lost":null},"cpu_temp_c":null,"receive":{"status":"playing","video_frames":450,"video_fps":15,"audio_ms":30000,"lost_packets":3,"rejected_packets":0,"jitter_ms":4,"lip_sync_ms":-12}}"#,
            false,
        );
        assert!(
            in_session.line.ends_with(
                " stalls=0 return=playing return_fps=15 return_lost=3 return_rejected=0 return_jitter=4ms lip_sync=-12ms"
            ),
            "{}",
            in_session.line
        );
        let paused = watch_line(
            "b",
            Leaf::Telemetry,
            br#"{"at":"x","uptime_s":60,"call":"in_session","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":40,"target_kbps":300,"stalls":0,"rtcp":{"rtt_ms":80.5,"fraction_lost":0.35,"feedback":"receiver_reports"},"cpu_temp_c":null,"send":{"video":"congestion","breaker_trips":1,"keyframes":4,"hub_keyframe_requests":2,"retransmissions":57,"audio_fec":true}}"#,
            false,
        );
        assert!(
            paused.line.ends_with(
                " target=300kbps packets_sent=10 bytes_sent=9000 uptime_s=60 rtt=80.5ms lost=0.35 feedback=receiver_reports cpu_temp=- stalls=0 video=congestion breaker_trips=1 keyframes=4 hub_keyframe_requests=2 retransmissions=57 audio_fec=true"
            ),
            "{}",
            paused.line
        );
        let j = watch_line("b", Leaf::Event, br#"{"id":"u2","type":"error"}"#, true);
        let v: Value = serde_json::from_str(&j.line).unwrap();
        assert_eq!(
            v,
            json!({"device_id":"b","topic":"event","message":{"id":"u2","type":"error"}})
        );
        assert_eq!(j.event_id.as_deref(), Some("u2"));
        let junk = watch_line("b", Leaf::Telemetry, b"\xffjunk", false);
        assert!(junk.line.starts_with("b telemetry (not a JSON object)"));
    }
}
