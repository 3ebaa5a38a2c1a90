//! The one mapping from the box's state to what it tells the room.
//!
//! Staff read the LEDs, the room reads the screen; both must tell the same
//! truth, so both are drawn from one [`Indication`], decided here and
//! nowhere else: [`Indication::leds`] gives its LED patterns and
//! [`crate::screen`] its card on the screen.

use crate::call::CallState;
use crate::circuit_breaker::Trip;
use crate::led::{LedPattern, LedStates};
use crate::supervisor::StreamState;

/// What the box's state means for the people in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indication {
    /// Central IT asked the box to show itself.
    Identify,
    /// Nothing going on: a press of the call button calls central.
    Ready,
    /// A call was requested and central has not answered yet.
    Calling,
    /// The session's stream is starting: no packet has left the box yet.
    Connecting,
    /// Packets are leaving the box: the room is on air.
    OnAir,
    /// On air with sound only: the circuit breaker stopped the video
    /// because the network cannot carry it; the reason says what it saw.
    SoundOnly {
        /// Which breaker stopped it ([`Trip::reason`] says why in words).
        trip: Trip,
    },
    /// The stream failed and is retried; the reason names what failed.
    NoConnection {
        /// What failed, as the stream supervisor said.
        reason: String,
    },
}

impl Indication {
    /// The short name used in logs and the simulated board's `state`.
    pub fn name(&self) -> &'static str {
        match self {
            Indication::Identify => "identify",
            Indication::Ready => "ready",
            Indication::Calling => "calling",
            Indication::Connecting => "connecting",
            Indication::OnAir => "on_air",
            Indication::SoundOnly { .. } => "sound_only",
            Indication::NoConnection { .. } => "no_connection",
        }
    }

    /// The LED patterns that show this indication.
    pub fn leds(&self) -> LedStates {
        let (status, call) = match self {
            Indication::Identify => (LedPattern::Identify, LedPattern::Identify),
            Indication::Ready => (LedPattern::Heartbeat, LedPattern::Off),
            Indication::Calling | Indication::Connecting => {
                (LedPattern::Heartbeat, LedPattern::BlinkSlow)
            }
            Indication::OnAir => (LedPattern::Heartbeat, LedPattern::On),
            // Still in session (the call LED stays lit), the status LED
            // warns: not the fast blink of a box that sends nothing.
            Indication::SoundOnly { .. } => (LedPattern::BlinkSlow, LedPattern::On),
            Indication::NoConnection { .. } => (LedPattern::BlinkFast, LedPattern::BlinkFast),
        };
        LedStates { status, call }
    }
}

/// What the indication depends on.
#[derive(Debug, Clone, Copy)]
pub struct IndicationInputs<'a> {
    /// The call state.
    pub call: &'a CallState,
    /// The stream state.
    pub stream: &'a StreamState,
    /// Whether central IT asked the box to identify itself.
    pub identify: bool,
    /// `Some` while the circuit breaker keeps the video off.
    pub video_stopped: Option<Trip>,
    /// `Some` while the network refuses the box's packets (no route to the
    /// hub): the pipeline runs on, but nothing reaches the hub.
    pub send_refused: Option<&'a str>,
}

/// The single mapping from box state to indication. The stream decides
/// first: `call` is "on air" only while packets are actually leaving the
/// box, whatever the call machine believes.
pub fn indication_for(inputs: IndicationInputs<'_>) -> Indication {
    if inputs.identify {
        return Indication::Identify;
    }
    match (inputs.stream, inputs.call) {
        (StreamState::Streaming, _) => match (inputs.send_refused, inputs.video_stopped) {
            (Some(reason), _) => Indication::NoConnection {
                reason: reason.to_owned(),
            },
            (None, Some(trip)) => Indication::SoundOnly { trip },
            (None, None) => Indication::OnAir,
        },
        (StreamState::Error { reason, .. }, _) => Indication::NoConnection {
            reason: reason.clone(),
        },
        (StreamState::Starting, _) => Indication::Connecting,
        (StreamState::Stopped, CallState::Calling { .. }) => Indication::Calling,
        (StreamState::Stopped, _) => Indication::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn of(call: CallState, stream: StreamState) -> Indication {
        indication_for(IndicationInputs {
            call: &call,
            stream: &stream,
            identify: false,
            video_stopped: None,
            send_refused: None,
        })
    }

    #[test]
    fn the_stream_decides_before_the_call() {
        let t = Instant::now();
        let error = StreamState::Error {
            reason: "video-rtp-sink: could not resolve hub".into(),
            failures: 2,
            retry_at: t,
        };
        assert_eq!(of(CallState::Idle, StreamState::Stopped), Indication::Ready);
        assert_eq!(
            of(CallState::Calling { since: t }, StreamState::Stopped),
            Indication::Calling
        );
        assert_eq!(
            of(CallState::InSession { since: t }, StreamState::Starting),
            Indication::Connecting
        );
        assert_eq!(
            of(CallState::InSession { since: t }, StreamState::Streaming),
            Indication::OnAir
        );
        // `always` mode streams with no call.
        assert_eq!(
            of(CallState::Idle, StreamState::Streaming),
            Indication::OnAir
        );
        assert_eq!(
            of(CallState::InSession { since: t }, error),
            Indication::NoConnection {
                reason: "video-rtp-sink: could not resolve hub".into()
            }
        );
    }

    #[test]
    fn a_stopped_video_is_sound_only_with_its_reason_on_a_steady_call_led() {
        let got = indication_for(IndicationInputs {
            call: &CallState::Idle,
            stream: &StreamState::Streaming,
            identify: false,
            video_stopped: Some(Trip::Congestion),
            send_refused: None,
        });
        assert_eq!(
            got,
            Indication::SoundOnly {
                trip: Trip::Congestion
            }
        );
        assert_eq!(got.name(), "sound_only");
        let leds = got.leds();
        assert_eq!(leds.call, LedPattern::On);
        assert_eq!(leds.status, LedPattern::BlinkSlow);
        assert_ne!(leds, Indication::OnAir.leds());
        // A stream that is not streaming says so, whatever the breaker.
        let starting = indication_for(IndicationInputs {
            call: &CallState::Idle,
            stream: &StreamState::Starting,
            identify: false,
            video_stopped: Some(Trip::Congestion),
            send_refused: None,
        });
        assert_eq!(starting, Indication::Connecting);
    }

    #[test]
    fn a_network_that_refuses_the_packets_is_no_connection_with_its_reason() {
        let got = indication_for(IndicationInputs {
            call: &CallState::Idle,
            stream: &StreamState::Streaming,
            identify: false,
            video_stopped: Some(Trip::Congestion),
            send_refused: Some("video-rtp-sink: Network is unreachable"),
        });
        assert_eq!(
            got,
            Indication::NoConnection {
                reason: "video-rtp-sink: Network is unreachable".into()
            }
        );
    }

    #[test]
    fn identify_overrides_everything() {
        let got = indication_for(IndicationInputs {
            call: &CallState::Idle,
            stream: &StreamState::Streaming,
            identify: true,
            video_stopped: None,
            send_refused: None,
        });
        assert_eq!(got, Indication::Identify);
        assert_eq!(got.name(), "identify");
    }
}
