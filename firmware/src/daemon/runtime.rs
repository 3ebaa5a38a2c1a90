//! The state the main loop owns, and how the core's outputs are carried out.

use std::time::{Duration, Instant};

use bridgepoint_board::BoardView;
use bridgepoint_core::config::{Config, MediaConfig, Settings};
use bridgepoint_core::controller::{BoxCore, CoreSettings, Input, Output};
use bridgepoint_core::supervisor::{StreamAction, StreamState};
use bridgepoint_signing::PublicKey;
use bridgepoint_store::Store;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::control::{messages, LinkHandle, Topics};
use crate::media::{MediaEvent, MediaRunner};
use crate::DaemonError;

/// The box's side of the MQTT control plane.
pub struct Control {
    pub(super) link: LinkHandle,
    pub(super) topics: Topics,
    pub(super) connected: bool,
    pub(super) trusted: Vec<PublicKey>,
}

impl Control {
    /// A control plane over `link`, trusting these raw Ed25519 keys.
    pub fn new(link: LinkHandle, topics: Topics, keys: &[[u8; 32]]) -> Self {
        let trusted = keys
            .iter()
            .filter_map(|raw| match PublicKey::from_bytes(raw) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::error!(error = %e, "trust.config_keys: unusable key ignored");
                    None
                }
            })
            .collect::<Vec<_>>();
        if trusted.is_empty() {
            tracing::warn!(
                "trust.config_keys is empty: unsigned configs are accepted (development only)"
            );
        }
        Control {
            link,
            topics,
            connected: false,
            trusted,
        }
    }
}

/// Everything the main loop owns.
pub struct BoxRuntime {
    pub(super) device_id: String,
    pub(super) core: BoxCore,
    pub(super) runner: MediaRunner,
    pub(super) store: Store,
    pub(super) control: Option<Control>,
    /// The settings from the local file (what a factory reset returns to).
    pub(super) file_settings: Settings,
    /// The settings the box runs on.
    pub(super) settings: Settings,
    /// The provisioned version it runs on (0 = the local file).
    pub(super) applied_version: u64,
    /// A per-session SRTP key from `session.start`, until the session ends.
    pub(super) session_key: Option<Vec<u8>>,
    view: watch::Sender<BoardView>,
    pub(super) started: Instant,
    last_status: Option<String>,
    pub(super) telemetry_bytes: (u64, Instant),
    cancel: CancellationToken,
    exit: Exit,
    /// Whether the configured pipeline was built once (part of health).
    pub(super) pipeline_builds: bool,
    /// RAUC updates, on a box that has RAUC.
    pub(super) updates: Option<super::updates::Updates>,
    /// The latest time the core was given.
    core_now: Instant,
}

impl BoxRuntime {
    /// Loads the stored config (if any) and builds the core and media runner.
    pub fn new(
        config: &Config,
        store: Store,
        control: Option<Control>,
        media_events: mpsc::UnboundedSender<MediaEvent>,
        view: watch::Sender<BoardView>,
        button_down_at_start: bool,
        cancel: CancellationToken,
    ) -> Result<BoxRuntime, DaemonError> {
        let (settings, applied_version) = match store.provisioned()? {
            Some(stored) => match serde_json::from_str(&stored.config_json)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    bridgepoint_core::config::parse_pushed_settings(&v).map_err(|e| e.to_string())
                }) {
                Ok(settings) => {
                    tracing::info!(
                        version = stored.version,
                        "running on the stored provisioned config"
                    );
                    (settings, stored.version)
                }
                Err(e) => {
                    tracing::error!(version = stored.version, error = %e, "stored config no longer valid; running on the local file");
                    (config.settings.clone(), 0)
                }
            },
            None => (config.settings.clone(), 0),
        };
        let mut core_settings = CoreSettings::new(
            settings.session.mode,
            Duration::from_secs(u64::from(settings.session.call_timeout_s)),
        );
        core_settings.hub_signalling = control.is_some();
        core_settings.button_down_at_start = button_down_at_start;
        let now = Instant::now();
        let media = settings.media();
        if media.is_none() {
            tracing::warn!("no hub or SRTP key yet: the box streams once central IT provisions it");
        } else if let Some(m) = &media {
            tracing::info!(
                device_id = %config.device_id,
                hub = %format!("{}:{}/{}", m.hub.host, m.hub.video_port, m.hub.audio_port),
                srtp = %m.srtp.suite,
                video = %format!("{}x{}@{} {} kbit/s", m.video.width, m.video.height, m.video.fps, m.video.bitrate_kbps),
                mode = ?m.session.mode,
                config_version = applied_version,
                "bridgepointd starting"
            );
        }
        Ok(BoxRuntime {
            device_id: config.device_id.clone(),
            core: BoxCore::new(core_settings, now),
            runner: MediaRunner::new(media, media_events),
            store,
            control,
            file_settings: config.settings.clone(),
            settings,
            applied_version,
            session_key: None,
            view,
            started: now,
            last_status: None,
            telemetry_bytes: (0, now),
            cancel,
            exit: Exit::Stopped,
            pipeline_builds: false,
            updates: None,
            core_now: now,
        })
    }

    /// Feeds the core. Times from boards are the kernel's edge times and can
    /// be a little older than the last time the core saw: the core's clock
    /// never goes backwards.
    pub fn handle_input(&mut self, input: Input, at: Instant) {
        let at = self.monotonic(at);
        self.core.handle_input(input, at);
    }

    /// Lets the core's time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.monotonic(now);
        self.core.handle_timeout(now);
    }

    fn monotonic(&mut self, at: Instant) -> Instant {
        self.core_now = self.core_now.max(at);
        self.core_now
    }

    /// When the core (or the health gate) next needs time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let gate = self.updates.as_ref().and_then(|u| u.poll_timeout());
        [self.core.poll_timeout(), gate].into_iter().flatten().min()
    }

    /// Seconds between telemetry reports.
    pub fn telemetry_interval_s(&self) -> u32 {
        self.settings.telemetry_interval_s
    }

    /// How the loop should end.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// Builds (and drops) the pipeline once, to prove every element is
    /// installed before the daemon says it is ready. Nothing is sent; the
    /// RTCP sockets the build opens are closed again.
    pub fn check_pipeline_builds(&self) -> Result<(), DaemonError> {
        let Some(media) = self.effective_media() else {
            return Err(DaemonError::Media(
                crate::media::PipelineError::NotProvisioned,
            ));
        };
        let plan = crate::media::plan::plan(&media)?;
        crate::media::pipeline::build_and_discard(&media, &plan)?;
        Ok(())
    }

    /// Records whether the configured pipeline builds.
    pub fn set_pipeline_builds(&mut self, ok: bool) {
        self.pipeline_builds = ok;
    }

    /// One line for `systemctl status`.
    pub fn status_line(&self) -> String {
        let link = match &self.control {
            None => "standalone",
            Some(c) if c.connected => "control link up",
            Some(_) => "control link down",
        };
        format!(
            "call {}, stream {}, config version {}, {}",
            self.core.call_state().name(),
            self.core.stream_state().name(),
            self.applied_version,
            link
        )
    }

    /// Stops the pipeline for shutdown.
    pub fn stop_media(&mut self) {
        self.runner.stop();
    }

    /// Ends the daemon with a restart request.
    pub(super) fn request_restart(&mut self) {
        self.exit = Exit::RestartRequested;
        self.cancel.cancel();
    }

    /// The media settings pipelines are built from now (with a session key, if any).
    pub(super) fn effective_media(&self) -> Option<MediaConfig> {
        let mut media = self.settings.media()?;
        if let Some(key) = &self.session_key {
            media.srtp.key = key.clone();
        }
        Some(media)
    }

    /// A pipeline event.
    pub fn on_media_event(&mut self, event: MediaEvent) {
        let now = Instant::now();
        match event {
            MediaEvent::FirstPacket { generation } if self.runner.is_current(generation) => {
                self.core.handle_input(Input::StreamStarted, now);
            }
            MediaEvent::Failed { generation, error } if self.runner.is_current(generation) => {
                tracing::error!(%error, "pipeline failed");
                self.core.handle_input(
                    Input::StreamFailed {
                        reason: error.to_string(),
                    },
                    now,
                );
            }
            stale => tracing::debug!(?stale, "event from a pipeline already stopped"),
        }
    }

    /// Carries out everything the core decided.
    pub fn apply_outputs(&mut self) {
        // The LEDs and the simulated board's view follow the core's state
        // before anything below touches the disk or the network: a slow
        // fsync of an event must not hold back the light the staff watch.
        self.update_view();
        let mut changed = false;
        while let Some(output) = self.core.poll_output() {
            changed = true;
            match output {
                Output::Stream(StreamAction::Start) => {
                    self.runner.set_media(self.effective_media());
                    self.runner.start();
                }
                Output::Stream(StreamAction::Stop) => self.runner.stop(),
                Output::Leds(leds) => {
                    tracing::info!(status = %leds.status, call = %leds.call, "LEDs")
                }
                Output::Call(event) => {
                    tracing::info!(?event, "call");
                    self.on_call_event(event);
                }
                Output::StreamState(state) => match &state {
                    StreamState::Error {
                        reason,
                        failures,
                        retry_at,
                    } => {
                        tracing::warn!(
                            %reason,
                            failures,
                            retry_in_ms = retry_at.saturating_duration_since(Instant::now()).as_millis() as u64,
                            "stream error; restarting after backoff"
                        );
                        if *failures == 1 {
                            self.emit_event("error", serde_json::json!({ "message": reason }));
                        }
                    }
                    other => tracing::info!(stream = %other, "stream"),
                },
                Output::Press(press) => tracing::info!(?press, "call button"),
                Output::FactoryReset => self.factory_reset(),
            }
        }
        if changed {
            self.update_view();
            self.publish_status(false);
        }
    }

    /// Hands the core's current LEDs and states to the board.
    fn update_view(&mut self) {
        let next = BoardView {
            leds: self.core.leds().clone(),
            call: self.core.call_state().name(),
            stream: self.core.stream_state().name(),
        };
        self.view.send_if_modified(|v| {
            let differs = *v != next;
            *v = next;
            differs
        });
    }

    fn factory_reset(&mut self) {
        tracing::warn!("factory reset (call button held from power-up): forgetting the provisioned config, keeping the device identity");
        if let Err(e) = self.store.clear_provisioned() {
            tracing::error!(error = %e, "factory reset: cannot clear the stored config");
            return;
        }
        self.settings = self.file_settings.clone();
        self.applied_version = 0;
        self.session_key = None;
        self.runner.set_media(self.effective_media());
        self.core.handle_input(Input::RebuildStream, Instant::now());
        self.publish_status(true);
    }

    /// Publishes the retained status if it changed (or always, when `force`).
    pub(super) fn publish_status(&mut self, force: bool) {
        let Some(control) = &self.control else { return };
        if !control.connected {
            return;
        }
        let status = messages::online_status(
            &self.device_id,
            self.applied_version,
            self.core.call_state().name(),
            self.core.stream_state().name(),
            self.updates.as_ref().and_then(|u| u.slot.as_deref()),
        );
        if !force && self.last_status.as_deref() == Some(status.as_str()) {
            return;
        }
        control
            .link
            .publish(control.topics.status(), status.clone(), true, None);
        self.last_status = Some(status);
    }

    /// The link is up: say who we are and resend what the broker has not acknowledged.
    pub fn on_connected(&mut self) {
        if let Some(control) = &mut self.control {
            control.connected = true;
        }
        self.publish_status(true);
        self.flush_outbox();
    }

    /// The link is down; events wait in the outbox.
    pub fn on_disconnected(&mut self, reason: &str) {
        tracing::info!(%reason, "control link down; events are kept in the outbox");
        if let Some(control) = &mut self.control {
            control.connected = false;
        }
    }
}
