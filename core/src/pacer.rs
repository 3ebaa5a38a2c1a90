//! Paces the video onto the link: packets leave at a steady rate a little
//! above the video target, not in the encoder's bursts.
//!
//! A keyframe is 10–16 kB at 1280x720 and leaves the encoder at once. Sent
//! as it comes, it lands in the province's DSL or 4G router as one burst:
//! at 1 Mbit/s that is 80–130 ms of queue in front of everything else on
//! the link, the room's own audio included, every keyframe interval. The
//! network bench saw each keyframe raise the bottleneck's queue by 60 ms
//! at 1 Mbit/s and 110–140 ms at 0.6 Mbit/s, and the delay-based control
//! read most of them as over-use and backed off.
//!
//! The pacer spaces the video's packets at [`PACING_FACTOR`] times the
//! video target, so a keyframe spreads over its share of the link's time
//! and the audio (not paced) goes between its packets. What waits, waits
//! in the box, where it is known and bounded: when the box's own queue
//! holds more than [`MAX_QUEUE_DELAY`] at that rate, the rate rises so
//! that what is queued has left within that time (a target dropped far
//! under what the encoder still has queued does not hold the picture back
//! for seconds).
//!
//! The pacer sits before the RTP session, so the transport-wide send times
//! the delay-based control reads are the paced ones.
//!
//! No clock, no IO: `now`, the packet's size and the queue's level are
//! handed in; the adapter waits until the time returned.

use std::time::{Duration, Instant};

/// The video leaves at this many times its target.
pub const PACING_FACTOR: f64 = 2.0;
/// The longest the video waits in the box's queue: over this, the pacing
/// rate rises to empty the queue within this time.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_millis(250);
/// Near a drain's deadline, what is left goes at most this fast: in this
/// time.
const MIN_DRAIN_TIME: Duration = Duration::from_millis(5);

/// The video's pacer.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// The video target, bits a second; 0: no pacing.
    target_bps: f64,
    /// When the link is free for the next packet at the pacing rate.
    next_free: Option<Instant>,
    /// While draining a queue deeper than [`MAX_QUEUE_DELAY`]: when it is
    /// to have left.
    drain_by: Option<Instant>,
    /// Time packets waited beyond their arrival at the pacer, in total.
    held: Duration,
    /// Packets paced.
    packets: u64,
}

impl Pacer {
    /// A pacer for a video target of `target_kbps` (0: packets go at once).
    pub fn new(target_kbps: u32) -> Self {
        Pacer {
            target_bps: f64::from(target_kbps) * 1000.0,
            next_free: None,
            drain_by: None,
            held: Duration::ZERO,
            packets: 0,
        }
    }

    /// The video target changed.
    pub fn set_target(&mut self, target_kbps: u32) {
        self.target_bps = f64::from(target_kbps) * 1000.0;
    }

    /// A packet of `bytes` is next at `now`, `queued_bytes` waiting behind
    /// it: the time it may leave (never before `now`).
    pub fn release_at(&mut self, now: Instant, bytes: usize, queued_bytes: u64) -> Instant {
        let paced = self.target_bps * PACING_FACTOR;
        if paced <= 0.0 {
            return now;
        }
        let slot = self.next_free.map_or(now, |free| free.max(now));
        // What is queued from this packet on, and how long it takes at the
        // pacing rate: over the longest wait, it is to have left by a
        // deadline set when the queue first grew too deep, and until then
        // it leaves at the rate that meets the deadline.
        let backlog_bits = (queued_bytes + bytes as u64) as f64 * 8.0;
        let draining = self.drain_by.filter(|&deadline| deadline > slot);
        let too_deep = backlog_bits / paced > MAX_QUEUE_DELAY.as_secs_f64();
        let rate = if draining.is_some() || too_deep {
            let deadline = draining.unwrap_or(slot + MAX_QUEUE_DELAY);
            self.drain_by = Some(deadline);
            let left = (deadline - slot).max(MIN_DRAIN_TIME).as_secs_f64();
            paced.max(backlog_bits / left)
        } else {
            self.drain_by = None;
            paced
        };
        // A packet's time on the link at that rate; the next one's slot is
        // after it.
        let airtime = Duration::from_secs_f64(bytes as f64 * 8.0 / rate);
        self.next_free = Some(slot + airtime);
        self.held += slot - now;
        self.packets += 1;
        slot
    }

    /// Packets paced and the time they waited in total.
    pub fn counts(&self) -> (u64, Duration) {
        (self.packets, self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Releases `sizes` all ready at `start` (a keyframe's packets), each
    /// asked for when the one before has left, and returns their
    /// departures from `start`.
    fn burst(pacer: &mut Pacer, start: Instant, sizes: &[usize]) -> Vec<Duration> {
        let mut now = start;
        let mut queued: u64 = sizes.iter().map(|&s| s as u64).sum();
        sizes
            .iter()
            .map(|&size| {
                queued -= size as u64;
                now = pacer.release_at(now, size, queued);
                now - start
            })
            .collect()
    }

    #[test]
    fn a_keyframe_spreads_at_twice_the_target() {
        // 800 kbit/s: paced at 1.6 Mbit/s, 1200 bytes every 6 ms.
        let mut pacer = Pacer::new(800);
        let start = Instant::now();
        let departures = burst(&mut pacer, start, &[1200; 12]);
        assert_eq!(
            departures[0],
            Duration::ZERO,
            "the first packet goes at once"
        );
        for pair in departures.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_micros(5990) && gap <= Duration::from_micros(6010),
                "gap {gap:?}"
            );
        }
        // 14.4 kB at 1.6 Mbit/s: the last packet leaves after 66 ms.
        assert_eq!(departures[11], Duration::from_micros(66_000));
    }

    #[test]
    fn packets_spaced_wider_than_the_rate_go_at_once() {
        let mut pacer = Pacer::new(800);
        let start = Instant::now();
        for i in 0..30u64 {
            let now = start + Duration::from_millis(33 * i);
            assert_eq!(pacer.release_at(now, 1200, 0), now);
        }
        assert_eq!(pacer.counts(), (30, Duration::ZERO));
    }

    #[test]
    fn a_deep_queue_drains_within_the_longest_wait() {
        // The target fell to 300 kbit/s with 100 kB still queued (a
        // keyframe and frames behind it at the old rate): at 600 kbit/s
        // that would be 1.3 s, but it has left within 250 ms, evenly
        // spaced (2.5 ms apart, 3.2 Mbit/s).
        let mut pacer = Pacer::new(300);
        let start = Instant::now();
        let departures = burst(&mut pacer, start, &[1000; 100]);
        let last = *departures.last().unwrap();
        assert!(last <= MAX_QUEUE_DELAY, "drained in {last:?}");
        assert!(
            last >= Duration::from_millis(240),
            "not faster than needed: {last:?}"
        );
        for pair in departures.windows(2) {
            let gap = (pair[1] - pair[0]).as_secs_f64() * 1000.0;
            assert!((2.45..=2.55).contains(&gap), "gap {gap} ms");
        }
        // Drained, the next packet is paced at twice the target again.
        let after = start + Duration::from_secs(1);
        let next = burst(&mut pacer, after, &[1000; 2]);
        let gap = next[1].as_secs_f64() * 1000.0;
        assert!(
            (13.32..=13.34).contains(&gap),
            "1000 bytes at 600 kbit/s: {gap} ms"
        );
    }

    #[test]
    fn no_target_means_no_pacing() {
        let mut pacer = Pacer::new(0);
        let start = Instant::now();
        assert_eq!(
            burst(&mut pacer, start, &[1200; 5]),
            vec![Duration::ZERO; 5]
        );
    }

    #[test]
    fn a_lower_target_widens_the_spacing() {
        let mut pacer = Pacer::new(1000);
        let start = Instant::now();
        let fast = burst(&mut pacer, start, &[1250; 2]);
        assert_eq!(fast[1], Duration::from_millis(5), "1250 bytes at 2 Mbit/s");
        pacer.set_target(500);
        let later = start + Duration::from_secs(1);
        let slow = burst(&mut pacer, later, &[1250; 2]);
        assert_eq!(slow[1], Duration::from_millis(10), "1250 bytes at 1 Mbit/s");
    }
}
