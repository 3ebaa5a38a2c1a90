//! The video bitrate the box aims at, from the hub's RTCP receiver reports:
//! the loss-based and delay-trend parts of Google Congestion Control
//! (draft-ietf-rmcat-gcc-02, 5 and 6) on what a receiver report says.
//!
//! Each new report (the daemon hands it with the box's own average packet
//! size and the current time) gives the loss fraction since the previous
//! report, the round trip, and, with the previous report, how fast the hub
//! received (packets it saw × the average packet size / the time between
//! reports). Then:
//! - loss above 10 %, or the round trip risen by more than
//!   [`QUEUE_RISE_MS`] over the lowest seen (a queue filling on the path):
//!   the target drops to 85 % of what the hub received, and never below
//!   the floor;
//! - loss under 2 % and the round trip near its lowest: the target grows by
//!   8 % a report (GCC's multiplicative increase), up to the ceiling;
//! - otherwise it holds.
//!
//! With no reports (a stock ffmpeg recorder) nothing here runs and the box
//! keeps the configured bitrate. No clock, no IO: the caller passes time.

use std::time::Instant;

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
    /// The extended highest sequence number the hub received.
    pub highest_seq: u32,
    /// Packets the hub counts as lost, since the stream started.
    pub cumulative_lost: u32,
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
    previous: Option<(ReceiverReport, Instant)>,
}

impl RateControl {
    /// A controller starting at the ceiling (the configured bitrate).
    pub fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        let floor_kbps = floor_kbps.min(ceiling_kbps);
        RateControl {
            floor_kbps,
            ceiling_kbps,
            target_kbps: f64::from(ceiling_kbps),
            lowest_rtt_ms: None,
            previous: None,
        }
    }

    /// The bitrate to encode at.
    pub fn target_kbps(&self) -> u32 {
        self.target_kbps.round() as u32
    }

    /// New limits (a pushed config): the target stays within them.
    pub fn set_limits(&mut self, floor_kbps: u32, ceiling_kbps: u32) {
        self.floor_kbps = floor_kbps.min(ceiling_kbps);
        self.ceiling_kbps = ceiling_kbps;
        self.clamp();
    }

    fn clamp(&mut self) {
        self.target_kbps = self
            .target_kbps
            .clamp(f64::from(self.floor_kbps), f64::from(self.ceiling_kbps));
    }

    /// How fast the hub received since the previous report, in kbit/s.
    fn received_kbps(
        &self,
        report: &ReceiverReport,
        now: Instant,
        packet_bytes: f64,
    ) -> Option<f64> {
        let (before, at) = self.previous?;
        let secs = now.saturating_duration_since(at).as_secs_f64();
        let sent = report.highest_seq.wrapping_sub(before.highest_seq);
        let lost = report
            .cumulative_lost
            .saturating_sub(before.cumulative_lost);
        // A wrapped or reset sequence (a new stream) tells nothing.
        let sized = packet_bytes.is_finite() && packet_bytes > 0.0;
        if secs < 0.2 || sent == 0 || sent > 1_000_000 || !sized {
            return None;
        }
        let received = f64::from(sent.saturating_sub(lost));
        Some(received * packet_bytes * 8.0 / 1000.0 / secs)
    }

    /// A new receiver report at `now`; `packet_bytes` is the box's average
    /// video packet size. Returns why the target changed, if it did.
    pub fn on_report(
        &mut self,
        report: ReceiverReport,
        packet_bytes: f64,
        now: Instant,
    ) -> Option<RateChange> {
        let received = self.received_kbps(&report, now, packet_bytes);
        self.previous = Some((report, now));
        // A report that makes no sense (malformed, spoofed) changes nothing.
        if !(0.0..=1.0).contains(&report.fraction_lost) {
            return None;
        }
        let report = ReceiverReport {
            rtt_ms: report.rtt_ms.filter(|r| r.is_finite() && *r >= 0.0),
            ..report
        };
        let queue = match (report.rtt_ms, self.lowest_rtt_ms) {
            (Some(rtt), Some(lowest)) => rtt > lowest + QUEUE_RISE_MS,
            _ => false,
        };
        if let Some(rtt) = report.rtt_ms {
            self.lowest_rtt_ms = Some(self.lowest_rtt_ms.map_or(rtt, |l| l.min(rtt)));
        }
        let before = self.target_kbps();
        let change = if report.fraction_lost > HIGH_LOSS || queue {
            // Down to what the path carried, a margin below it; with no
            // rate known yet, in proportion to the loss (GCC's 1 - 0.5 p).
            let to = match received {
                Some(kbps) => BACK_OFF * kbps,
                None => self.target_kbps * (1.0 - 0.5 * report.fraction_lost.max(0.15)),
            };
            self.target_kbps = self.target_kbps.min(to);
            if report.fraction_lost > HIGH_LOSS {
                RateChange::Loss
            } else {
                RateChange::Queue
            }
        } else if report.fraction_lost < LOW_LOSS {
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
    use std::time::Duration;

    /// A path of `capacity_kbps` with `rtt_ms` at rest, fed by the target:
    /// what the hub's report says after `secs` seconds at that target
    /// (1200-byte packets; what exceeds the capacity is lost).
    struct Path {
        capacity_kbps: f64,
        base_rtt_ms: f64,
        seq: u32,
        lost: u32,
    }

    impl Path {
        fn report(&mut self, target_kbps: u32, secs: f64) -> ReceiverReport {
            let sent_kbps = f64::from(target_kbps);
            let packets = (sent_kbps * 1000.0 / 8.0 / 1200.0 * secs).round() as u32;
            let carried = sent_kbps.min(self.capacity_kbps);
            let lost = ((1.0 - carried / sent_kbps) * f64::from(packets)).round() as u32;
            self.seq = self.seq.wrapping_add(packets);
            self.lost += lost;
            // A full queue adds its 300 ms.
            let queue_ms = if sent_kbps > self.capacity_kbps {
                300.0
            } else {
                0.0
            };
            ReceiverReport {
                fraction_lost: f64::from(lost) / f64::from(packets.max(1)),
                rtt_ms: Some(self.base_rtt_ms + queue_ms),
                highest_seq: self.seq,
                cumulative_lost: self.lost,
            }
        }
    }

    fn run(rc: &mut RateControl, path: &mut Path, t: &mut Instant, reports: usize) -> Vec<u32> {
        (0..reports)
            .map(|_| {
                *t += Duration::from_secs(1);
                let r = path.report(rc.target_kbps(), 1.0);
                rc.on_report(r, 1200.0, *t);
                rc.target_kbps()
            })
            .collect()
    }

    #[test]
    fn audio_fec_follows_the_reported_loss() {
        assert_eq!(audio_protection_for(0.0), AudioProtection::default());
        assert_eq!(audio_protection_for(0.004), AudioProtection::default());
        assert_eq!(
            audio_protection_for(0.05),
            AudioProtection {
                inband_fec: true,
                expected_loss_pct: 5
            }
        );
        assert_eq!(
            audio_protection_for(0.7),
            AudioProtection {
                inband_fec: true,
                expected_loss_pct: 30
            }
        );
        assert_eq!(audio_protection_for(f64::NAN), AudioProtection::default());
        assert_eq!(audio_protection_for(-1.0), AudioProtection::default());
    }

    #[test]
    fn it_starts_at_the_ceiling_and_holds_it_on_a_clear_path() {
        let mut rc = RateControl::new(300, 2000);
        let mut path = Path {
            capacity_kbps: 10_000.0,
            base_rtt_ms: 40.0,
            seq: 0,
            lost: 0,
        };
        let mut t = Instant::now();
        let targets = run(&mut rc, &mut path, &mut t, 30);
        assert!(targets.iter().all(|&k| k == 2000), "{targets:?}");
    }

    #[test]
    fn a_600_kbit_path_under_a_2000_ceiling_settles_under_600_within_a_few_reports() {
        let mut rc = RateControl::new(300, 2000);
        let mut path = Path {
            capacity_kbps: 600.0,
            base_rtt_ms: 40.0,
            seq: 0,
            lost: 0,
        };
        let mut t = Instant::now();
        let targets = run(&mut rc, &mut path, &mut t, 20);
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
            seq: 0,
            lost: 0,
        };
        let mut t = Instant::now();
        run(&mut rc, &mut path, &mut t, 10);
        let low = rc.target_kbps();
        path.capacity_kbps = 10_000.0;
        let targets = run(&mut rc, &mut path, &mut t, 20);
        assert!(targets.windows(2).all(|w| w[1] >= w[0]), "{targets:?}");
        assert!(*targets.last().unwrap() >= 2 * low, "{low} -> {targets:?}");
        let targets = run(&mut rc, &mut path, &mut t, 20);
        assert_eq!(*targets.last().unwrap(), 2000);
    }

    #[test]
    fn loss_between_2_and_10_percent_holds_the_target() {
        let mut rc = RateControl::new(300, 2000);
        let t0 = Instant::now();
        rc.on_report(
            ReceiverReport {
                fraction_lost: 0.5,
                rtt_ms: Some(40.0),
                highest_seq: 0,
                cumulative_lost: 0,
            },
            1200.0,
            t0,
        );
        let held = rc.target_kbps();
        assert!(held < 2000);
        for i in 1..10u32 {
            let r = ReceiverReport {
                fraction_lost: 0.05,
                rtt_ms: Some(40.0),
                highest_seq: i * 100,
                cumulative_lost: i * 5,
            };
            assert_eq!(
                rc.on_report(r, 1200.0, t0 + Duration::from_secs(u64::from(i))),
                None
            );
            assert_eq!(rc.target_kbps(), held);
        }
    }

    #[test]
    fn a_rising_round_trip_without_loss_backs_off() {
        let mut rc = RateControl::new(300, 2000);
        let t0 = Instant::now();
        let report = |seq: u32, rtt: f64| ReceiverReport {
            fraction_lost: 0.0,
            rtt_ms: Some(rtt),
            highest_seq: seq,
            cumulative_lost: 0,
        };
        rc.on_report(report(0, 40.0), 1200.0, t0);
        // 200 packets a second of 1200 bytes: 1920 kbit/s received.
        let change = rc.on_report(report(200, 250.0), 1200.0, t0 + Duration::from_secs(1));
        assert_eq!(change, Some(RateChange::Queue));
        assert_eq!(rc.target_kbps(), (0.85 * 1920.0_f64).round() as u32);
    }

    #[test]
    fn the_floor_and_ceiling_hold_whatever_the_reports_say() {
        let mut rc = RateControl::new(300, 2000);
        let t0 = Instant::now();
        for i in 0..50u32 {
            let r = ReceiverReport {
                fraction_lost: 1.0,
                rtt_ms: Some(40.0),
                highest_seq: i * 10,
                cumulative_lost: i * 10,
            };
            rc.on_report(r, 1200.0, t0 + Duration::from_secs(u64::from(i)));
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
        // Spoofed or malformed values: negative or huge loss, a sequence
        // that jumps back, no round trip.
        let mut rc = RateControl::new(300, 2000);
        let t0 = Instant::now();
        let odd = [
            ReceiverReport {
                fraction_lost: -3.0,
                rtt_ms: None,
                highest_seq: 5,
                cumulative_lost: 0,
            },
            ReceiverReport {
                fraction_lost: f64::NAN,
                rtt_ms: Some(f64::NAN),
                highest_seq: 1,
                cumulative_lost: 99,
            },
            ReceiverReport {
                fraction_lost: 7.0,
                rtt_ms: Some(-5.0),
                highest_seq: u32::MAX,
                cumulative_lost: u32::MAX,
            },
        ];
        for (i, r) in odd.into_iter().enumerate() {
            rc.on_report(r, 1200.0, t0 + Duration::from_secs(i as u64));
            let k = rc.target_kbps();
            assert!((300..=2000).contains(&k), "{k}");
        }
    }
}
