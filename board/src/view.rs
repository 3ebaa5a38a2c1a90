//! What the core publishes for the board to show.

use bridgepoint_core::led::{LedPattern, LedStates};

/// The LEDs' patterns and the box state, as published by the core loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardView {
    /// The pattern every LED must show.
    pub leds: LedStates,
    /// The call state's name (`idle`, `calling`, `in_session`).
    pub call: &'static str,
    /// The stream state's name (`stopped`, `starting`, `streaming`, `error`).
    pub stream: &'static str,
    /// What the hub sent back and the box played.
    pub return_media: ReturnView,
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
            return_media: ReturnView::default(),
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
            }),
            call: "idle",
            stream: "stopped",
            return_media: ReturnView::default(),
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
    /// "return":{"video_frames":0,"audio_ms":0,"lost_packets":0,"ports":null}}`
    /// (`ports`: `{"video":N,"audio":M}` while a pipeline runs).
    pub fn state_json(&self) -> String {
        let r = &self.return_media;
        let ports = r
            .ports
            .map(|(video, audio)| serde_json::json!({ "video": video, "audio": audio }));
        serde_json::json!({
            "call": self.call,
            "stream": self.stream,
            "return": {
                "video_frames": r.video_frames,
                "audio_ms": r.audio_ms,
                "lost_packets": r.lost_packets,
                "ports": ports,
            },
        })
        .to_string()
    }
}
