//! Periodic telemetry: uptime, what was sent, call and stream state, what
//! the hub's receiver reports say, what came back from the hub (in a
//! session), CPU temperature where the board has a sensor.

use std::time::{Instant, SystemTime};

use bridgepoint_core::send_control::{ReportBlock, SendStatus};
use bridgepoint_proto::time::rfc3339;
use bridgepoint_proto::{
    CallStatus, FeedbackStatus, RtcpStats, SendStats, StreamStatus, Telemetry,
};

use crate::media::stats::StatsSnapshot;

/// Where Linux exposes the SoC temperature (millidegrees Celsius).
const THERMAL_ZONE: &str = "/sys/class/thermal/thermal_zone0/temp";

fn cpu_temp_c() -> Option<f64> {
    let text = std::fs::read_to_string(THERMAL_ZONE).ok()?;
    let milli: f64 = text.trim().parse().ok()?;
    Some((milli / 100.0).round() / 10.0)
}

/// What the rest of the box says at a report.
pub struct TelemetryInputs {
    /// The call.
    pub call: CallStatus,
    /// The stream.
    pub stream: StreamStatus,
    /// The config version it runs.
    pub config_version: u64,
    /// The pipeline's counters.
    pub sent: StatsSnapshot,
    /// The hub's latest receiver report on the video, if any came.
    pub rtcp: Option<ReportBlock>,
    /// The video bitrate the encoder is set to.
    pub target_kbps: u32,
    /// The session's sending as the core decides it (`None` outside one).
    pub send: Option<SendStatus>,
    /// Video packets retransmitted on the hub's NACKs.
    pub retransmissions: u64,
    /// The hub's keyframe requests passed to the encoder.
    pub hub_keyframe_requests: u64,
    /// Stalled streams restarted since the daemon started (the core's count).
    pub stalls: u64,
    /// What the box found plugged in, for the first report only.
    pub devices: Option<bridgepoint_proto::devices::DeviceSummary>,
    /// The receive side, while a session runs.
    pub receive: Option<bridgepoint_proto::ReceiveStats>,
}

/// Makes the reports; remembers the last one for the rate.
pub struct TelemetryReporter {
    started: Instant,
    last_bytes: u64,
    last_at: Instant,
}

impl TelemetryReporter {
    /// A reporter for a daemon started at `started`.
    pub fn new(started: Instant) -> TelemetryReporter {
        TelemetryReporter {
            started,
            last_bytes: 0,
            last_at: started,
        }
    }

    /// One report.
    pub fn report(&mut self, inputs: TelemetryInputs, now: Instant, wall: SystemTime) -> Telemetry {
        let bytes = inputs.sent.video_bytes + inputs.sent.audio_bytes;
        let secs = now.duration_since(self.last_at).as_secs_f64().max(0.001);
        let bitrate_kbps =
            (bytes.saturating_sub(self.last_bytes) as f64 * 8.0 / 1000.0 / secs).round();
        self.last_bytes = bytes;
        self.last_at = now;
        Telemetry {
            at: rfc3339(wall),
            uptime_s: now.duration_since(self.started).as_secs(),
            call: inputs.call,
            stream: inputs.stream,
            config_version: inputs.config_version,
            packets_sent: inputs.sent.video_packets + inputs.sent.audio_packets,
            bytes_sent: bytes,
            bitrate_kbps: bitrate_kbps as u64,
            target_kbps: Some(inputs.target_kbps),
            stalls: inputs.stalls,
            rtcp: RtcpStats {
                rtt_ms: inputs.rtcp.and_then(|r| r.rtt_ms),
                fraction_lost: inputs.rtcp.map(|r| r.fraction_lost),
                feedback: Some(inputs.send.map_or(FeedbackStatus::None, |s| s.feedback)),
            },
            cpu_temp_c: cpu_temp_c(),
            devices: inputs.devices,
            receive: inputs.receive,
            send: inputs.send.map(|s| SendStats {
                video: s.video_stopped.map_or("on", |trip| trip.name()).to_owned(),
                breaker_trips: s.breaker_trips,
                keyframes: s.keyframes,
                hub_keyframe_requests: inputs.hub_keyframe_requests,
                retransmissions: inputs.retransmissions,
                audio_fec: s.audio.inband_fec,
            }),
        }
    }
}
