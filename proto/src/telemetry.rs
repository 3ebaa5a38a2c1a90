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
    /// Whether the hub's receiver reports keep coming; absent from
    /// firmware that predates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackStatus>,
}

/// Whether the hub tells the box how its stream arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackStatus {
    /// No receiver report in the last 10 s (a stock ffmpeg recorder sends
    /// none): the box keeps its configured bitrate and knows nothing of
    /// the path's loss or round trip.
    None,
    /// The hub's receiver reports come: loss and round trip are known.
    ReceiverReports,
    /// The hub's transport-wide congestion control feedback comes (RTCP
    /// transport-cc: per video packet, when it arrived): the box follows
    /// the delay's trend as well as the reported loss.
    TransportCc,
    /// A state a later firmware reports that this reader does not know.
    #[serde(other)]
    Other,
}

impl FeedbackStatus {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            FeedbackStatus::None => "none",
            FeedbackStatus::ReceiverReports => "receiver_reports",
            FeedbackStatus::TransportCc => "transport_cc",
            FeedbackStatus::Other => "other",
        }
    }
}

/// How the session's video is sent: what the box did about the path
/// (`null` members never; the block is absent outside a session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendStats {
    /// The video: `on`, or the circuit breaker that stopped it
    /// (`congestion`, `media_timeout`, `rtcp_timeout`).
    pub video: String,
    /// Circuit-breaker trips this session.
    pub breaker_trips: u32,
    /// Keyframes the box sent of its own accord this session (reports
    /// back after a gap, a loss burst, the socket sending again, the video
    /// resuming).
    pub keyframes: u64,
    /// The hub's keyframe requests (PLI/FIR) passed to the encoder this
    /// session (at most one a second).
    pub hub_keyframe_requests: u64,
    /// Video packets retransmitted on the hub's NACKs this session
    /// (`hub.feedback = "avpf"` only).
    pub retransmissions: u64,
    /// Whether the audio carries Opus in-band FEC.
    pub audio_fec: bool,
}

/// What the hub sent back and the box played, since the session's
/// pipeline started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiveStats {
    /// What the return stream does.
    pub status: crate::ReturnStreamStatus,
    /// Central's video frames decoded.
    pub video_frames: u64,
    /// Central's frames decoded per second, over the last second.
    pub video_fps: u64,
    /// Central's audio decoded, in milliseconds.
    pub audio_ms: u64,
    /// Packets the jitter buffers gave up waiting for (lost).
    pub lost_packets: u64,
    /// Packets that failed SRTP authentication or decryption.
    pub rejected_packets: u64,
    /// The largest of the senders' average interarrival jitter, in ms.
    pub jitter_ms: u64,
    /// How much later the picture plays than the sound of the same moment
    /// (ms); `null` until the hub's sender reports tie them to one clock.
    pub lip_sync_ms: Option<i64>,
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
    /// The video bitrate the encoder is set to (the rate control's target
    /// in a session); absent from firmware that predates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kbps: Option<u32>,
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
    /// The receive side while a session runs; absent outside one (and from
    /// firmware that predates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive: Option<ReceiveStats>,
    /// How the video is sent while a session runs; absent outside one (and
    /// from firmware that predates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<SendStats>,
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
            target_kbps: Some(1500),
            stalls: 2,
            rtcp: RtcpStats::default(),
            cpu_temp_c: None,
            devices: None,
            receive: None,
            send: None,
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
    fn the_receive_side_round_trips_and_is_absent_outside_a_session() {
        let older = r#"{"at":"x","uptime_s":60,"call":"idle","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":null,"fraction_lost":null},"cpu_temp_c":null}"#;
        let mut t = Telemetry::parse(older.as_bytes()).unwrap();
        assert_eq!(t.receive, None);
        assert!(!t.to_json().contains("receive"));
        t.receive = Some(ReceiveStats {
            status: crate::ReturnStreamStatus::Playing,
            video_frames: 450,
            video_fps: 15,
            audio_ms: 30000,
            lost_packets: 3,
            rejected_packets: 0,
            jitter_ms: 4,
            lip_sync_ms: Some(-12),
        });
        let text = t.to_json();
        assert!(
            text.contains(r#""receive":{"status":"playing","video_frames":450,"video_fps":15,"audio_ms":30000,"lost_packets":3,"rejected_packets":0,"jitter_ms":4,"lip_sync_ms":-12}"#),
            "{text}"
        );
        assert_eq!(Telemetry::parse(text.as_bytes()).unwrap(), t);
    }

    #[test]
    fn telemetry_from_a_box_without_the_stall_count_reads_as_none() {
        let older = r#"{"at":"2026-11-23T18:30:05.123Z","uptime_s":60,"call":"idle","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":null,"fraction_lost":null},"cpu_temp_c":null}"#;
        assert_eq!(Telemetry::parse(older.as_bytes()).unwrap().stalls, 0);
    }
}
