//! Decides which elements the pipeline uses on this board: the camera and
//! its mode, the encoder (hardware, software, or none when the camera's own
//! H.264 is passed through) and the microphone with its channels. Devices
//! are found by [`super::discovery`]; the choices are the core's
//! (`bridgepoint_core::capture`). This runs once per pipeline build, and
//! every choice is logged with what was asked and what was chosen.

use std::path::Path;

use bridgepoint_core::capture::camera::{choose_camera, CameraChoice, CameraPath};
use bridgepoint_core::capture::microphone::{choose_microphone, MicrophoneChoice};
use bridgepoint_core::config::{AudioSource, MediaConfig, VideoEncoder, VideoSource};
use bridgepoint_core::encoder_limits::{check as check_encoder_limits, EncoderFamily};
use gstreamer as gst;

use bridgepoint_core::config::{DisplayConfig, DisplaySink, SpeakerSink};
use bridgepoint_core::playback::{
    choose_display, choose_speaker, DisplayChoice, SpeakerChoice, SpeakerDevice,
};

use super::discovery::{alsa, displays, v4l2};
use super::PipelineError;

/// The hardware H.264 encoder element on V4L2 M2M boards (Raspberry Pi 4).
pub const HARDWARE_ENCODER: &str = "v4l2h264enc";
/// The hardware JPEG decoder element on V4L2 M2M boards.
pub const HARDWARE_JPEG_DECODER: &str = "v4l2jpegdec";

/// Where video comes from, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraPlan {
    /// videotestsrc.
    Test,
    /// A camera in a chosen mode.
    Device(CameraChoice),
}

/// The H.264 encoder, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderPlan {
    /// v4l2h264enc.
    Hardware,
    /// x264enc.
    X264,
    /// openh264enc.
    OpenH264,
    /// No encoder: the camera's own H.264.
    PassThrough,
}

impl EncoderPlan {
    /// The element factory, if any.
    pub fn factory(self) -> Option<&'static str> {
        match self {
            EncoderPlan::Hardware => Some(HARDWARE_ENCODER),
            EncoderPlan::X264 => Some("x264enc"),
            EncoderPlan::OpenH264 => Some("openh264enc"),
            EncoderPlan::PassThrough => None,
        }
    }

    /// Whose limits apply; `None` for the camera's own H.264 (no encoder of
    /// the box's, no limits of its own).
    pub fn family(self) -> Option<EncoderFamily> {
        match self {
            EncoderPlan::Hardware => Some(EncoderFamily::Hardware),
            EncoderPlan::X264 => Some(EncoderFamily::X264),
            EncoderPlan::OpenH264 => Some(EncoderFamily::OpenH264),
            EncoderPlan::PassThrough => None,
        }
    }
}

/// Where audio comes from, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicrophonePlan {
    /// audiotestsrc.
    Test,
    /// A capture device and its channels.
    Alsa(MicrophoneChoice),
}

/// Every choice the pipeline builder needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlan {
    /// The camera.
    pub camera: CameraPlan,
    /// The encoder.
    pub encoder: EncoderPlan,
    /// Why this encoder.
    pub encoder_why: String,
    /// The microphone.
    pub microphone: MicrophonePlan,
    /// The JPEG decoder factory, when the camera sends MJPEG.
    pub jpeg_decoder: &'static str,
    /// Where the hub's return media plays; `None` without a receive key.
    pub playback: Option<PlaybackPlan>,
}

/// Where the hub's return sound plays (its picture goes to the screen,
/// [`super::screen`], which [`plan_display`] chooses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackPlan {
    /// The speaker.
    pub speaker: SpeakerChoice,
    /// How much later than its sink plays it the room's screen shows a
    /// picture (the screen's own latency, on a real screen): the speaker
    /// waits as long, so that sound and picture reach the room together.
    pub picture_delay: std::time::Duration,
    /// How much later than its sink plays it the microphone hears the
    /// speaker beyond that (`[audio] echo_delay_ms`: a TV's or a USB
    /// speaker's own delay, the room's path).
    pub echo_delay: std::time::Duration,
}

/// Chooses the speaker from the config and the devices found.
fn plan_playback(media: &MediaConfig) -> Option<PlaybackPlan> {
    media.srtp.receive_key.as_ref()?;
    let speakers: Vec<SpeakerDevice> = match media.speaker.sink {
        SpeakerSink::Auto => alsa::discover(Path::new("/proc/asound"), Path::new("/dev/snd"))
            .speakers
            .into_iter()
            .map(|s| SpeakerDevice {
                card_id: s.card_id,
                name: s.name,
                driver: s.driver,
                device: s.device,
            })
            .collect(),
        _ => Vec::new(),
    };
    let speaker = choose_speaker(&media.speaker.sink, &speakers);
    match &speaker {
        SpeakerChoice::Alsa { device, why } => tracing::info!(%device, "speaker: {why}"),
        SpeakerChoice::Fake { why } => tracing::info!("speaker: none ({why})"),
    }
    Some(PlaybackPlan {
        speaker,
        picture_delay: std::time::Duration::ZERO,
        echo_delay: std::time::Duration::from_millis(u64::from(media.audio.echo_delay_ms)),
    })
}

/// Chooses the screen's display from the config and the connectors found
/// (only `auto` looks at them), and logs the choice.
pub fn plan_display(display: &DisplayConfig) -> DisplayChoice {
    let connected: Vec<String> = match display.sink {
        DisplaySink::Auto => displays::discover(Path::new("/sys/class/drm"))
            .into_iter()
            .filter(|d| d.connected)
            .map(|d| d.connector)
            .collect(),
        _ => Vec::new(),
    };
    let choice = choose_display(display.sink, &connected);
    match &choice {
        DisplayChoice::Kms { why } => tracing::info!("display: KMS ({why})"),
        DisplayChoice::Fake { why } => tracing::info!("display: none ({why})"),
    }
    choice
}

/// Whether GStreamer has this element.
pub fn element_exists(name: &str) -> bool {
    gst::ElementFactory::find(name).is_some()
}

/// Resolves `media` against this board's devices and GStreamer registry.
pub fn plan(media: &MediaConfig) -> Result<MediaPlan, PipelineError> {
    let v = &media.video;
    let camera = match &v.source {
        VideoSource::Test => CameraPlan::Test,
        VideoSource::V4l2(_) | VideoSource::Auto => {
            let nodes = v4l2::discover(Path::new("/dev"), (v.width, v.height, v.fps));
            for skipped in &nodes.skipped {
                tracing::debug!(device = %skipped.device, driver = %skipped.driver, reason = %skipped.reason, "video node skipped");
            }
            let wanted = match &v.source {
                VideoSource::V4l2(dev) => Some(dev.display().to_string()),
                _ => None,
            };
            let choice = choose_camera(&nodes.cameras, wanted.as_deref(), v)
                .map_err(PipelineError::Camera)?;
            tracing::info!(device = %choice.device, "camera: {}", choice.why);
            CameraPlan::Device(choice)
        }
    };
    let (encoder, encoder_why) = match &camera {
        CameraPlan::Device(c) if c.path == CameraPath::PassThrough => (
            EncoderPlan::PassThrough,
            "none: the camera's own H.264 is passed through".to_owned(),
        ),
        _ => choose_encoder(v.encoder)?,
    };
    tracing::info!("encoder: {encoder_why}");
    if let Some(family) = encoder.family() {
        let refused = check_encoder_limits(v, family);
        if !refused.is_empty() {
            let reasons: Vec<String> = refused.iter().map(ToString::to_string).collect();
            return Err(PipelineError::EncoderLimits(reasons.join("; ")));
        }
    }
    let microphone = match &media.audio.source {
        AudioSource::Test => MicrophonePlan::Test,
        source => {
            // Also for a named device: its channel range sets the count.
            let found =
                alsa::discover(Path::new("/proc/asound"), Path::new("/dev/snd")).microphones;
            match choose_microphone(&found, source, media.audio.channel)
                .map_err(PipelineError::Microphone)?
            {
                Some(choice) => {
                    tracing::info!(device = %choice.device, "microphone: {}", choice.why);
                    MicrophonePlan::Alsa(choice)
                }
                None => MicrophonePlan::Test,
            }
        }
    };
    let jpeg_decoder = if element_exists(HARDWARE_JPEG_DECODER) {
        HARDWARE_JPEG_DECODER
    } else {
        "jpegdec"
    };
    Ok(MediaPlan {
        camera,
        encoder,
        encoder_why,
        microphone,
        jpeg_decoder,
        playback: plan_playback(media),
    })
}

/// The encoder for `wanted` on this board, and why.
pub fn choose_encoder(wanted: VideoEncoder) -> Result<(EncoderPlan, String), PipelineError> {
    let hardware = element_exists(HARDWARE_ENCODER);
    match wanted {
        VideoEncoder::Hardware if hardware => Ok((
            EncoderPlan::Hardware,
            format!("{HARDWARE_ENCODER}: video.encoder = hardware"),
        )),
        VideoEncoder::Hardware => Err(PipelineError::NoHardwareEncoder),
        VideoEncoder::X264 => Ok((EncoderPlan::X264, "x264enc: video.encoder = x264".into())),
        VideoEncoder::OpenH264 => Ok((
            EncoderPlan::OpenH264,
            "openh264enc: video.encoder = openh264".into(),
        )),
        VideoEncoder::Auto if hardware => Ok((
            EncoderPlan::Hardware,
            format!("{HARDWARE_ENCODER}: the board's hardware encoder (video.encoder = auto)"),
        )),
        VideoEncoder::Auto => {
            let software = if element_exists("x264enc") || !element_exists("openh264enc") {
                EncoderPlan::X264
            } else {
                EncoderPlan::OpenH264
            };
            let why = format!(
                "{}: this board has no hardware H.264 encoder ({HARDWARE_ENCODER} missing), so software (video.encoder = auto)",
                software.factory().unwrap_or_default()
            );
            tracing::warn!("{why}");
            Ok((software, why))
        }
    }
}
