//! Decides which elements the pipeline uses on this board: the camera, the
//! encoder (hardware, software, or none when the camera sends H.264) and
//! the microphone. Probing (the element registry, the camera's caps) happens
//! here, once per pipeline build, and every fallback is logged.

use std::path::{Path, PathBuf};

use bridgepoint_core::config::{AudioSource, MediaConfig, VideoEncoder, VideoSource};
use gstreamer as gst;
use gstreamer::prelude::*;

use super::PipelineError;

/// The hardware H.264 encoder element on V4L2 M2M boards (Raspberry Pi 4).
pub const HARDWARE_ENCODER: &str = "v4l2h264enc";

/// Where video comes from, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraPlan {
    /// videotestsrc.
    Test,
    /// A V4L2 device sending raw video.
    Raw(PathBuf),
    /// A V4L2 device sending H.264 itself (UVC H.264): passed through.
    H264(PathBuf),
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
    /// No encoder: the camera sends H.264.
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
}

/// Where audio comes from, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicrophonePlan {
    /// audiotestsrc.
    Test,
    /// alsasrc with this device (`None` = ALSA's default).
    Alsa(Option<String>),
}

/// Every choice the pipeline builder needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlan {
    /// The camera.
    pub camera: CameraPlan,
    /// The encoder.
    pub encoder: EncoderPlan,
    /// The microphone.
    pub microphone: MicrophonePlan,
}

fn element_exists(name: &str) -> bool {
    gst::ElementFactory::find(name).is_some()
}

/// Resolves `media` against this board's devices and GStreamer registry.
pub fn plan(media: &MediaConfig) -> Result<MediaPlan, PipelineError> {
    let camera = match &media.video.source {
        VideoSource::Test => CameraPlan::Test,
        VideoSource::V4l2(dev) => probe_camera(dev),
        VideoSource::Auto => {
            let dev = first_camera().ok_or(PipelineError::NoCamera)?;
            tracing::info!(device = %dev.display(), "video.source auto: using this camera");
            probe_camera(&dev)
        }
    };
    let encoder = if let CameraPlan::H264(dev) = &camera {
        tracing::info!(device = %dev.display(), "camera sends H.264 itself; passing it through without re-encoding");
        EncoderPlan::PassThrough
    } else {
        choose_encoder(media.video.encoder)?
    };
    let microphone = match &media.audio.source {
        AudioSource::Test => MicrophonePlan::Test,
        AudioSource::Auto => MicrophonePlan::Alsa(None),
        AudioSource::Alsa(dev) => MicrophonePlan::Alsa(Some(dev.clone())),
    };
    Ok(MediaPlan {
        camera,
        encoder,
        microphone,
    })
}

fn choose_encoder(wanted: VideoEncoder) -> Result<EncoderPlan, PipelineError> {
    let hardware = element_exists(HARDWARE_ENCODER);
    match wanted {
        VideoEncoder::Hardware if hardware => Ok(EncoderPlan::Hardware),
        VideoEncoder::Hardware => Err(PipelineError::NoHardwareEncoder),
        VideoEncoder::X264 => Ok(EncoderPlan::X264),
        VideoEncoder::OpenH264 => Ok(EncoderPlan::OpenH264),
        VideoEncoder::Auto if hardware => {
            tracing::info!(
                "video.encoder auto: using the board's hardware encoder ({HARDWARE_ENCODER})"
            );
            Ok(EncoderPlan::Hardware)
        }
        VideoEncoder::Auto => {
            let software = if element_exists("x264enc") || !element_exists("openh264enc") {
                EncoderPlan::X264
            } else {
                EncoderPlan::OpenH264
            };
            tracing::warn!(
                "video.encoder auto: this board has no hardware H.264 encoder ({HARDWARE_ENCODER} missing); \
                 falling back to software encoder {}",
                software.factory().unwrap_or_default()
            );
            Ok(software)
        }
    }
}

/// The first `/dev/videoN` that exists, lowest N first.
fn first_camera() -> Option<PathBuf> {
    let mut devices: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("video")?.parse().ok()?;
            Some((n, entry.path()))
        })
        .collect();
    devices.sort();
    devices.into_iter().map(|(_, p)| p).next()
}

/// Whether the camera at `dev` offers H.264 (asks the device through v4l2src).
fn probe_camera(dev: &Path) -> CameraPlan {
    let offers_h264 = (|| {
        let src = gst::ElementFactory::make("v4l2src")
            .property("device", dev.to_string_lossy().to_string())
            .build()
            .ok()?;
        src.set_state(gst::State::Ready).ok()?;
        let caps = src.static_pad("src")?.query_caps(None);
        let _ = src.set_state(gst::State::Null);
        Some(caps.iter().any(|s| s.name() == "video/x-h264"))
    })()
    .unwrap_or(false);
    if offers_h264 {
        CameraPlan::H264(dev.to_owned())
    } else {
        CameraPlan::Raw(dev.to_owned())
    }
}
