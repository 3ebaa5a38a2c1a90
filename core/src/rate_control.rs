//! The video bitrate the box aims at, from the hub's RTCP receiver reports:
//! the loss-based and delay-trend parts of Google Congestion Control
//! (draft-ietf-rmcat-gcc-02, 5 and 6) on what a receiver report says.
//!
//! Each new report gives the loss fraction since the previous report and
//! the round trip; the daemon hands it with the box's own video send rate
//! since the previous report (its sockets' counters), so that what the hub
//! received is that rate less the loss. Then:
//! - loss above 10 %, or the round trip risen by more than
//!   [`QUEUE_RISE_MS`] over the lowest seen (a queue filling on the path):
//!   the target drops to 85 % of what the hub received (without a send
//!   rate yet, in proportion to the loss), and never below the floor;
//! - loss under 2 % and the round trip near its lowest: the target grows by
//!   8 % a report (GCC's multiplicative increase), up to the ceiling;
//! - otherwise it holds.
//!
//! With no reports (a stock ffmpeg recorder) nothing here runs and the box
//! keeps the configured bitrate. The audio protects itself
//! ([`audio_protection_for`]). No clock, no IO.

/// A rise of the round trip over its lowest that counts as a queue
/// building on the path (GCC's over-use, seen from RTCP: a round trip, not
/// per-packet delay).
pub const QUEUE_RISE_MS: f64 = 100.0;
/// Loss above which the target drops.
pub const HIGH_LOSS: f64 = 0.10;
/// Loss under which the target may grow.
pub const LOW_LOSS: f64 = 0.02;
/// Growth per report while the path is clear.
pub const GROWTH: f64 = 1.08;
/// Share of the received rate the target drops to.
pub const BACK_OFF: f64 = 0.85;

/// One new receiver report, as the daemon reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiverReport {
    /// Fraction lost since the previous report (0 to 1).
    pub fraction_lost: f64,
    /// Round trip in ms, if the report carries one.
    pub rtt_ms: Option<f64>,
}

/// How the audio protects itself against loss: Opus in-band forward error
/// correction, tuned to the loss the hub reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AudioProtection {
    /// Opus in-band FEC on.
    pub inband_fec: bool,
    /// The loss Opus is told to expect, in percent (0 to 30).
    pub expected_loss_pct: u32,
}

/// The audio's protection for a reported loss fraction: FEC from 1 % loss
/// on, told the loss (at most 30 %: beyond, FEC cannot help and only
/// takes bits from the speech). Audio keeps priority: the video backs off,
/// the audio protects itself.
pub fn audio_protection_for(fraction_lost: f64) -> AudioProtection {
    if !(0.0..=1.0).contains(&fraction_lost) {
        return AudioProtection::default();
    }
    let pct = (fraction_lost * 100.0).round() as u32;
    AudioProtection {
        inband_fec: pct >= 1,
        expected_loss_pct: pct.min(30),
    }
}

/// Why the target changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateChange {
    /// Loss above 10 %.
    Loss,
    /// The round trip rose: a queue is filling.
    Queue,
    /// A clear path: growing.
    Growth,
}

/// The rate controller of one session's video.
#[derive(Debug, Clone)]
pub struct RateControl {
    floor_kbps: u32,
    ceiling_kbps: u32,
    target_kbps: f64,
    lowest_rtt_ms: Option<f64>,
}

impl RateControl {
    /// A controller starting at the ceiling (the configured bitrate).
    pub fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        RateControl {
            floor_kbps: floor_kbps.min(ceiling_kbps),
            ceiling_kbps,
            target_kbps: f64::from(ceiling_kbps),
            lowest_rtt_ms: None,
        }
    }

    /// The bitrate to encode at.
    pub fn target_kbps(&self) -> u32 {
        self.target_kbps.round() as u32
    }

    /// Starts again from the floor (the video resumes after the circuit
    /// breaker: the path just proved it carries little), forgetting the
    /// round trip seen before.
    pub fn restart_from_floor(&mut self) {
        self.target_kbps = f64::from(self.floor_kbps);
        self.lowest_rtt_ms = None;
    }

    /// Goes on from `kbps` (within the limits), keeping the round trip
    /// seen: another controller had the say until now.
    pub fn continue_from(&mut self, kbps: u32) {
        self.target_kbps = f64::from(kbps);
        self.clamp();
    }

    /// The floor and the ceiling.
    pub fn limits(&self) -> (u32, u32) {
        (self.floor_kbps, self.ceiling_kbps)
    }

    /// New limits (a pushed config): the target stays within them.
    /// A target at the old ceiling follows the new one.
    pub fn set_limits(&mut self, floor_kbps: u32, ceiling_kbps: u32) {
        if self.target_kbps() == self.ceiling_kbps {
            self.target_kbps = f64::from(ceiling_kbps);
        }
        self.floor_kbps = floor_kbps.min(ceiling_kbps);
        self.ceiling_kbps = ceiling_kbps;
        self.clamp();
    }

    fn clamp(&mut self) {
        self.target_kbps = self
            .target_kbps
            .clamp(f64::from(self.floor_kbps), f64::from(self.ceiling_kbps));
    }

    /// A new receiver report; `sent_kbps` is the box's video send rate
    /// since the previous one (`None` for the first). Returns why the
    /// target changed, if it did.
    pub fn on_report(
        &mut self,
        report: ReceiverReport,
        sent_kbps: Option<f64>,
    ) -> Option<RateChange> {
        // A report that makes no sense (malformed, spoofed) changes nothing.
        if !(0.0..=1.0).contains(&report.fraction_lost) {
            return None;
        }
        let loss = report.fraction_lost;
        let received = sent_kbps
            .filter(|k| k.is_finite() && *k > 0.0)
            .map(|k| k * (1.0 - loss));
        let rtt = report.rtt_ms.filter(|r| r.is_finite() && *r >= 0.0);
        let queue = match (rtt, self.lowest_rtt_ms) {
            (Some(rtt), Some(lowest)) => rtt > lowest + QUEUE_RISE_MS,
            _ => false,
        };
        if let Some(rtt) = rtt {
            self.lowest_rtt_ms = Some(self.lowest_rtt_ms.map_or(rtt, |l| l.min(rtt)));
        }
        let before = self.target_kbps();
        let change = if loss > HIGH_LOSS || queue {
            // Down to what the path carried, a margin below it; with no
            // rate known yet, in proportion to the loss (GCC's 1 - 0.5 p).
            let to = match received {
                Some(kbps) => BACK_OFF * kbps,
                None => self.target_kbps * (1.0 - 0.5 * loss.max(0.15)),
            };
            self.target_kbps = self.target_kbps.min(to);
            if loss > HIGH_LOSS {
                RateChange::Loss
            } else {
                RateChange::Queue
            }
        } else if loss < LOW_LOSS {
            self.target_kbps *= GROWTH;
            RateChange::Growth
        } else {
            return None;
        };
        self.clamp();
        (self.target_kbps() != before).then_some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path of `capacity_kbps` with `base_rtt_ms` at rest: what the hub's
    /// report says of a stream sent at `sent_kbps` (what exceeds the
    /// capacity is lost, and a full queue adds its 300 ms).
    struct Path {
        capacity_kbps: f64,
        base_rtt_ms: f64,
    }

    impl Path {
        fn report(&self, sent_kbps: f64) -> ReceiverReport {
            let carried = sent_kbps.min(self.capacity_kbps);
            let queue_ms = if sent_kbps > self.capacity_kbps {
                300.0
            } else {
                0.0
            };
            ReceiverReport {
                fraction_lost: 1.0 - carried / sent_kbps,
                rtt_ms: Some(self.base_rtt_ms + queue_ms),
            }
        }
    }

    /// `reports` reports of a box that sends at its target in between.
    fn run(rc: &mut RateControl, path: &Path, reports: usize) -> Vec<u32> {
        (0..reports)
            .map(|i| {
                let sent = f64::from(rc.target_kbps());
                rc.on_report(path.report(sent), (i > 0).then_some(sent));
                rc.target_kbps()
            })
            .collect()
    }

    fn report(fraction_lost: f64, rtt_ms: f64) -> ReceiverReport {
        ReceiverReport {
            fraction_lost,
            rtt_ms: Some(rtt_ms),
        }
    }

    #[test]
    fn audio_fec_follows_the_reported_loss() {
        assert_eq!(audio_protection_for(0.0), AudioProtection::default());
        assert_eq!(audio_protection_for(0.004), AudioProtection::default());
        let on = |pct| AudioProtection {
            inband_fec: true,
            expected_loss_pct: pct,
        };
        assert_eq!(audio_protection_for(0.05), on(5));
        assert_eq!(audio_protection_for(0.7), on(30));
        assert_eq!(audio_protection_for(f64::NAN), AudioProtection::default());
        assert_eq!(audio_protection_for(-1.0), AudioProtection::default());
    }

    #[test]
    fn it_starts_at_the_ceiling_and_holds_it_on_a_clear_path() {
        let mut rc = RateControl::new(300, 2000);
        let path = Path {
            capacity_kbps: 10_000.0,
            base_rtt_ms: 40.0,
        };
        let targets = run(&mut rc, &path, 30);
        assert!(targets.iter().all(|&k| k == 2000), "{targets:?}");
    }

    #[test]
    fn a_600_kbit_path_under_a_2000_ceiling_settles_under_600_within_a_few_reports() {
        let mut rc = RateControl::new(300, 2000);
        let path = Path {
            capacity_kbps: 600.0,
            base_rtt_ms: 40.0,
        };
        let targets = run(&mut rc, &path, 20);
        let settled = targets
            .iter()
            .position(|&k| k <= 600)
            .expect("never under 600");
        assert!(settled <= 3, "{targets:?}");
        // It probes up again and backs off, staying around the capacity.
        assert!(
            targets[settled..].iter().all(|&k| (400..=700).contains(&k)),
            "{targets:?}"
        );
    }

    #[test]
    fn the_target_climbs_back_when_the_limit_is_lifted() {
        let mut rc = RateControl::new(300, 2000);
        let mut path = Path {
            capacity_kbps: 600.0,
            base_rtt_ms: 40.0,
        };
        run(&mut rc, &path, 10);
        let low = rc.target_kbps();
        path.capacity_kbps = 10_000.0;
        let targets = run(&mut rc, &path, 20);
        assert!(targets.windows(2).all(|w| w[1] >= w[0]), "{targets:?}");
        assert!(*targets.last().unwrap() >= 2 * low, "{low} -> {targets:?}");
        let targets = run(&mut rc, &path, 20);
        assert_eq!(*targets.last().unwrap(), 2000);
    }

    #[test]
    fn loss_between_2_and_10_percent_holds_the_target() {
        let mut rc = RateControl::new(300, 2000);
        rc.on_report(report(0.5, 40.0), None);
        let held = rc.target_kbps();
        assert!(held < 2000);
        for _ in 0..10 {
            assert_eq!(
                rc.on_report(report(0.05, 40.0), Some(f64::from(held))),
                None
            );
            assert_eq!(rc.target_kbps(), held);
        }
    }

    #[test]
    fn a_rising_round_trip_without_loss_backs_off_to_what_the_hub_received() {
        let mut rc = RateControl::new(300, 2000);
        rc.on_report(report(0.0, 40.0), None);
        let change = rc.on_report(report(0.0, 250.0), Some(1920.0));
        assert_eq!(change, Some(RateChange::Queue));
        assert_eq!(rc.target_kbps(), (0.85 * 1920.0_f64).round() as u32);
    }

    #[test]
    fn the_floor_and_ceiling_hold_whatever_the_reports_say() {
        let mut rc = RateControl::new(300, 2000);
        for _ in 0..50 {
            rc.on_report(report(1.0, 40.0), Some(500.0));
            assert!(rc.target_kbps() >= 300);
        }
        assert_eq!(rc.target_kbps(), 300);
        rc.set_limits(500, 1000);
        assert_eq!(rc.target_kbps(), 500);
        rc.set_limits(100, 400);
        assert_eq!(rc.target_kbps(), 400);
    }

    #[test]
    fn garbage_in_a_report_changes_nothing_beyond_the_limits() {
        // Spoofed or malformed values: loss out of range or not a number, a
        // round trip that is not one, a send rate that is not one.
        let mut rc = RateControl::new(300, 2000);
        let odd = [
            (report(-3.0, 40.0), Some(1000.0)),
            (report(f64::NAN, f64::NAN), Some(f64::NAN)),
            (report(7.0, -5.0), Some(f64::INFINITY)),
            (report(0.5, f64::INFINITY), Some(-10.0)),
        ];
        for (r, sent) in odd {
            rc.on_report(r, sent);
            let k = rc.target_kbps();
            assert!((300..=2000).contains(&k), "{k}");
        }
    }
}
