//! The network impairment model: what a provincial DSL or 4G link does to
//! the packets between a box and the hub, decided packet by packet.
//!
//! Sans-IO, as str0m's `Rtc` is: no socket, thread or clock in here. The
//! caller hands [`ImpairmentModel::handle_packet`] each packet's direction,
//! size and the current [`Instant`](std::time::Instant), and gets back a
//! [`Decision`]: dropped (and why) or delivered at a given instant. The
//! relay (`relay.rs`) carries the decisions out on real sockets; the unit
//! tests (in `model.rs`) feed synthetic times and run a hundred thousand
//! packets in milliseconds.
//!
//! Per direction (box → hub is "up", hub → box "down"), in this order:
//! 1. **blackout**: everything is dropped;
//! 2. **loss**: random (independent, one probability) or bursty
//!    (Gilbert-Elliott: a good and a bad state, each with its loss
//!    probability, and per-packet chances to move between them);
//! 3. **rate limit**: a bottleneck of so many bits per second with a
//!    drop-tail queue of so many bytes (or so much time at the rate); a
//!    packet that does not fit is dropped, one that fits waits its turn;
//! 4. **delay and jitter**: a fixed one-way delay plus a random offset within
//!    ±jitter (uniform, or normal with σ = jitter/2 cut off at ±jitter);
//!    without `reorder` a packet never leaves before the one before it.
//!
//! A [`Script`] is a list of [`Phase`]s, each with its settings per direction
//! and how long it lasts (RFC 8867's capacity steps, an outage, a lossy
//! minute); the model switches settings at the phase boundaries, measured
//! from when the script was set. After the last timed phase the link is
//! clear; a script ending in `repeat` starts over. Scripts have a plain text
//! form for the command line ([`Script::parse`], docs/impairment.md), which
//! [`Script`]'s `Display` writes back.
//!
//! Randomness comes from a seeded SplitMix64 per direction and purpose, so a
//! seed and the same packets give the same decisions, whatever the other
//! direction does.
//!
//! The parts: `settings.rs` (what a link does, one direction and phase),
//! `script.rs` (phases over time and their text form), `rng.rs` (the
//! seeded random draws) and `model.rs` (the packet-by-packet decisions).

use std::time::Duration;

mod model;
mod rng;
mod script;
mod settings;

pub use model::{Decision, DirectionCounters, DropCause, ImpairmentModel};
pub use script::{parse_duration, PhasePosition, Script, ScriptError};
pub use settings::{
    Direction, GilbertElliott, Impairment, JitterShape, Loss, Phase, QueueLimit, RateLimit,
};

/// The longest delay, jitter or phase the model takes; longer values are
/// cut to it (the parser refuses them).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The queue of a rate limit when none is given: RFC 8867's 300 ms at the
/// rate.
pub const DEFAULT_QUEUE: QueueLimit = QueueLimit::Delay(Duration::from_millis(300));

/// Fixtures shared by the tests of the files here.
#[cfg(test)]
mod test_support {
    use std::time::Duration;

    pub(super) fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    pub(super) fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// RFC 8867 section 5.1: 1 Mbit/s, 2.5 at 40 s, 0.6 at 60 s, 1 at 80 s.
    pub(super) const RFC_8867_STEPS: &str =
        "rate=1000kbit delay=50ms for 40s; rate=2500kbit delay=50ms for 20s; \
         rate=600kbit delay=50ms for 20s; rate=1000kbit delay=50ms for 20s";
}
