//! RFC 8083's RTP circuit breakers for the box's video: when the hub's
//! receiver reports show the path persistently unusable, the video stops
//! (the audio keeps going, the room is told why) and comes back when the
//! path recovers.
//!
//! Three breakers, each decided from new receiver reports (a receiver that
//! sends none, a stock ffmpeg recorder, never arms any of them):
//! - **RTCP timeout** (RFC 8083 4.1): reports came, then none for
//!   [`RTCP_TIMEOUT_INTERVALS`] reporting intervals (RFC 3550's participant
//!   timeout) and never less than [`RTCP_TIMEOUT_FLOOR`], so the outage the
//!   box is expected to ride through (30 s) does not stop the video.
//! - **Media timeout** (4.2): [`MEDIA_TIMEOUT_REPORTS`] reports in a row
//!   whose extended highest sequence number did not move while the box
//!   sent video: the hub hears reports from the box but no media arrives.
//! - **Congestion** (4.3): the video sent faster than ten times what a TCP
//!   flow would get on the same path (the TCP throughput equation, RFC 5348
//!   3.1, with the reported loss and round trip) over
//!   [`CONGESTION_REPORTS`] reports in a row.
//!
//! Resuming: RFC 8083 leaves it to the application. Here the video stays
//! off for a hold ([`FIRST_HOLD`], doubling with each trip in a session up
//! to [`LONGEST_HOLD`]; none after an RTCP timeout, whose cause is simply
//! the path being gone) and comes back at the first new report afterwards
//! (of the video or, while the video is off, the audio) whose loss is under
//! [`RESUME_LOSS`]. The rate control then starts from its floor.
//!
//! A hub that reports on the video only says nothing more once the video
//! stops (its reports carry blocks only for sources that sent): when no
//! report at all came since the trip, the video comes back at the hold's
//! end as a probe, and trips again (for twice as long) if the path still
//! cannot carry it.
//!
//! After an RTCP timeout no report may ever come again: the hub's RTP
//! stack may have been replaced by a recorder that sends none (a stock
//! ffmpeg). So the video also comes back by itself [`RTCP_TIMEOUT_RETRY`]
//! after that trip, and the box treats the hub as one that does not report
//! (the breakers arm again when a report comes): a session in `always`
//! mode never stays without video for good.
//!
//! The parameters (5 reporting intervals, a factor of ten, 3 intervals)
//! are RFC 8083's as recalled, not checked against the text here;
//! docs/configuration.md says so. No clock, no IO: times come in.

use std::time::{Duration, Instant};

/// Reporting intervals without a report before the RTCP timeout trips.
pub const RTCP_TIMEOUT_INTERVALS: u32 = 5;
/// The RTCP timeout is never shorter than this.
pub const RTCP_TIMEOUT_FLOOR: Duration = Duration::from_secs(40);
/// Reports in a row showing no media arriving before the media timeout trips.
pub const MEDIA_TIMEOUT_REPORTS: u32 = 5;
/// Reports in a row over ten times the TCP rate before congestion trips.
pub const CONGESTION_REPORTS: u32 = 3;
/// How many times the TCP-friendly rate the video may send.
pub const TCP_RATE_FACTOR: f64 = 10.0;
/// The hold after the first trip of a session.
pub const FIRST_HOLD: Duration = Duration::from_secs(10);
/// The longest hold.
pub const LONGEST_HOLD: Duration = Duration::from_secs(160);
/// Loss under which a report says the path can carry video again.
pub const RESUME_LOSS: f64 = 0.10;
/// After an RTCP timeout with no report since, the video comes back anyway.
pub const RTCP_TIMEOUT_RETRY: Duration = Duration::from_secs(60);
/// The reporting interval assumed before two reports are seen (RFC 3550's
/// minimum).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Which breaker tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    /// Receiver reports stopped.
    RtcpTimeout,
    /// Reports say no media arrives.
    MediaTimeout,
    /// The path is congested far beyond what the video may take.
    Congestion,
}

impl Trip {
    /// A short name for logs, telemetry and the board's state.
    pub fn name(self) -> &'static str {
        match self {
            Trip::RtcpTimeout => "rtcp_timeout",
            Trip::MediaTimeout => "media_timeout",
            Trip::Congestion => "congestion",
        }
    }

    /// Why, in Vietnamese, for the room's screen.
    pub fn reason_vi(self) -> &'static str {
        match self {
            Trip::RtcpTimeout => "Trung ương không còn báo nhận được tín hiệu",
            Trip::MediaTimeout => "Trung ương báo không nhận được hình ảnh",
            Trip::Congestion => "đường truyền mất quá nhiều dữ liệu để gửi hình ảnh",
        }
    }

    /// Why, in words, for logs and the room's screen.
    pub fn reason(self) -> &'static str {
        match self {
            Trip::RtcpTimeout => "the hub's receiver reports stopped",
            Trip::MediaTimeout => "the hub reports that no video arrives",
            Trip::Congestion => "the network loses too much for video",
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Video flows.
    Closed,
    /// Video stopped.
    Open {
        /// Why.
        trip: Trip,
        /// Not before this may it come back.
        hold_until: Instant,
    },
}

/// What a new report says, as far as the breakers are concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportFacts {
    /// Whether the extended highest sequence number moved since the
    /// previous report of the same session.
    pub seq_moved: bool,
    /// Fraction lost since the previous report.
    pub fraction_lost: f64,
    /// Round trip, if the report carries one.
    pub rtt_ms: Option<f64>,
}

/// What the box sent since the previous video report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentSince {
    /// Video bytes the socket sent.
    pub bytes: u64,
    /// Video packets the socket sent.
    pub packets: u64,
    /// Over how long.
    pub over: Duration,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerChange {
    /// The video must stop.
    Tripped(Trip),
    /// The video may flow again.
    Reset,
}

/// The circuit breakers of one session's video.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    state: BreakerState,
    /// When the last new report (of either session) came.
    last_report_at: Option<Instant>,
    /// The reporting interval, smoothed.
    interval: Duration,
    stuck_reports: u32,
    congested_reports: u32,
    trips: u32,
    /// When it last tripped, and why.
    tripped_at: Option<Instant>,
    last_trip: Option<Trip>,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitBreaker {
    /// A closed breaker that has seen no report.
    pub fn new() -> Self {
        CircuitBreaker {
            state: BreakerState::Closed,
            last_report_at: None,
            interval: DEFAULT_INTERVAL,
            stuck_reports: 0,
            congested_reports: 0,
            trips: 0,
            tripped_at: None,
            last_trip: None,
        }
    }

    /// Which breaker tripped last (the one a [`BreakerChange::Reset`]
    /// ends).
    pub fn last_trip(&self) -> Option<Trip> {
        self.last_trip
    }

    /// The state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether the video is stopped.
    pub fn is_open(&self) -> bool {
        matches!(self.state, BreakerState::Open { .. })
    }

    /// How many times it tripped in this session.
    pub fn trips(&self) -> u32 {
        self.trips
    }

    /// The RTCP timeout as the reports' interval stands now.
    pub fn rtcp_timeout(&self) -> Duration {
        (self.interval * RTCP_TIMEOUT_INTERVALS).max(RTCP_TIMEOUT_FLOOR)
    }

    fn note_report(&mut self, now: Instant) {
        if let Some(last) = self.last_report_at {
            let gap = now.saturating_duration_since(last);
            // A gap of an outage is not an interval.
            if gap <= Duration::from_secs(30) {
                self.interval = (self.interval * 3 + gap) / 4;
            }
        }
        self.last_report_at = Some(now);
    }

    /// A new report on the video session, with what the box sent since the
    /// previous one (`None` for the first or while the video is stopped).
    pub fn on_video_report(
        &mut self,
        facts: ReportFacts,
        sent: Option<SentSince>,
        now: Instant,
    ) -> Option<BreakerChange> {
        self.note_report(now);
        if self.is_open() {
            return self.maybe_resume(facts, now);
        }
        let sending = sent.is_some_and(|s| s.packets > 0);
        self.stuck_reports = if sending && !facts.seq_moved {
            self.stuck_reports + 1
        } else {
            0
        };
        if self.stuck_reports >= MEDIA_TIMEOUT_REPORTS {
            return Some(self.trip(Trip::MediaTimeout, now));
        }
        let over = match (sent, facts.rtt_ms) {
            (Some(sent), Some(rtt)) if sent.packets > 0 && !sent.over.is_zero() => {
                let rate = sent.bytes as f64 / sent.over.as_secs_f64();
                let size = sent.bytes as f64 / sent.packets as f64;
                tcp_rate_bytes_per_s(size, rtt / 1000.0, facts.fraction_lost)
                    .is_some_and(|tcp| rate > TCP_RATE_FACTOR * tcp)
            }
            _ => false,
        };
        self.congested_reports = if over { self.congested_reports + 1 } else { 0 };
        if self.congested_reports >= CONGESTION_REPORTS {
            return Some(self.trip(Trip::Congestion, now));
        }
        None
    }

    /// A new report on the audio session: while the video is stopped it
    /// says whether the path recovered.
    pub fn on_audio_report(&mut self, facts: ReportFacts, now: Instant) -> Option<BreakerChange> {
        self.note_report(now);
        if self.is_open() {
            return self.maybe_resume(facts, now);
        }
        None
    }

    /// Time passes: the RTCP timeout, the retry after it, and the probe at
    /// a hold's end when nothing reported since the trip.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<BreakerChange> {
        if let BreakerState::Open { trip, hold_until } = self.state {
            let heard_since = match (self.last_report_at, self.tripped_at) {
                (Some(report), Some(tripped)) => report > tripped,
                _ => false,
            };
            if trip != Trip::RtcpTimeout && now >= hold_until && !heard_since {
                self.state = BreakerState::Closed;
                return Some(BreakerChange::Reset);
            }
        }
        if let BreakerState::Open {
            trip: Trip::RtcpTimeout,
            hold_until,
        } = self.state
        {
            if now < hold_until {
                return None;
            }
            // No report since: a hub that does not report (any more).
            self.state = BreakerState::Closed;
            self.last_report_at = None;
            return Some(BreakerChange::Reset);
        }
        let last = self.last_report_at?;
        if self.is_open() || now.saturating_duration_since(last) < self.rtcp_timeout() {
            return None;
        }
        Some(self.trip(Trip::RtcpTimeout, now))
    }

    fn trip(&mut self, trip: Trip, now: Instant) -> BreakerChange {
        let hold = match trip {
            // Not a hold: the time after which the video comes back with
            // no report (a report brings it back at once).
            Trip::RtcpTimeout => RTCP_TIMEOUT_RETRY,
            _ => (FIRST_HOLD * 2u32.saturating_pow(self.trips.min(8))).min(LONGEST_HOLD),
        };
        self.trips += 1;
        self.tripped_at = Some(now);
        self.last_trip = Some(trip);
        self.stuck_reports = 0;
        self.congested_reports = 0;
        self.state = BreakerState::Open {
            trip,
            hold_until: now + hold,
        };
        BreakerChange::Tripped(trip)
    }

    fn maybe_resume(&mut self, facts: ReportFacts, now: Instant) -> Option<BreakerChange> {
        let BreakerState::Open { trip, hold_until } = self.state else {
            return None;
        };
        let usable = facts.seq_moved && facts.fraction_lost < RESUME_LOSS;
        let held = trip == Trip::RtcpTimeout || now >= hold_until;
        if held && usable {
            self.state = BreakerState::Closed;
            return Some(BreakerChange::Reset);
        }
        None
    }
}

/// The TCP throughput equation (RFC 5348 3.1, b = 1, t_RTO = 4 R), in bytes
/// a second, for packets of `size` bytes, a round trip of `rtt_s` and a
/// loss event rate `p`; `None` without loss (no limit) or without a usable
/// round trip.
pub fn tcp_rate_bytes_per_s(size: f64, rtt_s: f64, p: f64) -> Option<f64> {
    let usable = p > 0.0 && p <= 1.0 && rtt_s.is_finite() && rtt_s > 0.0 && size > 0.0;
    if !usable {
        return None;
    }
    let t_rto = 4.0 * rtt_s;
    let denominator = rtt_s * (2.0 * p / 3.0).sqrt()
        + t_rto * (3.0 * (3.0 * p / 8.0).sqrt()) * p * (1.0 + 32.0 * p * p);
    Some(size / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn facts(seq_moved: bool, loss: f64) -> ReportFacts {
        ReportFacts {
            seq_moved,
            fraction_lost: loss,
            rtt_ms: Some(100.0),
        }
    }

    /// 5 s of video at `kbps` in 1200-byte packets.
    fn sent(kbps: u64) -> Option<SentSince> {
        let bytes = kbps * 1000 / 8 * 5;
        Some(SentSince {
            bytes,
            packets: bytes / 1200,
            over: s(5),
        })
    }

    /// Three reports of 40 % loss, 5 s apart, after `after`: the third
    /// trips the congestion breaker. Returns when.
    fn trip_congestion(cb: &mut CircuitBreaker, after: Instant) -> Instant {
        let mut change = None;
        for i in 1..=3 {
            change = cb.on_video_report(facts(true, 0.4), sent(300), after + s(5 * i));
        }
        assert_eq!(change, Some(BreakerChange::Tripped(Trip::Congestion)));
        after + s(15)
    }

    #[test]
    fn the_tcp_equation_gives_the_textbook_figures() {
        // 1200-byte packets, 100 ms: about 354 kbit/s at 5 % loss, about
        // 19 kbit/s at 30 %.
        let at5 = tcp_rate_bytes_per_s(1200.0, 0.1, 0.05).unwrap() * 8.0 / 1000.0;
        assert!((340.0..370.0).contains(&at5), "{at5}");
        let at30 = tcp_rate_bytes_per_s(1200.0, 0.1, 0.30).unwrap() * 8.0 / 1000.0;
        assert!((15.0..25.0).contains(&at30), "{at30}");
        assert_eq!(tcp_rate_bytes_per_s(1200.0, 0.1, 0.0), None);
        assert_eq!(tcp_rate_bytes_per_s(1200.0, f64::NAN, 0.1), None);
        assert_eq!(tcp_rate_bytes_per_s(1200.0, 0.1, 1.5), None);
    }

    #[test]
    fn five_percent_loss_at_the_ceiling_never_trips() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        for i in 0..100 {
            assert_eq!(
                cb.on_video_report(facts(true, 0.05), sent(2000), t0 + s(5 * i)),
                None
            );
        }
        assert!(!cb.is_open());
    }

    #[test]
    fn persistent_heavy_loss_trips_on_the_third_report_and_not_before() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        assert_eq!(cb.on_video_report(facts(true, 0.3), sent(300), t0), None);
        assert_eq!(
            cb.on_video_report(facts(true, 0.3), sent(300), t0 + s(5)),
            None
        );
        assert_eq!(
            cb.on_video_report(facts(true, 0.3), sent(300), t0 + s(10)),
            Some(BreakerChange::Tripped(Trip::Congestion))
        );
        assert!(cb.is_open());
    }

    #[test]
    fn a_clear_report_between_heavy_ones_starts_the_count_again() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        for (i, loss) in [0.3, 0.3, 0.0, 0.3, 0.3, 0.0, 0.3].into_iter().enumerate() {
            assert_eq!(
                cb.on_video_report(facts(true, loss), sent(300), t0 + s(5 * i as u64)),
                None
            );
        }
    }

    #[test]
    fn reports_that_see_no_media_trip_the_media_timeout_after_five() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        for i in 0..4 {
            assert_eq!(
                cb.on_video_report(facts(false, 0.0), sent(1000), t0 + s(5 * i)),
                None
            );
        }
        assert_eq!(
            cb.on_video_report(facts(false, 0.0), sent(1000), t0 + s(20)),
            Some(BreakerChange::Tripped(Trip::MediaTimeout))
        );
    }

    #[test]
    fn a_box_that_sends_nothing_is_not_a_media_timeout() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        for i in 0..10 {
            assert_eq!(
                cb.on_video_report(facts(false, 0.0), None, t0 + s(5 * i)),
                None
            );
        }
    }

    #[test]
    fn no_report_ever_never_trips_but_reports_that_stop_do_after_the_timeout() {
        let t0 = Instant::now();
        let mut silent = CircuitBreaker::new();
        for i in 0..1000 {
            assert_eq!(silent.handle_timeout(t0 + s(i)), None);
        }

        let mut cb = CircuitBreaker::new();
        for i in 0..4 {
            cb.on_video_report(facts(true, 0.0), sent(1000), t0 + s(5 * i));
        }
        let last = t0 + s(15);
        assert_eq!(cb.rtcp_timeout(), RTCP_TIMEOUT_FLOOR);
        // A 30 s outage is ridden through.
        assert_eq!(cb.handle_timeout(last + s(30)), None);
        assert_eq!(cb.handle_timeout(last + s(39)), None);
        assert_eq!(
            cb.handle_timeout(last + s(40)),
            Some(BreakerChange::Tripped(Trip::RtcpTimeout))
        );
        // Reports come back with the path: the video resumes at once.
        assert_eq!(
            cb.on_audio_report(facts(true, 0.0), last + s(52)),
            Some(BreakerChange::Reset)
        );
    }

    #[test]
    fn after_an_rtcp_timeout_with_no_report_since_the_video_comes_back_and_stays() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        cb.on_video_report(facts(true, 0.0), sent(1000), t0);
        let tripped = t0 + RTCP_TIMEOUT_FLOOR;
        assert_eq!(
            cb.handle_timeout(tripped),
            Some(BreakerChange::Tripped(Trip::RtcpTimeout))
        );
        assert_eq!(cb.handle_timeout(tripped + s(59)), None);
        assert_eq!(
            cb.handle_timeout(tripped + RTCP_TIMEOUT_RETRY),
            Some(BreakerChange::Reset)
        );
        // A hub that does not report: nothing trips again without a report.
        for i in 0..1000 {
            assert_eq!(cb.handle_timeout(tripped + RTCP_TIMEOUT_RETRY + s(i)), None);
        }
        assert!(!cb.is_open());
    }

    #[test]
    fn it_resumes_after_the_hold_on_a_clean_report_and_the_hold_doubles() {
        let mut cb = CircuitBreaker::new();
        let at = trip_congestion(&mut cb, Instant::now());
        // Clean but within the hold: stays off.
        assert_eq!(cb.on_audio_report(facts(true, 0.0), at + s(9)), None);
        // Still lossy after the hold: stays off.
        assert_eq!(cb.on_audio_report(facts(true, 0.3), at + s(12)), None);
        // Clean after it: back.
        assert_eq!(
            cb.on_audio_report(facts(true, 0.01), at + s(15)),
            Some(BreakerChange::Reset)
        );
        let at = trip_congestion(&mut cb, at + s(15));
        assert_eq!(
            cb.on_audio_report(facts(true, 0.0), at + s(15)),
            None,
            "20 s hold now"
        );
        assert_eq!(
            cb.on_audio_report(facts(true, 0.0), at + s(21)),
            Some(BreakerChange::Reset)
        );
        assert_eq!(cb.trips(), 2);
    }

    #[test]
    fn with_no_report_since_the_trip_the_video_probes_at_the_holds_end() {
        let mut cb = CircuitBreaker::new();
        let t = trip_congestion(&mut cb, Instant::now());
        assert!(cb.is_open());
        // A hub reporting on the video only: silence once it stops.
        assert_eq!(cb.handle_timeout(t + s(9)), None);
        assert_eq!(cb.handle_timeout(t + s(10)), Some(BreakerChange::Reset));
        // Still congested: it trips again, for 20 s.
        let t = trip_congestion(&mut cb, t + s(10));
        assert_eq!(cb.handle_timeout(t + s(19)), None);
        assert_eq!(cb.handle_timeout(t + s(20)), Some(BreakerChange::Reset));
    }

    #[test]
    fn lossy_reports_since_the_trip_keep_the_video_off_past_the_hold() {
        let mut cb = CircuitBreaker::new();
        let t = trip_congestion(&mut cb, Instant::now());
        // The audio's reports go on and say the path still loses 30 %.
        for i in 1..=6 {
            assert_eq!(cb.on_audio_report(facts(true, 0.3), t + s(5 * i)), None);
            assert_eq!(cb.handle_timeout(t + s(5 * i)), None);
        }
        assert!(cb.is_open());
    }

    #[test]
    fn the_hold_never_exceeds_the_longest() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        cb.trips = 30;
        cb.trip(Trip::Congestion, t0);
        let BreakerState::Open { hold_until, .. } = cb.state() else {
            panic!("open");
        };
        assert_eq!(hold_until - t0, LONGEST_HOLD);
    }

    #[test]
    fn nonsense_in_a_report_trips_nothing() {
        let t0 = Instant::now();
        let mut cb = CircuitBreaker::new();
        for i in 0..20 {
            let f = ReportFacts {
                seq_moved: true,
                fraction_lost: f64::NAN,
                rtt_ms: Some(-5.0),
            };
            assert_eq!(cb.on_video_report(f, sent(2000), t0 + s(i)), None);
        }
    }
}
