//! The hub's media coming back to the box: decrypted, de-jittered, decoded
//! and played.
//!
//! ```text
//! video-rtp-source (the box's own port; video-rtp-sink sends from it)
//!   → video-srtp-dec (srtp.receive_key) → rtpbin recv session 0 (jitter buffer)
//!   → per sender: video-return-depayloader → video-return-decoder → video-return-sink
//! audio-rtp-source → audio-srtp-dec → rtpbin recv session 1
//!   → audio-return-depayloader → audio-return-decoder (Opus, loss concealed) → audio-return-sink
//! ```
//!
//! rtpbin adds a source pad per sender (SSRC) when its first packet
//! arrives; [`attach`] builds that sender's chain then. A hub that sends
//! nothing back leaves the box sending as before. Without
//! `srtp.receive_key` nothing is decrypted: what arrives on the box's ports
//! is dropped (`video-rtp-discard`).
//!
//! The sinks are fake sinks for now (they play in real time and count);
//! [`super::stats::ReturnStats`] counts what they played.

use gstreamer as gst;
use gstreamer::prelude::*;

use super::pipeline::make;
use super::PipelineError;

/// The software H.264 decoder, where the board has no V4L2 decoder.
pub const SOFTWARE_DECODER: &str = "avdec_h264";
/// The V4L2 memory-to-memory H.264 decoder (the Pi's bcm2835-codec).
pub const HARDWARE_DECODER: &str = "v4l2h264dec";

/// The H.264 decoder this box uses: the hardware one when its factory is
/// registered (GStreamer registers it only where a V4L2 decoder device
/// exists), else software.
pub fn video_decoder() -> &'static str {
    if gst::ElementFactory::find(HARDWARE_DECODER).is_some() {
        HARDWARE_DECODER
    } else {
        SOFTWARE_DECODER
    }
}

/// The caps of what the hub sends on a session's port, for rtpbin's
/// payload map.
pub fn srtp_caps(kind: &str) -> gst::Caps {
    let (media, clock_rate, encoding, pt) = match kind {
        "video" => (
            "video",
            90_000,
            "H264",
            bridgepoint_core::sdp::VIDEO_PAYLOAD_TYPE,
        ),
        _ => (
            "audio",
            48_000,
            "OPUS",
            bridgepoint_core::sdp::AUDIO_PAYLOAD_TYPE,
        ),
    };
    gst::Caps::builder("application/x-srtp")
        .field("media", media)
        .field("clock-rate", clock_rate)
        .field("encoding-name", encoding)
        .field("payload", i32::from(pt))
        .build()
}

/// Builds a sender's playback chain whenever rtpbin adds a receive pad.
/// A chain that cannot be built is logged; the box keeps sending.
pub fn attach(rtpbin: &gst::Element) {
    rtpbin.connect_pad_added(|rtpbin, pad| {
        let name = pad.name();
        let Some(rest) = name.strip_prefix("recv_rtp_src_") else {
            return;
        };
        let mut parts = rest.split('_');
        let (Some(session), Some(ssrc)) = (parts.next(), parts.next()) else {
            return;
        };
        let kind = match session {
            "0" => "video",
            "1" => "audio",
            _ => return,
        };
        match play(rtpbin, pad, kind, ssrc) {
            Ok(decoder) => {
                tracing::info!(
                    kind,
                    ssrc,
                    decoder,
                    "the hub's return stream arrived: playing it"
                )
            }
            Err(error) => {
                tracing::warn!(kind, ssrc, %error, "the hub's return stream cannot be played")
            }
        }
    });
}

fn play(
    rtpbin: &gst::Element,
    pad: &gst::Pad,
    kind: &str,
    ssrc: &str,
) -> Result<&'static str, PipelineError> {
    let pipeline = rtpbin
        .parent()
        .and_then(|p| p.downcast::<gst::Bin>().ok())
        .ok_or_else(|| PipelineError::StateChange("rtpbin is not in a pipeline".into()))?;
    let role = "the hub's return media";
    let name = |what: &str| format!("{kind}-return-{what}-{ssrc}");
    let (depay, decoder_element, decoder) = if kind == "video" {
        let depay = make("rtph264depay", &name("depayloader"), role)?;
        let (decoder, factory) = if video_decoder() == HARDWARE_DECODER {
            (
                make("v4l2h264dec", &name("decoder"), role)?,
                HARDWARE_DECODER,
            )
        } else {
            (
                make("avdec_h264", &name("decoder"), role)?,
                SOFTWARE_DECODER,
            )
        };
        (depay, decoder, factory)
    } else {
        let depay = make("rtpopusdepay", &name("depayloader"), role)?;
        (depay, make("opusdec", &name("decoder"), role)?, "opusdec")
    };
    if kind == "audio" {
        // Lost packets (the jitter buffer's do-lost events) are concealed.
        decoder_element.set_property("plc", true);
    } else {
        // After a loss, no broken picture: the depayloader waits for the
        // next keyframe. Its keyframe request goes upstream to rtpbin, which
        // sends it to the hub as RTCP PLI only with the AVPF profile (not
        // yet: docs/configuration.md, "What comes back").
        depay.set_property("request-keyframe", true);
        depay.set_property("wait-for-keyframe", true);
    }
    let sink = make("fakesink", &name("sink"), role)?;
    // Played in real time, as a screen and a loudspeaker would.
    sink.set_property("sync", true);
    sink.set_property("async", false);
    let chain = [&depay, &decoder_element, &sink];
    pipeline.add_many(chain).map_err(|e| {
        PipelineError::StateChange(format!("cannot add the {kind} return chain: {e}"))
    })?;
    gst::Element::link_many(chain).map_err(|e| {
        PipelineError::StateChange(format!("cannot link the {kind} return chain: {e}"))
    })?;
    for element in chain {
        element.sync_state_with_parent().map_err(|e| {
            PipelineError::StateChange(format!("{}: cannot start: {e}", element.name()))
        })?;
    }
    let sink_pad = depay
        .static_pad("sink")
        .ok_or_else(|| PipelineError::StateChange(format!("{} has no sink pad", depay.name())))?;
    pad.link(&sink_pad).map_err(|e| {
        PipelineError::StateChange(format!(
            "cannot link {} to {}: {e:?}",
            pad.name(),
            depay.name()
        ))
    })?;
    Ok(decoder)
}
