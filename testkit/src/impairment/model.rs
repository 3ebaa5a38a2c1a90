//! The sans-IO model: each packet's decision (dropped and why, or delivered
//! when), per direction, with its counters.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rng::SplitMix64;
use super::script::{PhasePosition, Script};
use super::settings::{Direction, Impairment, JitterShape, Loss, Phase};
use super::MAX_DURATION;

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// Random or bursty loss.
    Loss,
    /// The rate limit's queue was full.
    QueueFull,
    /// A blackout.
    Blackout,
}

/// What happens to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It leaves the link at this instant.
    Deliver {
        /// When to send it on.
        at: Instant,
    },
    /// It is gone.
    Drop(DropCause),
}

/// What one direction has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionCounters {
    /// Packets handed to the model.
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Dropped by random or bursty loss.
    pub dropped_loss: u64,
    /// Dropped because the rate limit's queue was full.
    pub dropped_queue_full: u64,
    /// Dropped in a blackout.
    pub dropped_blackout: u64,
    /// Given a time to leave.
    pub delivered: u64,
    /// Their bytes.
    pub bytes_delivered: u64,
    /// How long the rate limit's queue needs to send what it holds now: a
    /// packet let in now waits that long before its own turn.
    pub queue_delay: Duration,
    /// The longest time a delivered packet spent in the queue, its own
    /// transmission included (the largest `queue_delay` just after a packet
    /// was let in).
    pub max_queue_delay: Duration,
    /// Bytes in the queue now (the one leaving included).
    pub queued_bytes: u64,
}

impl DirectionCounters {
    /// Dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_queue_full + self.dropped_blackout
    }
}

/// Which phase (of which script and cycle) a direction last saw, so that
/// the burst state starts good in each phase.
type PhaseKey = Option<(u64, u64, usize)>;

#[derive(Debug, Clone)]
struct DirectionState {
    loss_draws: SplitMix64,
    jitter_draws: SplitMix64,
    in_bad_state: bool,
    phase_seen: PhaseKey,
    /// Packets in the bottleneck: when each has fully left, and its size.
    queue: VecDeque<(Instant, u64)>,
    queued_bytes: u64,
    /// When the bottleneck is free again.
    bottleneck_free_at: Option<Instant>,
    /// The latest departure given so far.
    last_departure: Option<Instant>,
    counters: DirectionCounters,
}

impl DirectionState {
    fn new(seed: u64, direction: Direction) -> DirectionState {
        let stream = direction.index() as u64 * 2;
        DirectionState {
            loss_draws: SplitMix64::stream(seed, stream),
            jitter_draws: SplitMix64::stream(seed, stream + 1),
            in_bad_state: false,
            phase_seen: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            bottleneck_free_at: None,
            last_departure: None,
            counters: DirectionCounters::default(),
        }
    }

    /// Forgets the packets that have fully left the bottleneck by `now`.
    fn drain(&mut self, now: Instant) {
        while let Some(&(done_at, bytes)) = self.queue.front() {
            if done_at > now {
                break;
            }
            self.queue.pop_front();
            self.queued_bytes = self.queued_bytes.saturating_sub(bytes);
        }
    }

    fn queue_delay(&self, now: Instant) -> Duration {
        self.bottleneck_free_at.map_or(Duration::ZERO, |free_at| {
            free_at.saturating_duration_since(now)
        })
    }

    fn is_lost(&mut self, loss: &Loss) -> bool {
        match *loss {
            Loss::None => false,
            Loss::Random { probability } => self.loss_draws.chance(probability),
            Loss::Burst(chain) => {
                let leave = if self.in_bad_state {
                    chain.bad_to_good
                } else {
                    chain.good_to_bad
                };
                if self.loss_draws.chance(leave) {
                    self.in_bad_state = !self.in_bad_state;
                }
                let loss = if self.in_bad_state {
                    chain.loss_in_bad
                } else {
                    chain.loss_in_good
                };
                self.loss_draws.chance(loss)
            }
        }
    }

    /// The jitter offset in nanoseconds, within ±jitter.
    fn jitter_offset(&mut self, jitter: Duration, shape: JitterShape) -> i128 {
        if jitter.is_zero() {
            return 0;
        }
        let bound = jitter.min(MAX_DURATION).as_nanos() as f64;
        let unit = match shape {
            JitterShape::Uniform => self.jitter_draws.next_f64() * 2.0 - 1.0,
            JitterShape::Normal => (self.jitter_draws.next_normal() / 2.0).clamp(-1.0, 1.0),
        };
        (unit * bound).round() as i128
    }

    fn handle(&mut self, settings: &Impairment, bytes: u64, now: Instant) -> Decision {
        self.drain(now);
        self.counters.packets_in += 1;
        self.counters.bytes_in = self.counters.bytes_in.saturating_add(bytes);
        if settings.blackout {
            self.counters.dropped_blackout += 1;
            return Decision::Drop(DropCause::Blackout);
        }
        if self.is_lost(&settings.loss) {
            self.counters.dropped_loss += 1;
            return Decision::Drop(DropCause::Loss);
        }
        let leaves_bottleneck = match settings.rate {
            None => now,
            Some(rate) => {
                let limit = rate.queue.bytes_at(rate.bits_per_second);
                let fits =
                    self.queue.is_empty() || self.queued_bytes.saturating_add(bytes) <= limit;
                if rate.bits_per_second == 0 || !fits {
                    self.counters.dropped_queue_full += 1;
                    return Decision::Drop(DropCause::QueueFull);
                }
                let starts = self.bottleneck_free_at.map_or(now, |free| free.max(now));
                let done = starts + rate.transmission_time(bytes);
                // Its time in the queue, its own transmission included.
                let sojourn = done - now;
                self.counters.max_queue_delay = self.counters.max_queue_delay.max(sojourn);
                self.queue.push_back((done, bytes));
                self.queued_bytes = self.queued_bytes.saturating_add(bytes);
                self.bottleneck_free_at = Some(done);
                done
            }
        };
        let offset = self.jitter_offset(settings.jitter, settings.jitter_shape);
        let delay = settings.delay.min(MAX_DURATION).as_nanos() as i128 + offset;
        let mut leaves = leaves_bottleneck + Duration::from_nanos(delay.max(0) as u64);
        if !settings.reorder {
            if let Some(last) = self.last_departure {
                leaves = leaves.max(last);
            }
        }
        self.last_departure = Some(self.last_departure.map_or(leaves, |last| last.max(leaves)));
        self.counters.delivered += 1;
        self.counters.bytes_delivered = self.counters.bytes_delivered.saturating_add(bytes);
        Decision::Deliver { at: leaves }
    }
}

/// The model of both directions of one link, driven by the caller's clock.
///
/// Times passed in should not go backwards; if they do, nothing breaks, the
/// queue just drains a little late.
#[derive(Debug, Clone)]
pub struct ImpairmentModel {
    script: Script,
    script_start: Instant,
    /// Counts scripts set, so that a new script's phase 0 is a new phase.
    script_number: u64,
    directions: [DirectionState; 2],
}

impl ImpairmentModel {
    /// A model running `script` from `now`, its random draws from `seed`.
    pub fn new(script: Script, seed: u64, now: Instant) -> ImpairmentModel {
        ImpairmentModel {
            script,
            script_start: now,
            script_number: 0,
            directions: Direction::BOTH.map(|direction| DirectionState::new(seed, direction)),
        }
    }

    /// Decides what happens to a packet of `bytes` (UDP payload) going
    /// `direction`, arriving `now`.
    pub fn handle_packet(&mut self, direction: Direction, bytes: usize, now: Instant) -> Decision {
        let elapsed = now.saturating_duration_since(self.script_start);
        let position = self.script.position_at(elapsed);
        let key: PhaseKey = position.map(|p| (self.script_number, p.cycle, p.index));
        let settings = match position {
            Some(p) => *self.script.phases()[p.index].settings(direction),
            None => Impairment::CLEAR,
        };
        let state = &mut self.directions[direction.index()];
        if state.phase_seen != key {
            state.phase_seen = key;
            state.in_bad_state = false;
        }
        state.handle(&settings, bytes as u64, now)
    }

    /// Runs `script` from `now` on. Packets already decided keep their
    /// times; the counters and the queue carry on.
    pub fn replace_script(&mut self, script: Script, now: Instant) {
        self.script = script;
        self.script_start = now;
        self.script_number += 1;
    }

    /// Runs just `phase` from `now` on (a clear link after it, if it has a
    /// duration).
    pub fn set_phase(&mut self, phase: Phase, now: Instant) {
        self.replace_script(Script::single(phase), now);
    }

    /// The script running.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// Where the script is at `now` (`None`: no phase, a clear link).
    pub fn position(&self, now: Instant) -> Option<PhasePosition> {
        self.script
            .position_at(now.saturating_duration_since(self.script_start))
    }

    /// Whether the script has run out (an empty script has, at once; a
    /// repeating one or one with an endless phase never does).
    pub fn script_finished(&self, now: Instant) -> bool {
        self.position(now).is_none()
    }

    /// When the settings change next (`None`: never), as a `poll_timeout`.
    pub fn next_phase_change(&self, now: Instant) -> Option<Instant> {
        let ends = self.position(now)?.ends?;
        Some(self.script_start + ends)
    }

    /// How long `direction`'s queue needs to send what it holds at `now`.
    pub fn queue_delay(&self, direction: Direction, now: Instant) -> Duration {
        self.directions[direction.index()].queue_delay(now)
    }

    /// `direction`'s counters, with the queue as it is at `now`.
    pub fn counters(&self, direction: Direction, now: Instant) -> DirectionCounters {
        let state = &self.directions[direction.index()];
        let mut counters = state.counters;
        counters.queue_delay = state.queue_delay(now);
        counters.queued_bytes = state
            .queue
            .iter()
            .filter(|(done_at, _)| *done_at > now)
            .fold(0u64, |sum, (_, bytes)| sum.saturating_add(*bytes));
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impairment::settings::{GilbertElliott, QueueLimit, RateLimit};
    use crate::impairment::test_support::{ms, secs, RFC_8867_STEPS};

    /// Sends `count` packets of `bytes` one way, one every `interval`, from
    /// `start`; returns the decisions.
    fn send(
        model: &mut ImpairmentModel,
        direction: Direction,
        start: Instant,
        count: u64,
        bytes: usize,
        interval: Duration,
    ) -> Vec<Decision> {
        (0..count)
            .map(|i| {
                let at = start + interval * u32::try_from(i).expect("count fits u32");
                model.handle_packet(direction, bytes, at)
            })
            .collect()
    }

    fn delivered(decisions: &[Decision]) -> Vec<Instant> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Deliver { at } => Some(*at),
                Decision::Drop(_) => None,
            })
            .collect()
    }

    #[test]
    fn five_percent_random_loss_drops_about_five_percent_of_100k_packets() {
        let start = Instant::now();
        let script = Script::parse("loss=5%").expect("parses");
        let mut model = ImpairmentModel::new(script, 7, start);
        send(&mut model, Direction::BoxToHub, start, 100_000, 1200, ms(1));
        let counters = model.counters(Direction::BoxToHub, start);
        // σ = √(100k · 0.05 · 0.95) ≈ 69 packets; allow 5σ.
        assert!(
            (4650..=5350).contains(&counters.dropped_loss),
            "{counters:?}"
        );
        assert_eq!(counters.packets_in, 100_000);
        assert_eq!(counters.delivered + counters.dropped(), 100_000);
        assert_eq!(counters.bytes_in, 100_000 * 1200);
        assert_eq!(counters.dropped_queue_full + counters.dropped_blackout, 0);
    }

    #[test]
    fn gilbert_elliott_bursts_last_one_over_p_bad_to_good_on_average() {
        let start = Instant::now();
        // Enter the bad state with 1 %, leave it with 25 %: bursts of 4
        // packets on average, 1/(1+25) ≈ 3.85 % of packets lost.
        let script = Script::parse("burst=1%/25%").expect("parses");
        let mut model = ImpairmentModel::new(script, 11, start);
        let decisions = send(&mut model, Direction::BoxToHub, start, 200_000, 200, ms(1));
        let mut bursts = Vec::new();
        let mut run = 0u64;
        for decision in &decisions {
            match decision {
                Decision::Drop(DropCause::Loss) => run += 1,
                Decision::Drop(cause) => panic!("dropped for {cause:?}"),
                Decision::Deliver { .. } => {
                    if run > 0 {
                        bursts.push(run);
                    }
                    run = 0;
                }
            }
        }
        let mean_burst = bursts.iter().sum::<u64>() as f64 / bursts.len() as f64;
        assert!((3.7..=4.3).contains(&mean_burst), "mean burst {mean_burst}");
        let lost = bursts.iter().sum::<u64>() as f64 / decisions.len() as f64;
        let chain = GilbertElliott::gilbert(0.01, 0.25);
        assert!((chain.mean_loss() - lost).abs() < 0.004, "lost {lost}");
        assert!(bursts.iter().any(|&b| b >= 10), "bursts are geometric");
    }

    #[test]
    fn a_rate_limit_delivers_the_configured_rate_and_drops_when_the_queue_is_full() {
        let start = Instant::now();
        // 2 Mbit/s offered (1000-byte packets every 4 ms) to 500 kbit/s with
        // a 30 kB queue, for 20 s.
        let script = Script::parse("rate=500kbit queue=30kB").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        let decisions = send(&mut model, Direction::BoxToHub, start, 5000, 1000, ms(4));
        let times = delivered(&decisions);
        let counters = model.counters(Direction::BoxToHub, start + secs(20));

        // Each packet takes 16 ms at 500 kbit/s: one leaves every 16 ms.
        let first = times[0];
        let last = *times.last().expect("some delivered");
        let bits = (times.len() as f64 - 1.0) * 8000.0;
        let rate = bits / (last - first).as_secs_f64();
        assert!((495_000.0..=505_000.0).contains(&rate), "rate {rate}");

        // About three packets in four do not fit.
        assert!(counters.dropped_queue_full > 3600, "{counters:?}");
        assert_eq!(counters.dropped_queue_full, counters.dropped());
        // The queue filled: 30 kB at 500 kbit/s is 480 ms.
        assert!(
            counters.max_queue_delay > ms(440) && counters.max_queue_delay <= ms(480),
            "{counters:?}"
        );
        assert!(counters.queue_delay > ms(400), "{counters:?}");
        assert!(counters.queued_bytes > 25_000, "{counters:?}");
        // Drained later.
        let later = model.counters(Direction::BoxToHub, start + secs(30));
        assert_eq!(later.queue_delay, Duration::ZERO);
        assert_eq!(later.queued_bytes, 0);
        assert_eq!(later.max_queue_delay, counters.max_queue_delay);
    }

    #[test]
    fn a_stream_under_the_rate_waits_for_nothing_but_its_own_transmission() {
        let start = Instant::now();
        let script = Script::steady(Impairment::rate_limit(1_000_000));
        let mut model = ImpairmentModel::new(script, 1, start);
        // 500 kbit/s into 1 Mbit/s: 1000 bytes every 16 ms, 8 ms each.
        let decisions = send(&mut model, Direction::BoxToHub, start, 100, 1000, ms(16));
        for (i, decision) in decisions.iter().enumerate() {
            let sent = start + ms(16) * i as u32;
            assert_eq!(*decision, Decision::Deliver { at: sent + ms(8) });
        }
        let counters = model.counters(Direction::BoxToHub, start + secs(2));
        // Only their own 8 ms in the queue.
        assert_eq!(counters.max_queue_delay, ms(8));
        assert_eq!(counters.dropped(), 0);
    }

    #[test]
    fn a_queue_given_in_time_holds_that_long_at_the_rate() {
        let start = Instant::now();
        // 100 ms at 800 kbit/s is 10 kB: of twenty 1000-byte packets at
        // once, ten fit (the first leaving, nine waiting), the rest do not.
        let script = Script::parse("rate=800kbit queue=100ms").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        let decisions = send(
            &mut model,
            Direction::BoxToHub,
            start,
            20,
            1000,
            Duration::ZERO,
        );
        assert_eq!(delivered(&decisions).len(), 10);
        let counters = model.counters(Direction::BoxToHub, start);
        assert_eq!(counters.dropped_queue_full, 10);
        assert_eq!(counters.queued_bytes, 10_000);
        assert_eq!(counters.queue_delay, ms(100));
        // The tenth waited 90 ms and took 10 ms to send.
        assert_eq!(counters.max_queue_delay, ms(100));
    }

    #[test]
    fn an_empty_queue_takes_a_packet_bigger_than_the_queue() {
        let start = Instant::now();
        let script = Script::parse("rate=1000kbit queue=500B").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        let first = model.handle_packet(Direction::BoxToHub, 1200, start);
        assert_eq!(
            first,
            Decision::Deliver {
                at: start + Duration::from_micros(9600)
            }
        );
        let second = model.handle_packet(Direction::BoxToHub, 100, start + ms(1));
        assert_eq!(second, Decision::Drop(DropCause::QueueFull));
    }

    #[test]
    fn a_fixed_delay_delays_every_packet_by_exactly_that() {
        let start = Instant::now();
        let script = Script::parse("delay=40ms").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        let decisions = send(&mut model, Direction::HubToBox, start, 50, 100, ms(20));
        for (i, decision) in decisions.iter().enumerate() {
            let sent = start + ms(20) * i as u32;
            assert_eq!(*decision, Decision::Deliver { at: sent + ms(40) });
        }
    }

    fn one_way_delays(decisions: &[Decision], start: Instant, interval: Duration) -> Vec<Duration> {
        decisions
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Decision::Deliver { at } => *at - (start + interval * i as u32),
                Decision::Drop(cause) => panic!("dropped for {cause:?}"),
            })
            .collect()
    }

    #[test]
    fn jitter_without_reorder_never_lets_a_packet_overtake_the_one_before() {
        let start = Instant::now();
        // Jitter (±30 ms) far above the packet spacing (1 ms).
        let script = Script::parse("delay=50ms jitter=30ms").expect("parses");
        let mut model = ImpairmentModel::new(script, 3, start);
        let decisions = send(&mut model, Direction::BoxToHub, start, 10_000, 100, ms(1));
        let times = delivered(&decisions);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "reordered");
        let delays = one_way_delays(&decisions, start, ms(1));
        assert!(delays.iter().all(|d| *d >= ms(20)), "below delay − jitter");
        // Held back behind slower packets, so mostly late in the range.
        assert!(delays.iter().any(|d| *d >= ms(75)));
    }

    #[test]
    fn jitter_with_reorder_stays_within_its_bounds_and_does_reorder() {
        let start = Instant::now();
        let script = Script::parse("delay=50ms jitter=30ms reorder").expect("parses");
        let mut model = ImpairmentModel::new(script, 3, start);
        let decisions = send(&mut model, Direction::BoxToHub, start, 10_000, 100, ms(1));
        let times = delivered(&decisions);
        let overtaken = times.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(overtaken > 1000, "{overtaken} overtaken");
        let delays = one_way_delays(&decisions, start, ms(1));
        assert!(delays.iter().all(|d| *d >= ms(20) && *d <= ms(80)));
        // Uniform: about a quarter of the draws in each 15 ms band.
        let low = delays.iter().filter(|d| **d < ms(35)).count();
        assert!((2300..=2700).contains(&low), "{low} in the lowest quarter");
        let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
        assert!(mean > ms(49) && mean < ms(51), "mean {mean:?}");
    }

    #[test]
    fn normal_jitter_is_bounded_and_gathers_around_the_delay() {
        let start = Instant::now();
        let script =
            Script::parse("delay=50ms jitter=20ms jitter-shape=normal reorder").expect("parses");
        let mut model = ImpairmentModel::new(script, 5, start);
        let decisions = send(&mut model, Direction::BoxToHub, start, 20_000, 100, ms(1));
        let delays = one_way_delays(&decisions, start, ms(1));
        assert!(delays.iter().all(|d| *d >= ms(30) && *d <= ms(70)));
        // σ = 10 ms: about 68 % within ±10 ms.
        let within_sigma = delays
            .iter()
            .filter(|d| **d >= ms(40) && **d <= ms(60))
            .count() as f64
            / delays.len() as f64;
        assert!((0.65..=0.71).contains(&within_sigma), "{within_sigma}");
    }

    #[test]
    fn a_blackout_drops_everything_both_ways() {
        let start = Instant::now();
        let script = Script::parse("blackout").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        for direction in Direction::BOTH {
            let decisions = send(&mut model, direction, start, 1000, 500, ms(1));
            assert!(decisions
                .iter()
                .all(|d| *d == Decision::Drop(DropCause::Blackout)));
            let counters = model.counters(direction, start + secs(1));
            assert_eq!(counters.dropped_blackout, 1000);
            assert_eq!(counters.delivered, 0);
        }
        assert!(!model.script_finished(start + secs(3600)));
    }

    #[test]
    fn a_one_way_blackout_leaves_the_other_way_alone() {
        let start = Instant::now();
        let script = Script::parse("up.blackout down.delay=10ms").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        assert_eq!(
            model.handle_packet(Direction::BoxToHub, 100, start),
            Decision::Drop(DropCause::Blackout)
        );
        assert_eq!(
            model.handle_packet(Direction::HubToBox, 100, start),
            Decision::Deliver { at: start + ms(10) }
        );
    }

    #[test]
    fn phases_switch_at_their_boundaries() {
        let start = Instant::now();
        let script = Script::parse(RFC_8867_STEPS).expect("parses");
        assert_eq!(script.duration(), Some(secs(100)));
        let mut model = ImpairmentModel::new(script, 1, start);
        let phase_at =
            |model: &ImpairmentModel, t: Duration| model.position(start + t).map(|p| p.index);
        assert_eq!(phase_at(&model, Duration::ZERO), Some(0));
        assert_eq!(
            phase_at(&model, secs(40) - Duration::from_nanos(1)),
            Some(0)
        );
        assert_eq!(phase_at(&model, secs(40)), Some(1));
        assert_eq!(phase_at(&model, secs(60)), Some(2));
        assert_eq!(phase_at(&model, secs(99)), Some(3));
        assert_eq!(phase_at(&model, secs(100)), None);
        assert!(model.script_finished(start + secs(100)));
        assert_eq!(
            model.next_phase_change(start + secs(45)),
            Some(start + secs(60))
        );
        assert_eq!(model.next_phase_change(start + secs(100)), None);

        // Offer 3 Mbit/s (1000 bytes every 2.667 ms) for 110 s; what leaves
        // in each phase follows its capacity.
        let interval = Duration::from_micros(2667);
        let decisions = send(
            &mut model,
            Direction::BoxToHub,
            start,
            41_250,
            1000,
            interval,
        );
        let times = delivered(&decisions);
        let rate_between = |from: u64, to: u64| {
            // Skip the first second of each phase (the queue adjusting).
            let (from, to) = (start + secs(from + 1), start + secs(to));
            let count = times.iter().filter(|t| **t >= from && **t < to).count();
            count as f64 * 8000.0 / (to - from).as_secs_f64()
        };
        for (from, to, capacity) in [
            (0, 40, 1_000_000.0),
            (40, 60, 2_500_000.0),
            (60, 80, 600_000.0),
            (80, 100, 1_000_000.0),
        ] {
            let rate = rate_between(from, to);
            assert!(
                (rate / capacity - 1.0).abs() < 0.03,
                "{from}–{to} s: {rate} bit/s, capacity {capacity}"
            );
        }
        // After the script: a clear link passes everything at once.
        let after = model.handle_packet(Direction::BoxToHub, 1000, start + secs(200));
        assert_eq!(
            after,
            Decision::Deliver {
                at: start + secs(200)
            }
        );
    }

    #[test]
    fn a_repeating_script_starts_over_after_its_last_phase() {
        let start = Instant::now();
        let script = Script::parse("for 10s; blackout for 2s; repeat").expect("parses");
        let mut model = ImpairmentModel::new(script, 1, start);
        let at = |t: u64| start + ms(t);
        assert!(matches!(
            model.handle_packet(Direction::BoxToHub, 10, at(9_999)),
            Decision::Deliver { .. }
        ));
        assert_eq!(
            model.handle_packet(Direction::BoxToHub, 10, at(10_000)),
            Decision::Drop(DropCause::Blackout)
        );
        assert!(matches!(
            model.handle_packet(Direction::BoxToHub, 10, at(12_000)),
            Decision::Deliver { .. }
        ));
        assert_eq!(
            model.handle_packet(Direction::BoxToHub, 10, at(12_000 * 50 + 11_000)),
            Decision::Drop(DropCause::Blackout)
        );
        let position = model.position(at(12_000 * 50 + 11_000)).expect("running");
        assert_eq!((position.index, position.cycle), (1, 50));
        assert_eq!(position.ends, Some(ms(12_000 * 51)));
        assert!(!model.script_finished(at(10_000_000)));
    }

    #[test]
    fn replacing_the_script_lifts_a_rate_limit_at_once() {
        let start = Instant::now();
        let mut model = ImpairmentModel::new(
            Script::parse("rate=100kbit queue=5kB").expect("parses"),
            1,
            start,
        );
        let before = send(&mut model, Direction::BoxToHub, start, 100, 1000, ms(10));
        assert!(delivered(&before).len() < 20);
        let now = start + secs(1);
        model.set_phase(Phase::clear(None), now);
        let after = send(&mut model, Direction::BoxToHub, now, 100, 1000, ms(10));
        let times = delivered(&after);
        assert_eq!(times.len(), 100, "nothing dropped once lifted");
        // The first ones wait for the queue ahead of them (no overtaking);
        // the rest leave as they come.
        assert_eq!(*times.last().expect("delivered"), now + ms(990));
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions_and_another_seed_others() {
        let run = |seed: u64| {
            let start = Instant::now();
            let script =
                Script::parse("burst=2%/20%/90%/1% delay=30ms jitter=20ms reorder rate=2mbit")
                    .expect("parses");
            let mut model = ImpairmentModel::new(script, seed, start);
            let decisions = send(&mut model, Direction::BoxToHub, start, 5000, 900, ms(3));
            decisions
                .iter()
                .map(|d| match d {
                    Decision::Deliver { at } => Some(*at - start),
                    Decision::Drop(_) => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn one_direction_does_not_change_the_draws_of_the_other() {
        let start = Instant::now();
        let script = Script::parse("loss=20% jitter=5ms delay=10ms").expect("parses");
        let mut quiet = ImpairmentModel::new(script.clone(), 9, start);
        let mut busy = ImpairmentModel::new(script, 9, start);
        let mut up_quiet = Vec::new();
        let mut up_busy = Vec::new();
        for i in 0..2000u32 {
            let now = start + ms(1) * i;
            up_quiet.push(quiet.handle_packet(Direction::BoxToHub, 100, now));
            busy.handle_packet(Direction::HubToBox, 100, now);
            up_busy.push(busy.handle_packet(Direction::BoxToHub, 100, now));
        }
        assert_eq!(up_quiet, up_busy);
    }

    #[test]
    fn extreme_settings_sizes_and_times_do_not_panic() {
        let start = Instant::now();
        let extreme = Impairment {
            blackout: false,
            loss: Loss::Burst(GilbertElliott {
                good_to_bad: 2.0,
                bad_to_good: -1.0,
                loss_in_bad: f64::NAN,
                loss_in_good: 0.5,
            }),
            delay: Duration::MAX,
            jitter: Duration::MAX,
            jitter_shape: JitterShape::Normal,
            reorder: true,
            rate: Some(RateLimit {
                bits_per_second: 0,
                queue: QueueLimit::Delay(Duration::MAX),
            }),
        };
        let mut model = ImpairmentModel::new(Script::steady(extreme), u64::MAX, start);
        model.handle_packet(Direction::BoxToHub, usize::MAX, start);
        model.handle_packet(Direction::BoxToHub, 0, start - secs(1));
        let mut model = ImpairmentModel::new(
            Script::steady(Impairment {
                rate: Some(RateLimit {
                    bits_per_second: 1,
                    queue: QueueLimit::Bytes(u64::MAX),
                }),
                ..extreme
            }),
            0,
            start,
        );
        for _ in 0..3 {
            model.handle_packet(Direction::HubToBox, usize::MAX, start);
        }
        let _ = model.counters(Direction::HubToBox, start);
    }
}
