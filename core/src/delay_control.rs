//! The video bitrate from per-packet feedback: the delay-based part of
//! Google Congestion Control (draft-ietf-rmcat-gcc-02, section 5), run on
//! the hub's transport-wide congestion control feedback
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01: for each video
//! packet, when it arrived at the hub, or that it did not).
//!
//! A queue filling at the bottleneck shows as packets arriving later and
//! later relative to when they were sent, long before any loss:
//! - packets sent within [`BURST`] of each other form a group; for each
//!   group the *delay variation* is its arrival gap less its send gap;
//! - the accumulated variation, smoothed, is fitted over the last
//!   [`WINDOW`] groups: the slope is the delay's trend;
//! - the trend, scaled, is compared with an adaptive threshold: over it
//!   for [`OVERUSE_TIME_MS`] and still rising is *over-use*, under its
//!   negative is *under-use* (a queue draining), between is *normal*;
//! - over-use: the target drops to [`BACK_OFF`] of what the hub
//!   acknowledged receiving over the last [`ACKED_WINDOW_MS`], and further
//!   by the share of [`QUEUE_DRAIN_MS`] the queue at the bottleneck holds
//!   (so that a full queue drains within about that time); under-use:
//!   hold; normal: grow, by [`GROWTH_PER_S`] a second, or by about a
//!   packet per half second near the rate where the last over-use was.
//!
//! A full drop-tail queue delays every packet alike: the trend is flat and
//! only loss shows it. So the feedback's own loss (section 6's loss-based
//! control, on the packets sent in the last [`LOSS_WINDOW`]) also counts:
//! above [`HIGH_LOSS`] the target drops in proportion (1 - loss/2), from
//! [`LOW_LOSS`] to [`HIGH_LOSS`] it may not grow. And a queue that
//! stands: each batch's least one-way delay (the hub's arrival time less
//! the box's send time: the clocks' offset plus the path's delay) over the
//! least seen in the last [`BASE_DELAY_WINDOW`] is the queue at the
//! bottleneck; over [`STANDING_QUEUE_MS`] and not shrinking since the last
//! decrease, it counts as over-use too.
//!
//! Constants follow the draft and the parameters its reference
//! implementation ships with (the trendline estimator). No clock, no IO:
//! the arrival times are the hub's, the send times the box's, and `now`
//! is handed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packets sent within this time of a group's first one belong to it.
pub const BURST: Duration = Duration::from_millis(5);
/// Groups the trend is fitted over.
pub const WINDOW: usize = 20;
/// Smoothing of the accumulated delay variation.
const SMOOTHING: f64 = 0.9;
/// The trend's gain before it is compared with the threshold.
const TREND_GAIN: f64 = 4.0;
/// The number of deltas the trend is scaled by at most.
const MAX_DELTAS: f64 = 60.0;
/// The threshold's start, bounds and adaptation rates (up and down, per ms).
const THRESHOLD_START_MS: f64 = 12.5;
const THRESHOLD_MIN_MS: f64 = 6.0;
const THRESHOLD_MAX_MS: f64 = 600.0;
const THRESHOLD_UP: f64 = 0.0087;
const THRESHOLD_DOWN: f64 = 0.039;
/// How long the trend must stay over the threshold to be over-use.
pub const OVERUSE_TIME_MS: f64 = 10.0;
/// Share of the acknowledged rate the target drops to on over-use.
pub const BACK_OFF: f64 = 0.85;
/// On over-use with a queue of `q` ms at the bottleneck, the target drops
/// further, to `1 - q / QUEUE_DRAIN_MS` of [`BACK_OFF`]'s (at least
/// [`MIN_DRAIN_SHARE`] of it): the link's spare capacity then empties the
/// queue within about this time. GCC's 85 % alone left the network bench's
/// 300 ms queue full 1.5-2 s after each capacity drop, and draining for 2-3
/// s after the box started at its ceiling.
pub const QUEUE_DRAIN_MS: f64 = 1000.0;
/// The least share [`QUEUE_DRAIN_MS`]'s rule keeps.
pub const MIN_DRAIN_SHARE: f64 = 0.5;
/// The packets the loss is measured over: those sent in this time, at
/// least [`LOSS_MIN_PACKETS`] of them.
pub const LOSS_WINDOW: Duration = Duration::from_secs(1);
/// See [`LOSS_WINDOW`].
pub const LOSS_MIN_PACKETS: usize = 20;
/// Loss above which the target drops.
pub const HIGH_LOSS: f64 = 0.10;
/// Loss under which the target may grow.
pub const LOW_LOSS: f64 = 0.02;
/// The least one-way delay is remembered this long (a route that changes
/// is learnt again within it).
pub const BASE_DELAY_WINDOW: Duration = Duration::from_secs(30);
/// A queue this long that does not drain is over-use, trend or not.
pub const STANDING_QUEUE_MS: f64 = 80.0;
/// Multiplicative growth per second on a clear path.
pub const GROWTH_PER_S: f64 = 1.08;
/// What the hub received is measured over this much of its arrival time.
pub const ACKED_WINDOW_MS: f64 = 500.0;
/// The target never exceeds this multiple of the acknowledged rate (plus
/// a little), so that it cannot run far ahead of what the path proved.
const ACKED_HEADROOM: f64 = 1.5;
/// The least time between two decreases.
const DECREASE_INTERVAL: Duration = Duration::from_millis(300);
/// Arrival gaps larger than this restart the estimator (the hub's clock
/// jumped, or the feedback stopped for long).
const RESET_GAP_MS: f64 = 3000.0;
/// Near the rate of the last over-use, growth is about one packet of this
/// many bits per this response time (GCC's is the round trip plus 100 ms;
/// half a second measured a lower queue in the network bench: p95
/// 106-148 ms against 171-271 ms at 200 ms, at the price of climbing
/// slower after the capacity rises).
const PACKET_BITS: f64 = 1200.0 * 8.0;
const RESPONSE_TIME_S: f64 = 0.5;
/// "Near": within this share of the rate of the last over-use.
const NEAR_CAPACITY: f64 = 0.15;

/// What the hub's feedback says of one video packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketResult {
    /// When the box sent it, in ns of the box's clock.
    pub sent_ns: u64,
    /// When it arrived at the hub, in ns of the hub's clock; `None`: lost.
    pub arrived_ns: Option<u64>,
    /// Its size on the wire, in bytes.
    pub size_bytes: u32,
}

/// What the delay trend says of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// No queue building.
    Normal,
    /// A queue building: the box sends more than the path carries.
    Overuse,
    /// A queue draining.
    Underuse,
}

/// Why the delay-based target changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayChange {
    /// The delay rose steadily: down to what the hub received.
    Overuse,
    /// The feedback shows more than 10 % lost.
    Loss,
    /// The path is clear: growing.
    Growth,
}

/// A group of packets sent together.
#[derive(Debug, Clone, Copy)]
struct Group {
    first_sent_ns: u64,
    last_sent_ns: u64,
    last_arrived_ns: u64,
}

/// The trend of the one-way delay and the over-use detector on it.
#[derive(Debug, Clone)]
struct Trendline {
    first_arrival_ms: Option<f64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    window: VecDeque<(f64, f64)>,
    deltas: u32,
    threshold_ms: f64,
    last_threshold_update_ms: Option<f64>,
    time_over_ms: Option<f64>,
    over_count: u32,
    previous_trend: f64,
    usage: Usage,
}

impl Trendline {
    fn new() -> Self {
        Trendline {
            first_arrival_ms: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            window: VecDeque::with_capacity(WINDOW + 1),
            deltas: 0,
            threshold_ms: THRESHOLD_START_MS,
            last_threshold_update_ms: None,
            time_over_ms: None,
            over_count: 0,
            previous_trend: 0.0,
            usage: Usage::Normal,
        }
    }

    /// One group's delay variation `variation_ms`, its send gap and its
    /// arrival time.
    fn update(&mut self, variation_ms: f64, send_gap_ms: f64, arrival_ms: f64) -> Usage {
        self.deltas = self.deltas.saturating_add(1).min(1000);
        self.accumulated_ms += variation_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.window
            .push_back((arrival_ms - first, self.smoothed_ms));
        if self.window.len() > WINDOW {
            self.window.pop_front();
        }
        let trend = if self.window.len() == WINDOW {
            slope(&self.window).unwrap_or(self.previous_trend)
        } else {
            self.previous_trend
        };
        self.detect(trend, send_gap_ms, arrival_ms)
    }

    fn detect(&mut self, trend: f64, send_gap_ms: f64, now_ms: f64) -> Usage {
        if self.deltas < 2 {
            return self.usage;
        }
        let modified = f64::from(self.deltas).min(MAX_DELTAS) * trend * TREND_GAIN;
        if modified > self.threshold_ms {
            let over = match self.time_over_ms {
                None => send_gap_ms / 2.0,
                Some(t) => t + send_gap_ms,
            };
            self.time_over_ms = Some(over);
            self.over_count += 1;
            if over > OVERUSE_TIME_MS && self.over_count > 1 && trend >= self.previous_trend {
                self.time_over_ms = Some(0.0);
                self.over_count = 0;
                self.usage = Usage::Overuse;
            }
        } else if modified < -self.threshold_ms {
            self.time_over_ms = None;
            self.over_count = 0;
            self.usage = Usage::Underuse;
        } else {
            self.time_over_ms = None;
            self.over_count = 0;
            self.usage = Usage::Normal;
        }
        self.previous_trend = trend;
        self.adapt_threshold(modified, now_ms);
        self.usage
    }

    /// The threshold follows the trend's size, fast down and slowly up, so
    /// that a path with steady jitter is not taken for a queue; a spike far
    /// over it does not move it.
    fn adapt_threshold(&mut self, modified: f64, now_ms: f64) {
        let last = *self.last_threshold_update_ms.get_or_insert(now_ms);
        let size = modified.abs();
        if size > self.threshold_ms + 15.0 {
            self.last_threshold_update_ms = Some(now_ms);
            return;
        }
        let k = if size < self.threshold_ms {
            THRESHOLD_DOWN
        } else {
            THRESHOLD_UP
        };
        let dt = (now_ms - last).clamp(0.0, 100.0);
        self.threshold_ms = (self.threshold_ms + k * (size - self.threshold_ms) * dt)
            .clamp(THRESHOLD_MIN_MS, THRESHOLD_MAX_MS);
        self.last_threshold_update_ms = Some(now_ms);
    }
}

/// Least-squares slope of `points` (x, y); `None` when the x do not vary.
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), &(x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    (den > 0.0).then(|| num / den)
}

/// One session's delay-based video target.
#[derive(Debug, Clone)]
pub struct DelayControl {
    floor_kbps: f64,
    ceiling_kbps: f64,
    target_kbps: f64,
    trendline: Trendline,
    group: Option<Group>,
    previous_group: Option<Group>,
    /// Received packets: arrival (ns, hub's clock) and size, over the
    /// acknowledged-rate window.
    received: VecDeque<(u64, u32)>,
    /// The acknowledged rate at the last over-use.
    capacity_kbps: Option<f64>,
    last_decrease: Option<Instant>,
    last_update: Option<Instant>,
    /// Packets reported so far, and those reported lost.
    reported: u64,
    lost: u64,
    /// The packets sent in the last [`LOSS_WINDOW`]: when, and whether
    /// they were lost.
    loss_window: VecDeque<(u64, bool)>,
    /// The least one-way delay (ms, clocks' offset included) of each
    /// second of the hub's arrival times, over [`BASE_DELAY_WINDOW`].
    base_delay: VecDeque<(u64, f64)>,
    /// The least one-way delay of the latest feedback.
    batch_delay_ms: Option<f64>,
    /// The standing queue when the target last dropped for it.
    queue_at_decrease_ms: Option<f64>,
}

impl DelayControl {
    /// A controller starting at the ceiling.
    pub fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        DelayControl {
            floor_kbps: f64::from(floor_kbps.min(ceiling_kbps)),
            ceiling_kbps: f64::from(ceiling_kbps),
            target_kbps: f64::from(ceiling_kbps),
            trendline: Trendline::new(),
            group: None,
            previous_group: None,
            received: VecDeque::new(),
            capacity_kbps: None,
            last_decrease: None,
            last_update: None,
            reported: 0,
            lost: 0,
            loss_window: VecDeque::new(),
            base_delay: VecDeque::new(),
            batch_delay_ms: None,
            queue_at_decrease_ms: None,
        }
    }

    /// The queue at the bottleneck as of the latest feedback, in ms: its
    /// least one-way delay over the least of the last
    /// [`BASE_DELAY_WINDOW`].
    pub fn standing_queue_ms(&self) -> Option<f64> {
        let base = self
            .base_delay
            .iter()
            .map(|&(_, d)| d)
            .fold(f64::INFINITY, f64::min);
        let batch = self.batch_delay_ms?;
        (base.is_finite()).then(|| (batch - base).max(0.0))
    }

    fn note_delay(&mut self, sent_ns: u64, arrived_ns: u64) {
        let delay_ms = (arrived_ns as f64 - sent_ns as f64) / 1e6;
        self.batch_delay_ms = Some(self.batch_delay_ms.map_or(delay_ms, |d| d.min(delay_ms)));
        let second = arrived_ns / 1_000_000_000;
        match self.base_delay.back_mut() {
            Some((s, d)) if *s == second => *d = d.min(delay_ms),
            _ => self.base_delay.push_back((second, delay_ms)),
        }
        let window = BASE_DELAY_WINDOW.as_secs();
        while self
            .base_delay
            .front()
            .is_some_and(|&(s, _)| second.saturating_sub(s) > window || s > second)
        {
            self.base_delay.pop_front();
        }
    }

    /// The share of the packets sent in the last [`LOSS_WINDOW`] that were
    /// lost; `None` with fewer than [`LOSS_MIN_PACKETS`].
    pub fn recent_loss(&self) -> Option<f64> {
        let n = self.loss_window.len();
        (n >= LOSS_MIN_PACKETS)
            .then(|| self.loss_window.iter().filter(|&&(_, lost)| lost).count() as f64 / n as f64)
    }

    /// The bitrate the delay allows.
    pub fn target_kbps(&self) -> u32 {
        self.target_kbps.round() as u32
    }

    /// What the delay trend said last.
    pub fn usage(&self) -> Usage {
        self.trendline.usage
    }

    /// Packets the feedback reported on, and those it reported lost.
    pub fn reported(&self) -> (u64, u64) {
        (self.reported, self.lost)
    }

    /// What the hub received over the last [`ACKED_WINDOW_MS`] of its
    /// arrival times, in kbit/s; `None` before enough arrived.
    pub fn acknowledged_kbps(&self) -> Option<f64> {
        let (&(first, _), &(last, _)) = (self.received.front()?, self.received.back()?);
        let span_ms = (last.saturating_sub(first)) as f64 / 1e6;
        if span_ms < ACKED_WINDOW_MS / 2.0 {
            return None;
        }
        // The first packet opens the window: its bytes arrived before it.
        let bytes: u64 = self
            .received
            .iter()
            .skip(1)
            .map(|&(_, b)| u64::from(b))
            .sum();
        Some(bytes as f64 * 8.0 / span_ms)
    }

    /// New limits (a pushed config): a target at the old ceiling follows
    /// the new one.
    pub fn set_limits(&mut self, floor_kbps: u32, ceiling_kbps: u32) {
        if self.target_kbps() == self.ceiling_kbps.round() as u32 {
            self.target_kbps = f64::from(ceiling_kbps);
        }
        self.floor_kbps = f64::from(floor_kbps.min(ceiling_kbps));
        self.ceiling_kbps = f64::from(ceiling_kbps);
        self.clamp();
    }

    /// Starts again from `kbps` with a fresh estimator (the video resumes
    /// after the circuit breaker, or the feedback came back after a gap).
    pub fn restart_at(&mut self, kbps: u32) {
        let (floor, ceiling) = (self.floor_kbps, self.ceiling_kbps);
        *self = DelayControl::new(floor as u32, ceiling as u32);
        self.target_kbps = f64::from(kbps);
        self.clamp();
    }

    fn clamp(&mut self) {
        self.target_kbps = self.target_kbps.clamp(self.floor_kbps, self.ceiling_kbps);
    }

    /// One feedback message's packets, in the order the box sent them.
    /// Returns why the target changed, if it did.
    pub fn on_feedback(&mut self, packets: &[PacketResult], now: Instant) -> Option<DelayChange> {
        self.batch_delay_ms = None;
        for packet in packets {
            self.on_packet(packet);
        }
        self.decide(now)
    }

    fn on_packet(&mut self, packet: &PacketResult) {
        self.reported += 1;
        self.loss_window
            .push_back((packet.sent_ns, packet.arrived_ns.is_none()));
        let newest_sent = packet.sent_ns;
        while self.loss_window.front().is_some_and(|&(sent, _)| {
            newest_sent.saturating_sub(sent) > LOSS_WINDOW.as_nanos() as u64
        }) {
            self.loss_window.pop_front();
        }
        let Some(arrived) = packet.arrived_ns else {
            self.lost += 1;
            return;
        };
        if let Some(&(last, _)) = self.received.back() {
            if (arrived as f64 - last as f64).abs() / 1e6 > RESET_GAP_MS {
                // The hub's clock jumped, or nothing came for long: what
                // came before says nothing of the path now.
                self.received.clear();
                self.group = None;
                self.previous_group = None;
                self.trendline = Trendline::new();
                self.base_delay.clear();
                self.batch_delay_ms = None;
            }
        }
        self.note_delay(packet.sent_ns, arrived);
        self.received.push_back((arrived, packet.size_bytes));
        let newest = self
            .received
            .iter()
            .map(|&(a, _)| a)
            .max()
            .unwrap_or(arrived);
        while self
            .received
            .front()
            .is_some_and(|&(a, _)| (newest.saturating_sub(a)) as f64 / 1e6 > ACKED_WINDOW_MS)
        {
            self.received.pop_front();
        }
        match self.group.as_mut() {
            Some(group)
                if packet.sent_ns.saturating_sub(group.first_sent_ns)
                    <= BURST.as_nanos() as u64
                    && packet.sent_ns >= group.first_sent_ns =>
            {
                group.last_sent_ns = group.last_sent_ns.max(packet.sent_ns);
                group.last_arrived_ns = group.last_arrived_ns.max(arrived);
            }
            _ => {
                if let Some(done) = self.group.take() {
                    self.close_group(done);
                }
                self.group = Some(Group {
                    first_sent_ns: packet.sent_ns,
                    last_sent_ns: packet.sent_ns,
                    last_arrived_ns: arrived,
                });
            }
        }
    }

    fn close_group(&mut self, group: Group) {
        if let Some(previous) = self.previous_group {
            let send_gap_ms = (group.last_sent_ns as f64 - previous.last_sent_ns as f64) / 1e6;
            let arrival_gap_ms =
                (group.last_arrived_ns as f64 - previous.last_arrived_ns as f64) / 1e6;
            // Reordered groups, or a send order that went back, say
            // nothing of the queue.
            if send_gap_ms > 0.0 && arrival_gap_ms >= 0.0 {
                let arrival_ms = group.last_arrived_ns as f64 / 1e6;
                self.trendline
                    .update(arrival_gap_ms - send_gap_ms, send_gap_ms, arrival_ms);
            }
        }
        self.previous_group = Some(group);
    }

    fn decide(&mut self, now: Instant) -> Option<DelayChange> {
        let elapsed = self.last_update.map(|at| {
            now.saturating_duration_since(at)
                .min(Duration::from_secs(1))
        });
        self.last_update = Some(now);
        let acked = self.acknowledged_kbps();
        let loss = self.recent_loss();
        let before = self.target_kbps();
        let can_decrease = self
            .last_decrease
            .is_none_or(|at| now.saturating_duration_since(at) >= DECREASE_INTERVAL);
        let queue = self.standing_queue_ms();
        // A queue that stands, and has not shrunk since the last decrease
        // for it (while it drains the trend says under-use).
        let standing = queue.is_some_and(|q| {
            q > STANDING_QUEUE_MS && self.queue_at_decrease_ms.is_none_or(|at| q > at - 10.0)
        });
        let usage = match self.trendline.usage {
            // Over-use with nothing acknowledged yet: the loss decides.
            Usage::Overuse if acked.is_none() => Usage::Normal,
            Usage::Normal if standing && acked.is_some() => Usage::Overuse,
            usage => usage,
        };
        if usage != Usage::Overuse {
            if let Some(loss) = loss.filter(|&l| l > HIGH_LOSS) {
                if !can_decrease {
                    return None;
                }
                self.target_kbps *= 1.0 - 0.5 * loss;
                self.last_decrease = Some(now);
                // What comes next shows what this decrease did.
                self.loss_window.clear();
                self.clamp();
                return (self.target_kbps() != before).then_some(DelayChange::Loss);
            }
        }
        let change = match usage {
            Usage::Overuse => {
                let acked = acked?;
                if !can_decrease {
                    return None;
                }
                self.capacity_kbps = Some(match self.capacity_kbps {
                    Some(c) if (acked - c).abs() < NEAR_CAPACITY * c => 0.5 * (c + acked),
                    _ => acked,
                });
                let drain = queue.map_or(1.0, |q| {
                    (1.0 - q / QUEUE_DRAIN_MS).clamp(MIN_DRAIN_SHARE, 1.0)
                });
                self.target_kbps = self.target_kbps.min(BACK_OFF * acked * drain);
                self.last_decrease = Some(now);
                self.queue_at_decrease_ms = queue;
                // The loss before this decrease says nothing of after.
                self.loss_window.clear();
                DelayChange::Overuse
            }
            Usage::Underuse => return None,
            // Some loss: hold.
            Usage::Normal if loss.is_some_and(|l| l >= LOW_LOSS) => return None,
            Usage::Normal => {
                let dt = elapsed?.as_secs_f64();
                let near = self
                    .capacity_kbps
                    .is_some_and(|c| (self.target_kbps - c).abs() <= NEAR_CAPACITY * c);
                if self
                    .capacity_kbps
                    .is_some_and(|c| self.target_kbps > c * (1.0 + NEAR_CAPACITY))
                {
                    // Well past the last over-use: the path changed.
                    self.capacity_kbps = None;
                }
                let grown = if near {
                    self.target_kbps + PACKET_BITS / 1000.0 / RESPONSE_TIME_S * dt
                } else {
                    self.target_kbps * GROWTH_PER_S.powf(dt)
                };
                // Never grows far past what the hub proved it receives; an
                // encoder sending less than its target (a still picture)
                // holds it where it is.
                let cap = acked.map_or(f64::INFINITY, |a| ACKED_HEADROOM * a + 10.0);
                if grown <= cap {
                    self.target_kbps = grown;
                } else if self.target_kbps < cap {
                    self.target_kbps = cap;
                }
                DelayChange::Growth
            }
        };
        self.clamp();
        (self.target_kbps() != before).then_some(change)
    }
}

#[cfg(test)]
/// A simulated bottleneck for the tests of this module and `send_control`.
pub(crate) mod tests_path {
    use super::*;

    /// A path of `capacity_kbps` with a drop-tail queue of `queue_ms` and
    /// 50 ms one-way delay, fed 1200-byte packets paced at the target:
    /// what the hub's feedback says, every 50 ms.
    pub struct Path {
        pub capacity_kbps: f64,
        queue_ms: f64,
        /// When the queue empties, in ns.
        busy_until_ns: u64,
        now_ns: u64,
        pub jitter: Option<u64>,
    }

    impl Path {
        pub fn new(capacity_kbps: f64) -> Self {
            Path {
                capacity_kbps,
                queue_ms: 300.0,
                busy_until_ns: 0,
                now_ns: 1_000_000_000,
                jitter: None,
            }
        }

        /// 50 ms of sending at `kbps`: the packets' results.
        pub fn send(&mut self, kbps: f64) -> Vec<PacketResult> {
            let size = 1200u32;
            let per_packet_ns = (f64::from(size) * 8.0 / kbps * 1e6) as u64;
            let end = self.now_ns + 50_000_000;
            let mut out = Vec::new();
            let mut seed = self.jitter;
            while self.now_ns < end {
                let serve_ns = (f64::from(size) * 8.0 / self.capacity_kbps * 1e6) as u64;
                let start = self.busy_until_ns.max(self.now_ns);
                let waiting_ms = (start - self.now_ns) as f64 / 1e6;
                let arrived_ns = if waiting_ms > self.queue_ms {
                    None
                } else {
                    self.busy_until_ns = start + serve_ns;
                    let jitter = seed.as_mut().map_or(0, |s| {
                        *s = s
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (*s >> 33) % 3_000_000
                    });
                    Some(self.busy_until_ns + 50_000_000 + jitter)
                };
                out.push(PacketResult {
                    sent_ns: self.now_ns,
                    arrived_ns,
                    size_bytes: size,
                });
                self.now_ns += per_packet_ns;
            }
            self.now_ns = self.now_ns.max(end);
            out
        }

        /// A queue full to its limit, as after a burst over the capacity.
        pub fn fill_queue(&mut self) {
            self.busy_until_ns = self.now_ns + (self.queue_ms * 1e6) as u64;
        }

        pub fn queue_ms(&self) -> f64 {
            self.busy_until_ns.saturating_sub(self.now_ns) as f64 / 1e6
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_path::Path;
    use super::*;

    /// Runs `seconds` of feedback every 50 ms; returns the target and the
    /// largest queue in the last half.
    fn run(
        control: &mut DelayControl,
        path: &mut Path,
        t0: Instant,
        from_s: f64,
        seconds: f64,
    ) -> (u32, f64) {
        let steps = (seconds * 20.0) as u32;
        let mut worst = 0.0f64;
        for i in 0..steps {
            let results = path.send(f64::from(control.target_kbps()));
            let now = t0 + Duration::from_secs_f64(from_s + f64::from(i + 1) * 0.05);
            control.on_feedback(&results, now);
            if i >= steps / 2 {
                worst = worst.max(path.queue_ms());
            }
        }
        (control.target_kbps(), worst)
    }

    #[test]
    fn a_narrow_path_brings_the_target_under_it_and_keeps_the_queue_short() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        let mut path = Path::new(1000.0);
        let (target, worst) = run(&mut control, &mut path, t0, 0.0, 5.0);
        // It probes a little over the path, then backs off: a sawtooth
        // between 85 % and just over 100 % of it.
        assert!(target <= 1050, "target {target}");
        assert!(target >= 600, "target {target}: far under the path");
        assert!(worst < 100.0, "queue {worst} ms in the second half");
        assert_eq!(control.usage(), Usage::Normal);
        // Over a longer run it stays near the path without filling it.
        let (target, worst) = run(&mut control, &mut path, t0, 5.0, 20.0);
        assert!((800..=1050).contains(&target), "target {target}");
        assert!(worst < 100.0, "queue {worst} ms");
    }

    #[test]
    fn a_capacity_drop_is_followed_within_two_seconds() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        let mut path = Path::new(2500.0);
        run(&mut control, &mut path, t0, 0.0, 10.0);
        path.capacity_kbps = 600.0;
        let (target, _) = run(&mut control, &mut path, t0, 10.0, 2.0);
        assert!(target <= 630, "target {target} 2 s after the drop to 600");
        let (_, worst) = run(&mut control, &mut path, t0, 12.0, 10.0);
        assert!(worst < 100.0, "queue {worst} ms after settling");
    }

    #[test]
    fn over_use_with_a_deep_queue_backs_off_further_to_drain_it() {
        // The box starts at its ceiling on a link of 1000 kbit/s: the
        // 300 ms queue fills within a tenth of a second. At the first
        // over-use the target is 85 % of what the hub received, less the
        // queue's share of a second, so that the spare capacity empties it.
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        let mut path = Path::new(1000.0);
        for i in 1..=100u32 {
            let results = path.send(f64::from(control.target_kbps()));
            let change =
                control.on_feedback(&results, t0 + Duration::from_millis(u64::from(i) * 50));
            if change != Some(DelayChange::Overuse) {
                continue;
            }
            let acked = control.acknowledged_kbps().expect("acknowledged");
            let queue = control.standing_queue_ms().expect("a queue");
            assert!(queue > 50.0, "queue {queue} ms at the first over-use");
            let share = (1.0 - queue / QUEUE_DRAIN_MS).max(MIN_DRAIN_SHARE);
            let want = BACK_OFF * acked * share;
            let target = f64::from(control.target_kbps());
            assert!(
                (target - want).abs() <= 1.0,
                "target {target}, want {want:.0} (acknowledged {acked:.0}, queue {queue:.0} ms)"
            );
            assert!(
                target < 0.95 * BACK_OFF * acked,
                "the queue took nothing off: target {target}, acknowledged {acked:.0}, queue {queue:.0} ms"
            );
            return;
        }
        panic!("no over-use in 5 s at 2500 kbit/s into 1000");
    }

    /// Feeds 50 ms batches from `path` at the control's target for
    /// `batches`; returns the changes.
    fn feed(
        control: &mut DelayControl,
        path: &mut Path,
        t0: Instant,
        from: u32,
        batches: u32,
    ) -> Vec<DelayChange> {
        let mut changes = Vec::new();
        for i in from + 1..=from + batches {
            let results = path.send(f64::from(control.target_kbps()));
            let now = t0 + Duration::from_millis(u64::from(i) * 50);
            changes.extend(control.on_feedback(&results, now));
        }
        changes
    }

    #[test]
    fn a_queue_that_stands_full_brings_the_target_under_the_path() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        control.restart_at(800);
        let mut path = Path::new(1000.0);
        // The path's own delay is learnt while it is clear.
        feed(&mut control, &mut path, t0, 0, 20);
        // Then the path narrows to 600 and its queue is full at once
        // (someone else's upload filled it): every packet waits 300 ms,
        // the delay has no trend, a quarter is lost.
        path.capacity_kbps = 600.0;
        path.fill_queue();
        let changes = feed(&mut control, &mut path, t0, 20, 40);
        assert!(changes.contains(&DelayChange::Overuse), "{changes:?}");
        let target = control.target_kbps();
        assert!(target <= 600, "target {target}");
        assert!(path.queue_ms() < 100.0, "queue {} ms", path.queue_ms());
        // While the queue fills at once nothing arrives for 300 ms: what
        // the hub acknowledged looks low and the target drops far. It
        // finds the path again within 10 s.
        feed(&mut control, &mut path, t0, 60, 200);
        let target = control.target_kbps();
        assert!((480..=640).contains(&target), "target {target}");
    }

    #[test]
    fn loss_alone_brings_the_target_down_in_proportion() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        control.restart_at(2000);
        // A full queue from the first packet: no delay to compare with,
        // only the loss (a third, then less) says anything.
        let mut path = Path::new(1000.0);
        path.fill_queue();
        let changes = feed(&mut control, &mut path, t0, 0, 40);
        assert!(changes.contains(&DelayChange::Loss), "{changes:?}");
        let target = control.target_kbps();
        // 1 - loss/2 per decrease, down to where the loss is under 10 %.
        assert!((1000..=1250).contains(&target), "target {target}");
    }

    #[test]
    fn a_clear_path_grows_the_target_to_the_ceiling() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        control.restart_at(300);
        let mut path = Path::new(100_000.0);
        let (after_5, _) = run(&mut control, &mut path, t0, 0.0, 5.0);
        assert!(after_5 > 400, "grew to {after_5} in 5 s");
        let (after_30, _) = run(&mut control, &mut path, t0, 5.0, 30.0);
        assert_eq!(after_30, 2500);
    }

    #[test]
    fn jitter_without_a_queue_is_not_taken_for_one() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        control.restart_at(1000);
        let mut path = Path::new(100_000.0);
        path.jitter = Some(7);
        run(&mut control, &mut path, t0, 0.0, 20.0);
        assert_eq!(
            control.target_kbps(),
            2500,
            "jitter of 3 ms held the target back"
        );
    }

    #[test]
    fn lost_packets_are_counted_and_garbage_changes_nothing() {
        let t0 = Instant::now();
        let mut control = DelayControl::new(300, 2500);
        let lost = PacketResult {
            sent_ns: 5,
            arrived_ns: None,
            size_bytes: 1200,
        };
        assert_eq!(control.on_feedback(&[lost, lost], t0), None);
        assert_eq!(control.reported(), (2, 2));
        // Send times going backwards and arrivals from another epoch: no
        // panic, no change beyond the limits.
        let odd: Vec<PacketResult> = (0..200u64)
            .map(|i| PacketResult {
                sent_ns: u64::MAX - i * 7_000_000,
                arrived_ns: Some(if i % 2 == 0 { 0 } else { u64::MAX - i }),
                size_bytes: u32::MAX,
            })
            .collect();
        control.on_feedback(&odd, t0 + Duration::from_secs(1));
        let target = control.target_kbps();
        assert!((300..=2500).contains(&target), "target {target}");
    }

    #[test]
    fn limits_hold_and_follow_a_push() {
        let mut control = DelayControl::new(300, 2500);
        control.set_limits(200, 1500);
        assert_eq!(control.target_kbps(), 1500);
        control.restart_at(50);
        assert_eq!(control.target_kbps(), 200);
    }
}
