//! The main loop's state: one handle per concern, and the routing of each
//! event to them.
//!
//! Each concern owns its state behind a small interface in its own file —
//! the settings in force and pushes ([`Provisioning`]), the outbox
//! ([`Outbox`]), commands ([`CommandDesk`]), telemetry
//! ([`TelemetryReporter`]), updates and the health gate ([`Updates`]), what
//! is published ([`ControlPlane`]) — and the decisions are the core's.
//! [`BoxLoop`] holds them, feeds the core, and carries out what the core
//! and the concerns say; it reaches into no concern's fields.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bridgepoint_board::{BoardView, ButtonEdge, ReturnView, ScreenState, SendView};
use bridgepoint_core::call::{CallEvent, CallState, EndReason};
use bridgepoint_core::command_gate::CommandVerdict;
use bridgepoint_core::config::Config;
use bridgepoint_core::controller::{BoxCore, CoreSettings, Input, Output};
use bridgepoint_core::health::HealthInputs;
use bridgepoint_core::provision::Change;
use bridgepoint_core::return_watch::{ReturnCounters, ReturnStatus, ReturnWatch};
use bridgepoint_core::screen::{screen_for, ScreenInputs, ScreenView};
use bridgepoint_core::send_control::{ReportBlock, SendAction, SendObservation, TargetReason};
use bridgepoint_core::supervisor::{StreamAction, StreamState};
use bridgepoint_core::wall_clock;
use bridgepoint_proto::validate::DEFAULT_IDENTIFY_SECONDS;
use bridgepoint_proto::{
    CallStatus, Command, CommandRequest, CommandResult, EventKind, FeedbackStatus, OnlineStatus,
    ReceiveStats, ReturnStreamStatus, Status, StreamStatus,
};
use bridgepoint_store::Store;
use tokio::sync::{mpsc, watch};

use super::commands::CommandDesk;
use super::control_plane::ControlPlane;
use super::outbox::Outbox;
use super::provisioning::Provisioning;
use super::telemetry::{TelemetryInputs, TelemetryReporter};
use super::trust::Trust;
use super::updates::Updates;
use crate::control::LinkEvent;
use crate::media::screen::Screen;
use crate::media::stats::StatsSnapshot;
use crate::media::{plan, MediaEvent, MediaRunner};
use crate::update::UpdateEvent;
use crate::DaemonError;

/// The firmware version reported in `status`.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything the main loop owns.
pub struct BoxLoop {
    device_id: String,
    core: BoxCore,
    /// The latest time the core was given (its clock never goes backwards).
    core_now: Instant,
    media: MediaRunner,
    provisioning: Provisioning,
    trust: Trust,
    control: Option<ControlPlane>,
    outbox: Outbox,
    commands: CommandDesk,
    telemetry: TelemetryReporter,
    updates: Option<Updates>,
    view: watch::Sender<BoardView>,
    /// Whether the configured pipeline was built once (part of health).
    pipeline_builds: bool,
    /// What discovery found at start, until the first telemetry report.
    devices_to_report: Option<bridgepoint_proto::devices::DeviceSummary>,
    /// The room's screen; `None` when it failed (logged).
    screen: Option<Screen>,
    /// The hub's return stream, watched while the box's pipeline runs.
    return_watch: Option<ReturnWatch>,
    /// What the sockets sent and the hub's latest receiver report on the
    /// video, read once a second.
    sent: StatsSnapshot,
    rtcp: Option<ReportBlock>,
    /// Central's frames decoded at the last packets tick, and when.
    frames_at: (u64, Instant),
    /// Central's frames decoded per second over the last tick.
    video_fps: u64,
    /// What the return stream did at the last look (`None` outside a
    /// session).
    return_status: Option<ReturnStatus>,
    /// The video's and the reports' state in the last status published.
    sending_published: Option<(&'static str, FeedbackStatus)>,
}

/// What [`BoxLoop::new`] needs besides the config.
pub struct BoxLoopParts {
    /// The durable store.
    pub store: Arc<Store>,
    /// The MQTT control plane, if the box has one.
    pub control: Option<ControlPlane>,
    /// Where the media runner reports.
    pub media_events: mpsc::UnboundedSender<MediaEvent>,
    /// What the board shows.
    pub view: watch::Sender<BoardView>,
    /// Whether the call button was down at power-up.
    pub button_down_at_start: bool,
}

fn wire_call(state: CallState) -> CallStatus {
    match state {
        CallState::Idle => CallStatus::Idle,
        CallState::Calling { .. } => CallStatus::Calling,
        CallState::InSession { .. } => CallStatus::InSession,
    }
}

fn wire_stream(state: &StreamState) -> StreamStatus {
    match state {
        StreamState::Stopped => StreamStatus::Stopped,
        StreamState::Starting => StreamStatus::Starting,
        StreamState::Streaming => StreamStatus::Streaming,
        StreamState::Error { .. } => StreamStatus::Error,
    }
}

fn wire_return(status: ReturnStatus) -> ReturnStreamStatus {
    match status {
        ReturnStatus::NotReceiving => ReturnStreamStatus::NotReceiving,
        ReturnStatus::Waiting => ReturnStreamStatus::Waiting,
        ReturnStatus::Playing { video: true, .. } => ReturnStreamStatus::Playing,
        ReturnStatus::Playing { video: false, .. } => ReturnStreamStatus::PlayingSoundOnly,
        ReturnStatus::Undecryptable => ReturnStreamStatus::Undecryptable,
        ReturnStatus::Interrupted => ReturnStreamStatus::Interrupted,
    }
}

/// The wall clock in Unix milliseconds, when it is plausible.
fn plausible_unix_ms() -> Option<u64> {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    wall_clock::plausible(ms)
}

impl BoxLoop {
    /// Loads the stored config (if any) and builds the core and media runner.
    pub fn new(config: &Config, parts: BoxLoopParts) -> Result<BoxLoop, DaemonError> {
        let provisioning = Provisioning::load(config, parts.store.clone())?;
        let settings = provisioning.settings();
        let mut core_settings = CoreSettings::new(
            settings.session.mode,
            Duration::from_secs(u64::from(settings.session.call_timeout_s)),
        );
        core_settings.hub_signalling = parts.control.is_some();
        core_settings.button_down_at_start = parts.button_down_at_start;
        let now = Instant::now();
        match provisioning.media() {
            None => tracing::warn!(
                "no hub or SRTP key yet: the box streams once central IT provisions it"
            ),
            Some(m) => tracing::info!(
                device_id = %config.device_id,
                hub = %format!("{}:{}/{}", m.hub.host, m.hub.video_port, m.hub.audio_port),
                srtp = %m.srtp.suite,
                video = %format!("{}x{}@{} {} kbit/s", m.video.width, m.video.height, m.video.fps, m.video.bitrate_kbps),
                mode = ?m.session.mode,
                config_version = provisioning.applied_version(),
                "bridgepointd starting"
            ),
        }
        let screen = start_screen(&settings.display);
        let mut core = BoxCore::new(core_settings, now);
        core.set_video_limits(
            provisioning
                .media()
                .map(|m| (m.video.min_bitrate_kbps, m.video.bitrate_kbps)),
        );
        Ok(BoxLoop {
            device_id: config.device_id.clone(),
            core,
            core_now: now,
            media: MediaRunner::new(provisioning.media(), parts.media_events),
            provisioning,
            trust: Trust::new(&config.trust.config_keys),
            control: parts.control,
            outbox: Outbox::new(parts.store.clone()),
            commands: CommandDesk::new(parts.store)?,
            telemetry: TelemetryReporter::new(now),
            updates: None,
            view: parts.view,
            pipeline_builds: false,
            devices_to_report: None,
            screen,
            return_watch: None,
            sent: StatsSnapshot::default(),
            rtcp: None,
            frames_at: (0, now),
            video_fps: 0,
            return_status: None,
            sending_published: None,
        })
    }

    /// Gives the box its update machinery (a RAUC system).
    pub fn set_updates(&mut self, mut updates: Updates) {
        let announcement = updates.take_announcement();
        self.updates = Some(updates);
        if let Some(event) = announcement {
            self.emit(event);
        }
    }

    /// Builds (and drops) the pipeline once, to prove every element is
    /// installed. Nothing is sent; the RTCP sockets the build opens are
    /// closed again. A failure is logged and counts against health, but
    /// never keeps the daemon down: it stays reachable for a fixing push.
    pub fn check_pipeline_builds(&mut self) {
        let Some(media) = self.provisioning.media() else {
            tracing::info!("no pipeline to check until the box is provisioned");
            return;
        };
        let built = crate::media::plan::plan(&media)
            .and_then(|plan| crate::media::pipeline::build_and_discard(&media, &plan));
        match built {
            Ok(()) => self.pipeline_builds = true,
            Err(e) => {
                tracing::error!(error = %e, "the configured pipeline cannot be built on this box")
            }
        }
    }

    /// Looks at the devices plugged in, logs what was found and what the box
    /// would use, and keeps the summary for the first telemetry report.
    pub fn discover_devices(&mut self) {
        let settings = self.provisioning.settings();
        let v = &settings.video;
        let devices = crate::media::discovery::discover((v.width, v.height, v.fps));
        let summary = crate::media::discovery::summary::summarize(&devices, v, &settings.audio);
        for line in crate::media::discovery::summary::render(&summary).lines() {
            tracing::info!("devices: {}", line.trim_end());
        }
        self.devices_to_report = Some(summary);
    }

    /// Seconds between telemetry reports.
    pub fn telemetry_interval_s(&self) -> u32 {
        self.provisioning.settings().telemetry_interval_s
    }

    /// Stops the pipeline for shutdown.
    pub fn stop_media(&mut self) {
        self.media.stop();
    }

    /// When something next needs time: the core, the health gate, the
    /// outbox's retry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let gate = self.updates.as_ref().and_then(Updates::poll_timeout);
        [self.core.poll_timeout(), gate, self.outbox.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// One line for `systemctl status`.
    pub fn status_line(&self) -> String {
        let link = match &self.control {
            None => "standalone",
            Some(c) if c.is_connected() => "control link up",
            Some(_) => "control link down",
        };
        let mut line = format!(
            "call {}, stream {}, config version {}, {}",
            self.core.call_state().name(),
            self.core.stream_state().name(),
            self.provisioning.applied_version(),
            link
        );
        let stalls = self.core.stalls();
        if stalls > 0 {
            line.push_str(&format!(", {stalls} stalled stream(s) restarted"));
        }
        if let Some(problem) = self.outbox.problem() {
            line.push_str(&format!("; PROBLEM: {problem}"));
        }
        line
    }

    // --- Inputs ----------------------------------------------------------

    /// Feeds the core. Times from boards are the kernel's edge times and can
    /// be a little older than the last time the core saw: the core's clock
    /// never goes backwards.
    fn feed(&mut self, input: Input, at: Instant) {
        self.core_now = self.core_now.max(at);
        self.core.handle_input(input, self.core_now);
    }

    /// The call button's level changed.
    pub fn on_button_edge(&mut self, edge: ButtonEdge) {
        self.feed(
            Input::ButtonLevel {
                pressed: edge.pressed,
            },
            edge.at,
        );
    }

    /// Time passed.
    pub fn on_timeout(&mut self, now: Instant) {
        self.core_now = self.core_now.max(now);
        self.core.handle_timeout(self.core_now);
        for publish in self.outbox.retry(now) {
            if let Some(c) = &self.control {
                c.publish_event(publish);
            }
        }
    }

    /// The packet counters, every second: the core's stall watchdog.
    pub fn on_packets_tick(&mut self) {
        let now = Instant::now();
        let frames = self.media.return_stats().snapshot().video_frames;
        let (before, at) = self.frames_at;
        let elapsed = now.duration_since(at).as_secs_f64();
        if elapsed > 0.0 {
            self.video_fps = (frames.saturating_sub(before) as f64 / elapsed).round() as u64;
        }
        self.frames_at = (frames, now);
        self.sent = self.media.stats().snapshot();
        self.rtcp = self.media.report_block(0);
        if let Some(round_trip) = self
            .rtcp
            .and_then(|r| r.rtt_ms)
            .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
        {
            self.media.note_round_trip(round_trip);
        }
        // The hub's reports and the sockets' counters: the core decides
        // the bitrate, the audio's protection, keyframes and the breaker.
        let (handed_video, _) = self.media.stats().handed_over();
        self.feed(
            Input::SendTick(SendObservation {
                video_report: self.rtcp,
                audio_report: self.media.report_block(1),
                video_bytes_sent: self.sent.video_bytes,
                video_packets_sent: self.sent.video_packets,
                video_packets_handed: handed_video,
                hub_rtcp_packets: self.media.hub_rtcp_packets(),
                retransmissions: self.media.retransmissions(),
            }),
            now,
        );
        // The return path's counters reach the board's view and the
        // screen once a second.
        self.update_view();
        // The stall watchdog follows what the pipeline hands its senders:
        // a path that refuses packets is not a stalled encoder.
        let (video, audio) = self.media.stats().handed_over();
        self.feed(Input::PacketsSent { video, audio }, Instant::now());
    }

    /// Test fault (simulated board only): the first pipeline's video
    /// encoder stops producing `after` its start.
    pub fn stall_video_after(&mut self, after: Duration) {
        self.media.stall_video_after(after);
    }

    /// A pipeline event.
    pub fn on_media_event(&mut self, event: MediaEvent) {
        let now = Instant::now();
        match event {
            MediaEvent::FirstPacket { generation } if self.media.is_current(generation) => {
                self.feed(Input::StreamStarted, now);
            }
            MediaEvent::TransportFeedback {
                generation,
                packets,
            } if self.media.is_current(generation) => {
                self.feed(Input::TransportFeedback(packets), now);
            }
            MediaEvent::SendRefused { generation, reason } if self.media.is_current(generation) => {
                self.feed(Input::SendRefused { reason }, now);
            }
            MediaEvent::Failed { generation, error } if self.media.is_current(generation) => {
                tracing::error!(%error, "pipeline failed");
                self.feed(
                    Input::StreamFailed {
                        reason: error.to_string(),
                    },
                    now,
                );
            }
            stale => tracing::debug!(?stale, "event from a pipeline already stopped"),
        }
    }

    /// Something from the MQTT link.
    pub fn on_link_event(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Connected => {
                if let Some(c) = &mut self.control {
                    c.set_connected(true);
                    for publish in self.outbox.pending() {
                        c.publish_event(publish);
                    }
                }
            }
            LinkEvent::Disconnected { reason } => {
                tracing::info!(%reason, "control link down; events are kept in the outbox");
                if let Some(c) = &mut self.control {
                    c.set_connected(false);
                }
            }
            LinkEvent::Desired(payload) => self.on_push(&payload),
            LinkEvent::Command(payload) => self.on_command(&payload),
            LinkEvent::Acked { outbox_seq } => self.outbox.acked(outbox_seq),
        }
    }

    /// Progress or the end of an update install.
    pub fn on_update_event(&mut self, event: UpdateEvent) {
        if let Some(updates) = self.updates.as_mut() {
            let kind = updates.on_event(event);
            self.emit(kind);
        }
    }

    /// Time for a telemetry report.
    pub fn on_telemetry_tick(&mut self) {
        let Some(control) = self.control.as_ref().filter(|c| c.is_connected()) else {
            return;
        };
        let report = self.telemetry.report(
            TelemetryInputs {
                call: wire_call(self.core.call_state()),
                stream: wire_stream(&self.core.stream_state()),
                config_version: self.provisioning.applied_version(),
                sent: self.media.stats().snapshot(),
                rtcp: self.rtcp,
                send: self.core.send_status(Instant::now()),
                target_kbps: self.video_target_kbps(),
                retransmissions: self.media.retransmissions(),
                hub_keyframe_requests: self.media.hub_keyframe_requests().0,
                stalls: self.core.stalls(),
                devices: self.devices_to_report.take(),
                receive: self.receive_stats(),
            },
            Instant::now(),
            SystemTime::now(),
        );
        control.publish_telemetry(&report);
    }

    fn on_push(&mut self, payload: &[u8]) {
        if self.control.is_none() || payload.is_empty() {
            return; // the retained push was cleared
        }
        let result = self
            .provisioning
            .on_push(payload, &self.trust, plausible_unix_ms());
        if let Some((change, previous)) = result.applied {
            let settings = self.provisioning.settings().clone();
            let now = Instant::now();
            self.core.set_session(
                settings.session.mode,
                Duration::from_secs(u64::from(settings.session.call_timeout_s)),
                now,
            );
            if settings.display.sink != previous.display.sink {
                self.restart_screen();
            }
            match change {
                Change::Nothing => {}
                Change::Live => {
                    let (v, a) = (settings.video.bitrate_kbps, settings.audio.bitrate_kbps);
                    self.media.set_media(self.provisioning.media());
                    if (v, a) != (previous.video.bitrate_kbps, previous.audio.bitrate_kbps) {
                        self.media.set_bitrates(v, a);
                    }
                    // The new ceiling and floor bound the rate control's target.
                    self.core.set_video_limits(self.media.video_limits());
                    if let Some(send) = self.core.send_status(now) {
                        self.media.set_video_target(send.target_kbps);
                    }
                }
                Change::Restart => {
                    self.media.set_media(self.provisioning.media());
                    self.feed(Input::RebuildStream, now);
                }
            }
        }
        if let Some(c) = &self.control {
            c.report(&result.report);
        }
        self.publish_status();
    }

    fn on_command(&mut self, payload: &[u8]) {
        let verdict = self.commands.admit(
            payload,
            &self.device_id,
            &self.trust,
            plausible_unix_ms().map(|ms| ms / 1000),
        );
        let request = match verdict {
            CommandVerdict::Refuse { id, reason } => {
                tracing::warn!(?id, %reason, "command refused");
                self.answer(CommandResult::refused(id.as_deref(), &reason));
                return;
            }
            CommandVerdict::Obey { request, .. } => request,
        };
        tracing::info!(id = %request.id, command = request.command.name(), signed = request.binding.is_some(), "command");
        let result = if request.command == Command::Reboot {
            // Asked before the answer: "ok" means the request is made. The
            // reboot stops the daemon like any shutdown (SIGTERM).
            tracing::warn!(id = %request.id, "reboot requested by central IT");
            crate::reboot::request(&format!("reboot command {} from central IT", request.id))
        } else {
            self.carry_out(&request)
        };
        // What the command changed shows (LEDs, board view, screen) before
        // the answer says it is done: central may look right after "ok".
        self.apply_outputs();
        self.answer(match result {
            Ok(()) => CommandResult::ok(&request.id),
            Err(reason) => CommandResult::refused(Some(&request.id), &reason),
        });
    }

    fn carry_out(&mut self, request: &CommandRequest) -> Result<(), String> {
        let now = Instant::now();
        match &request.command {
            Command::SessionStart {
                srtp_key,
                receive_key,
            } => {
                if self.provisioning.media().is_none() {
                    return Err("no hub or SRTP key provisioned yet".to_owned());
                }
                if srtp_key.is_some() || receive_key.is_some() {
                    let changed = self
                        .provisioning
                        .start_session_keys(srtp_key.clone(), receive_key.clone())?;
                    self.media.set_media(self.provisioning.media());
                    if changed {
                        // Already streaming (always mode, or a session in
                        // progress): rebuild with the new key.
                        self.feed(Input::RebuildStream, now);
                    }
                }
                self.feed(Input::HubStart, now);
                Ok(())
            }
            Command::SessionEnd => {
                self.feed(Input::HubEnd, now);
                Ok(())
            }
            Command::Identify { seconds } => {
                let seconds = seconds.unwrap_or(DEFAULT_IDENTIFY_SECONDS);
                self.feed(
                    Input::Identify(Duration::from_secs(u64::from(seconds))),
                    now,
                );
                Ok(())
            }
            Command::Keyframe => {
                if self.media.force_keyframe() {
                    Ok(())
                } else {
                    Err("not streaming".to_owned())
                }
            }
            Command::Update { url } => {
                let Some(updates) = self.updates.as_mut() else {
                    return Err("this box has no RAUC: updates are not available".to_owned());
                };
                let started = updates.start(url)?;
                self.emit(started);
                Ok(())
            }
            Command::SetConfigVersion { version } => {
                self.provisioning.set_version(*version)?;
                self.publish_status();
                Ok(())
            }
            Command::Reboot => Ok(()), // asked for in on_command
        }
    }

    fn answer(&self, result: CommandResult) {
        if let Some(c) = &self.control {
            c.answer(&result);
        }
    }

    // --- Outputs ---------------------------------------------------------

    /// Carries out everything the core decided, then feeds the health gate.
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
                    let media = self.provisioning.media();
                    let receiving = media.as_ref().is_some_and(|m| m.srtp.receive_key.is_some());
                    self.media.set_media(media);
                    self.core.set_video_limits(self.media.video_limits());
                    let picture_delay = self
                        .screen
                        .as_ref()
                        .map_or(Duration::ZERO, Screen::picture_delay);
                    if !picture_delay.is_zero() {
                        tracing::info!(
                            delay_ms = picture_delay.as_millis() as u64,
                            "lip sync: the speaker waits as long as the screen takes to show a picture"
                        );
                    }
                    self.media.set_picture_delay(picture_delay);
                    self.media.start();
                    self.return_watch = Some(ReturnWatch::new(receiving));
                }
                Output::Stream(StreamAction::Stop) => {
                    self.media.stop();
                    self.return_watch = None;
                }
                Output::Send(action) => self.carry_out_send(action),
                Output::Leds(leds) => {
                    tracing::info!(status = %leds.status, call = %leds.call, "LEDs")
                }
                Output::Call(event) => {
                    tracing::info!(?event, "call");
                    self.on_call_event(event);
                }
                Output::StreamState(state) => self.on_stream_state(&state),
                Output::Press(press) => tracing::info!(?press, "call button"),
                Output::FactoryReset => self.factory_reset(),
            }
        }
        if changed {
            self.update_view();
            self.publish_status();
        }
        self.check_health(Instant::now());
    }

    fn on_call_event(&mut self, event: CallEvent) {
        let kind = match event {
            CallEvent::Requested => EventKind::CallRequest,
            CallEvent::Cancelled => EventKind::CallCancelled,
            CallEvent::TimedOut => EventKind::CallTimeout,
            CallEvent::SessionStarted => EventKind::SessionStarted,
            CallEvent::SessionEnded(reason) => {
                // A per-session key ends with its session.
                if self.provisioning.end_session_key() {
                    self.media.set_media(self.provisioning.media());
                }
                EventKind::SessionEnded {
                    reason: match reason {
                        EndReason::LongPress => bridgepoint_proto::EndReason::LongPress,
                        EndReason::Hub => bridgepoint_proto::EndReason::Hub,
                    },
                }
            }
        };
        self.emit(kind);
    }

    fn on_stream_state(&mut self, state: &StreamState) {
        match state {
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
                    self.emit(EventKind::Error {
                        message: reason.clone(),
                    });
                }
            }
            other => tracing::info!(stream = %other, "stream"),
        }
    }

    /// Stores an event durably, then publishes it if the link is up.
    fn emit(&mut self, kind: EventKind) {
        let Some(control) = &self.control else {
            return; // standalone box: nobody to tell
        };
        if let Some(publish) = self.outbox.emit(kind, SystemTime::now(), Instant::now()) {
            control.publish_event(publish);
        }
    }

    fn check_health(&mut self, now: Instant) {
        let Some(updates) = self.updates.as_mut() else {
            return;
        };
        let inputs = HealthInputs {
            streaming: self.core.stream_state() == StreamState::Streaming,
            has_control_link: self.control.is_some(),
            control_link_up: self
                .control
                .as_ref()
                .is_some_and(ControlPlane::is_connected),
            pipeline_builds: self.pipeline_builds || self.provisioning.media().is_none(),
        };
        if let Some(event) = updates.check_health(inputs, now) {
            self.emit(event);
        }
    }

    /// Hands the core's current LEDs and states to the board, and the
    /// screen its view.
    fn update_view(&mut self) {
        let played = self.media.return_stats().snapshot();
        let now = Instant::now();
        let return_status = self.return_watch.as_mut().map(|watch| {
            watch.observe(
                ReturnCounters {
                    video_frames: played.video_frames,
                    audio_ms: played.audio_ms,
                    rejected_packets: played.rejected_packets,
                },
                now,
            )
        });
        let screen = self.show_on_screen(return_status);
        let changed = return_status.map(wire_return) != self.return_status.map(wire_return);
        self.return_status = return_status;
        // The status carries the video's and the reports' state: published
        // when they change (not at every report).
        let sending = self.sending();
        let sending_changed = sending != self.sending_published;
        self.sending_published = sending;
        if changed || sending_changed {
            if let Some(status) = return_status {
                tracing::info!(return_stream = status.name(), "the hub's return stream");
            }
            self.publish_status();
        }
        // Read once a second (on_packets_tick), not at every event.
        let (sent, rtcp) = (self.sent, self.rtcp);
        let send = self.core.send_status(now);
        let next = BoardView {
            leds: self.core.leds().clone(),
            call: self.core.call_state().name(),
            stream: self.core.stream_state().name(),
            send: SendView {
                video_packets: sent.video_packets,
                audio_packets: sent.audio_packets,
                target_kbps: self.video_target_kbps(),
                feedback: send.map_or(FeedbackStatus::None, |s| s.feedback).name(),
                loss_pct: rtcp.map(|r| (r.fraction_lost * 1000.0).round() / 10.0),
                rtt_ms: rtcp.and_then(|r| r.rtt_ms),
                audio_fec: send.is_some_and(|s| s.audio.inband_fec),
                video: match send.and_then(|s| s.video_stopped) {
                    Some(trip) => trip.name(),
                    None => "on",
                },
                breaker_trips: send.map_or(0, |s| s.breaker_trips),
                keyframes: send.map_or(0, |s| s.keyframes),
                hub_keyframe_requests: self.media.hub_keyframe_requests().0,
                retransmissions: self.media.retransmissions(),
                retransmissions_refused: self.media.retransmissions_refused(),
            },
            return_media: ReturnView {
                video_frames: played.video_frames,
                audio_ms: played.audio_ms,
                lost_packets: played.lost_packets,
                rejected_packets: played.rejected_packets,
                jitter_ms: played.jitter_ms,
                video_fps: if return_status.is_some() {
                    self.video_fps
                } else {
                    0
                },
                lip_sync_ms: played.lip_sync_ms,
                status: return_status.map_or("", ReturnStatus::name),
                ports: played.ports,
            },
            screen: ScreenState {
                indication: self.core.indication().name(),
                headline: screen.card.headline,
                detail: screen.card.detail,
                central_video: screen.central_video,
                self_view: screen.self_view,
            },
        };
        self.view.send_if_modified(|v| {
            let differs = *v != next;
            *v = next;
            differs
        });
    }

    /// While a session's pipeline runs: the video (`on` or the breaker that
    /// stopped it) and whether the hub's reports come.
    fn sending(&self) -> Option<(&'static str, FeedbackStatus)> {
        self.core
            .send_status(Instant::now())
            .map(|s| (s.video_stopped.map_or("on", |trip| trip.name()), s.feedback))
    }

    /// The video bitrate the encoder is set to: the rate control's target
    /// in a session, else the configured one.
    fn video_target_kbps(&self) -> u32 {
        match (
            self.core.send_status(Instant::now()),
            self.media.video_limits(),
        ) {
            (Some(send), _) => send.target_kbps,
            (None, Some((_, ceiling))) => ceiling,
            (None, None) => 0,
        }
    }

    /// Carries out what the core decided about sending (from the hub's
    /// reports and the sockets' counters), and logs why.
    fn carry_out_send(&mut self, action: SendAction) {
        match action {
            SendAction::VideoTarget {
                kbps,
                why,
                loss_permille,
            } => {
                self.media.set_video_target(kbps);
                let loss = f64::from(loss_permille) / 1000.0;
                match why {
                    TargetReason::Rate(change) => tracing::info!(
                        target_kbps = kbps,
                        ?change,
                        loss,
                        rtt_ms = self.rtcp.and_then(|r| r.rtt_ms),
                        "video bitrate set from the hub's receiver report"
                    ),
                    TargetReason::NoFeedback => tracing::info!(
                        target_kbps = kbps,
                        "no receiver report for 10 s: back to the configured video bitrate"
                    ),
                    TargetReason::Resumed => tracing::info!(
                        target_kbps = kbps,
                        "the video resumes from the lowest bitrate"
                    ),
                    TargetReason::Delay(change) => tracing::info!(
                        target_kbps = kbps,
                        ?change,
                        loss,
                        "video bitrate set from the delay trend of the hub's transport-wide feedback"
                    ),
                    TargetReason::Retransmissions => tracing::info!(
                        target_kbps = kbps,
                        retransmission_kbps = self
                            .core
                            .send_status(Instant::now())
                            .map(|s| s.retransmission_kbps),
                        "video bitrate set: retransmissions take their share of the link"
                    ),
                    TargetReason::NoTransportFeedback => tracing::info!(
                        target_kbps = kbps,
                        "no transport-wide feedback for 2 s: the video bitrate follows the receiver reports alone"
                    ),
                }
            }
            SendAction::AudioProtection(protection) => {
                self.media
                    .set_audio_protection(protection.inband_fec, protection.expected_loss_pct);
                tracing::info!(
                    inband_fec = protection.inband_fec,
                    expected_loss_pct = protection.expected_loss_pct,
                    "audio protection set from the hub's receiver report"
                );
            }
            SendAction::Keyframe(reason) => {
                let sent = self.media.force_keyframe();
                tracing::info!(
                    reason = reason.name(),
                    sent,
                    "keyframe of the box's own accord"
                );
            }
            SendAction::VideoStopped(trip) => {
                self.media.set_video_paused(true);
                tracing::warn!(
                    breaker = trip.name(),
                    reason = trip.reason(),
                    "circuit breaker: the video stops, the sound goes on"
                );
                self.emit(EventKind::VideoPaused {
                    reason: trip.name().to_owned(),
                });
            }
            SendAction::VideoResumed => {
                self.media.set_video_paused(false);
                tracing::info!("circuit breaker: the path recovered, the video resumes");
                self.emit(EventKind::VideoResumed);
            }
        }
    }

    /// The receive side for telemetry, while a session's pipeline runs.
    fn receive_stats(&self) -> Option<ReceiveStats> {
        let status = self.return_status?;
        let played = self.media.return_stats().snapshot();
        Some(ReceiveStats {
            status: wire_return(status),
            video_frames: played.video_frames,
            video_fps: self.video_fps,
            audio_ms: played.audio_ms,
            lost_packets: played.lost_packets,
            rejected_packets: played.rejected_packets,
            jitter_ms: played.jitter_ms,
            lip_sync_ms: played.lip_sync_ms,
        })
    }

    /// What the screen must show now (the core decides), shown on it.
    fn show_on_screen(&mut self, return_status: Option<ReturnStatus>) -> ScreenView {
        let display = &self.provisioning.settings().display;
        let view = screen_for(ScreenInputs {
            indication: self.core.indication(),
            return_status,
            name: display.name.as_deref().unwrap_or(&self.device_id),
            language: display.language,
            self_view: display.self_view,
        });
        if let Some(screen) = self.screen.as_mut() {
            if screen.shown() != Some(&view) {
                tracing::info!(
                    indication = self.core.indication().name(),
                    return_stream = return_status.map_or("none", ReturnStatus::name),
                    headline = %view.card.headline,
                    detail = %view.card.detail,
                    central_video = view.central_video,
                    self_view = view.self_view,
                    "screen"
                );
            }
            if let Some(error) = screen.show(&view) {
                tracing::error!(%error, "the room's screen failed; it shows nothing until the display settings change");
                self.screen = None;
            }
        }
        view
    }

    /// Restarts the screen on new display settings (a pushed config).
    fn restart_screen(&mut self) {
        self.screen = None;
        self.screen = start_screen(&self.provisioning.settings().display);
        self.update_view();
    }

    fn factory_reset(&mut self) {
        tracing::warn!("factory reset (call button held from power-up): forgetting the provisioned config, keeping the device identity");
        if let Err(e) = self.provisioning.factory_reset() {
            tracing::error!(error = %e, "factory reset: cannot clear the stored config");
            return;
        }
        self.media.set_media(self.provisioning.media());
        self.feed(Input::RebuildStream, Instant::now());
        self.publish_status();
    }

    /// Publishes the retained status (when it changed).
    fn publish_status(&mut self) {
        let sending = self.sending();
        let status = Status::Online(OnlineStatus {
            device_id: self.device_id.clone(),
            firmware: FIRMWARE_VERSION.to_owned(),
            config_version: self.provisioning.applied_version(),
            call: wire_call(self.core.call_state()),
            stream: wire_stream(&self.core.stream_state()),
            slot: self.updates.as_ref().map(|u| u.slot().to_owned()),
            problem: self.outbox.problem(),
            return_stream: self.return_status.map(wire_return),
            video: sending.map(|(video, _)| video.to_owned()),
            feedback: sending.map(|(_, feedback)| feedback),
        });
        if let Some(c) = &mut self.control {
            c.publish_status(&status);
        }
    }

    /// Publishes the status if anything in it changed, also what changes
    /// without a core output (the outbox's storage trouble). The link keeps
    /// the latest and publishes it on every connect.
    pub fn refresh_status(&mut self) {
        self.publish_status();
    }
}

/// Starts the room's screen on the display the settings choose; logs and
/// goes on without one when it cannot start.
fn start_screen(display: &bridgepoint_core::config::DisplayConfig) -> Option<Screen> {
    match Screen::start(&plan::plan_display(display)) {
        Ok(screen) => Some(screen),
        Err(error) => {
            tracing::error!(%error, "the room's screen cannot start; the box goes on without it");
            None
        }
    }
}
