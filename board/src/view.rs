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

    /// The box state as one line of JSON: `{"call":"idle","stream":"stopped"}`.
    pub fn state_json(&self) -> String {
        serde_json::json!({ "call": self.call, "stream": self.stream }).to_string()
    }
}
