//! Call-button debounce and press classification.
//!
//! The board reports raw levels (pressed or not) with the time it saw them.
//! An edge from a quiet line is accepted at once, so a press or release is
//! acted on with no debounce delay. For `debounce` after an accepted edge
//! further edges are bounce and ignored; if the line then rests at a level
//! other than the accepted one for `debounce`, that level is accepted too, so
//! a real change that happened during the bounce is not lost.
//!
//! On release a press is `Short` (under `long_press`) or `Long`. A press that
//! began at power-up (button already down when the box started, or pressed
//! within `power_up_window`) and is held for `factory_reset` fires
//! `FactoryReset` while still held.

use std::time::{Duration, Instant};

/// Timing of the button logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonTiming {
    /// Edges within this time of an accepted edge are bounce.
    pub debounce: Duration,
    /// A press at least this long is a long press.
    pub long_press: Duration,
    /// A power-up press at least this long is a factory reset.
    pub factory_reset: Duration,
    /// A press starting this soon after start counts as a power-up press.
    pub power_up_window: Duration,
}

impl Default for ButtonTiming {
    fn default() -> Self {
        ButtonTiming {
            debounce: Duration::from_millis(30),
            long_press: Duration::from_secs(2),
            factory_reset: Duration::from_secs(10),
            power_up_window: Duration::from_secs(1),
        }
    }
}

/// A decided press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Pressed and released within `long_press`.
    Short,
    /// Held for `long_press` or more.
    Long,
    /// Held from power-up for `factory_reset`.
    FactoryReset,
}

/// Debounce and classification state of one button.
#[derive(Debug, Clone)]
pub struct Button {
    timing: ButtonTiming,
    started_at: Instant,
    raw: bool,
    raw_changed_at: Instant,
    stable: bool,
    lockout_until: Instant,
    pressed_at: Option<Instant>,
    power_up_press: bool,
    reset_fired: bool,
}

impl Button {
    /// A button whose level was `pressed` when the box started at `now`.
    pub fn new(timing: ButtonTiming, pressed: bool, now: Instant) -> Self {
        Button {
            timing,
            started_at: now,
            raw: pressed,
            raw_changed_at: now,
            stable: pressed,
            lockout_until: now,
            pressed_at: pressed.then_some(now),
            power_up_press: pressed,
            reset_fired: false,
        }
    }

    /// Whether the button is (debounced) down.
    pub fn is_pressed(&self) -> bool {
        self.stable
    }

    /// The board saw the level `pressed` at `now`.
    ///
    /// Edges carry the time the board saw them, and a busy loop may hand
    /// several over at once. A level that had already rested past its settle
    /// time before this edge counts as accepted at that time, whether or not
    /// [`Button::handle_timeout`] ran in between, so a quick second press
    /// that arrives late is not taken for bounce.
    pub fn on_level(&mut self, pressed: bool, now: Instant) -> Option<Press> {
        let settled = self.settle_due(now);
        if pressed != self.raw {
            self.raw = pressed;
            self.raw_changed_at = now;
        }
        if now < self.lockout_until {
            return settled;
        }
        // At most one of the two ends a press: a settled release is followed
        // here by a press, a settled press by a release.
        settled.or(self.accept(now))
    }

    /// Accepts a differing level that had rested for the debounce time by
    /// `now`, at the moment it settled.
    fn settle_due(&mut self, now: Instant) -> Option<Press> {
        if self.raw != self.stable && now >= self.settle_at() {
            let at = self.settle_at();
            return self.accept(at);
        }
        None
    }

    fn accept(&mut self, now: Instant) -> Option<Press> {
        if self.raw == self.stable {
            return None;
        }
        self.stable = self.raw;
        self.lockout_until = now + self.timing.debounce;
        if self.stable {
            self.pressed_at = Some(now);
            self.power_up_press = now < self.started_at + self.timing.power_up_window;
            self.reset_fired = false;
            None
        } else {
            let pressed_at = self.pressed_at.take()?;
            if self.reset_fired {
                return None;
            }
            let held = now.saturating_duration_since(pressed_at);
            Some(if held >= self.timing.long_press {
                Press::Long
            } else {
                Press::Short
            })
        }
    }

    /// When [`Button::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let resample = (self.raw != self.stable).then(|| self.settle_at());
        let reset = match (self.stable, self.pressed_at) {
            (true, Some(at)) if self.power_up_press && !self.reset_fired => {
                Some(at + self.timing.factory_reset)
            }
            _ => None,
        };
        [resample, reset].into_iter().flatten().min()
    }

    /// Lets time pass: ends a bounce window, fires a factory reset.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Press> {
        if let (true, Some(at)) = (self.stable, self.pressed_at) {
            if self.power_up_press && !self.reset_fired && now >= at + self.timing.factory_reset {
                self.reset_fired = true;
                return Some(Press::FactoryReset);
            }
        }
        self.settle_due(now)
    }

    /// When a level that differs from the accepted one may be accepted.
    fn settle_at(&self) -> Instant {
        self.lockout_until
            .max(self.raw_changed_at + self.timing.debounce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds levels and lets timers run up to `until`, collecting presses.
    fn run(button: &mut Button, edges: &[(u64, bool)], t0: Instant, until: u64) -> Vec<Press> {
        let mut out = Vec::new();
        let mut edges = edges.iter().peekable();
        loop {
            let next_edge = edges.peek().map(|(t, _)| t0 + ms(*t));
            let next_timer = button.poll_timeout();
            let next = [next_edge, next_timer].into_iter().flatten().min();
            match next {
                Some(t) if t <= t0 + ms(until) => {
                    if next_timer == Some(t) {
                        out.extend(button.handle_timeout(t));
                    }
                    if next_edge == Some(t) {
                        let (_, level) = edges.next().unwrap();
                        out.extend(button.on_level(*level, t));
                    }
                }
                _ => return out,
            }
        }
    }

    #[test]
    fn a_clean_press_is_short() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        assert_eq!(
            run(&mut b, &[(5000, true), (5200, false)], t0, 9000),
            vec![Press::Short]
        );
    }

    #[test]
    fn bounce_of_5ms_edges_makes_one_press() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        let mut edges = Vec::new();
        let mut t = 5000;
        // Press: 6 edges 5 ms apart, ends down.
        for i in 0..7 {
            edges.push((t, i % 2 == 0));
            t += 5;
        }
        // Release after 300 ms: 6 edges 5 ms apart, ends up.
        t += 300;
        for i in 0..7 {
            edges.push((t, i % 2 == 1));
            t += 5;
        }
        assert_eq!(run(&mut b, &edges, t0, t + 1000), vec![Press::Short]);
        assert!(!b.is_pressed());
    }

    #[test]
    fn a_release_during_the_bounce_window_is_not_lost() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        // Pressed, then released for good 10 ms later (inside the window).
        assert_eq!(
            run(&mut b, &[(5000, true), (5010, false)], t0, 6000),
            vec![Press::Short]
        );
        assert!(!b.is_pressed());
    }

    #[test]
    fn held_1_99_s_is_short_and_2_0_s_is_long() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        assert_eq!(
            run(&mut b, &[(5000, true), (6990, false)], t0, 8000),
            vec![Press::Short]
        );
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        assert_eq!(
            run(&mut b, &[(5000, true), (7000, false)], t0, 8000),
            vec![Press::Long]
        );
    }

    #[test]
    fn held_from_power_up_for_10_s_is_a_factory_reset_fired_while_held() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), true, t0);
        assert_eq!(b.poll_timeout(), Some(t0 + ms(10_000)));
        assert_eq!(run(&mut b, &[], t0, 9_999), vec![]);
        assert_eq!(run(&mut b, &[], t0, 10_000), vec![Press::FactoryReset]);
        // The release after a reset is not also a long press.
        assert_eq!(run(&mut b, &[(12_000, false)], t0, 13_000), vec![]);
    }

    #[test]
    fn a_10_s_press_later_in_life_is_only_long() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        assert_eq!(
            run(&mut b, &[(60_000, true), (71_000, false)], t0, 80_000),
            vec![Press::Long]
        );
    }

    #[test]
    fn a_quick_press_after_a_release_delivered_late_is_not_lost() {
        // A long press, then a second press 5 ms after its release (within
        // the release's bounce window) that lasts 120 ms. The loop was busy:
        // all four edges arrive in one batch with no timer run in between.
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), false, t0);
        let mut got: Vec<Press> = [(5000, true), (7500, false), (7505, true), (7625, false)]
            .into_iter()
            .filter_map(|(t, level)| b.on_level(level, t0 + ms(t)))
            .collect();
        got.extend(b.handle_timeout(t0 + ms(9000)));
        assert_eq!(got, vec![Press::Long, Press::Short]);
        assert!(!b.is_pressed());
    }

    #[test]
    fn late_delivery_gives_the_same_presses_as_timely_delivery() {
        // Every schedule of edges, fed once with timers run on time and once
        // with no timer at all until the end, gives the same presses.
        let schedules: &[&[(u64, bool)]] = &[
            &[(5000, true), (5010, false)],
            &[(5000, true), (5005, false), (5010, true), (5400, false)],
            &[(5000, true), (7000, false), (7001, true), (7020, false)],
            &[
                (5000, true),
                (5100, false),
                (5120, true),
                (5125, false),
                (5130, true),
                (5500, false),
            ],
        ];
        for edges in schedules {
            let t0 = Instant::now();
            let mut timely = Button::new(ButtonTiming::default(), false, t0);
            let expected = run(&mut timely, edges, t0, 9000);
            let mut late = Button::new(ButtonTiming::default(), false, t0);
            let mut got: Vec<Press> = edges
                .iter()
                .filter_map(|&(t, level)| late.on_level(level, t0 + ms(t)))
                .collect();
            got.extend(late.handle_timeout(t0 + ms(9000)));
            assert_eq!(got, expected, "edges {edges:?}");
            assert_eq!(late.is_pressed(), timely.is_pressed(), "edges {edges:?}");
        }
    }

    #[test]
    fn power_up_press_released_early_is_a_normal_press() {
        let t0 = Instant::now();
        let mut b = Button::new(ButtonTiming::default(), true, t0);
        assert_eq!(
            run(&mut b, &[(3_000, false)], t0, 20_000),
            vec![Press::Long]
        );
    }
}
