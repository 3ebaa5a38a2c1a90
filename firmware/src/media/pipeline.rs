//! Builds the media pipeline from the config and the plan, in one function.
//!
//! ```text
//! video-source → [camera: convert/scale/rate] → video-caps → [video-tee → self-view-…
//!   → intervideosink to the screen] → video-queue → video-encoder
//!   → video-encoded-caps → video-parse (SPS/PPS before every keyframe) → video-pay (PT 96)
//!   → [video-pacer: packets spaced by super::pacing] → rtpbin session 0
//!   [hub.feedback = "avpf": → video-rtx (PT 97) → video-pacer] → video-srtp
//!   → video-rtp-sink (hub:video_port)
//!                                   ↳ RTCP → video-rtcp-sink (hub:video_port+1)
//! video-rtcp-source (the same socket: the hub's receiver reports) → video-srtcp-dec → rtpbin
//! audio-source → audio-convert → audio-resample → audio-caps → audio-queue → audio-encoder (Opus)
//!   → audio-pay (PT 111) → rtpbin session 1 → audio-srtp → audio-rtp-sink / audio-rtcp-sink
//! ```
//!
//! The audio starts at the first video frame, to the sample
//! ([`super::start_align`]). What the hub's RTCP feedback may ask of the
//! video (retransmissions, keyframes at most once a second) is
//! [`super::feedback`]'s.
//!
//! Every element has a fixed name, so a bus error names the element at fault
//! (`element video-source: Cannot identify device '/dev/video9'`). The builder
//! does no supervision; [`super::runner`] runs and restarts what it builds.

use bridgepoint_core::config::{HubFeedback, MediaConfig};
use bridgepoint_core::sdp::{AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE};
use gstreamer as gst;
use gstreamer::prelude::*;

use bridgepoint_core::capture::camera::{CameraChoice, CameraPath, PixelFormat};

use super::plan::{CameraPlan, EncoderPlan, MediaPlan, MicrophonePlan, HARDWARE_ENCODER};
use super::start_align::{StartAlign, SAMPLE_RATE};
use super::PipelineError;

/// Names of the elements other code looks up.
pub mod names {
    /// The camera or test source.
    pub const VIDEO_SOURCE: &str = "video-source";
    /// The H.264 encoder (absent when the camera sends H.264).
    pub const VIDEO_ENCODER: &str = "video-encoder";
    /// The H.264 parser right after the encoder.
    pub const VIDEO_PARSE: &str = "video-parse";
    /// The H.264 RTP payloader.
    pub const VIDEO_PAY: &str = "video-pay";
    /// The UDP sink sending video RTP.
    pub const VIDEO_RTP_SINK: &str = "video-rtp-sink";
    /// The microphone or test source.
    pub const AUDIO_SOURCE: &str = "audio-source";
    /// The Opus encoder.
    pub const AUDIO_ENCODER: &str = "audio-encoder";
    /// The UDP sink sending audio RTP.
    pub const AUDIO_RTP_SINK: &str = "audio-rtp-sink";
    /// The RTP session manager.
    pub const RTPBIN: &str = "rtpbin";
}

/// The Debian package that provides an element, for "missing element" errors
/// (from the table in [`super::elements`]).
pub fn package_of(factory: &str) -> &'static str {
    super::elements::lookup(factory).map_or(
        "the package that provides it (this element is missing from firmware/src/media/elements.rs)",
        |e| e.debian,
    )
}

/// The clock of every pipeline of the box. One clock for everything: RTP
/// timestamps follow the pipeline clock, and the wall-clock (NTP) time in
/// RTCP sender reports is read from the same clock; a realtime system clock
/// keeps the NTP times true wall-clock time. GStreamer's system clock is
/// one object per process: switching its type under a running pipeline
/// (the screen's) throws that pipeline's timing off, so every pipeline
/// takes it from here, already switched.
pub(super) fn box_clock() -> gst::Clock {
    let clock = gst::SystemClock::obtain();
    clock.set_property_from_str("clock-type", "realtime");
    clock
}

pub(super) fn make(
    factory: &str,
    name: &str,
    role: &'static str,
) -> Result<gst::Element, PipelineError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| PipelineError::MissingElement {
            factory: factory.to_owned(),
            role,
            package: package_of(factory),
        })
}

fn caps_filter(name: &str, caps: gst::Caps) -> Result<gst::Element, PipelineError> {
    let filter = make("capsfilter", name, "caps filter")?;
    filter.set_property("caps", caps);
    Ok(filter)
}

fn link_err(from: &gst::Element, to: &gst::Element, reason: impl ToString) -> PipelineError {
    PipelineError::Link {
        from: from.name().to_string(),
        to: to.name().to_string(),
        reason: reason.to_string(),
    }
}

fn link_chain(chain: &[&gst::Element]) -> Result<(), PipelineError> {
    for pair in chain.windows(2) {
        pair[0]
            .link(pair[1])
            .map_err(|e| link_err(pair[0], pair[1], e))?;
    }
    Ok(())
}

fn link_pads(
    from: &gst::Element,
    from_pad: &gst::Pad,
    to: &gst::Element,
    to_pad: &gst::Pad,
) -> Result<(), PipelineError> {
    from_pad.link(to_pad).map(|_| ()).map_err(|e| {
        link_err(
            from,
            to,
            format!("{} → {}: {e:?}", from_pad.name(), to_pad.name()),
        )
    })
}

fn request_pad(element: &gst::Element, name: &str) -> Result<gst::Pad, PipelineError> {
    element
        .request_pad_simple(name)
        .ok_or_else(|| PipelineError::Link {
            from: element.name().to_string(),
            to: name.to_owned(),
            reason: format!("{} gave no pad {name}", element.name()),
        })
}

fn static_pad(element: &gst::Element, name: &str) -> Result<gst::Pad, PipelineError> {
    element.static_pad(name).ok_or_else(|| PipelineError::Link {
        from: element.name().to_string(),
        to: name.to_owned(),
        reason: format!("{} has no pad {name}", element.name()),
    })
}

/// Sets an enum property by its nick, failing with the element's name.
pub(super) fn set_nick(
    element: &gst::Element,
    property: &str,
    nick: &str,
) -> Result<(), PipelineError> {
    if element.find_property(property).is_none() {
        return Err(PipelineError::Element {
            element: element.name().to_string(),
            message: format!("has no property {property}"),
            debug: None,
        });
    }
    // Check the nick exists first: set_property_from_str panics on a bad value.
    let pspec = element.find_property(property).expect("checked above");
    if let Some(enum_spec) = pspec.downcast_ref::<gst::glib::ParamSpecEnum>() {
        if enum_spec.enum_class().value_by_nick(nick).is_none() {
            return Err(PipelineError::Element {
                element: element.name().to_string(),
                message: format!("{property} has no value {nick:?}"),
                debug: None,
            });
        }
    }
    element.set_property_from_str(property, nick);
    Ok(())
}

/// One RTP session: payloader → rtpbin → srtpenc → UDP (RTP and RTCP),
/// and what the hub sends back on the same ports.
struct SessionSpec<'a> {
    index: u32,
    kind: &'a str,
    /// The hub's port.
    port: u16,
    /// The box's own port (`None`: picked by the system).
    local_port: Option<u16>,
}

/// Builds the whole pipeline. Nothing is started. On an error, what was
/// built is taken back to NULL (the RTCP sources open their sockets while
/// the pipeline is built) before it is dropped.
pub fn build(media: &MediaConfig, plan: &MediaPlan) -> Result<gst::Pipeline, PipelineError> {
    let pipeline = gst::Pipeline::with_name("bridgepoint");
    if let Err(e) = populate(&pipeline, media, plan) {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(e);
    }
    Ok(pipeline)
}

fn populate(
    pipeline: &gst::Pipeline,
    media: &MediaConfig,
    plan: &MediaPlan,
) -> Result<(), PipelineError> {
    pipeline.use_clock(Some(&box_clock()));
    let rtpbin = make("rtpbin", names::RTPBIN, "RTP session manager")?;
    // Sender reports map RTP time to wall-clock time at *capture*, not at
    // send: the encoders' delay (which grows when the CPU is busy) then
    // cannot skew audio against video at the hub. Receivers that switch to
    // RTCP-based timing mid-stream (ffmpeg does) would otherwise see audio
    // jump back by that skew and record non-monotonic timestamps.
    rtpbin.set_property("rtcp-sync-send-time", false);
    // NTP times in sender reports come from the pipeline clock, so every
    // report maps RTP to NTP on the same line (default: the realtime clock
    // read separately, whose offset from the pipeline clock wobbles under
    // load and makes receivers' timestamps jump between reports).
    set_nick(&rtpbin, "ntp-time-source", "clock-time")?;
    // The hub's return media: how late a packet may be, and lost packets
    // passed on as gaps (the Opus decoder conceals them).
    rtpbin.set_property("latency", media.return_media.latency_ms);
    rtpbin.set_property("do-lost", true);
    // With the hub's media coming back, RTCP feedback (RFC 4585, the SAVPF
    // profile): when a video packet is lost the depayloader asks for a
    // keyframe and rtpbin sends the hub a Picture Loss Indication at once,
    // instead of the picture waiting for the hub's next periodic keyframe.
    // Regular reports keep their interval; a receiver that knows no
    // feedback (ffmpeg) ignores the packet.
    // With `hub.feedback = "avpf"` the hub's receiver is offered the same
    // for the box's video (the SDP says RTP/SAVPF): its NACKs are answered
    // with retransmissions (super::feedback).
    let avpf = media.hub.feedback == HubFeedback::Avpf;
    if media.srtp.receive_key.is_some() || avpf {
        set_nick(&rtpbin, "rtp-profile", "savpf")?;
    }
    if avpf {
        // Before the video session exists: rtpbin asks for it then.
        super::feedback::attach_retransmission(&rtpbin)?;
    }
    // The hub's capture time on every packet once its sender reports
    // arrive: what the lip-sync figure is measured against (super::stats).
    rtpbin.set_property("add-reference-timestamp-meta", true);
    pipeline
        .add(&rtpbin)
        .map_err(|e| link_err(&rtpbin, &rtpbin, e))?;

    if let Some(playback) = &plan.playback {
        // Before the microphone: its echo canceller looks the probe up.
        super::return_path::build_speaker(pipeline, playback)?;
        super::return_path::attach(&rtpbin);
        // The screen and the speaker play in time (sync), and what they
        // play comes through the jitter buffer and a decoder that join only
        // when the hub's stream arrives: each chain asks the pipeline to
        // measure its latency again when it joins (return_path), so the
        // sinks play [return] latency_ms plus the decoder's and their own
        // processing deadline (20 ms) after a packet arrives. The senders
        // do not sync: this delays nothing the hub receives.
    }
    let (video_pay, video_out) = build_video(pipeline, media, plan)?;
    let (audio_encoder, audio_pay) = build_audio(pipeline, media, plan)?;
    StartAlign::attach(&video_pay, &audio_encoder);

    for (pay, spec) in [
        (
            video_out,
            SessionSpec {
                index: 0,
                kind: "video",
                port: media.hub.video_port,
                local_port: media.hub.local_video_port,
            },
        ),
        (
            audio_pay,
            SessionSpec {
                index: 1,
                kind: "audio",
                port: media.hub.audio_port,
                local_port: media.hub.local_audio_port,
            },
        ),
    ] {
        build_session(pipeline, &rtpbin, &pay, &spec, media)?;
    }
    Ok(())
}

/// Builds the pipeline and takes it down again without starting it: proves
/// every element is installed and the config builds.
pub fn build_and_discard(media: &MediaConfig, plan: &MediaPlan) -> Result<(), PipelineError> {
    let pipeline = build(media, plan)?;
    // Elements must be back in NULL (the RTCP sources were opened, READY)
    // before they are disposed.
    let _ = pipeline.set_state(gst::State::Null);
    Ok(())
}

fn add_all(pipeline: &gst::Pipeline, elements: &[&gst::Element]) -> Result<(), PipelineError> {
    pipeline
        .add_many(elements.iter().copied())
        .map_err(|e| PipelineError::StateChange(format!("cannot add elements: {e}")))
}

fn build_video(
    pipeline: &gst::Pipeline,
    media: &MediaConfig,
    plan: &MediaPlan,
) -> Result<(gst::Element, gst::Element), PipelineError> {
    let v = &media.video;
    let fps = gst::Fraction::new(v.fps as i32, 1);
    let mut chain: Vec<gst::Element> = Vec::new();

    let raw_caps = |format: &str| {
        gst::Caps::builder("video/x-raw")
            .field("format", format)
            .field("width", v.width as i32)
            .field("height", v.height as i32)
            .field("framerate", fps)
            .build()
    };
    let encode = match &plan.camera {
        CameraPlan::Test => {
            let src = make("videotestsrc", names::VIDEO_SOURCE, "test video source")?;
            src.set_property("is-live", true);
            set_nick(&src, "pattern", "smpte")?;
            src.set_property("horizontal-speed", 4i32);
            chain.push(src);
            chain.push(caps_filter("video-caps", raw_caps("I420"))?);
            true
        }
        CameraPlan::Device(choice) => {
            camera_chain(&mut chain, choice, plan, &raw_caps)?;
            choice.path != CameraPath::PassThrough
        }
    };
    let self_view = encode && media.display.self_view;
    if self_view {
        chain.push(make("tee", "video-tee", "the room's self-view")?);
    }
    if encode {
        let queue = make("queue", "video-queue", "encoder queue")?;
        queue.set_property("max-size-buffers", 2u32);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", 0u64);
        set_nick(&queue, "leaky", "downstream")?;
        chain.push(queue);
        let (encoder, encoded_caps) = make_encoder(plan.encoder, media)?;
        chain.push(encoder);
        chain.push(caps_filter("video-encoded-caps", encoded_caps)?);
    }

    let parse = make("h264parse", names::VIDEO_PARSE, "H.264 parser")?;
    // Send SPS/PPS with every keyframe so a late receiver decodes within one interval.
    parse.set_property("config-interval", -1i32);
    chain.push(parse);
    let pay = make("rtph264pay", names::VIDEO_PAY, "H.264 RTP payloader")?;
    pay.set_property("pt", u32::from(VIDEO_PAYLOAD_TYPE));
    // SPS/PPS already travel in-band from video-parse. Letting the payloader
    // insert them too sends them twice per keyframe, and receivers (ffmpeg)
    // then see two packets with one timestamp and record non-monotonic DTS.
    pay.set_property("config-interval", 0i32);
    set_nick(&pay, "aggregate-mode", "zero-latency")?;
    chain.push(pay.clone());
    if media.hub.feedback == HubFeedback::Avpf {
        // The transport-wide sequence number on every video packet: the
        // payloader adds the extension these caps name
        // (super::transport_feedback).
        chain.push(caps_filter(
            "video-transport-cc-caps",
            super::transport_feedback::extension_caps(),
        )?);
    }
    // The video's packets leave at a steady rate, not in the encoder's
    // bursts (super::pacing). With avpf the pacer follows the
    // retransmission sender inside rtpbin (super::feedback), so that
    // retransmissions are paced too.
    if media.hub.feedback != HubFeedback::Avpf {
        chain.push(super::pacing::make_queue()?);
    }

    let refs: Vec<&gst::Element> = chain.iter().collect();
    add_all(pipeline, &refs)?;
    link_chain(&refs)?;
    if self_view {
        if let Some(tee) = pipeline.by_name("video-tee") {
            build_self_view(pipeline, &tee)?;
        }
    }
    let last = chain.pop().unwrap_or_else(|| pay.clone());
    Ok((pay, last))
}

/// The room's own camera, small and at most 10 frames a second, to the
/// screen (`super::screen`). A leaky queue: the self-view never holds the
/// encoder back.
fn build_self_view(pipeline: &gst::Pipeline, tee: &gst::Element) -> Result<(), PipelineError> {
    let role = "the room's self-view";
    let queue = make("queue", "self-view-queue", role)?;
    queue.set_property("max-size-buffers", 1u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    set_nick(&queue, "leaky", "downstream")?;
    let rate = make("videorate", "self-view-rate", role)?;
    rate.set_property("drop-only", true);
    rate.set_property("max-rate", 10i32);
    let scale = make("videoscale", "self-view-scale", role)?;
    let convert = make("videoconvert", "self-view-convert", role)?;
    let caps = caps_filter(
        "self-view-caps",
        gst::Caps::builder("video/x-raw")
            .field("width", super::screen::SELF_VIEW_WIDTH)
            .field("height", super::screen::SELF_VIEW_HEIGHT)
            .build(),
    )?;
    let sink = make("intervideosink", "self-view-sink", role)?;
    sink.set_property("channel", super::screen::SELF_VIEW_CHANNEL);
    sink.set_property("sync", false);
    sink.set_property("async", false);
    let branch = [&queue, &rate, &scale, &convert, &caps, &sink];
    add_all(pipeline, &branch)?;
    link_chain(&[tee, &queue])?;
    link_chain(&branch)
}

/// The GStreamer raw format of a V4L2 fourcc.
fn gst_raw_format(format: &PixelFormat) -> Option<&'static str> {
    match format {
        PixelFormat::Yuyv => Some("YUY2"),
        PixelFormat::Uyvy => Some("UYVY"),
        PixelFormat::Nv12 => Some("NV12"),
        PixelFormat::I420 => Some("I420"),
        _ => None,
    }
}

/// Whether the encoder takes `format` as it is. The software encoders send
/// constrained baseline, which is 4:2:0 only; the hardware encoder converts
/// packed 4:2:2 itself (its sink template says which).
fn encoder_takes(encoder: EncoderPlan, format: &str) -> bool {
    match encoder {
        EncoderPlan::X264 | EncoderPlan::OpenH264 => matches!(format, "I420" | "NV12"),
        EncoderPlan::PassThrough => false,
        EncoderPlan::Hardware => gst::ElementFactory::find(HARDWARE_ENCODER)
            .map(|f| {
                f.static_pad_templates().iter().any(|t| {
                    t.direction() == gst::PadDirection::Sink
                        && t.caps().iter().any(|s| {
                            s.get::<gst::List>("format")
                                .map(|l| l.iter().any(|v| v.get::<&str>() == Ok(format)))
                                .or_else(|_| s.get::<&str>("format").map(|f| f == format))
                                .unwrap_or(false)
                        })
                })
            })
            .unwrap_or(false),
    }
}

/// The camera in its chosen mode, up to the encoder's input (or the parser,
/// for the camera's own H.264): a decoder for MJPEG, and conversion,
/// scaling and frame rate conversion only where needed.
fn camera_chain(
    chain: &mut Vec<gst::Element>,
    choice: &CameraChoice,
    plan: &MediaPlan,
    raw_caps: &dyn Fn(&str) -> gst::Caps,
) -> Result<(), PipelineError> {
    let src = make("v4l2src", names::VIDEO_SOURCE, "camera")?;
    src.set_property("device", &choice.device);
    chain.push(src);
    let rate = gst::Fraction::new(choice.rate.num as i32, choice.rate.den as i32);
    let mode = |media_type: &str| {
        gst::Caps::builder(media_type)
            .field("width", choice.width as i32)
            .field("height", choice.height as i32)
            .field("framerate", rate)
    };
    let decoded = match choice.path {
        CameraPath::PassThrough => {
            chain.push(caps_filter("camera-caps", mode("video/x-h264").build())?);
            return Ok(());
        }
        CameraPath::Mjpeg => {
            chain.push(caps_filter("camera-caps", mode("image/jpeg").build())?);
            chain.push(make(plan.jpeg_decoder, "video-decoder", "MJPEG decoder")?);
            None
        }
        CameraPath::Raw => {
            let format = gst_raw_format(&choice.format).ok_or_else(|| {
                PipelineError::Camera(format!(
                    "{}: format {} has no GStreamer name",
                    choice.device, choice.format
                ))
            })?;
            chain.push(caps_filter(
                "camera-caps",
                mode("video/x-raw").field("format", format).build(),
            )?);
            Some(format)
        }
    };
    // The decoder's output format is known only once it runs: convert
    // unless a raw format the encoder takes is captured as it is.
    let direct = decoded.filter(|f| encoder_takes(plan.encoder, f));
    if direct.is_none() {
        chain.push(make("videoconvert", "video-convert", "colour conversion")?);
    }
    if choice.scale {
        chain.push(make("videoscale", "video-scale", "scaling")?);
    }
    if choice.rerate {
        chain.push(make("videorate", "video-rate", "frame rate conversion")?);
    }
    chain.push(caps_filter(
        "video-caps",
        raw_caps(direct.unwrap_or("I420")),
    )?);
    Ok(())
}

/// The encoder element and the caps it must produce.
fn make_encoder(
    plan: EncoderPlan,
    media: &MediaConfig,
) -> Result<(gst::Element, gst::Caps), PipelineError> {
    let v = &media.video;
    let gop = v.fps * v.keyframe_interval_s;
    let factory = plan.factory().unwrap_or("x264enc");
    let encoder = make(factory, names::VIDEO_ENCODER, "H.264 encoder")?;
    let mut caps = gst::Caps::builder("video/x-h264")
        .field("stream-format", "byte-stream")
        .field("alignment", "au");
    match plan {
        EncoderPlan::X264 | EncoderPlan::PassThrough => {
            set_nick(&encoder, "tune", "zerolatency")?;
            set_nick(&encoder, "speed-preset", "ultrafast")?;
            encoder.set_property("key-int-max", gop);
            // A refresh sweep every GOP instead of a keyframe.
            encoder.set_property("intra-refresh", v.intra_refresh);
            encoder.set_property("bitrate", v.bitrate_kbps);
            caps = caps.field("profile", "constrained-baseline");
        }
        EncoderPlan::OpenH264 => {
            encoder.set_property("bitrate", v.bitrate_kbps * 1000);
            encoder.set_property("gop-size", gop);
        }
        EncoderPlan::Hardware => {
            encoder.set_property("extra-controls", hardware_controls(v.bitrate_kbps, gop));
            caps = caps
                .field("level", "4")
                .field("profile", "constrained-baseline");
        }
    }
    Ok((encoder, caps.build()))
}

/// V4L2 controls of the hardware encoder (bitrate, keyframe period, SPS/PPS repeat).
pub fn hardware_controls(bitrate_kbps: u32, gop: u32) -> gst::Structure {
    gst::Structure::builder("controls")
        .field("video_bitrate", (bitrate_kbps * 1000) as i32)
        .field("h264_i_frame_period", gop as i32)
        .field("repeat_sequence_header", 1i32)
        .build()
}

/// Builds the audio branch; returns its encoder and its payloader.
fn build_audio(
    pipeline: &gst::Pipeline,
    media: &MediaConfig,
    plan: &MediaPlan,
) -> Result<(gst::Element, gst::Element), PipelineError> {
    let src = match &plan.microphone {
        MicrophonePlan::Test => {
            let src = make("audiotestsrc", names::AUDIO_SOURCE, "test audio source")?;
            src.set_property("is-live", true);
            src.set_property("volume", 0.2f64);
            // 20 ms buffers, the Opus frame size.
            src.set_property("samplesperbuffer", 960i32);
            src
        }
        MicrophonePlan::Alsa(choice) => {
            let src = make("alsasrc", names::AUDIO_SOURCE, "microphone")?;
            src.set_property("device", &choice.device);
            src
        }
    };
    let mut front = vec![src];
    let convert = make("audioconvert", "audio-convert", "audio conversion")?;
    if let MicrophonePlan::Alsa(choice) = &plan.microphone {
        if let (Some(channels), Some(row)) = (choice.channels, choice.mono_matrix_row()) {
            // Capture exactly this many channels, then make the mono signal
            // from the chosen one(s) (the row is in alsasrc's channel order).
            front.push(caps_filter(
                "microphone-caps",
                gst::Caps::builder("audio/x-raw")
                    .field("channels", channels as i32)
                    .build(),
            )?);
            convert.set_property("mix-matrix", mono_matrix(&row));
        }
    }
    let resample = make("audioresample", "audio-resample", "audio resampling")?;
    let caps = caps_filter(
        "audio-caps",
        // What the encoder takes; the start alignment cuts samples of it.
        gst::Caps::builder("audio/x-raw")
            .field("format", "S16LE")
            .field("rate", SAMPLE_RATE as i32)
            .field("channels", 1i32)
            .build(),
    )?;
    let dsp = microphone_dsp(media, plan)?;
    // Holds what the microphone captures while the audio waits for the
    // first video frame (start alignment), up to a second.
    let queue = make("queue", "audio-queue", "audio queue")?;
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", gst::ClockTime::SECOND.nseconds());
    let encoder = make("opusenc", names::AUDIO_ENCODER, "Opus encoder")?;
    encoder.set_property("bitrate", (media.audio.bitrate_kbps * 1000) as i32);
    set_nick(&encoder, "audio-type", "voice")?;
    let pay = make("rtpopuspay", "audio-pay", "Opus RTP payloader")?;
    pay.set_property("pt", u32::from(AUDIO_PAYLOAD_TYPE));
    let mut chain: Vec<&gst::Element> = front.iter().collect();
    chain.extend([&convert, &resample, &caps]);
    chain.extend(dsp.iter());
    chain.extend([&queue, &encoder, &pay]);
    add_all(pipeline, &chain)?;
    link_chain(&chain)?;
    Ok((encoder, pay))
}

/// The microphone's processing (`webrtcdsp`): echo cancellation against
/// what the speaker plays (only where the box plays the hub's sound),
/// noise suppression and gain control, each as `[audio]` says; `None` when
/// all are off, and for the test tone (no microphone to clean up).
fn microphone_dsp(
    media: &MediaConfig,
    plan: &MediaPlan,
) -> Result<Option<gst::Element>, PipelineError> {
    if plan.microphone == MicrophonePlan::Test {
        return Ok(None);
    }
    let a = &media.audio;
    let echo = a.echo_cancellation && plan.playback.is_some();
    if !(echo || a.noise_suppression || a.gain_control) {
        return Ok(None);
    }
    let dsp = make(
        "webrtcdsp",
        "audio-dsp",
        "echo cancellation, noise suppression, gain control",
    )?;
    dsp.set_property("echo-cancel", echo);
    dsp.set_property("noise-suppression", a.noise_suppression);
    dsp.set_property("gain-control", a.gain_control);
    dsp.set_property("probe", super::return_path::ECHO_PROBE);
    tracing::info!(
        echo_cancellation = echo,
        noise_suppression = a.noise_suppression,
        gain_control = a.gain_control,
        "microphone processing (webrtcdsp)"
    );
    if echo {
        // With speech played and captured 60 ms later at -10 dB, "high"
        // took 25 dB of the echo off, the default ("moderate") 15 dB, and
        // left the room's own speech as it was.
        set_nick(&dsp, "echo-suppression-level", "high")?;
    }
    Ok(Some(dsp))
}

/// audioconvert's mix matrix from `row` (a gain per input channel) to one
/// output channel.
fn mono_matrix(row: &[f32]) -> gst::Array {
    let row: Vec<gst::glib::SendValue> = row.iter().map(|gain| gain.to_send_value()).collect();
    gst::Array::new([gst::Array::from_values(row).to_send_value()])
}

fn build_session(
    pipeline: &gst::Pipeline,
    rtpbin: &gst::Element,
    pay: &gst::Element,
    spec: &SessionSpec<'_>,
    media: &MediaConfig,
) -> Result<(), PipelineError> {
    let i = spec.index;
    let srtp = make("srtpenc", &format!("{}-srtp", spec.kind), "SRTP encryption")?;
    let suite = media.srtp.suite;
    let cipher_ok = srtp
        .find_property("rtp-cipher")
        .and_then(|p| {
            p.downcast_ref::<gst::glib::ParamSpecEnum>()
                .map(|e| e.enum_class().value_by_nick(suite.gst_cipher()).is_some())
        })
        .unwrap_or(false);
    if !cipher_ok {
        return Err(PipelineError::UnsupportedSuite {
            suite: suite.name().to_owned(),
            cipher: suite.gst_cipher(),
        });
    }
    srtp.set_property("key", gst::Buffer::from_slice(media.srtp.key.clone()));
    for prefix in ["rtp", "rtcp"] {
        set_nick(&srtp, &format!("{prefix}-cipher"), suite.gst_cipher())?;
        set_nick(&srtp, &format!("{prefix}-auth"), suite.gst_auth())?;
    }
    let rtp_sink = udp_sink(
        &format!("{}-rtp-sink", spec.kind),
        &media.hub.host,
        spec.port,
    )?;
    let rtcp_sink = udp_sink(
        &format!("{}-rtcp-sink", spec.kind),
        &media.hub.host,
        spec.port + 1,
    )?;
    // Symmetric RTP and RTCP (RFC 4961): the box sends from the sockets it
    // receives on, so a NAT in the province opens for the hub's return
    // media and reports, and a hub can answer to where the packets come
    // from. The box's own ports are configured or picked by the system.
    let rtp_source = open_source(
        pipeline,
        &format!("{}-rtp-source", spec.kind),
        "RTP receiver (the hub's return media)",
        spec.local_port,
        super::return_path::srtp_caps(spec.kind),
    )?;
    rtp_sink.set_property_from_value("socket", &rtp_source.property_value("used-socket"));
    rtp_sink.set_property("close-socket", false);
    let rtcp_source = open_source(
        pipeline,
        &format!("{}-rtcp-source", spec.kind),
        "RTCP receiver",
        spec.local_port.map(|p| p + 1),
        gst::Caps::builder("application/x-srtcp").build(),
    )?;
    rtcp_sink.set_property_from_value("socket", &rtcp_source.property_value("used-socket"));
    rtcp_sink.set_property("close-socket", false);
    // What the hub sends is protected with its own key (srtp.receive_key),
    // its RTCP too; without one, the hub only records and its reports come
    // under the box's key, as before.
    let receive_key = media.srtp.receive_key.as_ref();
    let srtcp_dec = make(
        "srtpdec",
        &format!(
            "{}-{}",
            spec.kind,
            if receive_key.is_some() {
                "srtp-dec"
            } else {
                "srtcp-dec"
            }
        ),
        "SRTP/SRTCP decryption",
    )?;
    let (key, cipher, auth) = (
        receive_key.unwrap_or(&media.srtp.key).clone(),
        suite.gst_cipher(),
        suite.gst_auth(),
    );
    srtcp_dec.connect("request-key", false, move |_| {
        let caps = gst::Caps::builder("application/x-srtp")
            .field("srtp-key", gst::Buffer::from_slice(key.clone()))
            .field("srtp-cipher", cipher)
            .field("srtp-auth", auth)
            .field("srtcp-cipher", cipher)
            .field("srtcp-auth", auth)
            .build();
        Some(caps.to_value())
    });
    add_all(pipeline, &[&srtp, &rtp_sink, &rtcp_sink, &srtcp_dec])?;
    if receive_key.is_some() {
        link_pads(
            &rtp_source,
            &static_pad(&rtp_source, "src")?,
            &srtcp_dec,
            &static_pad(&srtcp_dec, "rtp_sink")?,
        )?;
        let bin_rtp_recv = request_pad(rtpbin, &format!("recv_rtp_sink_{i}"))?;
        link_pads(
            &srtcp_dec,
            &static_pad(&srtcp_dec, "rtp_src")?,
            rtpbin,
            &bin_rtp_recv,
        )?;
    } else {
        let discard = make(
            "fakesink",
            &format!("{}-rtp-discard", spec.kind),
            "drop (no srtp.receive_key)",
        )?;
        discard.set_property("sync", false);
        discard.set_property("async", false);
        add_all(pipeline, &[&discard])?;
        link_pads(
            &rtp_source,
            &static_pad(&rtp_source, "src")?,
            &discard,
            &static_pad(&discard, "sink")?,
        )?;
    }

    let bin_rtp_sink = request_pad(rtpbin, &format!("send_rtp_sink_{i}"))?;
    link_pads(pay, &static_pad(pay, "src")?, rtpbin, &bin_rtp_sink)?;
    let bin_rtp_src = static_pad(rtpbin, &format!("send_rtp_src_{i}"))?;
    let srtp_rtp_sink = request_pad(&srtp, "rtp_sink_0")?;
    link_pads(rtpbin, &bin_rtp_src, &srtp, &srtp_rtp_sink)?;
    link_pads(
        &srtp,
        &static_pad(&srtp, "rtp_src_0")?,
        &rtp_sink,
        &static_pad(&rtp_sink, "sink")?,
    )?;

    let bin_rtcp_src = request_pad(rtpbin, &format!("send_rtcp_src_{i}"))?;
    let srtp_rtcp_sink = request_pad(&srtp, "rtcp_sink_0")?;
    link_pads(rtpbin, &bin_rtcp_src, &srtp, &srtp_rtcp_sink)?;
    link_pads(
        &srtp,
        &static_pad(&srtp, "rtcp_src_0")?,
        &rtcp_sink,
        &static_pad(&rtcp_sink, "sink")?,
    )?;

    link_pads(
        &rtcp_source,
        &static_pad(&rtcp_source, "src")?,
        &srtcp_dec,
        &static_pad(&srtcp_dec, "rtcp_sink")?,
    )?;
    let bin_rtcp_sink = request_pad(rtpbin, &format!("recv_rtcp_sink_{i}"))?;
    link_pads(
        &srtcp_dec,
        &static_pad(&srtcp_dec, "rtcp_src")?,
        rtpbin,
        &bin_rtcp_sink,
    )?;
    Ok(())
}

/// A UDP source on the box's own `port` (0: picked by the system), added
/// to the pipeline and opened (READY), so that a sender can share its
/// socket. Never shared with another program: a port in use is an error
/// naming the element and the port.
fn open_source(
    pipeline: &gst::Pipeline,
    name: &str,
    role: &'static str,
    port: Option<u16>,
    caps: gst::Caps,
) -> Result<gst::Element, PipelineError> {
    let source = make("udpsrc", name, role)?;
    source.set_property("port", port.map_or(0, i32::from));
    source.set_property("reuse", false);
    source.set_property("caps", caps);
    // In the pipeline before it opens its socket, so that a failure further
    // on takes it back to NULL with the rest (see `build`).
    add_all(pipeline, &[&source])?;
    source.set_state(gst::State::Ready).map_err(|e| {
        let port = port.map_or("a free port".to_owned(), |p| format!("port {p}"));
        PipelineError::StateChange(format!("{name}: cannot open its socket on {port}: {e}"))
    })?;
    Ok(source)
}

/// The port a source opened by [`open_source`] is bound to.
pub fn bound_port(source: &gst::Element) -> Option<u16> {
    let socket = source.property::<Option<gst::glib::Object>>("used-socket")?;
    let address = socket.property::<gst::glib::Object>("local-address");
    u16::try_from(address.property::<u32>("port")).ok()
}

fn udp_sink(name: &str, host: &str, port: u16) -> Result<gst::Element, PipelineError> {
    let sink = make("udpsink", name, "UDP sender")?;
    sink.set_property("host", host);
    sink.set_property("port", i32::from(port));
    // Send each packet as soon as it is made: the pipeline is live already.
    sink.set_property("sync", false);
    sink.set_property("async", false);
    Ok(sink)
}
