//! The daemon's main loop.
//!
//! One task owns the sans-IO core (inside [`runtime::BoxRuntime`]) and is
//! the only place that mutates box state. It waits on: button edges from the
//! board, events from the media pipeline, events from the MQTT link, the
//! core's next timer, the telemetry tick, and the shutdown signal. Nothing
//! in this loop waits on the network: publishes are handed to the link task.
//!
//! - [`runtime`]: the state the loop owns and how core outputs are carried out.
//! - [`provisioning`]: pushed configs: decide, store, apply, report.
//! - [`commands`]: commands from central IT.
//! - [`outbox`]: events through the durable outbox.
//! - [`telemetry`]: periodic telemetry.
//! - [`updates`]: RAUC updates and the post-update health gate.

mod commands;
mod outbox;
mod provisioning;
mod runtime;
mod telemetry;
mod updates;

use std::time::{Duration, Instant};

use bridgepoint_board::{BoardLink, BoardView};
use bridgepoint_core::config::Config;
use bridgepoint_core::controller::Input;
use bridgepoint_store::Store;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::control::{self, LinkEvent, Topics};
use crate::media;
use crate::service::ServiceNotifier;
use crate::DaemonError;
use runtime::{BoxRuntime, Control};

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Stopped by a signal.
    Stopped,
    /// Central IT asked for a restart (`reboot`); the service manager starts it again.
    RestartRequested,
}

/// Runs the box until `cancel` fires (or a restart is requested).
pub async fn run(config: Config, cancel: CancellationToken) -> Result<Exit, DaemonError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| DaemonError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    media::init()?;
    let store = Store::open(&config.data_dir.join("store"))?;

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
            let (handle, task) = control::link::spawn(
                mqtt.clone(),
                config.device_id.clone(),
                topics.clone(),
                link_tx,
                cancel.child_token(),
            )?;
            link_task = Some(task);
            Some(Control::new(handle, topics, &config.trust.config_keys))
        }
        None => {
            drop(link_tx);
            None
        }
    };

    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let mut rt = BoxRuntime::new(
        &config,
        store,
        control,
        media_tx,
        view_tx,
        board.button_down_at_start,
        cancel.clone(),
    )?;
    let (update_tx, mut update_rx) = mpsc::unbounded_channel();
    // Updates need a RAUC-managed system, not just the rauc program: the
    // booted slot must be known.
    match crate::update::Rauc::locate() {
        Some(rauc) => match rauc.booted_slot().await {
            Some(slot) => {
                tracing::info!(%slot, "RAUC system: updates enabled, health gate armed");
                rt.updates = Some(updates::Updates::new(
                    rauc,
                    Some(slot),
                    Instant::now(),
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
    // it stays up on the control link so central IT can push a fix. The
    // failure is logged, shows on the LEDs once the stream is wanted, and
    // counts against the box's health.
    match rt.check_pipeline_builds() {
        Ok(()) => rt.set_pipeline_builds(true),
        Err(DaemonError::Media(media::PipelineError::NotProvisioned)) => {
            tracing::info!("no pipeline to check until the box is provisioned")
        }
        Err(e) => {
            tracing::error!(error = %e, "the configured pipeline cannot be built on this box")
        }
    }
    notifier.ready();
    tracing::info!("ready");
    let mut watchdog = notifier.watchdog_interval().map(tokio::time::interval);
    let hang_at = test_fault_hang_at(&config);

    let mut telemetry =
        tokio::time::interval(Duration::from_secs(u64::from(rt.telemetry_interval_s())));
    telemetry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    telemetry.tick().await;
    let mut telemetry_period = rt.telemetry_interval_s();

    loop {
        rt.apply_outputs();
        rt.check_health(Instant::now());
        notifier.status(&rt.status_line());
        if rt.telemetry_interval_s() != telemetry_period {
            telemetry_period = rt.telemetry_interval_s();
            telemetry = tokio::time::interval(Duration::from_secs(u64::from(telemetry_period)));
            telemetry.tick().await;
        }
        let deadline = rt.poll_timeout();
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(edge) = edge_rx.recv() => rt.handle_input(Input::ButtonLevel { pressed: edge.pressed }, edge.at),
            Some(event) = media_rx.recv() => rt.on_media_event(event),
            Some(event) = link_rx.recv() => on_link_event(&mut rt, event),
            Some(event) = update_rx.recv() => rt.on_update_event(event),
            _ = telemetry.tick() => rt.publish_telemetry(),
            _ = sleep_until(deadline) => rt.handle_timeout(Instant::now()),
            // Pinged from this loop, never from a timer thread: if the loop
            // hangs, the pings stop and systemd restarts the daemon.
            _ = tick(&mut watchdog) => notifier.watchdog(),
            _ = sleep_until(hang_at) => {
                tracing::warn!("test fault (BRIDGEPOINT_SIM_FAULT): the core loop hangs now");
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
        }
    }

    notifier.stopping();
    tracing::info!("shutting down");
    let exit = rt.exit();
    rt.stop_media();
    cancel.cancel();
    if let Some(task) = link_task {
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
    }
    let _ = board.task.await;
    tracing::info!("stopped");
    Ok(exit)
}

fn on_link_event(rt: &mut BoxRuntime, event: LinkEvent) {
    match event {
        LinkEvent::Connected => rt.on_connected(),
        LinkEvent::Disconnected { reason } => rt.on_disconnected(&reason),
        LinkEvent::Desired(payload) => rt.on_desired(&payload),
        LinkEvent::Command(payload) => rt.on_command(&payload),
        LinkEvent::Acked { outbox_seq } => rt.on_acked(outbox_seq),
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// `BRIDGEPOINT_SIM_FAULT=hang-core-after=<seconds>`: a test-only fault that
/// makes the core loop hang, to prove the watchdog notices. Honoured only on
/// the simulated board, so a box in the field never obeys it.
fn test_fault_hang_at(config: &Config) -> Option<Instant> {
    let value = std::env::var("BRIDGEPOINT_SIM_FAULT").ok()?;
    if config.board != "sim" {
        tracing::warn!("BRIDGEPOINT_SIM_FAULT ignored: only the simulated board takes test faults");
        return None;
    }
    let secs: f64 = value.strip_prefix("hang-core-after=")?.parse().ok()?;
    tracing::warn!(after_s = secs, "test fault armed: the core loop will hang");
    Some(Instant::now() + Duration::from_secs_f64(secs))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
