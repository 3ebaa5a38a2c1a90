//! Exponential back-off with optional jitter: the one retry delay of the
//! project (the pipeline's restarts, the box's broker reconnects, bpctl's
//! reconnects in `watch`).
//!
//! Sans-IO like the rest of the core: it returns delays and never sleeps,
//! and the randomness for the jitter is passed in, so tests see exact
//! delays. Jitter matters where many boxes retry against one server: after
//! a broker restart 700 boxes must not reconnect in the same second.

use std::time::Duration;

/// Delays that double from `initial` up to `max`, each shortened by a
/// random part of up to `jitter` of itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    /// Doubling from `initial` to `max`, without jitter.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            jitter: 0.0,
            attempts: 0,
        }
    }

    /// Each delay is shortened by up to `fraction` (0 to 1) of itself,
    /// chosen by the `random` value given to [`Backoff::next_delay`].
    pub fn with_jitter(mut self, fraction: f64) -> Backoff {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The delay before the next attempt. `random` is a number in `[0, 1)`
    /// (any value is clamped); it only matters with jitter.
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let factor = 1u32 << self.attempts.min(16);
        self.attempts = self.attempts.saturating_add(1);
        let base = self.initial.saturating_mul(factor).min(self.max);
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 - self.jitter * random))
            .map_or(base, |d| d.min(base))
    }

    /// The attempt succeeded: start again from `initial`.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn delays_double_up_to_the_cap_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let got: Vec<f64> = (0..10).map(|_| secs(b.next_delay(0.7))).collect();
        assert_eq!(got, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]);
        assert_eq!(b.attempts(), 10);
        b.reset();
        assert_eq!(secs(b.next_delay(0.0)), 0.5);
    }

    #[test]
    fn jitter_shortens_each_delay_by_at_most_its_fraction() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).with_jitter(0.5);
        assert_eq!(secs(b.next_delay(0.0)), 1.0);
        assert_eq!(secs(b.next_delay(0.5)), 1.5, "2 s less a quarter");
        assert_eq!(secs(b.next_delay(1.0)), 2.0, "4 s less half");
        for r in [f64::NAN, -3.0, 7.0] {
            let d = b.next_delay(r);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(10),
                "{r}: {d:?}"
            );
        }
    }

    #[test]
    fn many_boxes_with_different_randomness_spread_out() {
        let delays: Vec<Duration> = (0..700)
            .map(|i| {
                let mut b =
                    Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).with_jitter(0.5);
                b.next_delay(f64::from(i) / 700.0)
            })
            .collect();
        let early = delays
            .iter()
            .filter(|d| **d < Duration::from_millis(750))
            .count();
        assert!(
            (300..=400).contains(&early),
            "about half in the first half: {early}"
        );
    }

    #[test]
    fn a_huge_attempt_count_does_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(u64::MAX / 4), Duration::MAX);
        for _ in 0..100 {
            b.next_delay(0.5);
        }
        assert_eq!(b.attempts(), 100);
    }
}
