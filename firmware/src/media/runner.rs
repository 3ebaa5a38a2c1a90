//! Runs the pipeline the core asked for: starts, stops, and reports back.
//!
//! The restart *policy* lives in the core (`bridgepoint_core::supervisor`);
//! this adapter only carries out `Start`/`Stop` and turns what GStreamer says
//! into [`MediaEvent`]s: the first packet leaving the box, or a typed error
//! naming the element. Each started pipeline has a generation number, so a
//! late message from a pipeline already torn down is recognised and ignored.
//!
//! Keyframes on request ([`MediaRunner::force_keyframe`]): x264enc and
//! openh264enc take GStreamer's `GstForceKeyUnit` event. `v4l2h264enc`
//! ignores it (its `handle_frame` never looks at the frame's force-keyframe
//! flag), so for the hardware encoder the V4L2 control `force_key_frame`
//! (`V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME`, a button the Pi's bcm2835-codec
//! driver turns into `MMAL_PARAMETER_VIDEO_REQUEST_I_FRAME`) is set through
//! the element's `extra-controls`. GStreamer applies `extra-controls` at
//! once when the property is set on an open device (`gstv4l2object.c`:
//! `gst_v4l2_set_controls` when `GST_V4L2_IS_OPEN`, one `VIDIOC_S_CTRL` per
//! field; button controls are in the list it looks names up in), so setting
//! it on the running encoder fires the control. The property replaces the
//! stored structure, so the encoder's own controls (bitrate, keyframe
//! period, SPS/PPS repeat) are sent again with it, unchanged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bridgepoint_core::config::{HubFeedback, MediaConfig};
use bridgepoint_core::pacer::Pacer;
use bridgepoint_core::retransmission::RetransmissionLimit;
use bridgepoint_core::send_control::ReportBlock;
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use super::feedback::KeyframeRequests;
use super::pipeline::{self, names};
use super::plan::{self, HARDWARE_ENCODER};
use super::stats::{ReturnStats, SentKind, StreamStats};
use super::video_gate::VideoGate;
use super::PipelineError;

/// What a running pipeline reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The first video packet left the box.
    FirstPacket {
        /// Which pipeline.
        generation: u64,
    },
    /// The network refuses what a sender hands its socket (no route to
    /// the hub, the interface gone): the pipeline runs on and the packets
    /// are lost. Reported at most once a second while it lasts.
    SendRefused {
        /// Which pipeline.
        generation: u64,
        /// The sender and the system's words (`video-rtp-sink: Network is
        /// unreachable`).
        reason: String,
    },
    /// The hub's transport-wide feedback on the video: per packet, when
    /// it arrived or that it did not (a batch every 100 ms at most).
    TransportFeedback {
        /// Which pipeline.
        generation: u64,
        /// The packets, in the order they were sent.
        packets: Vec<bridgepoint_core::delay_control::PacketResult>,
    },
    /// The pipeline failed (or could not be built).
    Failed {
        /// Which pipeline.
        generation: u64,
        /// What went wrong.
        error: PipelineError,
    },
}

/// Starts and stops pipelines for the daemon.
pub struct MediaRunner {
    media: Option<MediaConfig>,
    events: UnboundedSender<MediaEvent>,
    running: Option<gst::Pipeline>,
    generation: u64,
    /// The generation started last and not stopped since (even if it failed to build).
    active: Option<u64>,
    stats: Arc<StreamStats>,
    /// What the hub sent back and the box played (the running pipeline).
    return_stats: Arc<ReturnStats>,
    /// Test fault: the next pipeline's video stops this long after its start.
    stall_video_after: Option<Duration>,
    /// The room's screen's latency, which the speaker waits (lip sync).
    picture_delay: Duration,
    /// The running pipeline's video gate (the circuit breaker's).
    video_gate: Arc<VideoGate>,
    /// The running pipeline's count of the hub's keyframe requests.
    keyframe_requests: Arc<KeyframeRequests>,
    /// The running pipeline's limit on retransmissions (its video target).
    retransmission_limit: Arc<Mutex<RetransmissionLimit>>,
    /// The running pipeline's video pacer (its video target).
    pacer: Arc<Mutex<Pacer>>,
    /// When the running pipeline's pacer let each recent video packet go.
    send_times: Arc<super::pacing::SendTimes>,
    /// RTCP packets from the hub on the video session that passed SRTCP
    /// authentication, in the running pipeline.
    hub_rtcp: Arc<AtomicU64>,
}

impl MediaRunner {
    /// A runner with nothing running. GStreamer must be initialised. `None`:
    /// the box has no hub or key yet, and every start fails saying so.
    pub fn new(media: Option<MediaConfig>, events: UnboundedSender<MediaEvent>) -> Self {
        MediaRunner {
            media,
            events,
            running: None,
            generation: 0,
            active: None,
            stats: Arc::default(),
            return_stats: Arc::default(),
            stall_video_after: None,
            picture_delay: Duration::ZERO,
            video_gate: Arc::default(),
            keyframe_requests: Arc::default(),
            retransmission_limit: Arc::new(Mutex::new(RetransmissionLimit::new(0))),
            pacer: Arc::new(Mutex::new(Pacer::new(0))),
            send_times: Arc::default(),
            hub_rtcp: Arc::default(),
        }
    }

    /// Test fault (`BRIDGEPOINT_SIM_FAULT=stall-video-after=S`, simulated
    /// board only): the next pipeline started drops everything its video
    /// encoder produces from `after` its start on, as a stalled encoder
    /// would; the pipelines after it are whole again.
    pub fn stall_video_after(&mut self, after: Duration) {
        self.stall_video_after = Some(after);
    }

    /// The counters of what was sent.
    pub fn stats(&self) -> Arc<StreamStats> {
        self.stats.clone()
    }

    /// What the hub sent back and the box played since the pipeline started.
    pub fn return_stats(&self) -> Arc<ReturnStats> {
        self.return_stats.clone()
    }

    /// Whether `generation` is the pipeline running now.
    pub fn is_current(&self, generation: u64) -> bool {
        self.active == Some(generation)
    }

    /// How much later than its sink the room's screen shows a picture,
    /// from the next start on: the speaker waits as long.
    pub fn set_picture_delay(&mut self, delay: Duration) {
        self.picture_delay = delay;
    }

    /// Uses new media settings from the next start on.
    pub fn set_media(&mut self, media: Option<MediaConfig>) {
        self.media = media;
    }

    /// Builds and starts a new pipeline (stopping any running one). Failures
    /// are reported as [`MediaEvent::Failed`], like errors at run time.
    pub fn start(&mut self) {
        self.stop();
        self.generation += 1;
        let generation = self.generation;
        self.active = Some(generation);
        let stall = self.stall_video_after.take();
        self.video_gate = Arc::default();
        self.keyframe_requests = Arc::default();
        // The encoder starts at the configured bitrate.
        let configured = self.video_limits().map_or(0, |(_, ceiling)| ceiling);
        self.retransmission_limit = Arc::new(Mutex::new(RetransmissionLimit::new(configured)));
        self.pacer = Arc::new(Mutex::new(Pacer::new(configured)));
        self.send_times = Arc::default();
        self.hub_rtcp = Arc::default();
        match self.launch(generation, stall) {
            Ok(pipeline) => {
                tracing::info!(generation, "pipeline started");
                self.running = Some(pipeline);
            }
            Err(error) => {
                let _ = self.events.send(MediaEvent::Failed { generation, error });
            }
        }
    }

    fn launch(
        &self,
        generation: u64,
        stall: Option<Duration>,
    ) -> Result<gst::Pipeline, PipelineError> {
        let media = self.media.as_ref().ok_or(PipelineError::NotProvisioned)?;
        let mut plan = plan::plan(media)?;
        if let Some(playback) = plan.playback.as_mut() {
            playback.picture_delay = self.picture_delay;
        }
        // The senders get the hub's address, resolved now (hub_address).
        let mut resolved = media.clone();
        resolved.hub.host = super::hub_address::resolve_hub(&media.hub.host)?.to_string();
        let pipeline = pipeline::build(&resolved, &plan)?;
        if let Some(after) = stall {
            stall_video(&pipeline, after);
        }
        self.watch_bus(&pipeline, generation);
        self.watch_first_packet(&pipeline, generation);
        // The hub's RTCP on the video session, once authenticated: reports
        // and feedback alike (what the core counts as a hub that talks).
        let decrypted_rtcp = ["video-srtcp-dec", "video-srtp-dec"]
            .iter()
            .find_map(|name| pipeline.by_name(name))
            .and_then(|dec| dec.static_pad("rtcp_src"));
        if let Some(pad) = decrypted_rtcp {
            let count = self.hub_rtcp.clone();
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, _| {
                    count.fetch_add(1, Ordering::Relaxed);
                    gst::PadProbeReturn::Ok
                },
            );
        }
        if let Some(pay) = pipeline.by_name(names::VIDEO_PAY) {
            if resolved.hub.feedback == HubFeedback::Avpf {
                super::transport_feedback::watch(&pay, generation, self.events.clone());
            }
            super::feedback::limit_keyframe_requests(
                &pipeline,
                &pay,
                self.keyframe_requests.clone(),
            );
            super::feedback::limit_retransmissions(
                &pipeline,
                self.retransmission_limit.clone(),
                self.send_times.clone(),
            );
            // Send times only where retransmission requests come to judge.
            let sent =
                (resolved.hub.feedback == HubFeedback::Avpf).then(|| self.send_times.clone());
            super::pacing::attach(&pipeline, self.pacer.clone(), sent);
            if !self.video_gate.attach(&pay) {
                tracing::warn!(
                    "the video payloader has no sink pad: the circuit breaker cannot stop the video"
                );
            }
        }
        let port = |name: &str| {
            pipeline
                .by_name(name)
                .and_then(|source| pipeline::bound_port(&source))
        };
        let ports = port("video-rtp-source").zip(port("audio-rtp-source"));
        if let Some((video, audio)) = ports {
            tracing::info!(
                video_port = video,
                audio_port = audio,
                receive = media.srtp.receive_key.is_some(),
                "the box sends from and receives on its own ports (RTCP on the next ports)"
            );
        }
        self.return_stats.watch(&pipeline, ports);
        for (name, kind) in [
            (names::VIDEO_RTP_SINK, SentKind::Video),
            (names::AUDIO_RTP_SINK, SentKind::Audio),
        ] {
            if let Some(sink) = pipeline.by_name(name) {
                self.stats.watch_sink(kind, &sink);
            }
        }
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            // The bus usually carries the element's own error; report that if present.
            let error = pipeline
                .bus()
                .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
                .and_then(|msg| bus_error(&msg))
                .unwrap_or_else(|| PipelineError::StateChange(e.to_string()));
            let _ = pipeline.set_state(gst::State::Null);
            return Err(error);
        }
        Ok(pipeline)
    }

    fn watch_bus(&self, pipeline: &gst::Pipeline, generation: u64) {
        let Some(bus) = pipeline.bus() else { return };
        let events = self.events.clone();
        let weak = pipeline.downgrade();
        let refusals = std::sync::Mutex::new(SendRefusals::default());
        let stats = self.stats.clone();
        bus.set_sync_handler(move |_, msg| {
            match msg.view() {
                // An element's latency changed (the hub's return chain
                // joined): the sinks must wait the new latency. Measured
                // off the streaming thread that posted it, as the
                // application is to (GstBin only forwards the message).
                gst::MessageView::Latency(_) => {
                    if let Some(pipeline) = weak.upgrade() {
                        pipeline.call_async(|p| {
                            if p.recalculate_latency().is_err() {
                                tracing::warn!(
                                    "the pipeline's latency could not be measured again"
                                );
                            }
                        });
                    }
                }
                gst::MessageView::Error(_) | gst::MessageView::Eos(_) => {
                    if let Some(error) = bus_error(msg) {
                        let _ = events.send(MediaEvent::Failed { generation, error });
                    }
                }
                gst::MessageView::Warning(w) => {
                    let element = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    let debug = w.debug().map(|d| d.to_string()).unwrap_or_default();
                    if let Some(reason) = send_refusal(&element, &debug) {
                        // Posted on the sender's thread right after the
                        // refused send: not sent, whatever its count says.
                        match element.as_str() {
                            names::VIDEO_RTP_SINK => stats.note_refused(SentKind::Video),
                            names::AUDIO_RTP_SINK => stats.note_refused(SentKind::Audio),
                            _ => {}
                        }
                        // One warning per packet: a few hundred a second.
                        let mut r = refusals.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(report) = r.note(Instant::now()) {
                            if report.log {
                                tracing::warn!(
                                    %reason,
                                    refused_since_last_log = report.suppressed,
                                    "the network refuses the box's packets to the hub; the session goes on"
                                );
                            }
                            let _ = events.send(MediaEvent::SendRefused { generation, reason });
                        }
                    } else {
                        tracing::warn!(element, warning = %w.error(), "pipeline warning");
                    }
                }
                _ => {}
            }
            gst::BusSyncReply::Drop
        });
    }

    /// Reports the first video packet the sender's socket really sent: the
    /// probe runs before each packet is sent, and fires once the sender
    /// has served bytes (so on the packet after the first one sent). A
    /// sender with no client (the hub's host did not resolve) never fires.
    fn watch_first_packet(&self, pipeline: &gst::Pipeline, generation: u64) {
        let Some(sink) = pipeline.by_name(names::VIDEO_RTP_SINK) else {
            return;
        };
        let Some(pad) = sink.static_pad("sink") else {
            return;
        };
        let events = self.events.clone();
        // Weak: the probe lives on the sink's own pad.
        let sink = sink.downgrade();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, _| {
                let served = sink
                    .upgrade()
                    .map_or(0, |s| s.property::<u64>("bytes-served"));
                if served == 0 {
                    return gst::PadProbeReturn::Ok;
                }
                let _ = events.send(MediaEvent::FirstPacket { generation });
                gst::PadProbeReturn::Remove
            },
        );
    }

    /// The configured video bitrate (the rate control's ceiling) and
    /// floor; `None` with no settings yet.
    pub fn video_limits(&self) -> Option<(u32, u32)> {
        self.media
            .as_ref()
            .map(|m| (m.video.min_bitrate_kbps, m.video.bitrate_kbps))
    }

    /// Sets the running video encoder's bitrate (the rate control's
    /// target), leaving the configured one as it is. False if nothing runs.
    pub fn set_video_target(&mut self, video_kbps: u32) -> bool {
        let Some(pipeline) = &self.running else {
            return false;
        };
        let Some(encoder) = pipeline.by_name(names::VIDEO_ENCODER) else {
            return false;
        };
        self.set_encoder_bitrate(&encoder, video_kbps);
        if let Ok(mut limit) = self.retransmission_limit.lock() {
            limit.set_target(video_kbps);
        }
        true
    }

    /// A round trip the hub's report on the video showed: a retransmission
    /// request less than the least one after its packet left is refused
    /// ([`RetransmissionLimit::premature`]).
    pub fn note_round_trip(&mut self, round_trip: Duration) {
        if let Ok(mut limit) = self.retransmission_limit.lock() {
            limit.note_round_trip(round_trip);
        }
    }

    /// Sets the running audio encoder's in-band FEC and the loss it expects.
    /// False if nothing runs.
    pub fn set_audio_protection(&mut self, inband_fec: bool, expected_loss_pct: u32) -> bool {
        let Some(encoder) = self
            .running
            .as_ref()
            .and_then(|p| p.by_name(names::AUDIO_ENCODER))
        else {
            return false;
        };
        encoder.set_property("inband-fec", inband_fec);
        encoder.set_property("packet-loss-percentage", expected_loss_pct.min(100) as i32);
        true
    }

    /// Changes the encoders' bitrates on the running pipeline, without a
    /// restart. Returns false if nothing is running.
    pub fn set_bitrates(&mut self, video_kbps: u32, audio_kbps: u32) -> bool {
        if let Some(media) = self.media.as_mut() {
            media.video.bitrate_kbps = video_kbps;
            media.audio.bitrate_kbps = audio_kbps;
        }
        let Some(pipeline) = &self.running else {
            return false;
        };
        if let Some(encoder) = pipeline.by_name(names::VIDEO_ENCODER) {
            self.set_encoder_bitrate(&encoder, video_kbps);
        }
        if let Some(encoder) = pipeline.by_name(names::AUDIO_ENCODER) {
            encoder.set_property("bitrate", (audio_kbps * 1000) as i32);
        }
        tracing::info!(video_kbps, audio_kbps, "bitrates changed live");
        true
    }

    /// Sets a running video encoder's bitrate, whichever encoder it is, and
    /// the pacer's target.
    fn set_encoder_bitrate(&self, encoder: &gst::Element, video_kbps: u32) {
        if let Ok(mut pacer) = self.pacer.lock() {
            pacer.set_target(video_kbps);
        }
        let factory = encoder
            .factory()
            .map(|f| f.name().to_string())
            .unwrap_or_default();
        match factory.as_str() {
            "x264enc" => encoder.set_property("bitrate", video_kbps),
            "openh264enc" => encoder.set_property("bitrate", video_kbps * 1000),
            _ => {
                let gop = self
                    .media
                    .as_ref()
                    .map(|m| m.video.fps * m.video.keyframe_interval_s)
                    .unwrap_or(60);
                encoder.set_property(
                    "extra-controls",
                    pipeline::hardware_controls(video_kbps, gop),
                );
            }
        }
    }

    /// The hub's latest RTCP receiver report about one of the box's
    /// streams (`session` 0: video, 1: audio), once any has arrived. rtpbin
    /// keeps the last one; [`ReportBlock::fingerprint`] tells a new one.
    pub fn report_block(&self, session: u32) -> Option<ReportBlock> {
        let rtpbin = self.running.as_ref()?.by_name(names::RTPBIN)?;
        let internal = rtpbin
            .emit_by_name::<Option<gst::glib::Object>>("get-internal-session", &[&session])?;
        let sources = internal.property::<gst::glib::ValueArray>("sources");
        sources.iter().find_map(|source| {
            let source = source.get::<Option<gst::glib::Object>>().ok()??;
            let stats = source.property::<gst::Structure>("stats");
            // The hub's reports about our stream are kept on the hub's
            // (remote) source, as its last report block.
            let remote = !stats.get::<bool>("internal").unwrap_or(true);
            if !(remote && stats.get::<bool>("have-rb").unwrap_or(false)) {
                return None;
            }
            let field = |name: &str| stats.get::<u32>(name).ok();
            // rb-round-trip is in 1/65536 s (NTP short format); 0: none yet.
            let rtt_ms = field("rb-round-trip")
                .filter(|r| *r > 0)
                .map(|r| (f64::from(r) * 10_000.0 / 65536.0).round() / 10.0);
            Some(ReportBlock {
                highest_seq: field("rb-exthighestseq")?,
                lsr: field("rb-lsr").unwrap_or(0),
                dlsr: field("rb-dlsr").unwrap_or(0),
                fraction_lost: field("rb-fractionlost").map_or(0.0, |f| f64::from(f) / 256.0),
                rtt_ms,
            })
        })
    }

    /// RTCP packets from the hub on the video session that passed SRTCP
    /// authentication since the running pipeline started (0 with none).
    pub fn hub_rtcp_packets(&self) -> u64 {
        self.hub_rtcp.load(Ordering::Relaxed)
    }

    /// Stops (`true`) or resumes the running pipeline's video: the circuit
    /// breaker's gate ([`VideoGate`]). After resuming nothing passes before
    /// a keyframe, which the caller asks for.
    pub fn set_video_paused(&self, paused: bool) {
        self.video_gate.set_shut(paused);
    }

    /// Asks the encoder for a keyframe now (with SPS/PPS). False if not
    /// running. The hardware encoder gets its `force_key_frame` control,
    /// the software ones a `GstForceKeyUnit` event (see the module docs).
    pub fn force_keyframe(&self) -> bool {
        let Some(pipeline) = self.running.as_ref() else {
            return false;
        };
        if let Some(encoder) = pipeline
            .by_name(names::VIDEO_ENCODER)
            .filter(|e| e.factory().is_some_and(|f| f.name() == HARDWARE_ENCODER))
        {
            let current = encoder.property::<Option<gst::Structure>>("extra-controls");
            encoder.set_property("extra-controls", with_force_key_frame(current));
            tracing::info!("keyframe requested from the hardware encoder (force_key_frame)");
            return true;
        }
        let Some(pad) = pipeline
            .by_name(names::VIDEO_PARSE)
            .and_then(|parse| parse.static_pad("sink"))
        else {
            return false;
        };
        let structure = gst::Structure::builder("GstForceKeyUnit")
            .field("all-headers", true)
            .field("count", 0u32)
            .build();
        pad.push_event(gst::event::CustomUpstream::new(structure))
    }

    /// Tears down the running pipeline, if any.
    pub fn stop(&mut self) {
        self.active = None;
        self.stats.retire();
        if let Some(pipeline) = self.running.take() {
            if let Some(bus) = pipeline.bus() {
                bus.unset_sync_handler();
            }
            let _ = pipeline.set_state(gst::State::Null);
            tracing::info!(generation = self.generation, "pipeline stopped");
        }
    }
}

impl Drop for MediaRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the hub's RTCP feedback got from the running pipeline
/// ([`super::feedback`]).
impl MediaRunner {
    /// Video packets retransmitted on the hub's NACKs since the pipeline
    /// started (`rtprtxsend`'s `num-rtx-packets`); 0 with nothing running
    /// or with `hub.feedback = "none"`.
    pub fn retransmissions(&self) -> u64 {
        self.running
            .as_ref()
            .map_or(0, super::feedback::retransmissions)
    }

    /// The hub's retransmission requests refused by the limit since the
    /// pipeline started.
    pub fn retransmissions_refused(&self) -> u64 {
        self.retransmission_limit
            .lock()
            .map_or(0, |limit| limit.counts().1)
    }

    /// The hub's keyframe requests (PLI/FIR) since the pipeline started:
    /// (passed on to the encoder, dropped by the one-a-second limit).
    pub fn hub_keyframe_requests(&self) -> (u64, u64) {
        if self.running.is_none() {
            return (0, 0);
        }
        let r = &self.keyframe_requests;
        (r.passed(), r.dropped())
    }
}

/// The refusal in a UDP sender's warning ("Error sending UDP packets",
/// `client H:P, reason: Error sending message: Network is unreachable`),
/// as `video-rtp-sink: Network is unreachable`; `None` for any other
/// warning.
pub fn send_refusal(element: &str, debug: &str) -> Option<String> {
    if !element.ends_with("-sink") {
        return None;
    }
    let (_, why) = debug.split_once("reason: ")?;
    let why = why.trim_start_matches("Error sending message: ").trim();
    Some(format!("{element}: {why}"))
}

/// How often refusals are passed on and logged.
#[derive(Debug, Default)]
struct SendRefusals {
    last_event: Option<Instant>,
    last_log: Option<Instant>,
    suppressed: u64,
}

/// What to do with one refusal.
struct RefusalReport {
    log: bool,
    suppressed: u64,
}

impl SendRefusals {
    /// One refusal at `now`: passed on at most once a second, logged at
    /// most once every 10 s with the count of those in between.
    fn note(&mut self, now: Instant) -> Option<RefusalReport> {
        self.suppressed += 1;
        let due = |last: Option<Instant>, every: Duration| {
            last.is_none_or(|at| now.saturating_duration_since(at) >= every)
        };
        if !due(self.last_event, Duration::from_secs(1)) {
            return None;
        }
        self.last_event = Some(now);
        let log = due(self.last_log, Duration::from_secs(10));
        let suppressed = self.suppressed;
        if log {
            self.last_log = Some(now);
            self.suppressed = 0;
        }
        Some(RefusalReport { log, suppressed })
    }
}

/// The V4L2 control that makes the hardware encoder send a keyframe next.
pub const FORCE_KEY_FRAME: &str = "force_key_frame";

/// The `extra-controls` that fire `force_key_frame` on a running
/// `v4l2h264enc`: the controls it has (`current`, kept as they are, since
/// setting the property replaces them) plus the button.
pub fn with_force_key_frame(current: Option<gst::Structure>) -> gst::Structure {
    let mut controls = current.unwrap_or_else(|| gst::Structure::new_empty("controls"));
    // A button control: the value is ignored, but GStreamer sends only ints.
    controls.set(FORCE_KEY_FRAME, 1i32);
    controls
}

/// The test fault: from `after` the pipeline's start on, every buffer the
/// video encoder produces is dropped (on its src pad; with no encoder, at
/// the parser's input), so no video packet leaves while the rest runs on.
fn stall_video(pipeline: &gst::Pipeline, after: Duration) {
    let pad = pipeline
        .by_name(names::VIDEO_ENCODER)
        .and_then(|e| e.static_pad("src"))
        .or_else(|| {
            pipeline
                .by_name(names::VIDEO_PARSE)
                .and_then(|p| p.static_pad("sink"))
        });
    let Some(pad) = pad else {
        tracing::warn!("test fault stall-video-after: no video encoder to stall");
        return;
    };
    let from = Instant::now() + after;
    let told = AtomicBool::new(false);
    tracing::warn!(
        after_s = after.as_secs_f64(),
        "test fault (BRIDGEPOINT_SIM_FAULT): this pipeline's video encoder will stall"
    );
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            if Instant::now() < from {
                return gst::PadProbeReturn::Ok;
            }
            if !told.swap(true, Ordering::Relaxed) {
                tracing::warn!("test fault (BRIDGEPOINT_SIM_FAULT): the video encoder's output is dropped from now on");
            }
            super::probe::discard(info)
        },
    );
}

/// The typed error carried by an error or EOS message.
pub fn bus_error(msg: &gst::Message) -> Option<PipelineError> {
    let element = msg
        .src()
        .map(|s| s.name().to_string())
        .unwrap_or_else(|| "pipeline".to_owned());
    match msg.view() {
        gst::MessageView::Error(err) => Some(PipelineError::Element {
            element,
            message: err.error().to_string(),
            debug: err.debug().map(|d| d.to_string()),
        }),
        gst::MessageView::Eos(_) => Some(PipelineError::EndOfStream { element }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_request_keeps_the_encoders_controls_and_adds_the_button() {
        gst::init().unwrap();
        let built = pipeline::hardware_controls(1500, 50);
        let controls = with_force_key_frame(Some(built.clone()));
        assert_eq!(controls.name(), built.name());
        assert_eq!(controls.get::<i32>(FORCE_KEY_FRAME).unwrap(), 1);
        for field in [
            "video_bitrate",
            "h264_i_frame_period",
            "repeat_sequence_header",
        ] {
            assert_eq!(
                controls.get::<i32>(field).unwrap(),
                built.get::<i32>(field).unwrap(),
                "{field} is sent again unchanged"
            );
        }
        assert_eq!(controls.n_fields(), built.n_fields() + 1);
        // Every value an int: GStreamer's set_control skips anything else.
        for (name, value) in controls.iter() {
            assert!(value.get::<i32>().is_ok(), "{name} is not an int");
        }
    }

    #[test]
    fn a_keyframe_request_to_an_encoder_without_controls_sends_the_button_alone() {
        gst::init().unwrap();
        let controls = with_force_key_frame(None);
        assert_eq!(controls.to_string(), "controls, force_key_frame=(int)1;");
    }

    #[test]
    fn a_second_request_fires_the_button_again_without_growing() {
        gst::init().unwrap();
        let once = with_force_key_frame(Some(pipeline::hardware_controls(1500, 50)));
        let twice = with_force_key_frame(Some(once.clone()));
        assert_eq!(once, twice);
    }

    #[test]
    fn a_sender_refused_by_the_network_is_named_and_nothing_else_is() {
        assert_eq!(
            send_refusal(
                "video-rtp-sink",
                "client 10.9.0.2:5000, reason: Error sending message: Network is unreachable"
            )
            .as_deref(),
            Some("video-rtp-sink: Network is unreachable")
        );
        assert_eq!(send_refusal("video-encoder", "reason: x"), None);
        assert_eq!(send_refusal("audio-rtcp-sink", "no reason here"), None);
    }

    #[test]
    fn refusals_are_passed_on_once_a_second_and_logged_once_in_ten() {
        let t0 = Instant::now();
        let mut r = SendRefusals::default();
        let mut events = 0;
        let mut logs = Vec::new();
        // 300 refusals a second for 25 s.
        for i in 0..7500u64 {
            if let Some(report) = r.note(t0 + Duration::from_micros(i * 3333)) {
                events += 1;
                if report.log {
                    logs.push(report.suppressed);
                }
            }
        }
        assert_eq!(events, 25);
        assert_eq!(logs.len(), 3, "{logs:?}");
        assert_eq!(logs[0], 1);
        assert!(logs[1] > 2900, "the count of those not logged: {logs:?}");
    }
}
