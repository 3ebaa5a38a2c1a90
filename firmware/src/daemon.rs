//! The daemon's main loop.
//!
//! One task owns the sans-IO core and is the only place that mutates it. It
//! waits on: button edges from the board, events from the media pipeline,
//! the core's next timer, and the shutdown signal. After each input it drains
//! the core's outputs and carries them out (start/stop the pipeline, publish
//! LED patterns to the board, log what happened). Nothing in this loop
//! blocks on the network.

use std::time::Instant;

use bridgepoint_board::{BoardLink, BoardView};
use bridgepoint_core::config::Config;
use bridgepoint_core::controller::{BoxCore, CoreSettings, Input, Output};
use bridgepoint_core::supervisor::{StreamAction, StreamState};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::media::{self, MediaEvent, MediaRunner};
use crate::DaemonError;

/// Runs the box until `cancel` fires.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), DaemonError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| DaemonError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    media::init()?;
    let m = &config.media;
    tracing::info!(
        device_id = %config.device_id,
        board = %config.board,
        hub = %format!("{}:{}/{}", m.hub.host, m.hub.video_port, m.hub.audio_port),
        srtp = %m.srtp.suite,
        video = %format!("{}x{}@{} {} kbit/s", m.video.width, m.video.height, m.video.fps, m.video.bitrate_kbps),
        mode = ?m.session.mode,
        "bridgepointd starting"
    );

    let (edge_tx, mut edge_rx) = mpsc::channel(64);
    let (view_tx, view_rx) = watch::channel(BoardView::default());
    let board = bridgepoint_board::start(
        &config.board,
        &config.data_dir,
        BoardLink {
            edges: edge_tx,
            view: view_rx,
        },
        cancel.child_token(),
    )?;

    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let mut runner = MediaRunner::new(config.media.clone(), media_tx);
    let mut settings = CoreSettings::new(
        config.media.session.mode,
        std::time::Duration::from_secs(u64::from(config.media.session.call_timeout_s)),
    );
    settings.button_down_at_start = board.button_down_at_start;
    let mut core = BoxCore::new(settings, Instant::now());

    loop {
        apply_outputs(&mut core, &mut runner, &view_tx);
        let deadline = core.poll_timeout();
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(edge) = edge_rx.recv() => {
                core.handle_input(Input::ButtonLevel { pressed: edge.pressed }, edge.at);
            }
            Some(event) = media_rx.recv() => match event {
                MediaEvent::FirstPacket { generation } if runner.is_current(generation) => {
                    core.handle_input(Input::StreamStarted, Instant::now());
                }
                MediaEvent::Failed { generation, error } if runner.is_current(generation) => {
                    tracing::error!(%error, "pipeline failed");
                    core.handle_input(Input::StreamFailed { reason: error.to_string() }, Instant::now());
                }
                stale => tracing::debug!(?stale, "event from a pipeline already stopped"),
            },
            _ = sleep_until(deadline) => core.handle_timeout(Instant::now()),
        }
    }

    tracing::info!("shutting down");
    runner.stop();
    let _ = board.task.await;
    tracing::info!("stopped");
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Carries out everything the core decided.
fn apply_outputs(core: &mut BoxCore, runner: &mut MediaRunner, view: &watch::Sender<BoardView>) {
    let mut changed = false;
    while let Some(output) = core.poll_output() {
        changed = true;
        match output {
            Output::Stream(StreamAction::Start) => runner.start(),
            Output::Stream(StreamAction::Stop) => runner.stop(),
            Output::Leds(leds) => {
                tracing::info!(status = %leds.status, call = %leds.call, "LEDs");
            }
            Output::Call(event) => tracing::info!(?event, "call"),
            Output::StreamState(state) => {
                match &state {
                    StreamState::Error { reason, failures, retry_at } => tracing::warn!(
                        %reason,
                        failures,
                        retry_in_ms = retry_at.saturating_duration_since(Instant::now()).as_millis() as u64,
                        "stream error; restarting after backoff"
                    ),
                    other => tracing::info!(stream = %other, "stream"),
                }
            }
            Output::Press(press) => tracing::info!(?press, "call button"),
            Output::FactoryReset => {
                tracing::warn!("factory reset requested by a power-up hold; this box has no provisioned config to wipe")
            }
        }
    }
    if changed {
        let next = BoardView {
            leds: core.leds().clone(),
            call: core.call_state().name(),
            stream: core.stream_state().name(),
        };
        view.send_if_modified(|v| {
            let differs = *v != next;
            *v = next;
            differs
        });
    }
}
