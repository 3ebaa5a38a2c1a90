//! Retransmissions within the video's share of the link (RFC 4588, with
//! `hub.feedback = "avpf"`).
//!
//! A packet sent again on the hub's NACK takes the same link as the video.
//! On a congested link the full queue drops packets, the hub asks for
//! them, and the retransmissions fill the queue further: the network
//! bench measured 2,221 retransmissions in 100 s of capacity steps, the
//! box sending 300-600 kbit/s over its video target. Two things keep them
//! in bounds:
//! - [`RetransmissionLimit`] admits the hub's requests at up to
//!   [`MAX_SHARE`] of the video target (counted in packets of
//!   [`TYPICAL_PACKET_BYTES`], with a burst of [`BURST`] of that rate);
//!   the rest are refused, and the hub's jitter buffer gives up on them
//!   or asks for a keyframe;
//! - a request for a packet that left the box less than the path's least
//!   round trip ago is refused as premature ([`RetransmissionLimit::premature`]):
//!   the hub cannot have missed it yet, it asked before the packet could
//!   arrive (GStreamer's jitter buffer asks by the packets' expected
//!   times, and a paced keyframe comes later than it expects), and sending
//!   it twice only takes the link's capacity (libwebrtc's sender keeps the
//!   same rule);
//! - [`RetransmissionRate`] is what the retransmissions took over the
//!   last [`RATE_WINDOW`], from the sockets' counts; the encoder is given the
//!   link's target less it, so that video and retransmissions together
//!   stay within what the link carries.
//!
//! No clock, no IO: counts and `now` are handed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The largest share of the video target retransmissions may take.
pub const MAX_SHARE: f64 = 0.25;
/// The size a retransmission is counted as (the payloader's packets are
/// at most this big; a request names a packet, not its size).
pub const TYPICAL_PACKET_BYTES: f64 = 1200.0;
/// How much of a second's allowance may go at once (a burst of NACKs
/// after a short fade).
pub const BURST: Duration = Duration::from_millis(500);
/// The least burst, in packets, so that a low target still repairs a
/// keyframe's lost packet.
const MIN_BURST_PACKETS: f64 = 4.0;
/// The retransmission rate is measured over this much time: long enough
/// to smooth a burst of NACKs, short enough that the encoder gets its
/// share back soon after they stop.
pub const RATE_WINDOW: Duration = Duration::from_secs(2);

/// Admits the hub's retransmission requests at up to [`MAX_SHARE`] of
/// the video target (a token bucket).
#[derive(Debug, Clone)]
pub struct RetransmissionLimit {
    /// Packets a second.
    rate: f64,
    tokens: f64,
    last: Option<Instant>,
    admitted: u64,
    refused: u64,
    /// The least round trip the hub's reports showed.
    least_round_trip: Option<Duration>,
    premature: u64,
}

impl RetransmissionLimit {
    /// A limit for a video target of `target_kbps`, its bucket full.
    pub fn new(target_kbps: u32) -> Self {
        let mut limit = RetransmissionLimit {
            rate: 0.0,
            tokens: 0.0,
            last: None,
            admitted: 0,
            refused: 0,
            least_round_trip: None,
            premature: 0,
        };
        limit.set_target(target_kbps);
        limit.tokens = limit.burst();
        limit
    }

    fn burst(&self) -> f64 {
        (self.rate * BURST.as_secs_f64()).max(MIN_BURST_PACKETS)
    }

    /// The video target changed.
    pub fn set_target(&mut self, target_kbps: u32) {
        self.rate = f64::from(target_kbps) * 1000.0 * MAX_SHARE / 8.0 / TYPICAL_PACKET_BYTES;
        self.tokens = self.tokens.min(self.burst());
    }

    /// Retransmissions allowed a second at the current target.
    pub fn packets_per_second(&self) -> f64 {
        self.rate
    }

    /// Whether the request arriving at `now` may be answered.
    pub fn admit(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst());
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.admitted += 1;
            true
        } else {
            self.refused += 1;
            false
        }
    }

    /// Requests admitted and refused so far (the premature ones among the
    /// refused).
    pub fn counts(&self) -> (u64, u64) {
        (self.admitted, self.refused + self.premature)
    }

    /// Requests refused as premature so far.
    pub fn premature_count(&self) -> u64 {
        self.premature
    }

    /// A round trip the hub's report showed; the least one is kept.
    pub fn note_round_trip(&mut self, round_trip: Duration) {
        if round_trip.is_zero() {
            return;
        }
        self.least_round_trip = Some(
            self.least_round_trip
                .map_or(round_trip, |least| least.min(round_trip)),
        );
    }

    /// Whether a request arriving at `now` for a packet that left at
    /// `sent` came before the hub could have missed it: less than the
    /// least round trip after it left. Such a request is counted and must
    /// not be answered. Without a round trip or a send time: not premature.
    pub fn premature(&mut self, now: Instant, sent: Option<Instant>) -> bool {
        let (Some(least), Some(sent)) = (self.least_round_trip, sent) else {
            return false;
        };
        let early = now.saturating_duration_since(sent) < least;
        if early {
            self.premature += 1;
        }
        early
    }
}

/// What the retransmissions take of the link, from the video socket's
/// counts once a second.
#[derive(Debug, Clone, Default)]
pub struct RetransmissionRate {
    /// Retransmissions, video bytes and video packets sent so far, at the
    /// last look.
    last: Option<(u64, u64, u64, Instant)>,
    /// The bits retransmitted between two looks, by the later one's time,
    /// over the last [`RATE_WINDOW`].
    recent: VecDeque<(Instant, f64)>,
}

impl RetransmissionRate {
    /// The counts so far: packets retransmitted, and the video socket's
    /// bytes and packets (retransmissions included).
    pub fn observe(
        &mut self,
        retransmissions: u64,
        video_bytes: u64,
        video_packets: u64,
        now: Instant,
    ) {
        if let Some((rtx, bytes, packets, _)) = self.last {
            let rtx = retransmissions.saturating_sub(rtx);
            let packets = video_packets.saturating_sub(packets);
            // A retransmission is as big as the video's packets were on
            // average (the payloader's are mostly full).
            let size = if packets > 0 {
                video_bytes.saturating_sub(bytes) as f64 / packets as f64
            } else {
                TYPICAL_PACKET_BYTES
            };
            if rtx > 0 {
                self.recent.push_back((now, rtx as f64 * size * 8.0));
            }
        }
        while self
            .recent
            .front()
            .is_some_and(|&(at, _)| now.saturating_duration_since(at) >= RATE_WINDOW)
        {
            self.recent.pop_front();
        }
        self.last = Some((retransmissions, video_bytes, video_packets, now));
    }

    /// kbit/s over the last [`RATE_WINDOW`].
    pub fn kbps(&self) -> f64 {
        self.recent.iter().map(|&(_, bits)| bits).sum::<f64>() / 1000.0 / RATE_WINDOW.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn requests_are_answered_up_to_a_quarter_of_the_target() {
        let t0 = Instant::now();
        // 960 kbit/s: a quarter is 240 kbit/s, 25 packets of 1200 bytes.
        let mut limit = RetransmissionLimit::new(960);
        assert!((limit.packets_per_second() - 25.0).abs() < 1e-9);
        // A flood of 1000 requests a second for 10 s.
        let answered = (0..10_000).filter(|&i| limit.admit(t0 + ms(i))).count();
        // 10 s at 25 a second, and the first burst (half a second's).
        assert!((250..=263).contains(&answered), "{answered}");
        assert_eq!(limit.counts(), (answered as u64, 10_000 - answered as u64));
    }

    #[test]
    fn a_few_requests_a_second_all_pass() {
        let t0 = Instant::now();
        let mut limit = RetransmissionLimit::new(1500);
        // 2 % of 150 packets a second, as the loss bench's: 3 a second.
        assert!((0..300).all(|i| limit.admit(t0 + ms(i * 333))));
    }

    #[test]
    fn a_lower_target_lowers_the_allowance_at_once() {
        let t0 = Instant::now();
        let mut limit = RetransmissionLimit::new(2400);
        limit.set_target(480);
        // 12.5 a second, a burst of 6.25.
        let answered = (0..1000).filter(|&i| limit.admit(t0 + ms(i))).count();
        assert!((12..=20).contains(&answered), "{answered}");
    }

    #[test]
    fn a_low_target_still_repairs_a_few_packets() {
        let t0 = Instant::now();
        let mut limit = RetransmissionLimit::new(100);
        let answered = (0..4).filter(|_| limit.admit(t0)).count();
        assert_eq!(answered, 4);
        assert!(!limit.admit(t0));
    }

    #[test]
    fn the_rate_counts_retransmissions_at_the_videos_packet_size() {
        let t0 = Instant::now();
        let mut rate = RetransmissionRate::default();
        rate.observe(0, 0, 0, t0);
        assert_eq!(rate.kbps(), 0.0);
        // 100 packets of 1000 bytes in a second, 20 of them sent again:
        // 160 kbit in the 2 s window so far, 80 kbit/s.
        rate.observe(20, 100_000, 100, t0 + ms(1000));
        assert!((rate.kbps() - 80.0).abs() < 1e-9, "{}", rate.kbps());
        rate.observe(40, 200_000, 200, t0 + ms(2000));
        assert!((rate.kbps() - 160.0).abs() < 1e-9, "{}", rate.kbps());
        // None any more: the first second leaves the window, then the
        // second; nothing is left.
        rate.observe(40, 300_000, 300, t0 + ms(3000));
        assert!((rate.kbps() - 80.0).abs() < 1e-9, "{}", rate.kbps());
        rate.observe(40, 400_000, 400, t0 + ms(4000));
        assert_eq!(rate.kbps(), 0.0);
    }

    #[test]
    fn counters_that_go_back_count_as_nothing_sent() {
        // A new pipeline starts its counters from zero.
        let t0 = Instant::now();
        let mut rate = RetransmissionRate::default();
        rate.observe(500, 9_000_000, 9000, t0);
        rate.observe(3, 1000, 1, t0 + ms(1000));
        assert_eq!(rate.kbps(), 0.0);
    }

    #[test]
    fn a_request_within_the_least_round_trip_of_the_send_is_premature() {
        let mut limit = RetransmissionLimit::new(1000);
        let sent = Instant::now();
        // No round trip known yet: every request is judged by the budget.
        assert!(!limit.premature(sent + Duration::from_millis(10), Some(sent)));
        limit.note_round_trip(Duration::from_millis(140));
        limit.note_round_trip(Duration::from_millis(100));
        limit.note_round_trip(Duration::from_millis(180));
        assert!(limit.premature(sent + Duration::from_millis(60), Some(sent)));
        assert!(limit.premature(sent + Duration::from_millis(99), Some(sent)));
        assert!(!limit.premature(sent + Duration::from_millis(100), Some(sent)));
        assert!(!limit.premature(sent + Duration::from_millis(400), Some(sent)));
        // A packet the box has no send time for (long gone, or never
        // sent): the budget decides.
        assert!(!limit.premature(sent, None));
        assert_eq!(limit.premature_count(), 2);
        assert_eq!(limit.counts(), (0, 2));
    }
}
