//! When the box sends a keyframe of its own accord: recovery that needs no
//! help from the hub's receiver (a stock ffmpeg recorder asks for nothing).
//!
//! A lost packet corrupts the hub's picture until the next keyframe, so
//! the box sends one, without waiting for the periodic one:
//! - when the hub's receiver reports come back after a gap of
//!   [`REPORT_GAP`] or more (the path was gone: what was sent meanwhile
//!   was lost);
//! - on a report of a burst of loss ([`BURST_LOSS`] or more since the
//!   previous report);
//! - when the box's own socket sends again after refusing packets for
//!   [`SEND_GAP`] or more (no route, DNS gone: seen with no receiver help
//!   at all);
//! - when the video resumes after the circuit breaker stopped it.
//!
//! At most one every [`MIN_SPACING`], so a lossy path is not flooded with
//! the biggest frames there are. No clock, no IO.

use std::time::{Duration, Instant};

/// Reports returning after this long without one ask for a keyframe.
pub const REPORT_GAP: Duration = Duration::from_secs(10);
/// A reported loss from which a keyframe is sent.
pub const BURST_LOSS: f64 = 0.10;
/// The socket refusing packets this long, then sending, asks for one.
pub const SEND_GAP: Duration = Duration::from_secs(1);
/// The shortest time between two keyframes this policy asks for.
pub const MIN_SPACING: Duration = Duration::from_secs(3);

/// Why the box sends a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeReason {
    /// The hub's reports came back after a gap.
    ReportsBack,
    /// The hub reported a burst of loss.
    LossBurst,
    /// The box's socket sends again after refusing packets.
    SendingAgain,
    /// The video resumes after the circuit breaker.
    VideoResumed,
}

impl KeyframeReason {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            KeyframeReason::ReportsBack => "reports_back",
            KeyframeReason::LossBurst => "loss_burst",
            KeyframeReason::SendingAgain => "sending_again",
            KeyframeReason::VideoResumed => "video_resumed",
        }
    }
}

/// The keyframe policy of one session's video.
#[derive(Debug, Clone, Default)]
pub struct KeyframePolicy {
    last_sent: Option<Instant>,
    sent: u64,
    /// Since when the socket refuses packets the pipeline hands it.
    refusing_since: Option<Instant>,
    /// The last counts seen: handed over, sent by the socket.
    counts: Option<(u64, u64)>,
}

impl KeyframePolicy {
    /// A policy that has sent nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keyframes asked for in this session.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Asks for a keyframe for `reason`, unless one was asked for less
    /// than [`MIN_SPACING`] ago. The circuit breaker's resume always gets
    /// one: the hub has nothing to decode without it.
    pub fn request(&mut self, reason: KeyframeReason, now: Instant) -> Option<KeyframeReason> {
        let spaced = self
            .last_sent
            .is_none_or(|at| now.saturating_duration_since(at) >= MIN_SPACING);
        if !spaced && reason != KeyframeReason::VideoResumed {
            return None;
        }
        self.last_sent = Some(now);
        self.sent += 1;
        Some(reason)
    }

    /// A new receiver report: `gap` since the previous one (`None` for the
    /// first) and its loss.
    pub fn on_report(
        &mut self,
        gap: Option<Duration>,
        fraction_lost: f64,
        now: Instant,
    ) -> Option<KeyframeReason> {
        if gap.is_some_and(|g| g >= REPORT_GAP) {
            return self.request(KeyframeReason::ReportsBack, now);
        }
        if fraction_lost.is_finite() && fraction_lost >= BURST_LOSS {
            return self.request(KeyframeReason::LossBurst, now);
        }
        None
    }

    /// The video packets handed to the socket and those it really sent, so
    /// far (every second).
    pub fn on_counts(&mut self, handed: u64, sent: u64, now: Instant) -> Option<KeyframeReason> {
        let before = self.counts.replace((handed, sent));
        let (handed_before, sent_before) = before?;
        let handed_moved = handed > handed_before;
        let sent_moved = sent > sent_before;
        if handed_moved && !sent_moved {
            self.refusing_since.get_or_insert(now);
            return None;
        }
        if sent_moved {
            if let Some(since) = self.refusing_since.take() {
                if now.saturating_duration_since(since) >= SEND_GAP {
                    return self.request(KeyframeReason::SendingAgain, now);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn reports_back_after_a_gap_ask_for_one_and_regular_ones_do_not() {
        let t0 = Instant::now();
        let mut p = KeyframePolicy::new();
        assert_eq!(p.on_report(None, 0.0, t0), None);
        assert_eq!(p.on_report(Some(s(5)), 0.0, t0 + s(5)), None);
        assert_eq!(
            p.on_report(Some(s(12)), 0.0, t0 + s(17)),
            Some(KeyframeReason::ReportsBack)
        );
        assert_eq!(p.sent(), 1);
    }

    #[test]
    fn a_loss_burst_asks_for_one_but_five_percent_does_not() {
        let t0 = Instant::now();
        let mut p = KeyframePolicy::new();
        assert_eq!(p.on_report(Some(s(5)), 0.05, t0), None);
        assert_eq!(
            p.on_report(Some(s(5)), 0.2, t0 + s(5)),
            Some(KeyframeReason::LossBurst)
        );
        assert_eq!(p.on_report(Some(s(5)), f64::NAN, t0 + s(10)), None);
    }

    #[test]
    fn they_are_spaced_except_the_resume() {
        let t0 = Instant::now();
        let mut p = KeyframePolicy::new();
        assert!(p.on_report(Some(s(1)), 0.5, t0).is_some());
        assert_eq!(p.on_report(Some(s(1)), 0.5, t0 + s(1)), None);
        assert_eq!(p.on_report(Some(s(1)), 0.5, t0 + s(2)), None);
        assert!(p.on_report(Some(s(1)), 0.5, t0 + s(3)).is_some());
        assert_eq!(
            p.request(KeyframeReason::VideoResumed, t0 + s(3)),
            Some(KeyframeReason::VideoResumed)
        );
        assert_eq!(p.sent(), 3);
        // A flood of reports a millisecond apart: one keyframe per spacing.
        let mut q = KeyframePolicy::new();
        let n = (0..10_000)
            .filter(|i| {
                q.on_report(Some(s(20)), 0.9, t0 + Duration::from_millis(*i))
                    .is_some()
            })
            .count();
        assert_eq!(n, 4, "10 s of reports, one keyframe per 3 s");
    }

    #[test]
    fn a_socket_that_sends_again_after_refusing_asks_for_one() {
        let t0 = Instant::now();
        let mut p = KeyframePolicy::new();
        assert_eq!(p.on_counts(100, 100, t0), None);
        assert_eq!(p.on_counts(130, 130, t0 + s(1)), None);
        // No route: handed over, not sent, for 3 s.
        assert_eq!(p.on_counts(160, 130, t0 + s(2)), None);
        assert_eq!(p.on_counts(190, 130, t0 + s(3)), None);
        assert_eq!(p.on_counts(220, 130, t0 + s(4)), None);
        assert_eq!(
            p.on_counts(250, 160, t0 + s(5)),
            Some(KeyframeReason::SendingAgain)
        );
        assert_eq!(p.on_counts(280, 190, t0 + s(6)), None);
    }

    #[test]
    fn a_refusal_shorter_than_the_gap_or_an_idle_encoder_asks_for_none() {
        let t0 = Instant::now();
        let mut p = KeyframePolicy::new();
        p.on_counts(100, 100, t0);
        p.on_counts(130, 100, t0 + Duration::from_millis(1500));
        assert_eq!(
            p.on_counts(160, 160, t0 + Duration::from_millis(2000)),
            None
        );
        // Nothing handed over, nothing sent: not a refusal.
        let mut q = KeyframePolicy::new();
        for i in 0..10 {
            assert_eq!(q.on_counts(5, 5, t0 + s(i)), None);
        }
    }
}
