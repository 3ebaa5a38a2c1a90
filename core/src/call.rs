//! The call/session state machine.
//!
//! A call starts with the call button. When the box has a signalling path to
//! the hub (MQTT, later), a short press asks the hub for a session
//! (`Calling`), and the hub's acceptance starts it; with no answer within the
//! call timeout the request lapses. Without signalling (standalone), a short
//! press starts the session at once. A long press ends a session or cancels a
//! pending call. Time is passed in; the machine never reads a clock.

use std::time::{Duration, Instant};

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// No call.
    Idle,
    /// A call was requested and the hub has not answered yet.
    Calling {
        /// When the request was made.
        since: Instant,
    },
    /// A session with the hub is running.
    InSession {
        /// When it started.
        since: Instant,
    },
}

impl CallState {
    /// The name used in logs, status reports and the simulated board.
    pub fn name(&self) -> &'static str {
        match self {
            CallState::Idle => "idle",
            CallState::Calling { .. } => "calling",
            CallState::InSession { .. } => "in_session",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Staff held the call button.
    LongPress,
    /// The hub ended it.
    Hub,
}

/// Something that happened to the call, for logs and (later) the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    /// Staff asked for a call; the hub must accept it.
    Requested,
    /// Staff cancelled a pending call.
    Cancelled,
    /// The hub did not answer within the call timeout.
    TimedOut,
    /// A session started.
    SessionStarted,
    /// A session ended.
    SessionEnded(EndReason),
}

/// Inputs to the call machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallInput {
    /// A short press of the call button.
    ShortPress,
    /// A long press of the call button.
    LongPress,
    /// The hub accepted the call (or started a session on its own).
    HubStart,
    /// The hub ended the session or refused the call.
    HubEnd,
}

/// The call/session state machine.
#[derive(Debug, Clone)]
pub struct CallMachine {
    state: CallState,
    hub_signalling: bool,
    call_timeout: Duration,
}

impl CallMachine {
    /// A machine in `Idle`. `hub_signalling` says whether a hub must accept calls.
    pub fn new(hub_signalling: bool, call_timeout: Duration) -> Self {
        CallMachine {
            state: CallState::Idle,
            hub_signalling,
            call_timeout,
        }
    }

    /// The current state.
    pub fn state(&self) -> CallState {
        self.state
    }

    /// Changes how long a call waits for the hub (from the next call on).
    pub fn set_call_timeout(&mut self, call_timeout: Duration) {
        self.call_timeout = call_timeout;
    }

    /// Whether the hub must accept calls (true once the box has signalling).
    pub fn set_hub_signalling(&mut self, on: bool) {
        self.hub_signalling = on;
    }

    /// Applies one input; returns what happened, if anything.
    pub fn handle(&mut self, input: CallInput, now: Instant) -> Option<CallEvent> {
        use CallInput::*;
        use CallState::*;
        let (next, event) = match (self.state, input) {
            (Idle, ShortPress) if self.hub_signalling => {
                (Calling { since: now }, Some(CallEvent::Requested))
            }
            (Idle, ShortPress) => (InSession { since: now }, Some(CallEvent::SessionStarted)),
            (Idle, LongPress) => (Idle, None),
            (Idle | Calling { .. }, HubStart) => {
                (InSession { since: now }, Some(CallEvent::SessionStarted))
            }
            (Idle, HubEnd) => (Idle, None),
            // A second short press while calling is the same request; keep waiting.
            (Calling { since }, ShortPress) => (Calling { since }, None),
            (Calling { .. }, LongPress) => (Idle, Some(CallEvent::Cancelled)),
            (Calling { .. }, HubEnd) => (Idle, Some(CallEvent::Cancelled)),
            // Short presses during a session do nothing: ending needs a deliberate hold.
            (InSession { since }, ShortPress | HubStart) => (InSession { since }, None),
            (InSession { .. }, LongPress) => {
                (Idle, Some(CallEvent::SessionEnded(EndReason::LongPress)))
            }
            (InSession { .. }, HubEnd) => (Idle, Some(CallEvent::SessionEnded(EndReason::Hub))),
        };
        self.state = next;
        event
    }

    /// When the machine next needs [`CallMachine::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            CallState::Calling { since } => Some(since + self.call_timeout),
            _ => None,
        }
    }

    /// Lets time pass: a pending call lapses at its timeout.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<CallEvent> {
        match self.state {
            CallState::Calling { since } if now >= since + self.call_timeout => {
                self.state = CallState::Idle;
                Some(CallEvent::TimedOut)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(60);

    #[test]
    fn standalone_short_press_starts_and_long_press_ends() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(false, T);
        assert_eq!(
            m.handle(CallInput::ShortPress, t0),
            Some(CallEvent::SessionStarted)
        );
        assert_eq!(m.state().name(), "in_session");
        assert_eq!(
            m.handle(CallInput::ShortPress, t0 + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            m.handle(CallInput::LongPress, t0 + Duration::from_secs(5)),
            Some(CallEvent::SessionEnded(EndReason::LongPress))
        );
        assert_eq!(m.state(), CallState::Idle);
    }

    #[test]
    fn with_signalling_a_press_requests_and_the_hub_accepts() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(true, T);
        assert_eq!(
            m.handle(CallInput::ShortPress, t0),
            Some(CallEvent::Requested)
        );
        assert_eq!(m.state(), CallState::Calling { since: t0 });
        assert_eq!(m.poll_timeout(), Some(t0 + T));
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            m.handle(CallInput::HubStart, t1),
            Some(CallEvent::SessionStarted)
        );
        assert_eq!(m.state(), CallState::InSession { since: t1 });
        assert_eq!(m.poll_timeout(), None);
        assert_eq!(
            m.handle(CallInput::HubEnd, t1),
            Some(CallEvent::SessionEnded(EndReason::Hub))
        );
    }

    #[test]
    fn an_unanswered_call_times_out_exactly_at_the_timeout() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(true, T);
        m.handle(CallInput::ShortPress, t0);
        assert_eq!(m.handle_timeout(t0 + T - Duration::from_millis(1)), None);
        assert_eq!(m.handle_timeout(t0 + T), Some(CallEvent::TimedOut));
        assert_eq!(m.state(), CallState::Idle);
    }

    #[test]
    fn a_long_press_cancels_a_pending_call() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(true, T);
        m.handle(CallInput::ShortPress, t0);
        assert_eq!(
            m.handle(CallInput::ShortPress, t0),
            None,
            "a repeat press is the same request"
        );
        assert_eq!(
            m.handle(CallInput::LongPress, t0),
            Some(CallEvent::Cancelled)
        );
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn a_long_press_when_idle_does_nothing() {
        let mut m = CallMachine::new(false, T);
        assert_eq!(m.handle(CallInput::LongPress, Instant::now()), None);
        assert_eq!(m.state(), CallState::Idle);
    }
}
