//! Periodic telemetry: uptime, what was sent, call and stream state, CPU
//! temperature where the board has a sensor.

use std::time::Instant;

use serde_json::json;

use super::runtime::BoxRuntime;
use crate::control::messages;

/// Where Linux exposes the SoC temperature (millidegrees Celsius).
const THERMAL_ZONE: &str = "/sys/class/thermal/thermal_zone0/temp";

fn cpu_temp_c() -> Option<f64> {
    let text = std::fs::read_to_string(THERMAL_ZONE).ok()?;
    let milli: f64 = text.trim().parse().ok()?;
    Some((milli / 100.0).round() / 10.0)
}

impl BoxRuntime {
    /// Publishes one telemetry report (if the link is up).
    pub fn publish_telemetry(&mut self) {
        let Some(control) = self.control.as_ref().filter(|c| c.connected) else {
            return;
        };
        let stats = self.runner.stats().snapshot();
        let bytes = stats.video_bytes + stats.audio_bytes;
        let now = Instant::now();
        let (last_bytes, last_at) = self.telemetry_bytes;
        let secs = now.duration_since(last_at).as_secs_f64().max(0.001);
        let bitrate_kbps =
            ((bytes.saturating_sub(last_bytes)) as f64 * 8.0 / 1000.0 / secs).round();
        self.telemetry_bytes = (bytes, now);
        let rtcp = self.runner.rtcp_report();
        let report = json!({
            "at": messages::rfc3339(std::time::SystemTime::now()),
            "uptime_s": now.duration_since(self.started).as_secs(),
            "call": self.core.call_state().name(),
            "stream": self.core.stream_state().name(),
            "config_version": self.applied_version,
            "packets_sent": stats.video_packets + stats.audio_packets,
            "bytes_sent": bytes,
            "bitrate_kbps": bitrate_kbps,
            "rtcp": {
                "rtt_ms": rtcp.as_ref().and_then(|r| r.rtt_ms),
                "fraction_lost": rtcp.as_ref().and_then(|r| r.fraction_lost),
            },
            "cpu_temp_c": cpu_temp_c(),
        });
        control
            .link
            .publish(control.topics.telemetry(), report.to_string(), false, None);
    }
}
