//! `telemetry` (box → central, every `telemetry_interval_s`): counters and
//! what the hub's RTCP receiver reports say.

use serde::{Deserialize, Serialize};

use crate::{CallStatus, StreamStatus};

/// What the hub's RTCP receiver reports say about the video stream; `null`
/// members until the hub sends one (a stock ffmpeg recorder sends none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtcpStats {
    /// Round trip in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Fraction of packets lost since the previous report (0 to 1).
    pub fraction_lost: Option<f64>,
}

/// One telemetry report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// When: UTC, RFC 3339 with milliseconds.
    pub at: String,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    /// The call.
    pub call: CallStatus,
    /// The stream.
    pub stream: StreamStatus,
    /// The config version the box runs.
    pub config_version: u64,
    /// RTP packets sent (video + audio) since the daemon started (the
    /// counters run on across pipeline restarts).
    pub packets_sent: u64,
    /// Bytes sent since the daemon started.
    pub bytes_sent: u64,
    /// The send rate since the previous report.
    pub bitrate_kbps: u64,
    /// How many times the stream stalled (no packet left for 5 s) and was
    /// restarted since the daemon started; 0 from firmware that predates it.
    #[serde(default)]
    pub stalls: u64,
    /// From the hub's receiver reports.
    pub rtcp: RtcpStats,
    /// The SoC's temperature; `null` on boards without a sensor.
    pub cpu_temp_c: Option<f64>,
    /// What the box found plugged in and uses: in the first report after
    /// the daemon starts only (absent in the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<crate::devices::DeviceSummary>,
}

lenient_payload!(Telemetry, "telemetry");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_round_trips_with_and_without_rtcp() {
        let t = Telemetry {
            at: "2026-11-23T18:30:05.123Z".into(),
            uptime_s: 60,
            call: CallStatus::Idle,
            stream: StreamStatus::Streaming,
            config_version: 3,
            packets_sent: 10,
            bytes_sent: 9000,
            bitrate_kbps: 1980,
            stalls: 2,
            rtcp: RtcpStats::default(),
            cpu_temp_c: None,
            devices: None,
        };
        let text = t.to_json();
        assert!(
            text.contains(r#""rtcp":{"rtt_ms":null,"fraction_lost":null}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""bitrate_kbps":1980,"#),
            "an integer, not 1980.0: {text}"
        );
        assert!(text.contains(r#""stalls":2,"#), "{text}");
        assert_eq!(Telemetry::parse(text.as_bytes()).unwrap(), t);
    }

    #[test]
    fn telemetry_from_a_box_without_the_stall_count_reads_as_none() {
        let older = r#"{"at":"2026-11-23T18:30:05.123Z","uptime_s":60,"call":"idle","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":null,"fraction_lost":null},"cpu_temp_c":null}"#;
        assert_eq!(Telemetry::parse(older.as_bytes()).unwrap().stalls, 0);
    }
}
