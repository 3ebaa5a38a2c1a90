//! What the core publishes for the board to show.

use bridgepoint_core::led::{LedPattern, LedStates};

/// The LEDs' patterns and the box state, as published by the core loop.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardView {
    /// The pattern every LED must show.
    pub leds: LedStates,
    /// The call state's name (`idle`, `calling`, `in_session`).
    pub call: &'static str,
    /// The stream state's name (`stopped`, `starting`, `streaming`, `error`).
    pub stream: &'static str,
    /// What the box's sockets sent to the hub.
    pub send: SendView,
    /// What the hub sent back and the box played.
    pub return_media: ReturnView,
    /// What the room's screen shows.
    pub screen: ScreenState,
}

/// What the room's screen shows (`bridgepoint_core::screen`'s view, in
/// words).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreenState {
    /// The indication the card shows (`ready`, `calling`, `on_air`, ...),
    /// the same the LEDs show.
    pub indication: &'static str,
    /// The card's large line.
    pub headline: String,
    /// The card's detail line.
    pub detail: String,
    /// Whether central's picture covers the card.
    pub central_video: bool,
    /// Whether the room's own camera shows in a corner.
    pub self_view: bool,
}

/// What the box's sockets really sent to the hub since the daemon started
/// (the UDP senders' own counts: nothing while the hub's host does not
/// resolve).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendView {
    /// Video RTP packets sent.
    pub video_packets: u64,
    /// Audio RTP packets sent.
    pub audio_packets: u64,
    /// The video bitrate the encoder is set to (the rate control's target
    /// in a session, else the configured one).
    pub target_kbps: u32,
    /// Whether the hub's receiver reports come (`receiver_reports`) or not
    /// (`none`: a stock ffmpeg recorder sends none).
    pub feedback: &'static str,
    /// The video packets lost on the way, in percent, from the hub's
    /// latest receiver report; `None` before any.
    pub loss_pct: Option<f64>,
    /// The round trip to the hub, from the same report.
    pub rtt_ms: Option<f64>,
    /// Whether the audio carries Opus in-band FEC (the hub reports loss).
    pub audio_fec: bool,
    /// The video: `on`, or the circuit breaker that stopped it
    /// (`congestion`, `media_timeout`, `rtcp_timeout`).
    pub video: &'static str,
    /// Circuit-breaker trips in this session.
    pub breaker_trips: u32,
    /// Keyframes the box sent of its own accord in this session.
    pub keyframes: u64,
    /// The hub's keyframe requests (PLI/FIR) passed to the encoder.
    pub hub_keyframe_requests: u64,
    /// Video packets retransmitted on the hub's NACKs.
    pub retransmissions: u64,
    /// The hub's retransmission requests refused: over the quarter of the
    /// video target retransmissions may take.
    pub retransmissions_refused: u64,
}

impl Default for SendView {
    fn default() -> Self {
        SendView {
            video_packets: 0,
            audio_packets: 0,
            target_kbps: 0,
            feedback: "none",
            loss_pct: None,
            rtt_ms: None,
            audio_fec: false,
            video: "on",
            breaker_trips: 0,
            keyframes: 0,
            hub_keyframe_requests: 0,
            retransmissions: 0,
            retransmissions_refused: 0,
        }
    }
}

/// What the hub sent back and the box played, since the session's pipeline
/// started, and the box's own RTP ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnView {
    /// Decoded video frames played.
    pub video_frames: u64,
    /// Decoded audio played, in milliseconds.
    pub audio_ms: u64,
    /// RTP packets the jitter buffers gave up waiting for.
    pub lost_packets: u64,
    /// Packets on the box's ports that failed decryption (a wrong key,
    /// garbage).
    pub rejected_packets: u64,
    /// The jitter buffers' average interarrival jitter, the largest of the
    /// senders', in milliseconds.
    pub jitter_ms: u64,
    /// Central's video frames decoded per second (over the last second).
    pub video_fps: u64,
    /// How much later the picture plays than the sound of the same moment
    /// at the hub, in milliseconds (negative: earlier); `None` until the
    /// hub's sender reports tie both to one clock.
    pub lip_sync_ms: Option<i64>,
    /// What the return stream is doing (`waiting`, `playing`,
    /// `undecryptable`, `interrupted`, `not_receiving`, ...); empty outside a
    /// session.
    pub status: &'static str,
    /// The box's video and audio RTP ports (RTCP on the next ports), while
    /// a pipeline runs.
    pub ports: Option<(u16, u16)>,
}

impl Default for BoardView {
    fn default() -> Self {
        BoardView {
            leds: LedStates {
                status: LedPattern::Off,
                call: LedPattern::Off,
            },
            call: "idle",
            stream: "stopped",
            send: SendView::default(),
            return_media: ReturnView::default(),
            screen: ScreenState::default(),
        }
    }
}

impl BoardView {
    /// The box just started: idle, not streaming, as the core's LED
    /// mapping shows that state.
    pub fn starting() -> Self {
        use bridgepoint_core::call::CallState;
        use bridgepoint_core::led::{leds_for, LedInputs};
        use bridgepoint_core::supervisor::StreamState;
        BoardView {
            leds: leds_for(LedInputs {
                call: &CallState::Idle,
                stream: &StreamState::Stopped,
                identify: false,
                video_stopped: None,
                send_refused: None,
            }),
            call: "idle",
            stream: "stopped",
            send: SendView::default(),
            return_media: ReturnView::default(),
            screen: ScreenState {
                indication: "ready",
                ..ScreenState::default()
            },
        }
    }

    /// The LEDs as one line of JSON: `{"call":{"pattern":"on"},"status":{...}}`.
    pub fn leds_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .leds
            .by_name()
            .into_iter()
            .map(|(name, pattern)| {
                (
                    name.to_owned(),
                    serde_json::json!({ "pattern": pattern.name() }),
                )
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The box state as one line of JSON: `{"call":"idle","stream":"stopped",
    /// "send":{"video_packets":0,"audio_packets":0,"target_kbps":0,
    /// "feedback":"none","loss_pct":null,"rtt_ms":null,"audio_fec":false,
    /// "video":"on","breaker_trips":0,"keyframes":0,
    /// "hub_keyframe_requests":0,"retransmissions":0,
    /// "retransmissions_refused":0},
    /// "return":{"video_frames":0,"audio_ms":0,"lost_packets":0,
    /// "rejected_packets":0,"jitter_ms":0,"video_fps":0,"lip_sync_ms":null,
    /// "status":"","ports":null},"screen":{"indication":"ready",
    /// "headline":"...","detail":"...","central_video":false,
    /// "self_view":false}}` (`ports`: `{"video":N,"audio":M}` while a
    /// pipeline runs).
    pub fn state_json(&self) -> String {
        let r = &self.return_media;
        let ports = r
            .ports
            .map(|(video, audio)| serde_json::json!({ "video": video, "audio": audio }));
        let s = &self.screen;
        serde_json::json!({
            "call": self.call,
            "stream": self.stream,
            "send": {
                "video_packets": self.send.video_packets,
                "audio_packets": self.send.audio_packets,
                "target_kbps": self.send.target_kbps,
                "feedback": self.send.feedback,
                "loss_pct": self.send.loss_pct,
                "rtt_ms": self.send.rtt_ms,
                "audio_fec": self.send.audio_fec,
                "video": self.send.video,
                "breaker_trips": self.send.breaker_trips,
                "keyframes": self.send.keyframes,
                "hub_keyframe_requests": self.send.hub_keyframe_requests,
                "retransmissions": self.send.retransmissions,
                "retransmissions_refused": self.send.retransmissions_refused,
            },
            "return": {
                "video_frames": r.video_frames,
                "audio_ms": r.audio_ms,
                "lost_packets": r.lost_packets,
                "rejected_packets": r.rejected_packets,
                "jitter_ms": r.jitter_ms,
                "video_fps": r.video_fps,
                "lip_sync_ms": r.lip_sync_ms,
                "status": r.status,
                "ports": ports,
            },
            "screen": {
                "indication": s.indication,
                "headline": s.headline,
                "detail": s.detail,
                "central_video": s.central_video,
                "self_view": s.self_view,
            },
        })
        .to_string()
    }
}
