//! The daemon's main loop.
//!
//! [`run`] wires the box together — store, board, MQTT link, media runner,
//! RAUC — and then one task owns the state ([`box_loop::BoxLoop`]) and is the
//! only place that mutates it. It waits on: button edges from the board,
//! events from the media pipeline, events from the MQTT link, RAUC events,
//! the next deadline (core timers, health gate, outbox retry), the
//! telemetry tick, the watchdog tick, and the shutdown signal. Nothing in
//! this loop waits on the network: publishes are handed to the link task.
//!
//! - [`box_loop`]: the loop's state and the routing of each event.
//! - [`provisioning`]: the settings in force; pushed configs.
//! - [`commands`]: which commands are obeyed (the core's gate) and the
//!   durable counter of signed ones.
//! - [`outbox`]: events through the durable outbox.
//! - [`telemetry`]: periodic telemetry.
//! - [`updates`]: RAUC updates and the post-update health gate.
//! - [`control_plane`]: what the box publishes to central IT.
//! - [`trust`]: the keys configs and commands are signed with.
//! - [`boot`]: this boot's id and time.

mod boot;
mod box_loop;
mod commands;
mod control_plane;
mod outbox;
mod provisioning;
mod telemetry;
mod trust;
mod updates;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bridgepoint_board::{BoardLink, BoardView};
use bridgepoint_core::config::Config;
use bridgepoint_proto::Topics;
use bridgepoint_store::Store;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::control;
use crate::media;
use crate::service::ServiceNotifier;
use crate::DaemonError;
use box_loop::{BoxLoop, BoxLoopParts};
use control_plane::ControlPlane;

/// Runs the box until `cancel` fires.
///
/// Refuses to start, naming every error, when the config fails a startup
/// check (`crate::startup_checks`, the same as `check-config --on-box`).
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), DaemonError> {
    crate::startup_checks::refuse_on_error(&config)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| DaemonError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    media::init()?;
    let store = Arc::new(Store::open(&config.data_dir.join("store"))?);

    let (edge_tx, mut edge_rx) = mpsc::channel(64);
    // The LEDs show the state the box starts in until the core says more.
    let (view_tx, view_rx) = watch::channel(BoardView::starting());
    let board = bridgepoint_board::start(
        &config.board,
        &config.data_dir,
        BoardLink {
            edges: edge_tx,
            view: view_rx,
        },
        cancel.child_token(),
    )?;

    let (link_tx, mut link_rx) = mpsc::unbounded_channel();
    let mut link_task = None;
    let control = match &config.mqtt {
        Some(mqtt) => {
            let topics = Topics::new(&mqtt.topic_root, &config.device_id);
            let settings = control::link::client_settings(mqtt, &config.device_id, &topics);
            let (handle, task) = control::link::spawn(
                settings,
                config.device_id.clone(),
                topics,
                link_tx,
                cancel.child_token(),
            )?;
            link_task = Some(task);
            Some(ControlPlane::new(handle))
        }
        None => {
            drop(link_tx);
            None
        }
    };

    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let mut lp = BoxLoop::new(
        &config,
        BoxLoopParts {
            store: store.clone(),
            control,
            media_events: media_tx,
            view: view_tx,
            button_down_at_start: board.button_down_at_start,
        },
    )?;
    let (update_tx, mut update_rx) = mpsc::unbounded_channel();
    // Updates need a RAUC-managed system, not just the rauc program: the
    // booted slot must be known.
    match crate::update::Rauc::locate() {
        Some(rauc) => match rauc.booted_slot().await {
            Some(slot) => {
                tracing::info!(%slot, "RAUC system: remote updates enabled");
                let boot = boot::Boot::current(config.board == "sim");
                lp.set_updates(updates::Updates::new(
                    rauc,
                    slot,
                    boot,
                    config.updates.health,
                    store,
                    update_tx,
                ));
            }
            None => tracing::info!(
                "rauc is installed but this system boots no RAUC slot: remote updates disabled"
            ),
        },
        None => tracing::info!("no RAUC on this system: remote updates disabled"),
    }

    let mut notifier = ServiceNotifier::from_env();
    // A config that cannot build a pipeline here (a pushed encoder this
    // board lacks, a missing plugin) must not keep the daemon from starting:
    // it stays up on the control link so central IT can push a fix.
    lp.discover_devices();
    lp.check_pipeline_builds();
    // READY means the daemon is up: store, board and control link task
    // started. It says nothing about health, and nothing marks an update
    // good on it: only the health gate does.
    notifier.ready();
    tracing::info!("ready");
    let mut watchdog = notifier.watchdog_interval().map(tokio::time::interval);
    let fault = TestFault::from_env(&config);
    if let Some(after) = fault.as_ref().and_then(TestFault::video_stall) {
        lp.stall_video_after(after);
    }
    let strike_at = fault.as_ref().and_then(TestFault::strike_at);
    // The packet counters go to the core's stall watchdog every second.
    let mut packets = tokio::time::interval(PACKETS_TICK);
    packets.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut telemetry_period = lp.telemetry_interval_s();
    let mut telemetry = telemetry_interval(telemetry_period).await;

    loop {
        lp.apply_outputs();
        lp.refresh_status();
        notifier.status(&lp.status_line());
        if lp.telemetry_interval_s() != telemetry_period {
            telemetry_period = lp.telemetry_interval_s();
            telemetry = telemetry_interval(telemetry_period).await;
        }
        let deadline = lp.poll_timeout();
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(edge) = edge_rx.recv() => lp.on_button_edge(edge),
            Some(event) = media_rx.recv() => lp.on_media_event(event),
            Some(event) = link_rx.recv() => lp.on_link_event(event),
            Some(event) = update_rx.recv() => lp.on_update_event(event),
            _ = telemetry.tick() => lp.on_telemetry_tick(),
            _ = packets.tick() => lp.on_packets_tick(),
            _ = sleep_until(deadline) => lp.on_timeout(Instant::now()),
            // Pinged from this loop, never from a timer thread: if the loop
            // hangs, the pings stop and systemd restarts the daemon.
            _ = tick(&mut watchdog) => notifier.watchdog(),
            _ = sleep_until(strike_at) => fault.as_ref().map_or((), TestFault::strike),
        }
    }

    notifier.stopping();
    tracing::info!("shutting down");
    lp.stop_media();
    cancel.cancel();
    if let Some(task) = link_task {
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
    }
    let _ = board.task.await;
    tracing::info!("stopped");
    Ok(())
}

/// How often the packet counters are handed to the core (its stall
/// watchdog's resolution).
const PACKETS_TICK: Duration = Duration::from_secs(1);

async fn telemetry_interval(period_s: u32) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(Duration::from_secs(u64::from(period_s)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    interval
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// `BRIDGEPOINT_SIM_FAULT`: a test-only fault, honoured only on the
/// simulated board so a box in the field never obeys it:
/// - `hang-core-after=<seconds>`: the core loop hangs (the watchdog test);
/// - `crash-after=<seconds>`: the daemon aborts (the update health test: a
///   release that reaches READY and then crashes);
/// - `stall-video-after=<seconds>`: the first pipeline's video encoder stops
///   producing that long after it starts (the stall watchdog test; the
///   media runner drops its output).
struct TestFault {
    at: Instant,
    kind: FaultKind,
}

#[derive(Clone, Copy, PartialEq)]
enum FaultKind {
    HangCore,
    Crash,
    StallVideo(Duration),
}

impl TestFault {
    fn from_env(config: &Config) -> Option<TestFault> {
        let value = std::env::var("BRIDGEPOINT_SIM_FAULT").ok()?;
        if config.board != "sim" {
            tracing::warn!(
                "BRIDGEPOINT_SIM_FAULT ignored: only the simulated board takes test faults"
            );
            return None;
        }
        let seconds = |s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
        };
        let (kind, after) = if let Some(s) = value.strip_prefix("hang-core-after=") {
            (FaultKind::HangCore, seconds(s)?)
        } else if let Some(s) = value.strip_prefix("crash-after=") {
            (FaultKind::Crash, seconds(s)?)
        } else if let Some(s) = value.strip_prefix("stall-video-after=") {
            let after = seconds(s)?;
            (FaultKind::StallVideo(after), after)
        } else {
            tracing::warn!(%value, "BRIDGEPOINT_SIM_FAULT not understood (hang-core-after=S, crash-after=S or stall-video-after=S)");
            return None;
        };
        tracing::warn!(%value, "test fault armed");
        Some(TestFault {
            at: Instant::now() + after,
            kind,
        })
    }

    /// For `stall-video-after`: how long after its start the first
    /// pipeline's video stops.
    fn video_stall(&self) -> Option<Duration> {
        match self.kind {
            FaultKind::StallVideo(after) => Some(after),
            _ => None,
        }
    }

    /// When the main loop must strike (the faults that hang or end it).
    fn strike_at(&self) -> Option<Instant> {
        self.video_stall().is_none().then_some(self.at)
    }

    fn strike(&self) {
        if self.kind == FaultKind::Crash {
            tracing::error!("test fault (BRIDGEPOINT_SIM_FAULT): the daemon crashes now");
            std::process::abort();
        }
        tracing::warn!("test fault (BRIDGEPOINT_SIM_FAULT): the core loop hangs now");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
