//! The impairment settings: what a link does to the packets going one way
//! during one phase, and the phases' text form.

use std::fmt;
use std::time::Duration;

use super::script::{Percent, Rate, ShortDuration};
use super::{DEFAULT_QUEUE, MAX_DURATION};

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the box to the hub ("up": the box's upload, its video and sound).
    BoxToHub,
    /// From the hub to the box ("down": the return stream, RTCP feedback).
    HubToBox,
}

impl Direction {
    /// Both directions, box → hub first.
    pub const BOTH: [Direction; 2] = [Direction::BoxToHub, Direction::HubToBox];

    /// `up` or `down`, as scripts and reports name them.
    pub fn short_name(self) -> &'static str {
        match self {
            Direction::BoxToHub => "up",
            Direction::HubToBox => "down",
        }
    }

    pub(super) fn index(self) -> usize {
        match self {
            Direction::BoxToHub => 0,
            Direction::HubToBox => 1,
        }
    }
}

/// Which packets are lost (before the rate limit, as netem does).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Loss {
    /// None.
    #[default]
    None,
    /// Each packet independently, with this probability (0 to 1).
    Random {
        /// The chance that a packet is lost.
        probability: f64,
    },
    /// In bursts, by a Gilbert-Elliott chain.
    Burst(GilbertElliott),
}

/// A two-state loss model: a good and a bad state, each losing packets with
/// its own probability, and per-packet chances to move from one to the
/// other. Bursts in the bad state last 1 / `bad_to_good` packets on average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// The chance, per packet, to go from the good state to the bad one.
    pub good_to_bad: f64,
    /// The chance, per packet, to go from the bad state back to the good one.
    pub bad_to_good: f64,
    /// The chance that a packet is lost in the bad state (1 in the
    /// simple Gilbert model).
    pub loss_in_bad: f64,
    /// The chance that a packet is lost in the good state (0 in the
    /// simple Gilbert model).
    pub loss_in_good: f64,
}

impl GilbertElliott {
    /// The simple Gilbert model: everything lost in the bad state, nothing in
    /// the good one.
    pub fn gilbert(good_to_bad: f64, bad_to_good: f64) -> GilbertElliott {
        GilbertElliott {
            good_to_bad,
            bad_to_good,
            loss_in_bad: 1.0,
            loss_in_good: 0.0,
        }
    }

    /// How many packets a stay in the bad state lasts on average.
    pub fn mean_bad_run(&self) -> f64 {
        1.0 / self.bad_to_good
    }

    /// The long-run share of packets lost.
    pub fn mean_loss(&self) -> f64 {
        let total = self.good_to_bad + self.bad_to_good;
        if total <= 0.0 {
            return self.loss_in_good;
        }
        let in_bad = self.good_to_bad / total;
        in_bad * self.loss_in_bad + (1.0 - in_bad) * self.loss_in_good
    }
}

/// How jitter offsets are drawn, within ±jitter either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JitterShape {
    /// Every offset in ±jitter equally likely.
    #[default]
    Uniform,
    /// Normal with σ = jitter / 2, cut off at ±jitter (bounded).
    Normal,
}

/// How much a rate limit's drop-tail queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    /// So many bytes.
    Bytes(u64),
    /// As many bytes as the rate carries in this time.
    Delay(Duration),
}

impl QueueLimit {
    /// The limit in bytes at a rate.
    pub fn bytes_at(self, bits_per_second: u64) -> u64 {
        match self {
            QueueLimit::Bytes(bytes) => bytes,
            QueueLimit::Delay(time) => {
                let bits = u128::from(bits_per_second) * time.as_nanos() / 1_000_000_000;
                u64::try_from(bits / 8).unwrap_or(u64::MAX)
            }
        }
    }
}

/// A bottleneck: packets leave one after the other at this rate, waiting in
/// a drop-tail queue. The rate counts UDP payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The link's capacity; 0 carries nothing (every packet is dropped as
    /// not fitting the queue).
    pub bits_per_second: u64,
    /// How much may wait. A packet arriving at an empty queue is always
    /// taken.
    pub queue: QueueLimit,
}

impl RateLimit {
    /// A rate with the default queue (300 ms at the rate).
    pub fn new(bits_per_second: u64) -> RateLimit {
        RateLimit {
            bits_per_second,
            queue: DEFAULT_QUEUE,
        }
    }

    /// How long a packet of `bytes` takes to leave at this rate.
    pub fn transmission_time(&self, bytes: u64) -> Duration {
        if self.bits_per_second == 0 {
            return MAX_DURATION;
        }
        let nanos = u128::from(bytes) * 8 * 1_000_000_000 / u128::from(self.bits_per_second);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)).min(MAX_DURATION)
    }
}

/// What a link does to the packets going one way during one phase.
/// `Impairment::default()` is a clear link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairment {
    /// Drop everything.
    pub blackout: bool,
    /// Random or bursty loss.
    pub loss: Loss,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Each packet's delay varies by up to this much either way (never
    /// below zero in total).
    pub jitter: Duration,
    /// How the jitter is drawn.
    pub jitter_shape: JitterShape,
    /// Whether jitter may make a packet overtake the one before it.
    pub reorder: bool,
    /// A bottleneck with a queue.
    pub rate: Option<RateLimit>,
}

impl Impairment {
    /// A clear link: nothing lost, delayed or limited.
    pub const CLEAR: Impairment = Impairment {
        blackout: false,
        loss: Loss::None,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        jitter_shape: JitterShape::Uniform,
        reorder: false,
        rate: None,
    };

    /// A link that drops everything.
    pub fn blackout() -> Impairment {
        Impairment {
            blackout: true,
            ..Impairment::CLEAR
        }
    }

    /// Independent random loss with this probability (0 to 1).
    pub fn random_loss(probability: f64) -> Impairment {
        Impairment {
            loss: Loss::Random { probability },
            ..Impairment::CLEAR
        }
    }

    /// A rate limit with the default queue.
    pub fn rate_limit(bits_per_second: u64) -> Impairment {
        Impairment {
            rate: Some(RateLimit::new(bits_per_second)),
            ..Impairment::CLEAR
        }
    }

    /// Whether it does nothing.
    pub fn is_clear(&self) -> bool {
        *self == Impairment::CLEAR
    }

    /// The script tokens that set this (empty for a clear link), each with
    /// `prefix` in front.
    fn tokens(&self, prefix: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        if self.blackout {
            tokens.push(format!("{prefix}blackout"));
        }
        match self.loss {
            Loss::None => {}
            Loss::Random { probability } => {
                tokens.push(format!("{prefix}loss={}", Percent(probability)));
            }
            Loss::Burst(chain) => {
                let mut value = format!(
                    "{}/{}",
                    Percent(chain.good_to_bad),
                    Percent(chain.bad_to_good)
                );
                if chain.loss_in_bad != 1.0 || chain.loss_in_good != 0.0 {
                    value.push_str(&format!("/{}", Percent(chain.loss_in_bad)));
                }
                if chain.loss_in_good != 0.0 {
                    value.push_str(&format!("/{}", Percent(chain.loss_in_good)));
                }
                tokens.push(format!("{prefix}burst={value}"));
            }
        }
        if !self.delay.is_zero() {
            tokens.push(format!("{prefix}delay={}", ShortDuration(self.delay)));
        }
        if !self.jitter.is_zero() {
            tokens.push(format!("{prefix}jitter={}", ShortDuration(self.jitter)));
        }
        if self.jitter_shape == JitterShape::Normal {
            tokens.push(format!("{prefix}jitter-shape=normal"));
        }
        if self.reorder {
            tokens.push(format!("{prefix}reorder"));
        }
        if let Some(rate) = self.rate {
            tokens.push(format!("{prefix}rate={}", Rate(rate.bits_per_second)));
            let queue = match rate.queue {
                QueueLimit::Bytes(bytes) if bytes.is_multiple_of(1000) => {
                    format!("{}kB", bytes / 1000)
                }
                QueueLimit::Bytes(bytes) => format!("{bytes}B"),
                QueueLimit::Delay(time) => ShortDuration(time).to_string(),
            };
            tokens.push(format!("{prefix}queue={queue}"));
        }
        tokens
    }
}

impl fmt::Display for Impairment {
    /// The script's words for it (`clear` for a clear link).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = self.tokens("");
        if tokens.is_empty() {
            f.write_str("clear")
        } else {
            f.write_str(&tokens.join(" "))
        }
    }
}

/// One step of a script: the settings of each direction and how long they
/// hold (`None`: until the script is replaced).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// How long the phase lasts; `None` only for a script's last phase.
    pub duration: Option<Duration>,
    /// What happens to packets from the box to the hub.
    pub box_to_hub: Impairment,
    /// What happens to packets from the hub to the box.
    pub hub_to_box: Impairment,
}

impl Phase {
    /// The same settings both ways.
    pub fn both(impairment: Impairment, duration: Option<Duration>) -> Phase {
        Phase {
            duration,
            box_to_hub: impairment,
            hub_to_box: impairment,
        }
    }

    /// A clear link both ways.
    pub fn clear(duration: Option<Duration>) -> Phase {
        Phase::both(Impairment::CLEAR, duration)
    }

    /// The settings for one direction.
    pub fn settings(&self, direction: Direction) -> &Impairment {
        match direction {
            Direction::BoxToHub => &self.box_to_hub,
            Direction::HubToBox => &self.hub_to_box,
        }
    }
}

impl fmt::Display for Phase {
    /// The phase as a script writes it, e.g. `rate=1000kbit queue=300ms for 40s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = if self.box_to_hub == self.hub_to_box {
            self.box_to_hub.tokens("")
        } else {
            let mut tokens = self.box_to_hub.tokens("up.");
            tokens.extend(self.hub_to_box.tokens("down."));
            tokens
        };
        let mut words = tokens.join(" ");
        match self.duration {
            Some(duration) => {
                if !words.is_empty() {
                    words.push(' ');
                }
                words.push_str(&format!("for {}", ShortDuration(duration)));
            }
            None if words.is_empty() => words.push_str("clear"),
            None => {}
        }
        f.write_str(&words)
    }
}
