//! What the box does with what it learns about the path to the hub, once a
//! second, for one session: [`SendControl`] composes the feedback watch,
//! the rate control, the audio's protection, the circuit breakers and the
//! keyframe policy, and says what the pipeline must do.
//!
//! The daemon reads the hub's latest receiver report of each session
//! (rtpbin keeps the last one) and its own sockets' counters every second
//! and hands them in as a [`SendObservation`] with the time; the answers
//! come out of [`SendControl::poll_action`]. With no reports (a stock
//! ffmpeg recorder) only the socket-based keyframe rule runs: the video
//! keeps the configured bitrate and the box says `feedback: none`.
//! No clock, no IO.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bridgepoint_proto::FeedbackStatus;

use crate::circuit_breaker::{
    BreakerChange, BreakerState, CircuitBreaker, ReportFacts, SentSince, Trip,
};
use crate::delay_control::{DelayChange, DelayControl, PacketResult};
use crate::feedback_watch::FeedbackWatch;
use crate::keyframe_policy::{KeyframePolicy, KeyframeReason};
use crate::rate_control::{
    audio_protection_for, AudioProtection, RateChange, RateControl, ReceiverReport,
};
use crate::retransmission::RetransmissionRate;

/// The hub's latest report block about one of the box's streams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportBlock {
    /// The extended highest sequence number received.
    pub highest_seq: u32,
    /// The last-sender-report and delay-since fields: they change with each
    /// new report even when the sequence number does not.
    pub lsr: u32,
    /// See `lsr`.
    pub dlsr: u32,
    /// Fraction lost since the previous report (0 to 1).
    pub fraction_lost: f64,
    /// Round trip in ms, if the report carries one.
    pub rtt_ms: Option<f64>,
}

impl ReportBlock {
    /// What tells one report from the next.
    pub fn fingerprint(&self) -> u64 {
        let mut h = u64::from(self.highest_seq);
        for part in [self.lsr, self.dlsr] {
            h = h.rotate_left(21) ^ u64::from(part);
        }
        h
    }
}

/// What the daemon read this second.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SendObservation {
    /// The hub's latest report on the video, if any came.
    pub video_report: Option<ReportBlock>,
    /// The hub's latest report on the audio, if any came.
    pub audio_report: Option<ReportBlock>,
    /// Video bytes the socket sent since the pipeline started.
    pub video_bytes_sent: u64,
    /// Video packets the socket sent.
    pub video_packets_sent: u64,
    /// Video packets the pipeline handed to the socket.
    pub video_packets_handed: u64,
    /// RTCP packets from the hub on the video session, authenticated, so
    /// far (reports and feedback alike).
    pub hub_rtcp_packets: u64,
    /// Video packets sent again on the hub's NACKs by the running
    /// pipeline (counted in `video_packets_sent` too).
    pub retransmissions: u64,
}

/// Why the video target changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetReason {
    /// The rate control, from a report.
    Rate(RateChange),
    /// Reports stopped: back to the configured bitrate.
    NoFeedback,
    /// The video resumes after the circuit breaker: from the floor.
    Resumed,
    /// The delay trend of the hub's per-packet feedback.
    Delay(DelayChange),
    /// The per-packet feedback stopped (its reports still come): the
    /// loss-based target alone.
    NoTransportFeedback,
    /// Retransmissions took more or less of the link (the encoder gets
    /// the rest).
    Retransmissions,
}

/// How long without transport-wide feedback before the box stops using
/// it (it comes with every frame or so while it comes at all).
pub const TRANSPORT_CC_STALE_AFTER: Duration = Duration::from_secs(2);
/// A higher target is handed to the encoder once it is this much over the
/// last one handed, or a second later: the per-packet feedback moves it
/// every few tens of ms. A lower one is handed at once.
const ANNOUNCE_STEP: f64 = 1.05;
const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);

fn permille(fraction: f64) -> u32 {
    if fraction.is_finite() {
        (fraction.clamp(0.0, 1.0) * 1000.0).round() as u32
    } else {
        0
    }
}

/// What the pipeline must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAction {
    /// Encode the video at this bitrate.
    VideoTarget {
        /// kbit/s.
        kbps: u32,
        /// Why.
        why: TargetReason,
        /// The report's loss in permille, for the log.
        loss_permille: u32,
    },
    /// The audio's protection changed.
    AudioProtection(AudioProtection),
    /// Send a keyframe now.
    Keyframe(KeyframeReason),
    /// Stop sending video (the audio goes on).
    VideoStopped(Trip),
    /// Send video again (a keyframe follows).
    VideoResumed,
}

/// What the session's sending looks like, for the board, telemetry and
/// bpctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendStatus {
    /// Whether the hub's reports come.
    pub feedback: FeedbackStatus,
    /// The video bitrate aimed at (the encoder's).
    pub target_kbps: u32,
    /// What retransmissions take of the link, kbit/s (smoothed): the
    /// encoder's target is the link's less this.
    pub retransmission_kbps: u32,
    /// `Some`: the circuit breaker stopped the video.
    pub video_stopped: Option<Trip>,
    /// Circuit-breaker trips in this session.
    pub breaker_trips: u32,
    /// Keyframes the box sent of its own accord in this session.
    pub keyframes: u64,
    /// The audio's protection.
    pub audio: AudioProtection,
}

/// One session's sending decisions.
#[derive(Debug, Clone)]
pub struct SendControl {
    feedback: FeedbackWatch,
    rate: RateControl,
    audio: AudioProtection,
    breaker: CircuitBreaker,
    keyframes: KeyframePolicy,
    /// Video bytes and packets sent, and when, at the last video report.
    sent_at_report: Option<(u64, u64, Instant)>,
    last_video_seq: Option<u32>,
    last_video_report_at: Option<Instant>,
    /// The last audio report's fingerprint and sequence number, and when
    /// it came.
    last_audio: Option<(u64, u32)>,
    last_audio_at: Option<Instant>,
    /// Whether reports came at the last look.
    had_feedback: bool,
    /// The hub's RTCP packets at the last look.
    hub_rtcp_packets: u64,
    /// The delay-based target, from the hub's transport-wide feedback.
    delay: DelayControl,
    /// When the last transport-wide feedback came.
    transport_cc_at: Option<Instant>,
    /// The target last handed to the encoder, and when.
    announced: (u32, Option<Instant>),
    /// What retransmissions take of the link: the encoder gets the rest.
    retransmission: RetransmissionRate,
    actions: VecDeque<SendAction>,
}

impl SendControl {
    /// A session starting at the ceiling, with no report yet.
    pub fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        SendControl {
            feedback: FeedbackWatch::new(),
            rate: RateControl::new(floor_kbps, ceiling_kbps),
            audio: AudioProtection::default(),
            breaker: CircuitBreaker::new(),
            keyframes: KeyframePolicy::new(),
            sent_at_report: None,
            last_video_seq: None,
            last_video_report_at: None,
            last_audio: None,
            last_audio_at: None,
            had_feedback: false,
            hub_rtcp_packets: 0,
            delay: DelayControl::new(floor_kbps, ceiling_kbps),
            transport_cc_at: None,
            announced: (ceiling_kbps, None),
            retransmission: RetransmissionRate::default(),
            actions: VecDeque::new(),
        }
    }

    /// New limits (a pushed config).
    pub fn set_limits(&mut self, floor_kbps: u32, ceiling_kbps: u32) {
        self.rate.set_limits(floor_kbps, ceiling_kbps);
        self.delay.set_limits(floor_kbps, ceiling_kbps);
    }

    /// Whether the hub's transport-wide feedback comes.
    fn transport_cc(&self, now: Instant) -> bool {
        self.transport_cc_at
            .is_some_and(|at| now.saturating_duration_since(at) < TRANSPORT_CC_STALE_AFTER)
    }

    /// What the video may take of the link, retransmissions included:
    /// while per-packet feedback comes, what it says (delay trend and
    /// loss, every frame or so); otherwise what the receiver reports say
    /// (every few seconds).
    fn link_target_kbps(&self, now: Instant) -> u32 {
        if self.transport_cc(now) {
            self.delay.target_kbps()
        } else {
            self.rate.target_kbps()
        }
    }

    /// The encoder's bitrate: the link's target less what the
    /// retransmissions take, not under the floor.
    fn target_kbps(&self, now: Instant) -> u32 {
        let link = self.link_target_kbps(now);
        let retransmissions = self.retransmission.kbps().round() as u32;
        link.saturating_sub(retransmissions)
            .max(self.rate.limits().0)
            .min(link)
    }

    /// What the retransmissions take of the link, kbit/s (smoothed).
    pub fn retransmission_kbps(&self) -> f64 {
        self.retransmission.kbps()
    }

    /// Hands the target to the encoder if it moved (see [`ANNOUNCE_STEP`]).
    fn announce(&mut self, why: TargetReason, loss_permille: u32, now: Instant) {
        let kbps = self.target_kbps(now);
        let (last, at) = self.announced;
        let due = kbps < last
            || f64::from(kbps) >= f64::from(last) * ANNOUNCE_STEP
            || (kbps != last
                && at.is_none_or(|at| now.saturating_duration_since(at) >= ANNOUNCE_INTERVAL));
        if due {
            self.push_target(kbps, why, loss_permille, now);
        }
    }

    fn push_target(&mut self, kbps: u32, why: TargetReason, loss_permille: u32, now: Instant) {
        self.announced = (kbps, Some(now));
        self.actions.push_back(SendAction::VideoTarget {
            kbps,
            why,
            loss_permille,
        });
    }

    /// The hub's transport-wide feedback on the video (RTCP transport-cc:
    /// per packet, when it arrived or that it did not), in the order the
    /// box sent the packets.
    pub fn on_transport_feedback(&mut self, packets: &[PacketResult], now: Instant) {
        if self.video_stopped().is_some() || packets.is_empty() {
            return;
        }
        if !self.transport_cc(now) {
            // First feedback, or back after a gap: from where the box is.
            self.delay.restart_at(self.rate.target_kbps());
        }
        self.transport_cc_at = Some(now);
        let (reported, lost) = self.delay.reported();
        if let Some(change) = self.delay.on_feedback(packets, now) {
            let (reported_now, lost_now) = self.delay.reported();
            let lost_share = (lost_now - lost) as f64 / (reported_now - reported).max(1) as f64;
            self.announce(TargetReason::Delay(change), permille(lost_share), now);
        }
    }

    /// The next thing the pipeline must do.
    pub fn poll_action(&mut self) -> Option<SendAction> {
        self.actions.pop_front()
    }

    /// `Some` while the circuit breaker keeps the video off.
    pub fn video_stopped(&self) -> Option<Trip> {
        match self.breaker.state() {
            BreakerState::Open { trip, .. } => Some(trip),
            BreakerState::Closed => None,
        }
    }

    /// The session's sending, as of `now`.
    pub fn status(&self, now: Instant) -> SendStatus {
        SendStatus {
            feedback: if self.transport_cc(now) {
                FeedbackStatus::TransportCc
            } else {
                self.feedback.status(now)
            },
            target_kbps: self.target_kbps(now),
            retransmission_kbps: self.retransmission.kbps().round() as u32,
            video_stopped: self.video_stopped(),
            breaker_trips: self.breaker.trips(),
            keyframes: self.keyframes.sent(),
            audio: self.audio,
        }
    }

    /// This second's reading.
    pub fn observe(&mut self, obs: SendObservation, now: Instant) {
        if self.video_stopped().is_none() {
            if let Some(reason) =
                self.keyframes
                    .on_counts(obs.video_packets_handed, obs.video_packets_sent, now)
            {
                self.actions.push_back(SendAction::Keyframe(reason));
            }
        }
        let video_new = obs
            .video_report
            .filter(|r| self.feedback.is_new(r.fingerprint()));
        if obs.hub_rtcp_packets > self.hub_rtcp_packets {
            self.feedback.heard(now);
        }
        self.hub_rtcp_packets = obs.hub_rtcp_packets;
        let feedback = self
            .feedback
            .observe(obs.video_report.map(|r| r.fingerprint()), now);
        if let Some(change) = self.breaker.handle_timeout(now) {
            self.on_breaker(change, now);
        }
        let transport_cc = self.transport_cc(now);
        let had_transport_cc = self.transport_cc_at.is_some();
        let reporting = feedback == FeedbackStatus::ReceiverReports || transport_cc;
        if (self.had_feedback || had_transport_cc) && !reporting && self.video_stopped().is_none() {
            self.transport_cc_at = None;
            let (floor, ceiling) = self.rate.limits();
            if self.rate.target_kbps() != ceiling || self.announced.0 != ceiling {
                self.rate = RateControl::new(floor, ceiling);
                self.push_target(ceiling, TargetReason::NoFeedback, 0, now);
            }
        } else if !transport_cc && had_transport_cc {
            // Per-packet feedback stopped, reports still come: they decide
            // from now on, starting where the per-packet feedback left.
            self.transport_cc_at = None;
            self.rate.continue_from(self.delay.target_kbps());
            let kbps = self.rate.target_kbps();
            self.push_target(kbps, TargetReason::NoTransportFeedback, 0, now);
        }
        self.had_feedback = reporting;
        let retransmitting = self.retransmission.kbps() >= 1.0;
        self.retransmission.observe(
            obs.retransmissions,
            obs.video_bytes_sent,
            obs.video_packets_sent,
            now,
        );
        let retransmitting = retransmitting || self.retransmission.kbps() >= 1.0;
        if retransmitting && reporting && self.video_stopped().is_none() {
            self.announce(TargetReason::Retransmissions, 0, now);
        }
        if let Some(report) = video_new {
            self.on_video_report(report, &obs, now);
        }
        if let Some(report) = obs.audio_report {
            self.on_audio_report(report, now);
        }
    }

    fn protect_audio(&mut self, fraction_lost: f64) {
        let protection = audio_protection_for(fraction_lost);
        if protection != self.audio {
            self.audio = protection;
            self.actions
                .push_back(SendAction::AudioProtection(protection));
        }
    }

    fn on_audio_report(&mut self, report: ReportBlock, now: Instant) {
        let fingerprint = report.fingerprint();
        if self.last_audio.is_some_and(|(f, _)| f == fingerprint) {
            return;
        }
        let seq_moved = self
            .last_audio
            .is_none_or(|(_, seq)| seq != report.highest_seq);
        self.last_audio = Some((fingerprint, report.highest_seq));
        self.last_audio_at = Some(now);
        self.protect_audio(report.fraction_lost);
        let facts = ReportFacts {
            seq_moved,
            fraction_lost: report.fraction_lost,
            rtt_ms: report.rtt_ms,
        };
        if let Some(change) = self.breaker.on_audio_report(facts, now) {
            self.on_breaker(change, now);
        }
    }

    fn on_video_report(&mut self, report: ReportBlock, obs: &SendObservation, now: Instant) {
        let gap = self
            .last_video_report_at
            .map(|at| now.saturating_duration_since(at));
        let seq_moved = self.last_video_seq != Some(report.highest_seq);
        self.last_video_seq = Some(report.highest_seq);
        self.last_video_report_at = Some(now);
        let stopped = self.video_stopped().is_some();
        let since = self.sent_at_report.map(|(bytes, packets, at)| SentSince {
            bytes: obs.video_bytes_sent.saturating_sub(bytes),
            packets: obs.video_packets_sent.saturating_sub(packets),
            over: now.saturating_duration_since(at),
        });
        self.sent_at_report = Some((obs.video_bytes_sent, obs.video_packets_sent, now));
        self.protect_audio(report.fraction_lost);
        let facts = ReportFacts {
            seq_moved,
            fraction_lost: report.fraction_lost,
            rtt_ms: report.rtt_ms,
        };
        let sent = since.filter(|_| !stopped);
        if let Some(change) = self.breaker.on_video_report(facts, sent, now) {
            self.on_breaker(change, now);
            return;
        }
        if stopped {
            return;
        }
        let sent_kbps = sent
            .filter(|s| s.over >= Duration::from_millis(500))
            .map(|s| s.bytes as f64 * 8.0 / 1000.0 / s.over.as_secs_f64());
        let rate_report = ReceiverReport {
            fraction_lost: report.fraction_lost,
            rtt_ms: report.rtt_ms,
        };
        // While per-packet feedback comes the reports only keep the rate
        // control's round trip up to date: the feedback decides.
        if let Some(change) = self
            .rate
            .on_report(rate_report, sent_kbps)
            .filter(|_| !self.transport_cc(now))
        {
            self.announce(
                TargetReason::Rate(change),
                permille(report.fraction_lost),
                now,
            );
        }
        if let Some(reason) = self.keyframes.on_report(gap, report.fraction_lost, now) {
            self.actions.push_back(SendAction::Keyframe(reason));
        }
    }

    fn on_breaker(&mut self, change: BreakerChange, now: Instant) {
        match change {
            BreakerChange::Tripped(trip) => {
                self.actions.push_back(SendAction::VideoStopped(trip));
            }
            BreakerChange::Reset => {
                let audio_reports = self.last_audio_at.is_some_and(|at| {
                    now.saturating_duration_since(at) < crate::feedback_watch::REPORTS_STALE_AFTER
                });
                // From the floor after congestion or a media timeout (even
                // when nothing reports while the video is off), and from
                // the floor when reports come back after an RTCP timeout;
                // at the configured bitrate when the video comes back
                // after an RTCP timeout with no report since.
                let reporting =
                    audio_reports || self.feedback.status(now) == FeedbackStatus::ReceiverReports;
                if reporting || self.breaker.last_trip() != Some(Trip::RtcpTimeout) {
                    self.rate.restart_from_floor();
                } else {
                    // Back without reports (the retry after an RTCP
                    // timeout): a hub that does not report gets the
                    // configured bitrate.
                    let (floor, ceiling) = self.rate.limits();
                    self.rate = RateControl::new(floor, ceiling);
                }
                self.sent_at_report = None;
                // The per-packet feedback, if it comes, starts afresh.
                self.transport_cc_at = None;
                self.delay.restart_at(self.rate.target_kbps());
                self.push_target(self.rate.target_kbps(), TargetReason::Resumed, 0, now);
                self.actions.push_back(SendAction::VideoResumed);
                if let Some(reason) = self.keyframes.request(KeyframeReason::VideoResumed, now) {
                    self.actions.push_back(SendAction::Keyframe(reason));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A scripted session: a report every 5 s, video at the target in
    /// 1200-byte packets, all of it reaching the socket.
    struct Session {
        t0: Instant,
        at: u64,
        seq: u32,
        audio_seq: u32,
        lsr: u32,
        bytes: u64,
        packets: u64,
        ctl: SendControl,
        actions: Vec<(u64, SendAction)>,
    }

    impl Session {
        fn new(floor: u32, ceiling: u32) -> Self {
            Session {
                t0: Instant::now(),
                at: 0,
                seq: 1000,
                audio_seq: 500,
                lsr: 1,
                bytes: 0,
                packets: 0,
                ctl: SendControl::new(floor, ceiling),
                actions: Vec::new(),
            }
        }

        /// `secs` seconds; a report (loss, rtt) at each multiple of 5 s
        /// (`None`: no report); `video_arrives`: the hub's video sequence
        /// number moves.
        fn run(&mut self, secs: u64, loss: Option<f64>, rtt: f64, video_arrives: bool) {
            for _ in 0..secs {
                self.at += 1;
                let stopped = self.ctl.video_stopped().is_some();
                let kbps = u64::from(self.ctl.status(self.t0).target_kbps);
                if !stopped {
                    self.bytes += kbps * 1000 / 8;
                    self.packets += kbps * 1000 / 8 / 1200;
                }
                let mut obs = SendObservation {
                    video_bytes_sent: self.bytes,
                    video_packets_sent: self.packets,
                    video_packets_handed: self.packets,
                    ..Default::default()
                };
                if let (Some(loss), true) = (loss, self.at.is_multiple_of(5)) {
                    self.lsr += 1;
                    if video_arrives && !stopped {
                        self.seq += 100;
                    }
                    self.audio_seq += 250;
                    obs.video_report = Some(ReportBlock {
                        highest_seq: self.seq,
                        lsr: self.lsr,
                        dlsr: 7,
                        fraction_lost: loss,
                        rtt_ms: Some(rtt),
                    });
                    obs.audio_report = Some(ReportBlock {
                        highest_seq: self.audio_seq,
                        lsr: self.lsr,
                        dlsr: 9,
                        fraction_lost: loss,
                        rtt_ms: Some(rtt),
                    });
                }
                let now = self.t0 + s(self.at);
                self.ctl.observe(obs, now);
                while let Some(a) = self.ctl.poll_action() {
                    self.actions.push((self.at, a));
                }
            }
        }

        fn now(&self) -> Instant {
            self.t0 + s(self.at)
        }
    }

    #[test]
    fn a_receiver_that_never_reports_changes_nothing() {
        let mut sn = Session::new(300, 1500);
        sn.run(600, None, 0.0, true);
        assert!(sn.actions.is_empty(), "{:?}", sn.actions);
        let st = sn.ctl.status(sn.now());
        assert_eq!(st.feedback, FeedbackStatus::None);
        assert_eq!(st.target_kbps, 1500);
        assert_eq!(st.video_stopped, None);
    }

    #[test]
    fn five_percent_loss_protects_the_audio_and_holds_the_video() {
        let mut sn = Session::new(300, 1500);
        sn.run(60, Some(0.05), 40.0, true);
        let st = sn.ctl.status(sn.now());
        assert_eq!(st.feedback, FeedbackStatus::ReceiverReports);
        assert!(st.audio.inband_fec);
        assert_eq!(st.audio.expected_loss_pct, 5);
        assert_eq!(st.target_kbps, 1500);
        assert_eq!(st.video_stopped, None);
        assert_eq!(st.keyframes, 0, "{:?}", sn.actions);
    }

    #[test]
    fn a_path_that_loses_a_third_stops_the_video_then_resumes_it_from_the_floor_with_a_keyframe() {
        let mut sn = Session::new(300, 1500);
        sn.run(20, Some(0.0), 100.0, true);
        sn.run(60, Some(0.35), 100.0, true);
        let stopped_at = sn
            .actions
            .iter()
            .find(|(_, a)| matches!(a, SendAction::VideoStopped(Trip::Congestion)))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("never stopped: {:?}", sn.actions));
        assert!(stopped_at <= 20 + 5 * 5, "stopped at {stopped_at} s");
        assert_eq!(sn.ctl.video_stopped(), Some(Trip::Congestion));
        // The path clears: back after the hold, at a report.
        sn.actions.clear();
        sn.run(20, Some(0.0), 100.0, true);
        let kinds: Vec<_> = sn.actions.iter().map(|(_, a)| *a).collect();
        assert!(kinds.contains(&SendAction::VideoResumed), "{kinds:?}");
        assert!(kinds.contains(&SendAction::Keyframe(KeyframeReason::VideoResumed)));
        assert!(kinds.contains(&SendAction::VideoTarget {
            kbps: 300,
            why: TargetReason::Resumed,
            loss_permille: 0
        }));
        assert_eq!(sn.ctl.video_stopped(), None);
        // And it grows again on the clear path.
        sn.run(60, Some(0.0), 100.0, true);
        assert!(sn.ctl.status(sn.now()).target_kbps > 300);
        assert_eq!(sn.ctl.status(sn.now()).breaker_trips, 1);
    }

    #[test]
    fn reports_that_see_no_video_stop_it_and_an_audio_report_brings_it_back() {
        let mut sn = Session::new(300, 1500);
        sn.run(10, Some(0.0), 20.0, true);
        sn.run(30, Some(0.0), 20.0, false);
        assert_eq!(sn.ctl.video_stopped(), Some(Trip::MediaTimeout));
        sn.run(15, Some(0.0), 20.0, true);
        assert_eq!(sn.ctl.video_stopped(), None, "{:?}", sn.actions);
    }

    #[test]
    fn reports_back_after_a_gap_bring_a_keyframe_and_the_ceiling_meanwhile() {
        let mut sn = Session::new(300, 1500);
        sn.run(30, Some(0.15), 40.0, true);
        let target = sn.ctl.status(sn.now()).target_kbps;
        assert!(target < 1500, "{target}");
        sn.actions.clear();
        // A 20 s outage: no report.
        sn.run(20, None, 0.0, true);
        let st = sn.ctl.status(sn.now());
        assert_eq!(st.feedback, FeedbackStatus::None);
        assert_eq!(st.target_kbps, 1500, "back to the configured bitrate");
        assert_eq!(st.video_stopped, None, "20 s is ridden through");
        sn.actions.clear();
        sn.run(5, Some(0.0), 40.0, true);
        assert!(
            sn.actions
                .iter()
                .any(|(_, a)| *a == SendAction::Keyframe(KeyframeReason::ReportsBack)),
            "{:?}",
            sn.actions
        );
    }

    #[test]
    fn reports_that_stop_for_good_stop_the_video_then_it_comes_back_at_the_configured_bitrate() {
        let mut sn = Session::new(300, 1500);
        sn.run(30, Some(0.15), 40.0, true);
        assert!(sn.ctl.status(sn.now()).target_kbps < 1500);
        sn.actions.clear();
        // The hub's RTP stack is replaced by a recorder that never reports.
        sn.run(39, None, 0.0, true);
        assert_eq!(sn.ctl.video_stopped(), None, "40 s ride through");
        sn.run(2, None, 0.0, true);
        assert_eq!(sn.ctl.video_stopped(), Some(Trip::RtcpTimeout));
        sn.run(60, None, 0.0, true);
        assert_eq!(sn.ctl.video_stopped(), None, "{:?}", sn.actions);
        let kinds: Vec<_> = sn.actions.iter().map(|(_, a)| *a).collect();
        assert!(kinds.contains(&SendAction::VideoResumed), "{kinds:?}");
        assert!(kinds.contains(&SendAction::Keyframe(KeyframeReason::VideoResumed)));
        let st = sn.ctl.status(sn.now());
        assert_eq!(st.target_kbps, 1500, "a hub that does not report");
        assert_eq!(st.feedback, FeedbackStatus::None);
        // And it stays on.
        sn.run(600, None, 0.0, true);
        assert_eq!(sn.ctl.video_stopped(), None);
        assert_eq!(sn.ctl.status(sn.now()).breaker_trips, 1);
    }

    #[test]
    fn a_hub_reporting_on_the_video_only_gets_the_video_back_at_the_holds_end_from_the_floor() {
        let t0 = Instant::now();
        let mut ctl = SendControl::new(300, 1500);
        let (mut bytes, mut packets, mut lsr) = (0u64, 0u64, 0u32);
        let mut actions = Vec::new();
        for at in 1..=60u64 {
            let stopped = ctl.video_stopped().is_some();
            if !stopped {
                bytes += 60_000;
                packets += 50;
            }
            // Video reports only, while video flows; 40 % loss, 100 ms.
            let report = (at.is_multiple_of(5) && !stopped).then(|| {
                lsr += 1;
                ReportBlock {
                    highest_seq: packets as u32,
                    lsr,
                    dlsr: 1,
                    fraction_lost: if at < 30 { 0.4 } else { 0.0 },
                    rtt_ms: Some(100.0),
                }
            });
            ctl.observe(
                SendObservation {
                    video_report: report,
                    audio_report: None,
                    video_bytes_sent: bytes,
                    video_packets_sent: packets,
                    video_packets_handed: packets,
                    hub_rtcp_packets: 0,
                    retransmissions: 0,
                },
                t0 + s(at),
            );
            while let Some(a) = ctl.poll_action() {
                actions.push((at, a));
            }
        }
        let stopped = actions
            .iter()
            .find(|(_, a)| matches!(a, SendAction::VideoStopped(Trip::Congestion)))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("{actions:?}"));
        let resumed = actions
            .iter()
            .find(|(_, a)| *a == SendAction::VideoResumed)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("never resumed: {actions:?}"));
        assert_eq!(resumed, stopped + 10, "at the hold's end: {actions:?}");
        assert!(actions.contains(&(
            resumed,
            SendAction::VideoTarget {
                kbps: 300,
                why: TargetReason::Resumed,
                loss_permille: 0
            }
        )));
    }

    #[test]
    fn the_hubs_feedback_between_its_reports_keeps_the_rate_control_from_giving_up() {
        let t0 = Instant::now();
        let mut ctl = SendControl::new(300, 1500);
        let report = |seq: u32, loss: f64| ReportBlock {
            highest_seq: seq,
            lsr: seq,
            dlsr: 1,
            fraction_lost: loss,
            rtt_ms: Some(20.0),
        };
        let obs = |r: Option<ReportBlock>, rtcp: u64, i: u64| SendObservation {
            video_report: r,
            video_bytes_sent: 200_000 * i,
            video_packets_sent: 170 * i,
            video_packets_handed: 170 * i,
            hub_rtcp_packets: rtcp,
            ..Default::default()
        };
        ctl.observe(obs(Some(report(100, 0.0)), 1, 1), t0 + s(1));
        ctl.observe(obs(Some(report(200, 0.3)), 2, 2), t0 + s(2));
        let target = ctl.status(t0 + s(2)).target_kbps;
        assert!(target < 1500, "{target}");
        // 20 s of NACKs, no new report block: still a reporting hub, and
        // the target is not thrown back to the ceiling.
        for i in 3..23 {
            ctl.observe(obs(Some(report(200, 0.3)), 10 * i, i), t0 + s(i));
            assert_eq!(
                ctl.status(t0 + s(i)).feedback,
                FeedbackStatus::ReceiverReports,
                "at {i} s"
            );
        }
        assert_eq!(ctl.status(t0 + s(22)).target_kbps, target);
        // Nothing at all for 10 s: none, and the configured bitrate.
        for i in 23..34 {
            ctl.observe(obs(Some(report(200, 0.3)), 220, i), t0 + s(i));
        }
        let st = ctl.status(t0 + s(33));
        assert_eq!(st.feedback, FeedbackStatus::None);
        assert_eq!(st.target_kbps, 1500);
    }

    #[test]
    fn a_report_repeated_by_rtpbin_is_read_once() {
        let t0 = Instant::now();
        let mut ctl = SendControl::new(300, 1500);
        let report = ReportBlock {
            highest_seq: 100,
            lsr: 5,
            dlsr: 6,
            fraction_lost: 0.5,
            rtt_ms: Some(10.0),
        };
        // 9 s: within the 10 s after which a repeated report means none.
        for i in 0..9 {
            ctl.observe(
                SendObservation {
                    video_report: Some(report),
                    video_bytes_sent: 1000 * i,
                    video_packets_sent: i,
                    video_packets_handed: i,
                    ..Default::default()
                },
                t0 + s(i),
            );
        }
        let actions: Vec<_> = std::iter::from_fn(|| ctl.poll_action()).collect();
        // One report: FEC on, a loss-burst keyframe, one step down.
        assert_eq!(
            actions
                .iter()
                .filter(|a| matches!(a, SendAction::VideoTarget { .. }))
                .count(),
            1,
            "{actions:?}"
        );
        assert_eq!(ctl.status(t0 + s(9)).keyframes, 1);
    }

    #[test]
    fn fingerprints_differ_when_any_field_moves() {
        let a = ReportBlock {
            highest_seq: 1,
            lsr: 2,
            dlsr: 3,
            fraction_lost: 0.0,
            rtt_ms: None,
        };
        let mut b = a;
        b.dlsr = 4;
        let mut c = a;
        c.highest_seq = 2;
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    /// Feeds `secs` of transport-wide feedback every 50 ms from `path`,
    /// with the video at the controller's target; returns the actions.
    fn feed_transport(
        ctl: &mut SendControl,
        path: &mut crate::delay_control::tests_path::Path,
        t0: Instant,
        from_ms: u64,
        secs: u64,
    ) -> Vec<SendAction> {
        let mut actions = Vec::new();
        for i in 1..=secs * 20 {
            let now = t0 + Duration::from_millis(from_ms + i * 50);
            let kbps = f64::from(ctl.status(now).target_kbps);
            ctl.on_transport_feedback(&path.send(kbps), now);
            actions.extend(std::iter::from_fn(|| ctl.poll_action()));
        }
        actions
    }

    #[test]
    fn transport_feedback_brings_the_target_under_a_narrow_path_and_says_so() {
        let t0 = Instant::now();
        let mut ctl = SendControl::new(300, 2500);
        let mut path = crate::delay_control::tests_path::Path::new(1000.0);
        let actions = feed_transport(&mut ctl, &mut path, t0, 0, 10);
        let status = ctl.status(t0 + Duration::from_millis(10_000));
        assert_eq!(status.feedback, FeedbackStatus::TransportCc);
        assert!(
            (800..=1050).contains(&status.target_kbps),
            "target {}",
            status.target_kbps
        );
        let targets: Vec<u32> = actions
            .iter()
            .filter_map(|a| match a {
                SendAction::VideoTarget { kbps, .. } => Some(*kbps),
                _ => None,
            })
            .collect();
        assert!(
            actions.iter().any(|a| matches!(
                a,
                SendAction::VideoTarget {
                    why: TargetReason::Delay(DelayChange::Overuse),
                    ..
                }
            )),
            "{actions:?}"
        );
        // The encoder is not told every 50 ms: 200 feedbacks, a few
        // targets a second at most.
        assert!(
            targets.len() <= 40,
            "{} targets: {targets:?}",
            targets.len()
        );
    }

    #[test]
    fn when_transport_feedback_stops_the_box_falls_back_and_says_so() {
        let t0 = Instant::now();
        let mut ctl = SendControl::new(300, 2500);
        let mut path = crate::delay_control::tests_path::Path::new(1000.0);
        feed_transport(&mut ctl, &mut path, t0, 0, 5);
        assert!(ctl.status(t0 + s(5)).target_kbps <= 1050);
        // Nothing for 3 s, and no receiver report ever: the configured
        // bitrate, said as no feedback.
        ctl.observe(SendObservation::default(), t0 + s(8));
        let actions: Vec<_> = std::iter::from_fn(|| ctl.poll_action()).collect();
        assert_eq!(
            actions,
            vec![SendAction::VideoTarget {
                kbps: 2500,
                why: TargetReason::NoFeedback,
                loss_permille: 0
            }]
        );
        let status = ctl.status(t0 + s(8));
        assert_eq!(status.feedback, FeedbackStatus::None);
        assert_eq!(status.target_kbps, 2500);
        // It comes back: the delay-based control starts from there again.
        let actions = feed_transport(&mut ctl, &mut path, t0, 8_000, 5);
        assert!(!actions.is_empty());
        assert!(ctl.status(t0 + s(13)).target_kbps <= 1050);
    }

    #[test]
    fn retransmissions_are_taken_out_of_the_encoders_share() {
        let t0 = Instant::now();
        let mut ctl = SendControl::new(300, 2500);
        let mut path = crate::delay_control::tests_path::Path::new(1000.0);
        feed_transport(&mut ctl, &mut path, t0, 0, 5);
        let link = ctl.delay.target_kbps();
        assert_eq!(ctl.status(t0 + s(5)).target_kbps, link);
        // A second of 100 video packets of 1000 bytes a second, 20 of
        // them sent again: 160 kbit in the 2 s window, 80 kbit/s (looked
        // at every half second, while the feedback is fresh).
        let tick = |k: u64| t0 + Duration::from_millis(5_010 + 500 * k);
        for k in 0..3u64 {
            ctl.observe(
                SendObservation {
                    video_bytes_sent: 50_000 * k,
                    video_packets_sent: 50 * k,
                    retransmissions: 10 * k,
                    ..SendObservation::default()
                },
                tick(k),
            );
        }
        let now = tick(2);
        assert!((ctl.retransmission_kbps() - 80.0).abs() < 1e-9);
        assert_eq!(ctl.status(now).target_kbps, link - 80);
        let actions: Vec<_> = std::iter::from_fn(|| ctl.poll_action()).collect();
        assert_eq!(
            actions.last(),
            Some(&SendAction::VideoTarget {
                kbps: link - 80,
                why: TargetReason::Retransmissions,
                loss_permille: 0
            }),
            "{actions:?}"
        );
        // Never under the floor.
        let mut floor = SendControl::new(900, 2500);
        let mut path = crate::delay_control::tests_path::Path::new(1000.0);
        feed_transport(&mut floor, &mut path, t0, 0, 5);
        for k in 0..3u64 {
            floor.observe(
                SendObservation {
                    video_bytes_sent: 50_000 * k,
                    video_packets_sent: 50 * k,
                    retransmissions: 50 * k,
                    ..SendObservation::default()
                },
                tick(k),
            );
        }
        assert_eq!(floor.status(now).target_kbps, 900);
    }

    #[test]
    fn transport_feedback_while_the_breaker_holds_the_video_changes_nothing() {
        let t0 = Instant::now();
        let mut session = Session::new(300, 2500);
        // Heavy loss for long: the breaker trips (as in the tests above).
        session.run(30, Some(0.6), 50.0, true);
        let now = session.now();
        let Some(_) = session.ctl.video_stopped() else {
            panic!("the breaker did not trip: {:?}", session.actions);
        };
        let target = session.ctl.status(now).target_kbps;
        let mut path = crate::delay_control::tests_path::Path::new(100.0);
        let actions = feed_transport(&mut session.ctl, &mut path, t0, session.at * 1000, 2);
        assert!(actions.is_empty(), "{actions:?}");
        assert_eq!(session.ctl.status(now).target_kbps, target);
        assert_ne!(
            session.ctl.status(now).feedback,
            FeedbackStatus::TransportCc
        );
    }
}
