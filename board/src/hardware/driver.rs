//! The generic GPIO driver, over the `embedded-hal` 1.0 digital traits.
//!
//! Button side: a [`ButtonInput`] reports raw level changes of the call
//! button as [`ButtonEdge`]s (pressed or not, active-low already applied,
//! stamped with when the edge happened). Backends with kernel edge events
//! implement it directly; any `embedded_hal::digital::InputPin` can be
//! sampled with [`PolledButton`]. Debounce and short/long/power-up presses
//! are decided by the core (`bridgepoint_core::button`), not here.
//!
//! LED side: [`Leds`] drives `embedded_hal::digital::OutputPin`s from the
//! [`LedStates`] the core publishes in the [`BoardView`](crate::BoardView),
//! using [`LedPattern::level_at`] and sleeping [`LedPattern::tick`]-aligned
//! between changes. A pattern restarts its phase when it changes, so a LED
//! that starts blinking lights at once. An RGB LED lights its `color`
//! channels, or its `alert_color` channels in `blink-fast`.
//!
//! [`spawn`] runs both: the button on a blocking thread (it waits in the
//! kernel for edges), the LEDs on a tokio task.

use std::time::{Duration, Instant};

use bridgepoint_core::led::{LedPattern, LedStates};
use embedded_hal::digital::{InputPin, OutputPin};
use tokio_util::sync::CancellationToken;

use crate::profile::{ButtonSpec, LedSpec, Pin};
use crate::{BoardError, BoardLink, ButtonEdge, StartedBoard};

/// How often a button without edge events is sampled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How long the button thread waits for edges before looking for shutdown.
pub const WAIT_SLICE: Duration = Duration::from_millis(100);

/// How soon a failed LED write is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// A source of call-button edges.
pub trait ButtonInput: Send + 'static {
    /// Whether the button is down, as of the last edge seen (or at open).
    fn pressed(&self) -> bool;

    /// Waits up to `timeout` for the level to change, appending the edges
    /// seen to `out` in order. Returns early once there is an edge.
    fn wait_edges(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ButtonEdge>,
    ) -> Result<(), BoardError>;

    /// Whether edges come from the kernel (true) or from sampling.
    fn uses_edge_events(&self) -> bool;
}

/// Keeps the last level and time reported so a backend only emits real
/// changes, in time order.
#[derive(Debug, Clone)]
pub struct EdgeTracker {
    pressed: bool,
    last_at: Option<Instant>,
}

impl EdgeTracker {
    /// A tracker for a button whose level at open was `pressed`.
    pub fn new(pressed: bool) -> Self {
        EdgeTracker {
            pressed,
            last_at: None,
        }
    }

    /// The last level reported.
    pub fn pressed(&self) -> bool {
        self.pressed
    }

    /// Records that the level was `pressed` at `at`; appends an edge if that
    /// is a change. Times never go backwards.
    pub fn see(&mut self, pressed: bool, at: Instant, out: &mut Vec<ButtonEdge>) {
        if pressed == self.pressed {
            return;
        }
        let at = self.last_at.map_or(at, |last| at.max(last));
        self.pressed = pressed;
        self.last_at = Some(at);
        out.push(ButtonEdge { pressed, at });
    }
}

/// A button read by sampling an `embedded-hal` input every [`POLL_INTERVAL`],
/// for backends or lines without edge events.
pub struct PolledButton<P> {
    pin: P,
    key: String,
    pin_name: String,
    active_low: bool,
    tracker: EdgeTracker,
    interval: Duration,
}

impl<P: InputPin> PolledButton<P> {
    /// Wraps `pin` (set up as an input) for the button `spec`; reads its level now.
    pub fn new(mut pin: P, spec: &ButtonSpec) -> Result<Self, BoardError> {
        let pressed = read(&mut pin, spec.active_low, &spec.pin_key, &spec.pin)?;
        Ok(PolledButton {
            pin,
            key: spec.pin_key.clone(),
            pin_name: spec.pin.to_string(),
            active_low: spec.active_low,
            tracker: EdgeTracker::new(pressed),
            interval: POLL_INTERVAL,
        })
    }
}

fn read<P: InputPin>(
    pin: &mut P,
    active_low: bool,
    key: &str,
    name: &Pin,
) -> Result<bool, BoardError> {
    pin.is_high()
        .map(|high| high != active_low)
        .map_err(|e| BoardError::Gpio {
            key: key.to_owned(),
            pin: name.to_string(),
            message: format!("cannot read the button: {e:?}"),
        })
}

impl<P: InputPin + Send + 'static> ButtonInput for PolledButton<P> {
    fn pressed(&self) -> bool {
        self.tracker.pressed()
    }

    fn wait_edges(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ButtonEdge>,
    ) -> Result<(), BoardError> {
        let end = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let pressed = self
                .pin
                .is_high()
                .map(|high| high != self.active_low)
                .map_err(|e| BoardError::Gpio {
                    key: self.key.clone(),
                    pin: self.pin_name.clone(),
                    message: format!("cannot read the button: {e:?}"),
                })?;
            let before = out.len();
            self.tracker.see(pressed, now, out);
            if out.len() > before || now >= end {
                return Ok(());
            }
            std::thread::sleep(self.interval.min(end - now));
        }
    }

    fn uses_edge_events(&self) -> bool {
        false
    }
}

struct Channel<P> {
    pin: P,
    key: String,
    pin_name: String,
    in_color: bool,
    in_alert: bool,
    /// The level last written (true = high); `None` before the first write or after a failed one.
    written: Option<bool>,
}

struct Led<P> {
    name: &'static str,
    active_low: bool,
    channels: Vec<Channel<P>>,
    pattern: LedPattern,
    since: Instant,
}

/// The LEDs of a board and the patterns they show.
pub struct Leds<P> {
    leds: Vec<Led<P>>,
}

impl<P> Default for Leds<P> {
    fn default() -> Self {
        Leds { leds: Vec::new() }
    }
}

impl<P: OutputPin> Leds<P> {
    /// No LEDs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the LED `spec` with its output pins, one per channel in
    /// `spec.channels` order. It starts dark.
    pub fn add(&mut self, spec: &LedSpec, pins: Vec<P>) {
        debug_assert_eq!(
            pins.len(),
            spec.channels.len(),
            "one pin per channel of {}",
            spec.key
        );
        let channels = spec
            .channels
            .iter()
            .zip(pins)
            .map(|(c, pin)| Channel {
                pin,
                key: c.key.clone(),
                pin_name: c.pin.to_string(),
                in_color: c.in_color,
                in_alert: c.in_alert,
                written: None,
            })
            .collect();
        self.leds.push(Led {
            name: spec.name,
            active_low: spec.active_low,
            channels,
            pattern: LedPattern::Off,
            since: Instant::now(),
        });
    }

    /// The pattern the LED `name` shows.
    pub fn pattern(&self, name: &str) -> Option<LedPattern> {
        self.leds.iter().find(|l| l.name == name).map(|l| l.pattern)
    }

    /// Takes the patterns in `states` as of `now`; a changed pattern starts
    /// its cycle at `now`. Call [`Leds::refresh`] to drive the pins.
    pub fn set(&mut self, states: &LedStates, now: Instant) {
        let by_name = states.by_name();
        for led in &mut self.leds {
            let pattern = by_name.get(led.name).copied().unwrap_or(LedPattern::Off);
            if pattern != led.pattern {
                led.pattern = pattern;
                led.since = now;
            }
        }
    }

    /// Drives every pin to its level at `now`; returns when the next change
    /// is due (`None`: nothing changes until the patterns do). A failed write
    /// is reported (the first failure) and retried at the next call.
    pub fn refresh(&mut self, now: Instant) -> Result<Option<Instant>, BoardError> {
        let mut next: Option<Instant> = None;
        let mut first_error = None;
        for led in &mut self.leds {
            let elapsed = now.saturating_duration_since(led.since);
            let lit = led.pattern.level_at(elapsed);
            let alert = led.pattern == LedPattern::BlinkFast;
            for ch in &mut led.channels {
                let on = lit && if alert { ch.in_alert } else { ch.in_color };
                if let Err(e) = write(ch, on != led.active_low) {
                    first_error.get_or_insert(e);
                }
            }
            if let Some(tick) = led.pattern.tick() {
                let due = next_change(led.since, elapsed, tick);
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(next),
        }
    }

    /// Switches every LED off (on shutdown, or when the core is gone).
    pub fn all_off(&mut self) -> Result<(), BoardError> {
        self.set(&off(), Instant::now());
        self.refresh(Instant::now()).map(|_| ())
    }
}

fn write<P: OutputPin>(ch: &mut Channel<P>, high: bool) -> Result<(), BoardError> {
    if ch.written == Some(high) {
        return Ok(());
    }
    let result = if high {
        ch.pin.set_high()
    } else {
        ch.pin.set_low()
    };
    match result {
        Ok(()) => {
            ch.written = Some(high);
            Ok(())
        }
        Err(e) => {
            ch.written = None;
            Err(BoardError::Gpio {
                key: ch.key.clone(),
                pin: ch.pin_name.clone(),
                message: format!("cannot drive the LED: {e:?}"),
            })
        }
    }
}

/// The first multiple of `tick` after `elapsed`, as an instant. Every
/// pattern's level only changes on multiples of its tick.
fn next_change(since: Instant, elapsed: Duration, tick: Duration) -> Instant {
    let tick_ns = tick.as_nanos().max(1);
    let ticks = elapsed.as_nanos() / tick_ns + 1;
    let offset = u64::try_from(ticks * tick_ns)
        .map(Duration::from_nanos)
        .unwrap_or(Duration::MAX);
    since.checked_add(offset).unwrap_or(since + tick)
}

fn off() -> LedStates {
    LedStates {
        status: LedPattern::Off,
        call: LedPattern::Off,
    }
}

/// A board whose pins are open, ready for [`spawn`].
pub struct OpenedBoard<B, P> {
    /// The call button.
    pub button: B,
    /// The LEDs, all dark.
    pub leds: Leds<P>,
}

/// Starts the driver: the button on a blocking thread, the LEDs on a task.
/// Both end when `cancel` fires; the LEDs are switched off. Must be called
/// inside a tokio runtime.
pub fn spawn<B, P>(
    board: OpenedBoard<B, P>,
    link: BoardLink,
    cancel: CancellationToken,
) -> StartedBoard
where
    B: ButtonInput,
    P: OutputPin + Send + 'static,
{
    let OpenedBoard { button, leds } = board;
    let button_down_at_start = button.pressed();
    tracing::info!(
        edge_events = button.uses_edge_events(),
        pressed = button_down_at_start,
        "call button open"
    );
    let BoardLink { edges, view } = link;
    let button_cancel = cancel.clone();
    let task = tokio::spawn(async move {
        let button = tokio::task::spawn_blocking(move || run_button(button, edges, button_cancel));
        run_leds(leds, view, cancel).await;
        if let Err(e) = button.await {
            tracing::error!(error = %e, "call button thread failed");
        }
    });
    StartedBoard {
        task,
        button_down_at_start,
    }
}

/// Logs a failure once (not on every retry), and its recovery.
#[derive(Default)]
struct FailureLog {
    current: Option<String>,
}

impl FailureLog {
    fn failed(&mut self, what: &str, e: &BoardError) {
        let msg = e.to_string();
        if self.current.as_deref() != Some(msg.as_str()) {
            tracing::error!(error = %msg, "{what}");
            self.current = Some(msg);
        }
    }

    fn ok(&mut self, what: &str) {
        if self.current.take().is_some() {
            tracing::info!("{what} works again");
        }
    }
}

fn run_button<B: ButtonInput>(
    mut button: B,
    edges: tokio::sync::mpsc::Sender<ButtonEdge>,
    cancel: CancellationToken,
) {
    let mut out = Vec::new();
    let mut log = FailureLog::default();
    while !cancel.is_cancelled() && !edges.is_closed() {
        match button.wait_edges(WAIT_SLICE, &mut out) {
            Ok(()) => log.ok("call button"),
            Err(e) => {
                log.failed("call button", &e);
                std::thread::sleep(WAIT_SLICE);
            }
        }
        for edge in out.drain(..) {
            tracing::debug!(pressed = edge.pressed, "call button edge");
            if edges.blocking_send(edge).is_err() {
                return;
            }
        }
    }
}

async fn run_leds<P: OutputPin>(
    mut leds: Leds<P>,
    mut view: tokio::sync::watch::Receiver<crate::BoardView>,
    cancel: CancellationToken,
) {
    let mut log = FailureLog::default();
    let states = view.borrow_and_update().leds.clone();
    leds.set(&states, Instant::now());
    let mut core_alive = true;
    loop {
        let next = match leds.refresh(Instant::now()) {
            Ok(next) => {
                log.ok("LEDs");
                next
            }
            Err(e) => {
                log.failed("LEDs", &e);
                Some(Instant::now() + RETRY)
            }
        };
        let sleep = async move {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            changed = view.changed(), if core_alive => {
                if changed.is_ok() {
                    let states = view.borrow_and_update().leds.clone();
                    leds.set(&states, Instant::now());
                } else {
                    // The core is gone: nothing the LEDs could show is true any more.
                    core_alive = false;
                    leds.set(&off(), Instant::now());
                }
            }
            _ = sleep => {}
        }
    }
    if let Err(e) = leds.all_off() {
        tracing::warn!(error = %e, "could not switch the LEDs off");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Bias, LedChannel};
    use embedded_hal::digital::{ErrorKind, ErrorType};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A pin shared with the test: its level, how often it was written, and
    /// whether it fails.
    #[derive(Clone, Default)]
    struct MockPin {
        high: Arc<AtomicBool>,
        writes: Arc<AtomicUsize>,
        broken: Arc<AtomicBool>,
    }

    impl MockPin {
        fn is_set_high(&self) -> bool {
            self.high.load(Ordering::SeqCst)
        }
    }

    impl ErrorType for MockPin {
        type Error = ErrorKind;
    }

    impl InputPin for MockPin {
        fn is_high(&mut self) -> Result<bool, ErrorKind> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(ErrorKind::Other);
            }
            Ok(self.high.load(Ordering::SeqCst))
        }
        fn is_low(&mut self) -> Result<bool, ErrorKind> {
            self.is_high().map(|h| !h)
        }
    }

    impl OutputPin for MockPin {
        fn set_low(&mut self) -> Result<(), ErrorKind> {
            self.set_state(false.into())
        }
        fn set_high(&mut self) -> Result<(), ErrorKind> {
            self.set_state(true.into())
        }
        fn set_state(&mut self, state: embedded_hal::digital::PinState) -> Result<(), ErrorKind> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(ErrorKind::Other);
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.high.store(
                state == embedded_hal::digital::PinState::High,
                Ordering::SeqCst,
            );
            Ok(())
        }
    }

    fn line(n: u32) -> Pin {
        Pin::Line {
            chip: "mock".into(),
            line: n,
        }
    }

    fn single(name: &'static str, n: u32) -> LedSpec {
        LedSpec {
            name,
            key: format!("leds.{name}"),
            active_low: false,
            rgb: false,
            channels: vec![LedChannel {
                key: format!("leds.{name}.line"),
                pin: line(n),
                in_color: true,
                in_alert: true,
            }],
        }
    }

    /// A common-anode RGB LED: green when lit, red for alerts.
    fn rgb(name: &'static str) -> LedSpec {
        let ch = |c: &str, n, in_color, in_alert| LedChannel {
            key: format!("leds.{name}.rgb.{c}"),
            pin: line(n),
            in_color,
            in_alert,
        };
        LedSpec {
            name,
            key: format!("leds.{name}"),
            active_low: true,
            rgb: true,
            channels: vec![
                ch("red", 2, false, true),
                ch("green", 3, true, false),
                ch("blue", 4, false, false),
            ],
        }
    }

    fn states(status: LedPattern, call: LedPattern) -> LedStates {
        LedStates { status, call }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Status (single) and call (RGB, active-low) LEDs with their pins.
    fn board() -> (Leds<MockPin>, MockPin, [MockPin; 3]) {
        let status = MockPin::default();
        let call = [MockPin::default(), MockPin::default(), MockPin::default()];
        let mut leds = Leds::new();
        leds.add(&single("status", 1), vec![status.clone()]);
        leds.add(&rgb("call"), call.to_vec());
        (leds, status, call)
    }

    /// The RGB LED's lit channels (active-low: a low pin is lit).
    fn lit(call: &[MockPin; 3]) -> [bool; 3] {
        [
            !call[0].is_set_high(),
            !call[1].is_set_high(),
            !call[2].is_set_high(),
        ]
    }

    #[test]
    fn leds_start_dark_and_follow_solid_patterns() {
        let (mut leds, status, call) = board();
        let t0 = Instant::now();
        assert_eq!(leds.refresh(t0).unwrap(), None, "off needs no wake-ups");
        assert!(!status.is_set_high());
        assert_eq!(
            lit(&call),
            [false; 3],
            "active-low channels are driven high when dark"
        );

        leds.set(&states(LedPattern::On, LedPattern::On), t0);
        assert_eq!(leds.refresh(t0).unwrap(), None);
        assert!(status.is_set_high());
        assert_eq!(lit(&call), [false, true, false], "lit = green");
    }

    #[test]
    fn blink_fast_uses_the_alert_colour_and_wakes_on_its_tick() {
        let (mut leds, status, call) = board();
        let t0 = Instant::now();
        leds.set(&states(LedPattern::Heartbeat, LedPattern::BlinkFast), t0);
        // Heartbeat ticks at 100 ms, blink-fast at 125 ms: the next change is at 100 ms.
        assert_eq!(leds.refresh(t0).unwrap(), Some(t0 + ms(100)));
        assert!(status.is_set_high());
        assert_eq!(lit(&call), [true, false, false], "alert = red");
        assert_eq!(leds.refresh(t0 + ms(100)).unwrap(), Some(t0 + ms(125)));
        assert!(!status.is_set_high());
        assert_eq!(leds.refresh(t0 + ms(130)).unwrap(), Some(t0 + ms(200)));
        assert_eq!(lit(&call), [false; 3]);
    }

    #[test]
    fn a_new_pattern_restarts_its_phase_and_unchanged_levels_are_not_rewritten() {
        let (mut leds, status, _) = board();
        let t0 = Instant::now();
        leds.set(&states(LedPattern::BlinkSlow, LedPattern::Off), t0);
        leds.refresh(t0).unwrap();
        let writes = status.writes.load(Ordering::SeqCst);
        leds.refresh(t0 + ms(200)).unwrap();
        assert_eq!(
            status.writes.load(Ordering::SeqCst),
            writes,
            "same level, no write"
        );
        leds.refresh(t0 + ms(600)).unwrap();
        assert!(!status.is_set_high());
        // Identify from 600 ms: lit at once, not at its phase from t0.
        leds.set(&states(LedPattern::Identify, LedPattern::Off), t0 + ms(650));
        assert_eq!(leds.refresh(t0 + ms(650)).unwrap(), Some(t0 + ms(750)));
        assert!(status.is_set_high());
        // The same pattern again keeps its phase.
        leds.set(&states(LedPattern::Identify, LedPattern::Off), t0 + ms(700));
        assert_eq!(leds.pattern("status"), Some(LedPattern::Identify));
        assert_eq!(leds.refresh(t0 + ms(760)).unwrap(), Some(t0 + ms(850)));
        assert!(!status.is_set_high());
    }

    #[test]
    fn a_failed_write_is_reported_with_its_pin_and_retried() {
        let (mut leds, status, _) = board();
        let t0 = Instant::now();
        leds.set(&states(LedPattern::On, LedPattern::Off), t0);
        status.broken.store(true, Ordering::SeqCst);
        let e = leds.refresh(t0).unwrap_err().to_string();
        assert!(
            e.starts_with("leds.status.line (line 1 of chip mock): cannot drive the LED"),
            "{e}"
        );
        status.broken.store(false, Ordering::SeqCst);
        leds.refresh(t0 + ms(1)).unwrap();
        assert!(status.is_set_high());
        leds.all_off().unwrap();
        assert!(!status.is_set_high());
    }

    #[test]
    fn next_change_is_on_the_tick_grid() {
        let t0 = Instant::now();
        assert_eq!(next_change(t0, ms(0), ms(100)), t0 + ms(100));
        assert_eq!(next_change(t0, ms(99), ms(100)), t0 + ms(100));
        assert_eq!(next_change(t0, ms(100), ms(100)), t0 + ms(200));
        assert_eq!(
            next_change(t0, Duration::from_secs(86_400 * 365), ms(125)),
            t0 + Duration::from_secs(86_400 * 365) + ms(125)
        );
    }

    fn button_spec(active_low: bool) -> ButtonSpec {
        ButtonSpec {
            key: "buttons.call".into(),
            pin_key: "buttons.call.line".into(),
            pin: line(0),
            active_low,
            bias: Bias::PullUp,
        }
    }

    #[test]
    fn a_polled_button_reports_changes_with_active_low_applied() {
        let pin = MockPin::default();
        pin.high.store(true, Ordering::SeqCst);
        let mut b = PolledButton::new(pin.clone(), &button_spec(true)).unwrap();
        assert!(!b.pressed(), "high on an active-low button is released");
        let mut out = Vec::new();
        b.wait_edges(ms(20), &mut out).unwrap();
        assert!(out.is_empty());
        pin.high.store(false, Ordering::SeqCst);
        let before = Instant::now();
        b.wait_edges(ms(1000), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].pressed && out[0].at >= before);
        assert!(b.pressed());
        pin.broken.store(true, Ordering::SeqCst);
        let e = b.wait_edges(ms(10), &mut out).unwrap_err().to_string();
        assert!(
            e.starts_with("buttons.call.line (line 0 of chip mock): cannot read the button"),
            "{e}"
        );
    }

    #[test]
    fn the_edge_tracker_drops_repeats_and_keeps_time_order() {
        let t0 = Instant::now();
        let mut t = EdgeTracker::new(false);
        let mut out = Vec::new();
        t.see(false, t0, &mut out);
        t.see(true, t0 + ms(10), &mut out);
        t.see(true, t0 + ms(11), &mut out);
        t.see(false, t0 + ms(5), &mut out);
        assert_eq!(
            out,
            vec![
                ButtonEdge {
                    pressed: true,
                    at: t0 + ms(10)
                },
                ButtonEdge {
                    pressed: false,
                    at: t0 + ms(10)
                },
            ]
        );
    }

    #[tokio::test]
    async fn spawned_driver_sends_edges_shows_the_view_and_goes_dark_on_cancel() {
        let button_pin = MockPin::default();
        button_pin.high.store(true, Ordering::SeqCst);
        let button = PolledButton::new(button_pin.clone(), &button_spec(true)).unwrap();
        let (leds, status, call) = board();
        let (edges_tx, mut edges_rx) = tokio::sync::mpsc::channel(16);
        let (view_tx, view_rx) = tokio::sync::watch::channel(crate::BoardView::default());
        let cancel = CancellationToken::new();
        let link = BoardLink {
            edges: edges_tx,
            view: view_rx,
        };
        let started = spawn(OpenedBoard { button, leds }, link, cancel.clone());
        assert!(!started.button_down_at_start);

        button_pin.high.store(false, Ordering::SeqCst);
        let edge = tokio::time::timeout(ms(2000), edges_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(edge.pressed);

        view_tx.send_modify(|v| v.leds = states(LedPattern::On, LedPattern::On));
        let deadline = Instant::now() + ms(2000);
        while !(status.is_set_high() && lit(&call) == [false, true, false]) {
            assert!(Instant::now() < deadline, "LEDs did not follow the view");
            tokio::time::sleep(ms(5)).await;
        }

        cancel.cancel();
        tokio::time::timeout(ms(2000), started.task)
            .await
            .unwrap()
            .unwrap();
        assert!(!status.is_set_high());
        assert_eq!(lit(&call), [false; 3]);
    }
}
