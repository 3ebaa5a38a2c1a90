//! The phase script: settings over time, its text form (the parser, its
//! errors and the writers of numbers, durations and rates).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::settings::{
    Direction, GilbertElliott, Impairment, JitterShape, Loss, Phase, QueueLimit, RateLimit,
};
use super::{DEFAULT_QUEUE, MAX_DURATION};

/// Settings over time: phases one after the other, from when the script is
/// set. After the last timed phase the link is clear, unless the script
/// repeats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    phases: Vec<Phase>,
    repeat: bool,
}

/// Where a script is at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhasePosition {
    /// The phase's index (0 for the first).
    pub index: usize,
    /// How many times a repeating script has started over (0 otherwise).
    pub cycle: u64,
    /// When the phase began, from the script's start.
    pub started: Duration,
    /// When it ends, from the script's start (`None`: never).
    pub ends: Option<Duration>,
}

impl Script {
    /// A script of these phases. Every phase but the last must have a
    /// duration (the ones after an endless phase would never start).
    pub fn new(phases: Vec<Phase>) -> Result<Script, ScriptError> {
        for (index, phase) in phases.iter().enumerate() {
            if phase.duration.is_none() && index + 1 < phases.len() {
                return Err(ScriptError::EndlessPhaseNotLast {
                    phase: index + 1,
                    next: index + 2,
                });
            }
        }
        Ok(Script {
            phases,
            repeat: false,
        })
    }

    /// A script of these phases, started over after the last; every phase
    /// must have a duration.
    pub fn repeating(phases: Vec<Phase>) -> Result<Script, ScriptError> {
        if phases.is_empty() {
            return Err(ScriptError::Empty);
        }
        if let Some(index) = phases.iter().position(|phase| phase.duration.is_none()) {
            return Err(ScriptError::RepeatWithEndlessPhase { phase: index + 1 });
        }
        Ok(Script {
            phases,
            repeat: true,
        })
    }

    /// No phases: a clear link.
    pub fn clear() -> Script {
        Script::default()
    }

    /// One endless phase with the same settings both ways.
    pub fn steady(impairment: Impairment) -> Script {
        Script::single(Phase::both(impairment, None))
    }

    /// Just this phase (then a clear link, if it has a duration).
    pub fn single(phase: Phase) -> Script {
        Script {
            phases: vec![phase],
            repeat: false,
        }
    }

    /// Reads the text form, e.g. `rate=1000kbit for 40s; rate=2500kbit for
    /// 20s; blackout for 5s; loss=5% delay=40ms jitter=10ms`. The syntax is
    /// in docs/impairment.md; errors name the phase and the token.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let mut segments: Vec<&str> = text.split(';').collect();
        // A trailing `;` is allowed.
        if segments.len() > 1 && segments.last().is_some_and(|s| s.trim().is_empty()) {
            segments.pop();
        }
        if segments.len() == 1 && segments[0].trim().is_empty() {
            return Err(ScriptError::Empty);
        }
        let last = segments.len() - 1;
        let mut phases = Vec::with_capacity(segments.len());
        let mut repeat = false;
        for (index, segment) in segments.iter().enumerate() {
            let number = index + 1;
            let tokens: Vec<&str> = segment.split_whitespace().collect();
            if tokens.is_empty() {
                return Err(ScriptError::EmptyPhase { phase: number });
            }
            if tokens.contains(&"repeat") {
                if tokens.len() != 1 || index != last || index == 0 {
                    return Err(ScriptError::MisplacedRepeat { phase: number });
                }
                repeat = true;
                continue;
            }
            phases.push(parse_phase(number, &tokens)?);
        }
        if repeat {
            Script::repeating(phases)
        } else {
            Script::new(phases)
        }
    }

    /// The phases.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// Whether it starts over after the last phase.
    pub fn repeats(&self) -> bool {
        self.repeat
    }

    /// How long one run through the phases takes (`None`: a phase never
    /// ends).
    pub fn duration(&self) -> Option<Duration> {
        self.phases.iter().try_fold(Duration::ZERO, |sum, phase| {
            phase
                .duration
                .map(|d| sum.saturating_add(d.min(MAX_DURATION)))
        })
    }

    /// The phase in force `elapsed` after the start; `None` before any phase
    /// (an empty script) or after the last.
    pub fn position_at(&self, elapsed: Duration) -> Option<PhasePosition> {
        if self.phases.is_empty() {
            return None;
        }
        let (cycle, within, cycle_start) = match (self.repeat, self.duration()) {
            (true, Some(total)) if !total.is_zero() => {
                let cycle = elapsed.as_nanos() / total.as_nanos();
                let within = elapsed.as_nanos() % total.as_nanos();
                let cycle_start = elapsed - Duration::from_nanos(within as u64);
                (
                    cycle as u64,
                    Duration::from_nanos(within as u64),
                    cycle_start,
                )
            }
            _ => (0, elapsed, Duration::ZERO),
        };
        let mut started = Duration::ZERO;
        for (index, phase) in self.phases.iter().enumerate() {
            match phase.duration {
                None => {
                    return Some(PhasePosition {
                        index,
                        cycle,
                        started: cycle_start + started,
                        ends: None,
                    })
                }
                Some(duration) => {
                    let ends = started.saturating_add(duration.min(MAX_DURATION));
                    if within < ends {
                        return Some(PhasePosition {
                            index,
                            cycle,
                            started: cycle_start + started,
                            ends: Some(cycle_start + ends),
                        });
                    }
                    started = ends;
                }
            }
        }
        None
    }

    /// The settings for `direction` `elapsed` after the start.
    pub fn settings_at(&self, direction: Direction, elapsed: Duration) -> &Impairment {
        match self.position_at(elapsed) {
            Some(position) => self.phases[position.index].settings(direction),
            None => &Impairment::CLEAR,
        }
    }
}

impl FromStr for Script {
    type Err = ScriptError;

    fn from_str(text: &str) -> Result<Script, ScriptError> {
        Script::parse(text)
    }
}

impl fmt::Display for Script {
    /// The text form, which [`Script::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.phases.is_empty() {
            return f.write_str("clear");
        }
        let mut parts: Vec<String> = self.phases.iter().map(Phase::to_string).collect();
        if self.repeat {
            parts.push("repeat".to_owned());
        }
        f.write_str(&parts.join("; "))
    }
}

/// A script that cannot be read; each names the phase (from 1) and, where
/// there is one, the token at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// Nothing but spaces.
    #[error(
        "the script is empty: give at least one phase, e.g. `loss=5%` or `rate=1000kbit for 20s`"
    )]
    Empty,
    /// `;;`, or a `;` with only spaces after it before another.
    #[error("phase {phase} is empty (two `;` in a row?)")]
    EmptyPhase {
        /// The phase's number, from 1.
        phase: usize,
    },
    /// A setting the script does not know.
    #[error(
        "phase {phase}: unknown setting `{token}` (known: loss, burst, delay, jitter, \
         jitter-shape, reorder, rate, queue, blackout, clear and `for`; up. or down. in front \
         for one direction)"
    )]
    UnknownSetting {
        /// The phase's number, from 1.
        phase: usize,
        /// The whole token.
        token: String,
    },
    /// A known setting with a value it cannot take.
    #[error("phase {phase}: `{token}`: {reason}")]
    BadValue {
        /// The phase's number, from 1.
        phase: usize,
        /// The whole token.
        token: String,
        /// What the value should be.
        reason: &'static str,
    },
    /// The same setting twice for one direction.
    #[error("phase {phase}: `{token}` sets {key} a second time")]
    Repeated {
        /// The phase's number, from 1.
        phase: usize,
        /// The second token.
        token: String,
        /// The setting.
        key: &'static str,
    },
    /// Two settings that cannot go together.
    #[error("phase {phase}: `{token}` cannot go with `{other}`: {reason}")]
    Conflict {
        /// The phase's number, from 1.
        phase: usize,
        /// The token at fault.
        token: String,
        /// The token it clashes with.
        other: String,
        /// Why.
        reason: &'static str,
    },
    /// A setting that means nothing without another.
    #[error("phase {phase}: `{token}` needs {needs} in the same phase and direction")]
    Needs {
        /// The phase's number, from 1.
        phase: usize,
        /// The token at fault.
        token: String,
        /// What it needs.
        needs: &'static str,
    },
    /// `for` at the end of a phase.
    #[error("phase {phase}: `for` needs a duration after it, e.g. `for 20s`")]
    MissingDuration {
        /// The phase's number, from 1.
        phase: usize,
    },
    /// A phase without `for` before another phase.
    #[error("phase {phase} has no `for`, so it never ends, but phase {next} comes after it")]
    EndlessPhaseNotLast {
        /// The endless phase's number, from 1.
        phase: usize,
        /// The phase after it.
        next: usize,
    },
    /// `repeat` with a phase that never ends.
    #[error("`repeat` needs every phase to end, but phase {phase} has no `for`")]
    RepeatWithEndlessPhase {
        /// The endless phase's number, from 1.
        phase: usize,
    },
    /// `repeat` with other words, or not last.
    #[error("phase {phase}: `repeat` must stand alone as the script's last phase, after at least one other")]
    MisplacedRepeat {
        /// The phase's number, from 1.
        phase: usize,
    },
}

impl ScriptError {
    /// The token at fault, if the error is about one.
    pub fn token(&self) -> Option<&str> {
        match self {
            ScriptError::UnknownSetting { token, .. }
            | ScriptError::BadValue { token, .. }
            | ScriptError::Repeated { token, .. }
            | ScriptError::Conflict { token, .. }
            | ScriptError::Needs { token, .. } => Some(token),
            _ => None,
        }
    }
}

/// One setting as read from a token.
enum Setting {
    Blackout,
    Clear,
    Loss(Loss),
    Delay(Duration),
    Jitter(Duration),
    JitterShape(JitterShape),
    Reorder,
    Rate(u64),
    Queue(QueueLimit),
}

/// A direction's settings as a phase's tokens give them, each with the
/// token that gave it (for errors).
#[derive(Default)]
struct DirectionWords<'t> {
    blackout: Option<&'t str>,
    clear: Option<&'t str>,
    loss: Option<(&'t str, Loss)>,
    delay: Option<(&'t str, Duration)>,
    jitter: Option<(&'t str, Duration)>,
    jitter_shape: Option<(&'t str, JitterShape)>,
    reorder: Option<&'t str>,
    rate: Option<(&'t str, u64)>,
    queue: Option<(&'t str, QueueLimit)>,
}

/// The setting's name in a token (`up.rate=1mbit` → `rate`).
fn key_of(token: &str) -> &str {
    let bare = token
        .strip_prefix("up.")
        .or_else(|| token.strip_prefix("down."))
        .unwrap_or(token);
    bare.split_once('=').map_or(bare, |(key, _)| key)
}

fn fill<'t, T>(
    phase: usize,
    slot: &mut Option<(&'t str, T)>,
    token: &'t str,
    key: &'static str,
    value: T,
) -> Result<(), ScriptError> {
    if let Some((earlier, _)) = slot {
        return Err(if key_of(earlier) == key_of(token) {
            ScriptError::Repeated {
                phase,
                token: token.to_owned(),
                key,
            }
        } else {
            ScriptError::Conflict {
                phase,
                token: token.to_owned(),
                other: (*earlier).to_owned(),
                reason: "a phase has one loss model per direction",
            }
        });
    }
    *slot = Some((token, value));
    Ok(())
}

fn fill_flag<'t>(
    phase: usize,
    slot: &mut Option<&'t str>,
    token: &'t str,
    key: &'static str,
) -> Result<(), ScriptError> {
    if slot.is_some() {
        return Err(ScriptError::Repeated {
            phase,
            token: token.to_owned(),
            key,
        });
    }
    *slot = Some(token);
    Ok(())
}

impl<'t> DirectionWords<'t> {
    fn set(&mut self, phase: usize, token: &'t str, setting: &Setting) -> Result<(), ScriptError> {
        match *setting {
            Setting::Blackout => fill_flag(phase, &mut self.blackout, token, "blackout"),
            Setting::Clear => fill_flag(phase, &mut self.clear, token, "clear"),
            Setting::Reorder => fill_flag(phase, &mut self.reorder, token, "reorder"),
            Setting::Loss(loss) => fill(phase, &mut self.loss, token, "loss", loss),
            Setting::Delay(delay) => fill(phase, &mut self.delay, token, "delay", delay),
            Setting::Jitter(jitter) => fill(phase, &mut self.jitter, token, "jitter", jitter),
            Setting::JitterShape(shape) => {
                fill(phase, &mut self.jitter_shape, token, "jitter-shape", shape)
            }
            Setting::Rate(rate) => fill(phase, &mut self.rate, token, "rate", rate),
            Setting::Queue(queue) => fill(phase, &mut self.queue, token, "queue", queue),
        }
    }

    /// The tokens other than `blackout` and `clear`, in the order written.
    fn other_tokens(&self) -> Vec<&'t str> {
        let mut tokens: Vec<&'t str> = [
            self.loss.map(|(t, _)| t),
            self.delay.map(|(t, _)| t),
            self.jitter.map(|(t, _)| t),
            self.jitter_shape.map(|(t, _)| t),
            self.reorder,
            self.rate.map(|(t, _)| t),
            self.queue.map(|(t, _)| t),
        ]
        .into_iter()
        .flatten()
        .collect();
        // All tokens are slices of the one script text: their addresses
        // are their order in it.
        tokens.sort_by_key(|t| t.as_ptr());
        tokens
    }

    fn finish(self, phase: usize) -> Result<Impairment, ScriptError> {
        let others = self.other_tokens();
        let conflict = |flag: &'t str, other: &'t str, reason: &'static str| {
            // Blame whichever of the two was written later.
            let (token, other) = if flag.as_ptr() > other.as_ptr() {
                (flag, other)
            } else {
                (other, flag)
            };
            ScriptError::Conflict {
                phase,
                token: token.to_owned(),
                other: other.to_owned(),
                reason,
            }
        };
        if let Some(blackout) = self.blackout {
            const REASON: &str =
                "a blackout drops every packet, so other settings would do nothing";
            if let Some(other) = others.first().copied().or(self.clear) {
                return Err(conflict(blackout, other, REASON));
            }
        }
        if let (Some(clear), Some(other)) = (self.clear, others.first().copied()) {
            return Err(conflict(clear, other, "clear means no impairment"));
        }
        if let (Some((token, _)), None) = (self.queue, self.rate) {
            return Err(ScriptError::Needs {
                phase,
                token: token.to_owned(),
                needs: "a rate (e.g. rate=1000kbit)",
            });
        }
        if let (Some((token, _)), None) = (self.jitter_shape, self.jitter) {
            return Err(ScriptError::Needs {
                phase,
                token: token.to_owned(),
                needs: "a jitter (e.g. jitter=10ms)",
            });
        }
        if let (Some(token), None) = (self.reorder, self.jitter) {
            return Err(ScriptError::Needs {
                phase,
                token: token.to_owned(),
                needs: "a jitter (e.g. jitter=10ms), without which nothing overtakes",
            });
        }
        Ok(Impairment {
            blackout: self.blackout.is_some(),
            loss: self.loss.map_or(Loss::None, |(_, loss)| loss),
            delay: self.delay.map_or(Duration::ZERO, |(_, d)| d),
            jitter: self.jitter.map_or(Duration::ZERO, |(_, d)| d),
            jitter_shape: self
                .jitter_shape
                .map_or(JitterShape::Uniform, |(_, shape)| shape),
            reorder: self.reorder.is_some(),
            rate: self.rate.map(|(_, bits_per_second)| RateLimit {
                bits_per_second,
                queue: self.queue.map_or(DEFAULT_QUEUE, |(_, queue)| queue),
            }),
        })
    }
}

/// Reads one phase's tokens (already split on spaces).
fn parse_phase(phase: usize, tokens: &[&str]) -> Result<Phase, ScriptError> {
    let mut up = DirectionWords::default();
    let mut down = DirectionWords::default();
    let mut duration: Option<Duration> = None;
    let mut rest = tokens.iter();
    while let Some(&token) = rest.next() {
        if token == "for" {
            let Some(&value) = rest.next() else {
                return Err(ScriptError::MissingDuration { phase });
            };
            let whole = format!("for {value}");
            if duration.is_some() {
                return Err(ScriptError::Repeated {
                    phase,
                    token: whole,
                    key: "for",
                });
            }
            let parsed = parse_duration_value(value)
                .and_then(|d| {
                    if d.is_zero() {
                        Err("a phase lasts longer than 0")
                    } else {
                        Ok(d)
                    }
                })
                .map_err(|reason| ScriptError::BadValue {
                    phase,
                    token: whole,
                    reason,
                })?;
            duration = Some(parsed);
            continue;
        }
        let (up_too, down_too, bare) = if let Some(bare) = token.strip_prefix("up.") {
            (true, false, bare)
        } else if let Some(bare) = token.strip_prefix("down.") {
            (false, true, bare)
        } else {
            (true, true, token)
        };
        let setting = parse_setting(phase, token, bare)?;
        if up_too {
            up.set(phase, token, &setting)?;
        }
        if down_too {
            down.set(phase, token, &setting)?;
        }
    }
    Ok(Phase {
        duration,
        box_to_hub: up.finish(phase)?,
        hub_to_box: down.finish(phase)?,
    })
}

/// Reads one `key=value` or flag token (`bare` without its direction).
fn parse_setting(phase: usize, token: &str, bare: &str) -> Result<Setting, ScriptError> {
    let bad = |reason: &'static str| ScriptError::BadValue {
        phase,
        token: token.to_owned(),
        reason,
    };
    let (key, value) = match bare.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (bare, None),
    };
    let flag = |setting: Setting| match value {
        None => Ok(setting),
        Some(_) => Err(bad("takes no value")),
    };
    let needs_value = |example: &'static str| value.ok_or_else(|| bad(example));
    match key {
        "blackout" => flag(Setting::Blackout),
        "clear" => flag(Setting::Clear),
        "reorder" => flag(Setting::Reorder),
        "loss" => {
            let value = needs_value("needs a value, e.g. loss=5%")?;
            let probability = parse_percent(value).map_err(bad)?;
            Ok(Setting::Loss(Loss::Random { probability }))
        }
        "burst" => {
            let value = needs_value("needs a value, e.g. burst=1%/30%")?;
            parse_burst(value)
                .map(|chain| Setting::Loss(Loss::Burst(chain)))
                .map_err(bad)
        }
        "delay" => {
            let value = needs_value("needs a value, e.g. delay=40ms")?;
            parse_duration_value(value).map(Setting::Delay).map_err(bad)
        }
        "jitter" => {
            let value = needs_value("needs a value, e.g. jitter=10ms")?;
            parse_duration_value(value)
                .map(Setting::Jitter)
                .map_err(bad)
        }
        "jitter-shape" => match needs_value("needs a value: uniform or normal")? {
            "uniform" => Ok(Setting::JitterShape(JitterShape::Uniform)),
            "normal" => Ok(Setting::JitterShape(JitterShape::Normal)),
            _ => Err(bad("is uniform or normal")),
        },
        "rate" => {
            let value = needs_value("needs a value, e.g. rate=1000kbit")?;
            parse_rate(value).map(Setting::Rate).map_err(bad)
        }
        "queue" => {
            let value = needs_value("needs a value, e.g. queue=30kB or queue=300ms")?;
            parse_queue(value).map(Setting::Queue).map_err(bad)
        }
        _ => Err(ScriptError::UnknownSetting {
            phase,
            token: token.to_owned(),
        }),
    }
}

/// Splits `40ms` into `40` and `ms`.
fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// A decimal number times `scale`, exactly where it can be, rounded to the
/// nearest unit otherwise: `parse_scaled("2.5", 1000)` is 2500.
fn parse_scaled(number: &str, scale: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || fraction.len() > 18 {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(scale)?;
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().ok()?;
        let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
        let part = (numerator * u128::from(scale) + denominator / 2) / denominator;
        value = value.checked_add(u64::try_from(part).ok()?)?;
    }
    Some(value)
}

const DURATION_EXPECTED: &str = "a duration such as 40ms, 1.5s, 500us, 2min or 1h (at most 24h)";

/// Reads a duration with its unit (`us`, `ms`, `s`, `min`, `h`), at most
/// [`MAX_DURATION`]: `40ms`, `1.5s`, `2min`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_duration_value(text).ok()
}

fn parse_duration_value(text: &str) -> Result<Duration, &'static str> {
    let (number, unit) = split_number(text);
    let nanos_per_unit: u64 = match unit {
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => return Err("a duration needs a unit (us, ms, s, min or h), e.g. 40ms"),
        _ => return Err(DURATION_EXPECTED),
    };
    let nanos = parse_scaled(number, nanos_per_unit).ok_or(DURATION_EXPECTED)?;
    let duration = Duration::from_nanos(nanos);
    if duration > MAX_DURATION {
        return Err(DURATION_EXPECTED);
    }
    Ok(duration)
}

fn parse_percent(text: &str) -> Result<f64, &'static str> {
    const EXPECTED: &str = "a percentage from 0% to 100%, e.g. 5% or 0.5%";
    let number = text.strip_suffix('%').ok_or(EXPECTED)?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(EXPECTED);
    }
    let percent: f64 = number.parse().map_err(|_| EXPECTED)?;
    if !(0.0..=100.0).contains(&percent) {
        return Err(EXPECTED);
    }
    Ok(percent / 100.0)
}

fn parse_burst(text: &str) -> Result<GilbertElliott, &'static str> {
    const EXPECTED: &str = "burst=ENTER/LEAVE[/LOSS_IN_BAD[/LOSS_IN_GOOD]], percentages, \
                            e.g. burst=1%/30% (bursts of 1/30% = 3.3 packets)";
    let parts: Vec<&str> = text.split('/').collect();
    if !(2..=4).contains(&parts.len()) {
        return Err(EXPECTED);
    }
    let mut values = [0.0, 0.0, 1.0, 0.0];
    for (slot, part) in values.iter_mut().zip(&parts) {
        *slot = parse_percent(part).map_err(|_| EXPECTED)?;
    }
    if values[1] <= 0.0 {
        return Err("the chance to leave the bad state (the second value) must be above 0%");
    }
    Ok(GilbertElliott {
        good_to_bad: values[0],
        bad_to_good: values[1],
        loss_in_bad: values[2],
        loss_in_good: values[3],
    })
}

fn parse_rate(text: &str) -> Result<u64, &'static str> {
    const EXPECTED: &str = "a rate such as 1000kbit, 2.5mbit or 500000bit";
    let (number, unit) = split_number(text);
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1,
        "kbit" => 1_000,
        "mbit" => 1_000_000,
        "gbit" => 1_000_000_000,
        "bps" | "kbps" | "mbps" | "gbps" => {
            return Err("bps units are ambiguous (bits or bytes?): write bit, kbit or mbit")
        }
        "" => return Err("a rate needs a unit (bit, kbit, mbit), e.g. 1000kbit"),
        _ => return Err(EXPECTED),
    };
    match parse_scaled(number, scale) {
        Some(0) => Err("a rate must be above 0 (to pass nothing, use blackout)"),
        Some(bits_per_second) => Ok(bits_per_second),
        None => Err(EXPECTED),
    }
}

fn parse_queue(text: &str) -> Result<QueueLimit, &'static str> {
    const EXPECTED: &str = "bytes (1500B, 30kB, 64KiB, 1MB) or time at the rate (300ms)";
    let (number, unit) = split_number(text);
    let bytes_per_unit: u64 = match unit {
        "B" => 1,
        "kB" | "KB" => 1_000,
        "KiB" => 1_024,
        "MB" => 1_000_000,
        "MiB" => 1_048_576,
        "us" | "ms" | "s" => {
            let time = parse_duration_value(text).map_err(|_| EXPECTED)?;
            if time.is_zero() {
                return Err("a queue must hold more than nothing");
            }
            return Ok(QueueLimit::Delay(time));
        }
        _ => return Err(EXPECTED),
    };
    match parse_scaled(number, bytes_per_unit) {
        Some(0) => Err("a queue must hold more than nothing"),
        Some(bytes) => Ok(QueueLimit::Bytes(bytes)),
        None => Err(EXPECTED),
    }
}

/// A probability written as a percentage that reads back the same.
pub(super) struct Percent(pub(super) f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.6}", self.0 * 100.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{text}%")
    }
}

/// A duration in the largest whole unit, as scripts write it.
pub(super) struct ShortDuration(pub(super) Duration);

impl fmt::Display for ShortDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos.is_multiple_of(1_000_000_000) {
            write!(f, "{}s", nanos / 1_000_000_000)
        } else if nanos.is_multiple_of(1_000_000) {
            write!(f, "{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            write!(f, "{}us", nanos / 1_000)
        } else {
            let text = format!("{}.{:03}", nanos / 1_000, nanos % 1_000);
            write!(f, "{}us", text.trim_end_matches('0'))
        }
    }
}

/// A rate as scripts write it.
pub(super) struct Rate(pub(super) u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}kbit", self.0 / 1000)
        } else {
            write!(f, "{}bit", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impairment::test_support::{ms, secs, RFC_8867_STEPS};

    #[test]
    fn the_rfc_8867_steps_and_the_briefs_example_parse() {
        let script = Script::parse(RFC_8867_STEPS).expect("parses");
        let rates: Vec<u64> = script
            .phases()
            .iter()
            .map(|p| p.box_to_hub.rate.expect("rate").bits_per_second)
            .collect();
        assert_eq!(rates, [1_000_000, 2_500_000, 600_000, 1_000_000]);
        assert!(script
            .phases()
            .iter()
            .all(|p| p.box_to_hub.rate.expect("rate").queue == DEFAULT_QUEUE));

        let script = Script::parse(
            "rate=1000kbit queue=30kB for 20s; rate=2500kbit for 20s; \
             loss=5% delay=40ms jitter=10ms for 10s; blackout for 10s",
        )
        .expect("parses");
        let phases = script.phases();
        assert_eq!(phases.len(), 4);
        assert_eq!(
            phases[0].box_to_hub.rate,
            Some(RateLimit {
                bits_per_second: 1_000_000,
                queue: QueueLimit::Bytes(30_000)
            })
        );
        assert_eq!(
            phases[2].hub_to_box.loss,
            Loss::Random { probability: 0.05 }
        );
        assert_eq!(phases[2].hub_to_box.delay, ms(40));
        assert_eq!(phases[2].hub_to_box.jitter, ms(10));
        assert!(phases[3].box_to_hub.blackout && phases[3].hub_to_box.blackout);
        assert_eq!(script.duration(), Some(secs(60)));
    }

    #[test]
    fn an_endless_last_phase_and_up_down_prefixes_parse() {
        let script = Script::parse(
            "up.rate=800kbit up.queue=64KiB down.rate=8mbit down.loss=0.5% for 1min; \
             burst=1%/30%/80%/0.1%; ",
        )
        .expect("parses");
        let [first, second] = script.phases() else {
            panic!("two phases: {script:?}");
        };
        assert_eq!(first.duration, Some(secs(60)));
        assert_eq!(
            first.box_to_hub.rate,
            Some(RateLimit {
                bits_per_second: 800_000,
                queue: QueueLimit::Bytes(65_536)
            })
        );
        assert_eq!(first.box_to_hub.loss, Loss::None);
        assert_eq!(
            first.hub_to_box.rate.expect("rate").bits_per_second,
            8_000_000
        );
        assert_eq!(first.hub_to_box.loss, Loss::Random { probability: 0.005 });
        assert_eq!(second.duration, None);
        assert_eq!(
            second.box_to_hub.loss,
            Loss::Burst(GilbertElliott {
                good_to_bad: 0.01,
                bad_to_good: 0.3,
                loss_in_bad: 0.8,
                loss_in_good: 0.001
            })
        );
        assert_eq!(script.duration(), None);
    }

    #[test]
    fn scripts_read_back_what_they_write() {
        for text in [
            RFC_8867_STEPS,
            "rate=1000kbit queue=30kB for 20s; rate=2500kbit queue=300ms for 20s; \
             loss=5% delay=40ms jitter=10ms for 10s; blackout for 10s",
            "up.rate=800kbit up.queue=1500B down.burst=1%/30% for 1.5s; for 2s; repeat",
            "delay=1.5us jitter=250us jitter-shape=normal reorder",
            "up.blackout for 3s; clear",
            "burst=1%/30%/80%/0.1% rate=123456bit queue=65536B",
        ] {
            let script = Script::parse(text).expect(text);
            let written = script.to_string();
            assert_eq!(
                Script::parse(&written).as_ref(),
                Ok(&script),
                "{text} → {written}"
            );
        }
        assert_eq!(
            Script::parse("rate=2.5mbit for 20s")
                .expect("parses")
                .to_string(),
            "rate=2500kbit queue=300ms for 20s"
        );
        assert_eq!(Script::clear().to_string(), "clear");
    }

    fn error_of(text: &str) -> ScriptError {
        match Script::parse(text) {
            Ok(script) => panic!("`{text}` parsed as {script:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn each_bad_token_is_rejected_by_its_name() {
        for (script, token) in [
            ("lose=5%", "lose=5%"),
            ("loss=5", "loss=5"),
            ("loss=105%", "loss=105%"),
            ("loss=-1%", "loss=-1%"),
            ("loss=five%", "loss=five%"),
            ("loss", "loss"),
            ("loss=", "loss="),
            ("burst=1%", "burst=1%"),
            ("burst=1%/0%", "burst=1%/0%"),
            ("burst=1%/2%/3%/4%/5%", "burst=1%/2%/3%/4%/5%"),
            ("delay=40", "delay=40"),
            ("delay=40 ms", "delay=40"),
            ("delay=40mins", "delay=40mins"),
            ("delay=25h", "delay=25h"),
            ("delay=1.2.3ms", "delay=1.2.3ms"),
            ("jitter=ms", "jitter=ms"),
            ("jitter=10ms jitter-shape=gaussian", "jitter-shape=gaussian"),
            ("rate=fast", "rate=fast"),
            ("rate=1000", "rate=1000"),
            ("rate=1000kbps", "rate=1000kbps"),
            ("rate=0kbit", "rate=0kbit"),
            ("rate=1mbit queue=30kb", "queue=30kb"),
            ("rate=1mbit queue=0B", "queue=0B"),
            ("rate=1mbit queue=lots", "queue=lots"),
            ("blackout=yes", "blackout=yes"),
            ("reorder=1", "reorder=1"),
            ("sideways.loss=1%", "sideways.loss=1%"),
            ("up.rate=1mbit up.rate=2mbit", "up.rate=2mbit"),
            ("rate=1mbit up.rate=2mbit", "up.rate=2mbit"),
            ("loss=1% burst=1%/30%", "burst=1%/30%"),
            ("blackout delay=10ms", "delay=10ms"),
            ("clear loss=1%", "loss=1%"),
            ("blackout clear", "clear"),
            ("queue=30kB", "queue=30kB"),
            ("down.rate=1mbit up.queue=30kB", "up.queue=30kB"),
            ("jitter-shape=normal", "jitter-shape=normal"),
            ("delay=10ms reorder", "reorder"),
            ("loss=1% for 10", "for 10"),
            ("loss=1% for 0s", "for 0s"),
            ("loss=1% for 10s for 20s", "for 20s"),
            ("for 10s; clear for 1s; loss=1%% for 1s", "loss=1%%"),
        ] {
            let error = error_of(script);
            assert_eq!(error.token(), Some(token), "`{script}`: {error}");
            let message = error.to_string();
            assert!(
                message.contains(&format!("`{token}`")),
                "`{script}`: the message names `{token}`: {message}"
            );
            assert!(message.contains("phase "), "{message}");
        }
    }

    #[test]
    fn structural_mistakes_are_rejected_with_the_phase() {
        assert_eq!(error_of(""), ScriptError::Empty);
        assert_eq!(error_of("  ;  "), ScriptError::Empty);
        assert_eq!(
            error_of("loss=1% for 1s;; blackout"),
            ScriptError::EmptyPhase { phase: 2 }
        );
        assert_eq!(
            error_of("loss=1% for"),
            ScriptError::MissingDuration { phase: 1 }
        );
        assert_eq!(
            error_of("loss=1%; blackout for 5s"),
            ScriptError::EndlessPhaseNotLast { phase: 1, next: 2 }
        );
        assert_eq!(
            error_of("blackout for 5s; loss=1%; repeat"),
            ScriptError::RepeatWithEndlessPhase { phase: 2 }
        );
        assert_eq!(
            error_of("repeat"),
            ScriptError::MisplacedRepeat { phase: 1 }
        );
        assert_eq!(
            error_of("blackout for 1s; repeat; loss=1%"),
            ScriptError::MisplacedRepeat { phase: 2 }
        );
        assert_eq!(
            error_of("blackout for 1s repeat"),
            ScriptError::MisplacedRepeat { phase: 1 }
        );
        for error in [
            error_of("loss=1% for"),
            error_of("loss=1%; blackout for 5s"),
            error_of("repeat"),
        ] {
            assert!(error.to_string().contains("phase 1"), "{error}");
        }
    }

    #[test]
    fn durations_rates_and_sizes_read_exactly() {
        assert_eq!(parse_duration("1.5s"), Some(ms(1500)));
        assert_eq!(parse_duration("2min"), Some(secs(120)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration(".5ms"), Some(Duration::from_micros(500)));
        assert_eq!(parse_duration("24h"), Some(MAX_DURATION));
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration("99999999999999999999s"), None);
        assert_eq!(parse_rate("2.5mbit"), Ok(2_500_000));
        assert_eq!(parse_rate("1Mbit"), Ok(1_000_000));
        assert_eq!(parse_rate("0.6mbit"), Ok(600_000));
        assert_eq!(parse_queue("1.5kB"), Ok(QueueLimit::Bytes(1500)));
        assert_eq!(QueueLimit::Delay(ms(300)).bytes_at(1_000_000), 37_500);
    }
}
