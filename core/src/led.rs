//! LED patterns, and the one place that maps the box's state to its LEDs.
//!
//! The box has two LEDs: `status` (is the box alive and well) and `call` (is
//! the room on air). Staff read them instead of a screen, so the mapping is
//! strict: `call` is solid only while packets are actually leaving the box.
//! The state is mapped once, to an indication (`crate::indication`, which
//! also says which patterns show it); the screen's card shows the same.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::indication::{indication_for, IndicationInputs};

/// How an LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedPattern {
    /// Dark.
    Off,
    /// Lit.
    On,
    /// 1 Hz: waiting (a call is ringing, the stream is starting).
    BlinkSlow,
    /// 4 Hz: something is wrong.
    BlinkFast,
    /// Two short pulses every 1.2 s: alive and well.
    Heartbeat,
    /// 5 Hz on every LED, for `identify` from central IT.
    Identify,
}

impl LedPattern {
    /// Every pattern.
    pub const ALL: [LedPattern; 6] = [
        LedPattern::Off,
        LedPattern::On,
        LedPattern::BlinkSlow,
        LedPattern::BlinkFast,
        LedPattern::Heartbeat,
        LedPattern::Identify,
    ];

    /// The name shown by the simulated board and in logs.
    pub fn name(self) -> &'static str {
        match self {
            LedPattern::Off => "off",
            LedPattern::On => "on",
            LedPattern::BlinkSlow => "blink-slow",
            LedPattern::BlinkFast => "blink-fast",
            LedPattern::Heartbeat => "heartbeat",
            LedPattern::Identify => "identify",
        }
    }

    /// Whether the LED is lit `elapsed` after the pattern began.
    pub fn level_at(self, elapsed: Duration) -> bool {
        let ms = elapsed.as_millis() as u64;
        match self {
            LedPattern::Off => false,
            LedPattern::On => true,
            LedPattern::BlinkSlow => ms % 1000 < 500,
            LedPattern::BlinkFast => ms % 250 < 125,
            LedPattern::Heartbeat => {
                let phase = ms % 1200;
                phase < 100 || (200..300).contains(&phase)
            }
            LedPattern::Identify => ms % 200 < 100,
        }
    }

    /// The longest time the level stays unchanged (for driving real LEDs).
    pub fn tick(self) -> Option<Duration> {
        match self {
            LedPattern::Off | LedPattern::On => None,
            LedPattern::BlinkSlow => Some(Duration::from_millis(500)),
            LedPattern::BlinkFast => Some(Duration::from_millis(125)),
            LedPattern::Heartbeat | LedPattern::Identify => Some(Duration::from_millis(100)),
        }
    }
}

impl fmt::Display for LedPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of the box's LEDs.
pub const LED_NAMES: [&str; 2] = ["status", "call"];

/// The pattern of every LED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedStates {
    /// Alive and well, or in trouble.
    pub status: LedPattern,
    /// On air, ringing, or idle.
    pub call: LedPattern,
}

impl LedStates {
    /// The states keyed by LED name.
    pub fn by_name(&self) -> BTreeMap<&'static str, LedPattern> {
        BTreeMap::from([("status", self.status), ("call", self.call)])
    }
}

/// What the LEDs depend on: the same inputs as the indication they show.
pub type LedInputs<'a> = IndicationInputs<'a>;

/// The LEDs for the box's state (through [`indication_for`], the one
/// mapping the screen's card shares).
pub fn leds_for(inputs: LedInputs<'_>) -> LedStates {
    indication_for(inputs).leds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallState;
    use crate::supervisor::StreamState;
    use std::time::Instant;

    fn leds(call: CallState, stream: StreamState) -> LedStates {
        leds_for(LedInputs {
            call: &call,
            stream: &stream,
            identify: false,
            video_stopped: None,
            send_refused: None,
        })
    }

    #[test]
    fn a_pattern_for_every_state() {
        let t = Instant::now();
        let error = StreamState::Error {
            reason: "x".into(),
            failures: 1,
            retry_at: t,
        };
        let cases = [
            (
                CallState::Idle,
                StreamState::Stopped,
                LedPattern::Heartbeat,
                LedPattern::Off,
            ),
            (
                CallState::Calling { since: t },
                StreamState::Stopped,
                LedPattern::Heartbeat,
                LedPattern::BlinkSlow,
            ),
            (
                CallState::InSession { since: t },
                StreamState::Starting,
                LedPattern::Heartbeat,
                LedPattern::BlinkSlow,
            ),
            (
                CallState::InSession { since: t },
                StreamState::Streaming,
                LedPattern::Heartbeat,
                LedPattern::On,
            ),
            (
                CallState::InSession { since: t },
                error.clone(),
                LedPattern::BlinkFast,
                LedPattern::BlinkFast,
            ),
            // `always` mode streams with no call.
            (
                CallState::Idle,
                StreamState::Streaming,
                LedPattern::Heartbeat,
                LedPattern::On,
            ),
            (
                CallState::Idle,
                error,
                LedPattern::BlinkFast,
                LedPattern::BlinkFast,
            ),
        ];
        for (call, stream, status, call_led) in cases {
            let got = leds(call, stream.clone());
            assert_eq!(
                got,
                LedStates {
                    status,
                    call: call_led
                },
                "call {call:?}, stream {stream:?}"
            );
        }
    }

    #[test]
    fn identify_overrides_everything() {
        let got = leds_for(LedInputs {
            call: &CallState::Idle,
            stream: &StreamState::Streaming,
            identify: true,
            video_stopped: None,
            send_refused: None,
        });
        assert_eq!(got.status, LedPattern::Identify);
        assert_eq!(got.call, LedPattern::Identify);
    }

    #[test]
    fn blink_patterns_toggle_at_their_rate() {
        let at = |p: LedPattern, ms: u64| p.level_at(Duration::from_millis(ms));
        assert!(
            at(LedPattern::BlinkSlow, 0)
                && !at(LedPattern::BlinkSlow, 500)
                && at(LedPattern::BlinkSlow, 1000)
        );
        assert!(at(LedPattern::BlinkFast, 0) && !at(LedPattern::BlinkFast, 125));
        assert!(
            at(LedPattern::Heartbeat, 50)
                && !at(LedPattern::Heartbeat, 150)
                && at(LedPattern::Heartbeat, 250)
        );
        assert!(!at(LedPattern::Heartbeat, 600));
        assert!(!at(LedPattern::Off, 0) && at(LedPattern::On, 12345));
        for p in LedPattern::ALL {
            if let Some(tick) = p.tick() {
                // Over a whole second the level changes, and never faster than its tick.
                let levels: Vec<bool> = (0..1200)
                    .step_by(tick.as_millis() as usize)
                    .map(|m| at(p, m))
                    .collect();
                assert!(
                    levels.contains(&true) && levels.contains(&false),
                    "{p} never toggles"
                );
            }
        }
    }
}
