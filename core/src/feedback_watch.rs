//! Whether the hub's RTCP receiver reports keep coming: the box must say
//! plainly whether it sends to a receiver that reports (a real RTP stack at
//! the hub) or to one that does not (a stock ffmpeg recorder).
//!
//! rtpbin keeps the hub's last report block forever, so "a report exists"
//! is not enough: a report is new when its fingerprint changed (its
//! extended highest sequence number, and the last-sender-report fields,
//! which move with every report even when no media arrives;
//! [`crate::send_control::ReportBlock::fingerprint`]). The daemon feeds
//! [`FeedbackWatch::observe`] with it (or `None` while there is no report)
//! and the current time; no clock, no IO.

use std::time::{Duration, Instant};

use bridgepoint_proto::FeedbackStatus;

/// How long without a new receiver report before the box says `none`
/// (RTCP's interval is 5 s at most for a session this size, RFC 3550 6.2).
pub const REPORTS_STALE_AFTER: Duration = Duration::from_secs(10);

/// Watches the hub's receiver reports.
#[derive(Debug, Clone, Default)]
pub struct FeedbackWatch {
    /// The last report's fingerprint and when it changed.
    last: Option<(u64, Instant)>,
}

impl FeedbackWatch {
    /// A watch that has seen no report.
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest report's fingerprint (`None` while the hub has sent
    /// none), at `now`: whether reports come.
    pub fn observe(&mut self, fingerprint: Option<u64>, now: Instant) -> FeedbackStatus {
        if let Some(seq) = fingerprint {
            match self.last {
                Some((last, _)) if last == seq => {}
                _ => self.last = Some((seq, now)),
            }
        }
        self.status(now)
    }

    /// Whether a report with this fingerprint is one not seen before.
    pub fn is_new(&self, fingerprint: u64) -> bool {
        self.last.is_none_or(|(last, _)| last != fingerprint)
    }

    /// Whether reports come, as of the last observation.
    pub fn status(&self, now: Instant) -> FeedbackStatus {
        match self.last {
            Some((_, at)) if now.saturating_duration_since(at) < REPORTS_STALE_AFTER => {
                FeedbackStatus::ReceiverReports
            }
            _ => FeedbackStatus::None,
        }
    }

    /// A new session's pipeline: its reports start afresh.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The hub's RTCP arrived (authenticated) without a new report block
    /// for the box's stream: a hub that sends feedback (NACK, PLI) between
    /// its regular reports, which such traffic may push back well past
    /// 10 s. Once a report has been seen, this keeps the reports counted
    /// as coming; before the first one it changes nothing.
    pub fn heard(&mut self, now: Instant) {
        if let Some((fingerprint, _)) = self.last {
            self.last = Some((fingerprint, now));
        }
    }

    /// When the last new report came.
    pub fn last_report_at(&self) -> Option<Instant> {
        self.last.map(|(_, at)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_report_is_none() {
        let t0 = Instant::now();
        let mut w = FeedbackWatch::new();
        for s in 0..30 {
            assert_eq!(
                w.observe(None, t0 + Duration::from_secs(s)),
                FeedbackStatus::None
            );
        }
    }

    #[test]
    fn reports_that_keep_moving_are_receiver_reports() {
        let t0 = Instant::now();
        let mut w = FeedbackWatch::new();
        // A report every 5 s, each about more of the stream.
        for s in 0..60u64 {
            let seq = (s / 5) * 150 + 1000;
            let status = w.observe(Some(seq), t0 + Duration::from_secs(s));
            assert_eq!(status, FeedbackStatus::ReceiverReports, "at {s} s");
        }
    }

    #[test]
    fn a_hub_that_stops_reporting_is_none_10_s_after_its_last_new_report() {
        let t0 = Instant::now();
        let mut w = FeedbackWatch::new();
        w.observe(Some(1000), t0);
        w.observe(Some(1150), t0 + Duration::from_secs(5));
        // rtpbin keeps repeating the last block; it is no longer new.
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(
            w.observe(Some(1150), at(14)),
            FeedbackStatus::ReceiverReports
        );
        assert_eq!(w.observe(Some(1150), at(15)), FeedbackStatus::None);
        // It comes back.
        assert_eq!(
            w.observe(Some(1300), at(40)),
            FeedbackStatus::ReceiverReports
        );
    }

    #[test]
    fn the_hubs_feedback_between_reports_keeps_them_counted_but_is_no_report_by_itself() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = FeedbackWatch::new();
        // NACKs before any report: still none.
        w.heard(at(1));
        assert_eq!(w.status(at(1)), FeedbackStatus::None);
        w.observe(Some(10), at(2));
        // The regular report is pushed back by NACKs every second.
        for s in 3..30 {
            w.heard(at(s));
            assert_eq!(
                w.observe(Some(10), at(s)),
                FeedbackStatus::ReceiverReports,
                "at {s} s"
            );
        }
        // Silence: none 10 s after the last packet.
        assert_eq!(w.observe(Some(10), at(39)), FeedbackStatus::None);
    }

    #[test]
    fn reset_forgets_the_last_session() {
        let t0 = Instant::now();
        let mut w = FeedbackWatch::new();
        w.observe(Some(7), t0);
        w.reset();
        assert_eq!(w.status(t0), FeedbackStatus::None);
        // The same number in the next session is a new report.
        assert_eq!(
            w.observe(Some(7), t0 + Duration::from_secs(1)),
            FeedbackStatus::ReceiverReports
        );
    }
}
