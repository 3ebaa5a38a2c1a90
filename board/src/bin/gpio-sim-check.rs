//! `gpio-sim-check`: the board crate against a real kernel GPIO driver.
//!
//! `scripts/gpio-sim-test` boots a Debian kernel in qemu with the gpio-sim
//! module, creates a simulated chip labelled `bridgepoint-sim` through
//! configfs, and runs this binary (cargo feature `gpio-sim-check`) with the
//! chip's sysfs directory. It opens the `gpio-sim` board profile through the
//! cdev backend, runs the box core (`BoxCore`) the way the daemon does, and:
//!
//! - presses the button by writing `pull-down`/`pull-up` to
//!   `<sim-dir>/sim_gpio<line>/pull` (the button is active-low), checking that
//!   short, long and bouncing presses are decided as such;
//! - reads each LED line's `value` while the core goes through its states
//!   (idle, starting, streaming, error, identify), fitting the samples to the
//!   pattern the core chose and checking the RGB call LED's colour;
//! - checks the power-up hold, the polling fallback, a busy line, and
//!   profiles naming a missing chip, a line beyond the chip and an aliased
//!   duplicate pin;
//! - measures edge-to-decision and edge-to-LED latency (`bench:` lines).
//!
//! Output: `ok - ...` / `not ok - ...` lines, `bench: ...` lines, then
//! `N passed, N failed`; the exit status is 1 if anything failed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bridgepoint_board::hardware::cdev::{self, ButtonMode};
use bridgepoint_board::hardware::driver::{self, ButtonInput};
use bridgepoint_board::profile::{self, LedSpec, Pin, Profile};
use bridgepoint_board::{BoardError, BoardLink, BoardView, ButtonEdge, StartedBoard};
use bridgepoint_core::button::{ButtonTiming, Press};
use bridgepoint_core::call::CallEvent;
use bridgepoint_core::config::SessionMode;
use bridgepoint_core::controller::{BoxCore, CoreSettings, Input, Output};
use bridgepoint_core::led::LedPattern;
use bridgepoint_core::supervisor::RestartPolicy;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

const USAGE: &str =
    "usage: gpio-sim-check --sim-dir /sys/devices/platform/gpio-sim.0/gpiochipN [--bench N]";

/// How long LED samples are taken to recognise a pattern (one heartbeat cycle and a bit).
const SAMPLE_WINDOW: Duration = Duration::from_millis(1300);
/// The share of samples that may disagree with the fitted pattern.
const MAX_MISMATCH: f64 = 0.10;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The simulated chip's sysfs attributes.
struct Sim {
    dir: PathBuf,
}

impl Sim {
    fn attr(&self, line: u32, name: &str) -> PathBuf {
        self.dir.join(format!("sim_gpio{line}")).join(name)
    }

    /// Pulls the line high or low, as a button or the outside world would.
    fn pull(&self, line: u32, high: bool) -> Result<(), String> {
        let path = self.attr(line, "pull");
        std::fs::write(&path, if high { "pull-up" } else { "pull-down" })
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The line's level.
    fn value(&self, line: u32) -> Result<bool, String> {
        let path = self.attr(line, "value");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(text.trim() == "1")
    }
}

fn line_of(pin: &Pin) -> Result<u32, String> {
    match pin {
        Pin::Line { line, .. } => Ok(*line),
        Pin::Bcm(_) => Err(format!("{pin} is not a gpio-sim line")),
    }
}

/// The board's button seen from outside: which level is pressed.
struct ButtonLine {
    line: u32,
    active_low: bool,
}

impl ButtonLine {
    fn set(&self, sim: &Sim, pressed: bool) -> Result<(), String> {
        sim.pull(self.line, pressed != self.active_low)
    }
}

/// An LED seen from outside: which channels are lit now.
struct LedLines {
    name: &'static str,
    active_low: bool,
    /// Line, lit in the normal colour, lit in the alert colour.
    channels: Vec<(u32, bool, bool)>,
}

impl LedLines {
    fn new(spec: &LedSpec) -> Result<Self, String> {
        Ok(LedLines {
            name: spec.name,
            active_low: spec.active_low,
            channels: spec
                .channels
                .iter()
                .map(|c| Ok((line_of(&c.pin)?, c.in_color, c.in_alert)))
                .collect::<Result<_, String>>()?,
        })
    }

    fn lit(&self, sim: &Sim) -> Result<Vec<bool>, String> {
        self.channels
            .iter()
            .map(|(line, ..)| Ok(sim.value(*line)? != self.active_low))
            .collect()
    }

    /// Samples the LED for `window` and checks it shows `pattern` in the
    /// right colour. Returns a short description of what was seen.
    fn check(&self, sim: &Sim, pattern: LedPattern, window: Duration) -> Result<String, String> {
        let start = Instant::now();
        let mut samples = Vec::new();
        while start.elapsed() < window {
            samples.push((start.elapsed(), self.lit(sim)?));
            std::thread::sleep(ms(3));
        }
        let alert = pattern == LedPattern::BlinkFast;
        let colour: Vec<bool> = self
            .channels
            .iter()
            .map(|(_, c, a)| if alert { *a } else { *c })
            .collect();
        let wrong_colour = samples
            .iter()
            .filter(|(_, lit)| lit.iter().any(|l| *l) && *lit != colour)
            .count();
        let levels: Vec<(Duration, bool)> = samples
            .iter()
            .map(|(t, lit)| (*t, lit.iter().any(|l| *l)))
            .collect();
        let mismatch = fit(pattern, &levels);
        let n = samples.len();
        let colour_name = if self.channels.len() == 3 {
            format!(" in {}", rgb_name(&colour))
        } else {
            String::new()
        };
        let seen = format!(
            "{pattern}{colour_name}, {n} samples, {:.0}% off the pattern",
            mismatch * 100.0
        );
        // At least one sample per 20 ms on average, or the fit means little.
        if (n as u128) * 20 < window.as_millis() {
            return Err(format!("{}: only {n} samples in {window:?}", self.name));
        }
        if mismatch > MAX_MISMATCH {
            return Err(format!(
                "{}: does not show {pattern}: {:.0}% of {n} samples disagree; {}",
                self.name,
                mismatch * 100.0,
                describe(&levels)
            ));
        }
        if wrong_colour * 50 > n {
            return Err(format!(
                "{}: {wrong_colour} of {n} samples show the wrong colour (want {})",
                self.name,
                rgb_name(&colour)
            ));
        }
        Ok(seen)
    }
}

fn rgb_name(channels: &[bool]) -> &'static str {
    match channels {
        [true, false, false] => "red",
        [false, true, false] => "green",
        [false, false, true] => "blue",
        [true, true, false] => "yellow",
        [false, true, true] => "cyan",
        [true, false, true] => "magenta",
        [true, true, true] => "white",
        _ => "no colour",
    }
}

/// The smallest share of samples that disagree with `pattern` over every phase.
fn fit(pattern: LedPattern, samples: &[(Duration, bool)]) -> f64 {
    if samples.is_empty() {
        return 1.0;
    }
    (0..1200u64)
        .step_by(5)
        .map(|phase| {
            let wrong = samples
                .iter()
                .filter(|(t, lit)| pattern.level_at(*t + ms(phase)) != *lit)
                .count();
            wrong as f64 / samples.len() as f64
        })
        .fold(1.0, f64::min)
}

/// Lit share and changes, for failure messages.
fn describe(levels: &[(Duration, bool)]) -> String {
    let lit = levels.iter().filter(|(_, l)| *l).count();
    let changes = levels.windows(2).filter(|w| w[0].1 != w[1].1).count();
    format!(
        "lit in {lit} of {} samples, {changes} changes",
        levels.len()
    )
}

/// The board and a box core running as in the daemon.
struct Rig {
    cancel: CancellationToken,
    board: tokio::task::JoinHandle<()>,
    core: tokio::task::JoinHandle<()>,
    inputs: mpsc::UnboundedSender<Input>,
    outputs: std::sync::mpsc::Receiver<(Instant, Output)>,
    /// Every edge the core loop received, with when it received it.
    edges: EdgeLog,
    button_down_at_start: bool,
}

type EdgeLog = Arc<Mutex<Vec<(ButtonEdge, Instant)>>>;

/// How a rig opens the board.
enum Open<'a> {
    /// `bridgepoint_board::start("gpio-sim", ..)`, as the daemon does.
    Start,
    /// The cdev backend with this profile and button mode.
    Cdev(&'a Profile, ButtonMode),
}

fn settings(timing: ButtonTiming) -> CoreSettings {
    let mut s = CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60));
    s.button = timing;
    // A failed stream stays failed for the whole LED check.
    s.restart = RestartPolicy {
        initial_backoff: Duration::from_secs(60),
        ..RestartPolicy::default()
    };
    s
}

impl Rig {
    fn start(rt: &Runtime, open: Open<'_>, timing: ButtonTiming) -> Result<Rig, BoardError> {
        let _guard = rt.enter();
        let (edge_tx, edge_rx) = mpsc::channel(64);
        let (view_tx, view_rx) = watch::channel(BoardView::default());
        let cancel = CancellationToken::new();
        let link = BoardLink {
            edges: edge_tx,
            view: view_rx,
        };
        let started: StartedBoard = match open {
            Open::Start => {
                bridgepoint_board::start("gpio-sim", Path::new("/tmp"), link, cancel.clone())?
            }
            Open::Cdev(profile, mode) => {
                driver::spawn(cdev::open_with(profile, mode)?, link, cancel.clone())
            }
        };
        let mut s = settings(timing);
        s.button_down_at_start = started.button_down_at_start;
        let core = BoxCore::new(s, Instant::now());
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = std::sync::mpsc::channel();
        let edges = EdgeLog::default();
        let core = rt.spawn(core_loop(
            core,
            edge_rx,
            in_rx,
            view_tx,
            out_tx,
            cancel.clone(),
            edges.clone(),
        ));
        Ok(Rig {
            cancel,
            board: started.task,
            core,
            inputs: in_tx,
            outputs: out_rx,
            edges,
            button_down_at_start: started.button_down_at_start,
        })
    }

    fn input(&self, input: Input) {
        let _ = self.inputs.send(input);
    }

    /// Outputs until one matches, within `timeout`.
    fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Output) -> bool,
    ) -> Result<(Instant, Vec<Output>), String> {
        let end = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.outputs.recv_timeout(left) {
                Ok((at, o)) => {
                    let hit = pred(&o);
                    seen.push(o);
                    if hit {
                        return Ok((at, seen));
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "no {what} within {timeout:?} (saw {})",
                        summary(&seen)
                    ))
                }
            }
        }
    }

    /// Every output for `window`.
    fn collect(&self, window: Duration) -> Vec<Output> {
        let end = Instant::now() + window;
        let mut seen = Vec::new();
        while let Ok((_, o)) = self
            .outputs
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            seen.push(o);
        }
        seen
    }

    /// Drops the outputs not looked at yet.
    fn drain(&self) {
        while self.outputs.try_recv().is_ok() {}
    }

    /// How many edges the core has received.
    fn edge_count(&self) -> usize {
        self.edges.lock().map_or(0, |log| log.len())
    }

    /// The edges received from the `from`th on, as (level, kernel time, received).
    fn edges_since(&self, from: usize) -> Vec<(ButtonEdge, Instant)> {
        self.edges.lock().map_or(Vec::new(), |log| {
            log.get(from..).unwrap_or_default().to_vec()
        })
    }

    fn stop(self, rt: &Runtime) -> Result<(), String> {
        self.cancel.cancel();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), self.board)
                .await
                .map_err(|_| "the board task did not end within 5 s of cancel".to_owned())?
                .map_err(|e| format!("the board task failed: {e}"))?;
            let _ = self.core.await;
            Ok(())
        })
    }
}

fn summary(outputs: &[Output]) -> String {
    let names: Vec<String> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Press(p) => Some(format!("{p:?}")),
            Output::Call(e) => Some(format!("{e:?}")),
            Output::FactoryReset => Some("FactoryReset".into()),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        "no presses".into()
    } else {
        names.join(", ")
    }
}

async fn core_loop(
    mut core: BoxCore,
    mut edges: mpsc::Receiver<ButtonEdge>,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    view: watch::Sender<BoardView>,
    out: std::sync::mpsc::Sender<(Instant, Output)>,
    cancel: CancellationToken,
    edge_log: EdgeLog,
) {
    let mut last = Instant::now();
    loop {
        while let Some(o) = core.poll_output() {
            if let Output::Leds(leds) = &o {
                let leds = leds.clone();
                view.send_modify(|v| v.leds = leds);
            }
            let _ = out.send((Instant::now(), o));
        }
        let (call, stream) = (core.call_state().name(), core.stream_state().name());
        view.send_if_modified(|v| {
            let changed = v.call != call || v.stream != stream;
            v.call = call;
            v.stream = stream;
            changed
        });
        let deadline = core.poll_timeout();
        let sleep = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            edge = edges.recv() => match edge {
                Some(edge) => {
                    if let Ok(mut log) = edge_log.lock() {
                        log.push((edge, Instant::now()));
                    }
                    last = last.max(edge.at);
                    core.handle_input(Input::ButtonLevel { pressed: edge.pressed }, last);
                }
                None => return,
            },
            input = inputs.recv() => match input {
                Some(input) => {
                    last = last.max(Instant::now());
                    core.handle_input(input, last);
                }
                None => return,
            },
            _ = sleep => {
                last = last.max(Instant::now());
                core.handle_timeout(last);
            }
        }
    }
}

/// The test run's tally.
#[derive(Default)]
struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn report(&mut self, name: &str, result: Result<String, String>) {
        match result {
            Ok(detail) if detail.is_empty() => {
                self.passed += 1;
                println!("ok - {name}");
            }
            Ok(detail) => {
                self.passed += 1;
                println!("ok - {name} ({detail})");
            }
            Err(reason) => {
                self.failed += 1;
                println!("not ok - {name}: {reason}");
            }
        }
    }
}

struct Ctx {
    rt: Runtime,
    sim: Sim,
    profile: Profile,
    button: ButtonLine,
    status: LedLines,
    call: LedLines,
}

impl Ctx {
    fn press(&self, hold: Duration) -> Result<(), String> {
        self.button.set(&self.sim, true)?;
        std::thread::sleep(hold);
        self.button.set(&self.sim, false)
    }

    /// `edges` edges back to back ending at `pressed`, like a bouncing
    /// contact; returns how long they took from first to last.
    fn bounce(&self, pressed: bool, edges: usize) -> Result<Duration, String> {
        let start = Instant::now();
        for i in 0..edges {
            // The last edge lands on `pressed`.
            let level = pressed ^ ((edges - 1 - i) & 1 == 1);
            self.button.set(&self.sim, level)?;
        }
        Ok(start.elapsed())
    }

    /// Waits for the next press and checks it is `want`; then for `then`, if given.
    fn expect_press(
        &self,
        rig: &Rig,
        want: Press,
        then: Option<&Output>,
    ) -> Result<Vec<Output>, String> {
        let (_, mut seen) =
            rig.wait_for(Duration::from_secs(3), &format!("{want:?} press"), |o| {
                matches!(o, Output::Press(_))
            })?;
        if seen.last() != Some(&Output::Press(want)) {
            return Err(format!("decided {}, want {want:?}", summary(&seen)));
        }
        if let Some(then) = then {
            let (_, more) =
                rig.wait_for(Duration::from_secs(1), &format!("{then:?}"), |o| o == then)?;
            seen.extend(more);
        }
        Ok(seen)
    }

    /// Waits until every LED line reads dark.
    fn wait_dark(&self, within: Duration) -> Result<(), String> {
        let end = Instant::now() + within;
        loop {
            let (s, c) = (self.status.lit(&self.sim)?, self.call.lit(&self.sim)?);
            if !s.iter().chain(&c).any(|l| *l) {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(format!(
                    "still lit after {within:?}: status {s:?}, call {c:?}"
                ));
            }
            std::thread::sleep(ms(5));
        }
    }
}

fn run(args: &Args) -> Result<Tally, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let profile = profile::builtin("gpio-sim")
        .ok_or("no built-in gpio-sim profile")?
        .map_err(|e| e.to_string())?;
    let led = |name: &str| {
        profile
            .led(name)
            .ok_or(format!("gpio-sim profile has no {name} LED"))
            .and_then(LedLines::new)
    };
    let ctx = Ctx {
        sim: Sim {
            dir: args.sim_dir.clone(),
        },
        button: ButtonLine {
            line: line_of(&profile.button.pin)?,
            active_low: profile.button.active_low,
        },
        status: led("status")?,
        call: led("call")?,
        profile: profile.clone(),
        rt,
    };
    let mut t = Tally::default();

    // The backend gets kernel edge events for the button line.
    t.report(
        "cdev backend opens the gpio-sim chip with edge events for the button",
        cdev::open(&ctx.profile)
            .map_err(|e| e.to_string())
            .and_then(|board| {
                if board.button.uses_edge_events() {
                    Ok(String::new())
                } else {
                    Err("fell back to sampling".into())
                }
            }),
    );

    let rig = match Rig::start(&ctx.rt, Open::Start, ButtonTiming::default()) {
        Ok(rig) => {
            t.report(
                "board \"gpio-sim\" starts through bridgepoint_board::start",
                if rig.button_down_at_start {
                    Err("button reads down at start".into())
                } else {
                    Ok("button up at start".into())
                },
            );
            rig
        }
        Err(e) => {
            t.report(
                "board \"gpio-sim\" starts through bridgepoint_board::start",
                Err(e.to_string()),
            );
            return Ok(t);
        }
    };
    main_checks(&ctx, &rig, &mut t);

    // While the rig holds the lines, a second open must fail, naming the pin.
    t.report(
        "a second open of held lines fails with the pin and its holder",
        match cdev::open(&ctx.profile) {
            Ok(_) => Err("opened lines already held".into()),
            Err(e @ BoardError::PinBusy { .. }) if e.to_string().contains("buttons.call.line") => {
                Ok(e.to_string())
            }
            Err(e) => Err(format!("unexpected error: {e}")),
        },
    );

    if args.bench > 0 {
        bench(&ctx, &rig, args.bench, &mut t);
    }
    // The core loop ends (the daemon crashed or is stopping): the LEDs must
    // not keep showing a state nobody vouches for.
    rig.core.abort();
    t.report(
        "core gone: every LED goes dark",
        ctx.wait_dark(Duration::from_secs(2))
            .map(|()| String::new()),
    );
    t.report(
        "board stops on cancel and releases its lines",
        rig.stop(&ctx.rt).and_then(|()| {
            cdev::open(&ctx.profile)
                .map(|_| "reopened after stop".to_owned())
                .map_err(|e| e.to_string())
        }),
    );

    fallback_check(&ctx, &mut t);
    power_up_check(&ctx, &mut t);
    bad_profile_checks(&mut t);
    Ok(t)
}

fn main_checks(ctx: &Ctx, rig: &Rig, t: &mut Tally) {
    let sim = &ctx.sim;
    let (status, call) = (&ctx.status, &ctx.call);
    let started = Output::Call(CallEvent::SessionStarted);
    t.report(
        "idle: status LED shows heartbeat",
        status.check(sim, LedPattern::Heartbeat, SAMPLE_WINDOW),
    );
    t.report(
        "idle: call LED is dark",
        call.check(sim, LedPattern::Off, ms(300)),
    );

    // Short press: a session starts; the call LED blinks slow while the stream starts.
    rig.drain();
    let before = rig.edge_count();
    let short = ctx
        .press(ms(150))
        .and_then(|()| ctx.expect_press(rig, Press::Short, Some(&started)));
    t.report(
        "short press (150 ms) seen as Short",
        short.map(|_| format!("{} edges, session started", rig.edge_count() - before)),
    );
    t.report(
        "starting: call LED blinks slow",
        call.check(sim, LedPattern::BlinkSlow, SAMPLE_WINDOW),
    );

    rig.input(Input::StreamStarted);
    std::thread::sleep(ms(100));
    t.report(
        "streaming: call LED is on",
        call.check(sim, LedPattern::On, ms(500)),
    );
    t.report(
        "streaming: status LED shows heartbeat",
        status.check(sim, LedPattern::Heartbeat, SAMPLE_WINDOW),
    );

    // Long press ends the session.
    rig.drain();
    let long = ctx
        .press(ms(2300))
        .and_then(|()| ctx.expect_press(rig, Press::Long, None));
    let ended = long.and_then(|seen| {
        if seen
            .iter()
            .any(|o| matches!(o, Output::Call(CallEvent::SessionEnded(_))))
        {
            return Ok(());
        }
        rig.wait_for(ms(1000), "session end", |o| {
            matches!(o, Output::Call(CallEvent::SessionEnded(_)))
        })
        .map(|_| ())
    });
    t.report(
        "long press (2.3 s) seen as Long",
        ended.map(|()| "session ended".into()),
    );
    std::thread::sleep(ms(100));
    t.report(
        "after the long press: call LED is dark",
        call.check(sim, LedPattern::Off, ms(300)),
    );

    // Bouncing contact: 5 edges back to back on press and on release, one press.
    rig.drain();
    let before = rig.edge_count();
    let bounced = ctx.bounce(true, 5).and_then(|down| {
        std::thread::sleep(ms(300));
        let up = ctx.bounce(false, 5)?;
        Ok((down, up, rig.collect(ms(800))))
    });
    t.report(
        "bouncing press (5 edges on press, 5 on release) seen as one Short",
        bounced.and_then(|(down, up, seen)| {
            let edges = rig.edges_since(before);
            let span = |e: &[(ButtonEdge, Instant)]| match (e.first(), e.last()) {
                (Some(a), Some(b)) => b.0.at.saturating_duration_since(a.0.at),
                _ => Duration::ZERO,
            };
            let (press, release): (Vec<_>, Vec<_>) = edges.iter().partition(|(e, _)| {
                edges
                    .first()
                    .is_some_and(|(first, _)| e.at.saturating_duration_since(first.at) < ms(150))
            });
            let detail = format!(
                "{} raw edges reached the core; kernel times span {:.1} ms on press, {:.1} ms on release \
                 (writes took {:.1} / {:.1} ms; debounce 30 ms)",
                edges.len(),
                span(&press).as_secs_f64() * 1e3,
                span(&release).as_secs_f64() * 1e3,
                down.as_secs_f64() * 1e3,
                up.as_secs_f64() * 1e3,
            );
            let presses: Vec<&Output> = seen.iter().filter(|o| matches!(o, Output::Press(_))).collect();
            if presses == [&Output::Press(Press::Short)] {
                Ok(detail)
            } else {
                Err(format!("decided {}; {detail}", summary(&seen)))
            }
        }),
    );

    // A failing stream: both LEDs blink fast, the RGB call LED in its alert colour.
    rig.input(Input::StreamStarted);
    rig.input(Input::StreamFailed {
        reason: "video-source: device gone".into(),
    });
    std::thread::sleep(ms(100));
    t.report(
        "stream error: status LED blinks fast",
        status.check(sim, LedPattern::BlinkFast, SAMPLE_WINDOW),
    );
    t.report(
        "stream error: call LED blinks fast in its alert colour",
        call.check(sim, LedPattern::BlinkFast, SAMPLE_WINDOW),
    );
    rig.input(Input::HubEnd);
    std::thread::sleep(ms(100));
    t.report(
        "session ended by the hub: call LED is dark",
        call.check(sim, LedPattern::Off, ms(300)),
    );

    // Identify: every LED at 5 Hz, then back.
    rig.drain();
    rig.input(Input::Identify(Duration::from_secs(4)));
    std::thread::sleep(ms(50));
    t.report(
        "identify: status LED blinks at 5 Hz",
        status.check(sim, LedPattern::Identify, SAMPLE_WINDOW),
    );
    t.report(
        "identify: call LED blinks at 5 Hz",
        call.check(sim, LedPattern::Identify, SAMPLE_WINDOW),
    );
    let back = rig.wait_for(
        Duration::from_secs(4),
        "end of identify",
        |o| matches!(o, Output::Leds(l) if l.status == LedPattern::Heartbeat),
    );
    std::thread::sleep(ms(50));
    t.report(
        "after identify: status LED back to heartbeat",
        back.and_then(|_| status.check(sim, LedPattern::Heartbeat, SAMPLE_WINDOW)),
    );
}

/// Press latency: from the release edge that completes a short press (the
/// `pull` write) to the core's decision, and to the call LED lighting (the
/// session starts, the LED blinks slow, lit first). The split shows where the
/// time goes: to the kernel's edge timestamp, to the core loop receiving the
/// edge from the board thread, and on to the decision.
fn bench(ctx: &Ctx, rig: &Rig, n: usize, t: &mut Tally) {
    let green = ctx
        .call
        .channels
        .iter()
        .find(|(_, c, _)| *c)
        .map(|(l, ..)| *l);
    let Some(green) = green else {
        t.report("bench", Err("the call LED has no lit channel".into()));
        return;
    };
    let lit = |sim: &Sim| sim.value(green).map(|v| v != ctx.call.active_low);
    let mut samples: [Vec<Duration>; 5] = Default::default();
    let mut failure = None;
    rig.drain();
    for i in 0..n {
        let result = (|| -> Result<[Duration; 5], String> {
            ctx.button.set(&ctx.sim, true)?;
            std::thread::sleep(ms(50));
            let from = rig.edge_count();
            let t0 = Instant::now();
            ctx.button.set(&ctx.sim, false)?;
            let led_at = loop {
                if lit(&ctx.sim)? {
                    break Instant::now();
                }
                if t0.elapsed() > Duration::from_secs(3) {
                    return Err("call LED did not light within 3 s".into());
                }
                std::thread::yield_now();
            };
            let (decided_at, seen) = rig.wait_for(Duration::from_secs(3), "press", |o| {
                matches!(o, Output::Press(_))
            })?;
            if seen.last() != Some(&Output::Press(Press::Short)) {
                return Err(format!("decided {}", summary(&seen)));
            }
            let (edge, received) = rig
                .edges_since(from)
                .into_iter()
                .find(|(e, _)| !e.pressed)
                .ok_or("no release edge reached the core")?;
            rig.input(Input::HubEnd);
            let end = Instant::now() + Duration::from_secs(3);
            while lit(&ctx.sim)? {
                if Instant::now() > end {
                    return Err("call LED did not go dark after the session".into());
                }
                std::thread::sleep(ms(1));
            }
            // Let the release's debounce window (30 ms) pass: a press inside it
            // would be held back by the core, correctly, and skew the figures.
            std::thread::sleep(ms(60));
            rig.drain();
            let since = |at: Instant| at.saturating_duration_since(t0);
            Ok([
                since(decided_at),
                since(led_at),
                since(edge.at),
                received.saturating_duration_since(edge.at),
                decided_at.saturating_duration_since(received),
            ])
        })();
        match result {
            Ok(sample) => {
                for (all, one) in samples.iter_mut().zip(sample) {
                    all.push(one);
                }
            }
            Err(e) => {
                failure = Some(format!("sample {i}: {e}"));
                break;
            }
        }
    }
    let pct = |v: &mut Vec<Duration>, q: usize| -> u128 {
        v.sort();
        let idx = (v.len() * q)
            .div_ceil(100)
            .saturating_sub(1)
            .min(v.len().saturating_sub(1));
        v.get(idx).map_or(0, |d| d.as_micros())
    };
    let count = samples[0].len();
    if count > 0 {
        let [decision, led, kernel, board, core] = &mut samples;
        println!(
            "bench: edge_to_decision p50={}us p99={}us (n={count}, qemu TCG inflates these)",
            pct(decision, 50),
            pct(decision, 99)
        );
        println!(
            "bench: edge_to_led p50={}us p99={}us (n={count}, qemu TCG inflates these)",
            pct(led, 50),
            pct(led, 99)
        );
        let (k50, k99) = (pct(kernel, 50), pct(kernel, 99));
        let (b50, b99) = (pct(board, 50), pct(board, 99));
        let (c50, c99) = (pct(core, 50), pct(core, 99));
        println!(
            "bench: split p50/p99: write->kernel edge {k50}/{k99}us, kernel edge->core loop {b50}/{b99}us, \
             core loop->decision {c50}/{c99}us"
        );
    }
    t.report(
        &format!("bench: {n} short presses each decided Short and lit the call LED"),
        failure.map_or(Ok(String::new()), Err),
    );
}

/// The InputPin sampling fallback (for chips without line interrupts).
fn fallback_check(ctx: &Ctx, t: &mut Tally) {
    let name = "polling fallback: short press seen as Short";
    let rig = match Rig::start(
        &ctx.rt,
        Open::Cdev(&ctx.profile, ButtonMode::Polling),
        ButtonTiming::default(),
    ) {
        Ok(rig) => rig,
        Err(e) => return t.report(name, Err(e.to_string())),
    };
    let result = ctx
        .press(ms(150))
        .and_then(|()| ctx.expect_press(&rig, Press::Short, None))
        .map(|_| String::new());
    t.report(name, result);
    if let Err(e) = rig.stop(&ctx.rt) {
        t.report("polling rig stops", Err(e));
    }
}

/// Held from power-up: the board reports it, and the core fires a factory reset while held.
fn power_up_check(ctx: &Ctx, t: &mut Tally) {
    let name = "button held at power-up: button_down_at_start, factory reset decided while held";
    // gpio-sim lets a requested pull-up override the simulated button, so
    // this board variant has no bias: the line keeps the level set below.
    let text = profile::BUILTIN
        .iter()
        .find(|(n, _)| *n == "gpio-sim")
        .map(|(_, text)| text.replace("bias = \"pull-up\"", "bias = \"none\""));
    let result = (|| -> Result<String, String> {
        let text = text.ok_or("no gpio-sim profile")?;
        let variant = Profile::parse(
            "gpio-sim-nobias",
            "gpio-sim.toml with bias = \"none\"",
            &text,
        )
        .map_err(|e| e.to_string())?;
        ctx.button.set(&ctx.sim, true)?;
        // The core's threshold is 10 s in the box; 3 s here keeps the run short.
        let timing = ButtonTiming {
            factory_reset: Duration::from_secs(3),
            ..ButtonTiming::default()
        };
        let rig = Rig::start(&ctx.rt, Open::Cdev(&variant, ButtonMode::Events), timing)
            .map_err(|e| e.to_string())?;
        let outcome = (|| {
            if !rig.button_down_at_start {
                return Err("button_down_at_start is false".to_owned());
            }
            let started = Instant::now();
            rig.wait_for(Duration::from_secs(6), "factory reset", |o| {
                *o == Output::FactoryReset
            })?;
            let after = started.elapsed();
            ctx.button.set(&ctx.sim, false)?;
            let later = rig.collect(ms(500));
            if later.iter().any(|o| matches!(o, Output::Press(_))) {
                return Err(format!(
                    "the release after the reset was also a press ({})",
                    summary(&later)
                ));
            }
            Ok(format!(
                "reset after {:.1} s held; threshold 3 s for the test, 10 s in the box",
                after.as_secs_f64()
            ))
        })();
        let stopped = rig.stop(&ctx.rt);
        let detail = outcome?;
        stopped?;
        Ok(detail)
    })();
    let _ = ctx.button.set(&ctx.sim, false);
    t.report(name, result);
}

/// Profiles that cannot work on this chip fail at open with an error naming the pin.
fn bad_profile_checks(t: &mut Tally) {
    let Some((_, text)) = profile::BUILTIN.iter().find(|(n, _)| *n == "gpio-sim") else {
        return t.report("bad profiles", Err("no gpio-sim profile".into()));
    };
    let chip_path = cdev::resolve_chip("bridgepoint-sim")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let cases: [(&str, String, &str); 3] = [
        (
            "a profile naming a missing chip fails at open, naming the chip and key",
            text.replace("chip = \"bridgepoint-sim\"", "chip = \"no-such-chip\""),
            "buttons.call.line: GPIO chip \"no-such-chip\" not found",
        ),
        (
            "a profile naming a line beyond the chip fails at open, naming the line",
            text.replace("[leds.status]\nline = 1", "[leds.status]\nline = 8"),
            "leds.status.line: line 8 does not exist on GPIO chip \"bridgepoint-sim\", which has lines 0 to 7",
        ),
        (
            "a pin named twice through a chip path and its label fails at open",
            text.replace(
                "[leds.status]\nline = 1",
                &format!("[leds.status]\nchip = \"{chip_path}\"\nline = 0"),
            ),
            "leds.status.line: line 0 of chip",
        ),
    ];
    for (name, text, want) in cases {
        let result = Profile::parse("bad", "bad.toml", &text)
            .and_then(|p| cdev::open(&p).map(|_| ()))
            .map_err(|e| e.to_string());
        t.report(
            name,
            match result {
                Ok(()) => Err("opened".into()),
                Err(e) if e.contains(want) => Ok(e),
                Err(e) => Err(format!("error does not say {want:?}: {e}")),
            },
        );
    }
}

struct Args {
    sim_dir: PathBuf,
    bench: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut sim_dir = None;
    let mut bench = 100;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sim-dir" => {
                sim_dir = Some(PathBuf::from(
                    args.next().ok_or("--sim-dir needs a directory")?,
                ))
            }
            "--bench" => {
                let n = args.next().ok_or("--bench needs a count")?;
                bench = n
                    .parse()
                    .map_err(|_| format!("--bench needs a count, got {n:?}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        sim_dir: sim_dir.ok_or("--sim-dir is required")?,
        bench,
    })
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("gpio-sim-check: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let tally = match run(&args) {
        Ok(t) => t,
        Err(e) => {
            println!("not ok - setup: {e}");
            Tally {
                passed: 0,
                failed: 1,
            }
        }
    };
    println!("{} passed, {} failed", tally.passed, tally.failed);
    std::process::exit(if tally.failed == 0 { 0 } else { 1 });
}
