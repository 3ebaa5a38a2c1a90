//! The hub's media coming back to the box: decrypted, de-jittered, decoded
//! and played.
//!
//! ```text
//! video-rtp-source (the box's own port; video-rtp-sink sends from it)
//!   → video-srtp-dec (srtp.receive_key) → rtpbin recv session 0 (jitter buffer)
//!   → per sender: video-return-depayloader → video-return-decoder
//!     → video-return-display (intervideosink: to the screen, `super::screen`)
//! audio-rtp-source → audio-srtp-dec → rtpbin recv session 1
//!   → per sender: audio-return-depayloader → audio-return-decoder (Opus, loss
//!     concealed) → convert/resample → speaker-input
//! speaker-input (funnel) → speaker-echo-probe → speaker-sink
//! ```
//!
//! rtpbin adds a source pad per sender (SSRC) when its first packet
//! arrives; [`attach`] builds that sender's chain then. A hub that sends
//! nothing back leaves the box sending as before. Without
//! `srtp.receive_key` nothing is decrypted: what arrives on the box's ports
//! is dropped (`video-rtp-discard`).
//!
//! The picture goes to the screen's pipeline, which owns the display; the
//! speaker is `alsasink` or a fake sink (`bridgepoint_core::playback`
//! chooses); fake sinks play in real time. The echo probe sees exactly what goes to the speaker, for the
//! microphone's canceller (`webrtcdsp`). [`super::stats::ReturnStats`]
//! counts what the decoders produced.

use gstreamer as gst;
use gstreamer::prelude::*;

use bridgepoint_core::playback::SpeakerChoice;

use super::pipeline::make;
use super::plan::PlaybackPlan;
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
    let caps = gst::Caps::builder("application/x-srtp")
        .field("media", media)
        .field("clock-rate", clock_rate)
        .field("encoding-name", encoding)
        .field("payload", i32::from(pt));
    if kind == "video" {
        // rtpbin sends a Picture Loss Indication for a keyframe request
        // (the depayloader's, after a loss) only when the payload type's
        // caps allow that feedback (gstrtpsession.c,
        // gst_rtp_session_request_remote_key_unit), as an SDP's
        // `a=rtcp-fb:96 nack pli` would.
        caps.field("rtcp-fb-nack-pli", true).build()
    } else {
        caps.build()
    }
}

/// Where every sender's audio joins the speaker chain.
pub const SPEAKER_INPUT: &str = "speaker-input";
/// The echo probe right before the speaker: what the canceller removes
/// from the microphone (`webrtcdsp`'s `probe`).
pub const ECHO_PROBE: &str = "speaker-echo-probe";

/// Builds the speaker chain: each sender's audio (48 kHz mono S16LE, as
/// the microphone's canceller) through a funnel and the echo probe to the
/// plan's speaker (an ALSA device) or into a fake sink, played
/// `picture_delay` late (the screen's latency, for lip sync). It waits,
/// unlinked upstream, until the hub's audio arrives; the canceller skips
/// while the probe has nothing. A funnel, not a mixer: a mixer runs on its
/// own clock and drops a sender that joins later than its latency (under
/// load, most of it), where the sink plays what comes.
///
/// The probe tells the canceller when each sample is heard: the time its
/// sink plays it ([`echo_probe_offset`]). Its sink pad runs that much later
/// and its source pad as much earlier again, so the speaker plays as
/// before.
pub fn build_speaker(pipeline: &gst::Pipeline, plan: &PlaybackPlan) -> Result<(), PipelineError> {
    let role = "the room's speaker";
    let input = make("funnel", SPEAKER_INPUT, role)?;
    let probe = make("webrtcechoprobe", ECHO_PROBE, role)?;
    let sink = match &plan.speaker {
        SpeakerChoice::Alsa { device, .. } => {
            let sink = make("alsasink", "speaker-sink", role)?;
            sink.set_property("device", device);
            sink
        }
        SpeakerChoice::Fake { .. } => make("fakesink", "speaker-sink", role)?,
    };
    // Played in real time, never holding the pipeline's start.
    sink.set_property("sync", true);
    sink.set_property("async", false);
    // The screen shows a picture its own latency after the display's sink
    // hands it over: the sound waits as long (lip sync in the room).
    sink.set_property("ts-offset", nanos(plan.picture_delay));
    let offset = echo_probe_offset(plan);
    if !offset.is_zero() {
        for (pad, sign) in [("sink", 1), ("src", -1)] {
            if let Some(pad) = probe.static_pad(pad) {
                pad.set_offset(sign * nanos(offset));
            }
        }
        tracing::info!(
            delay_ms = offset.as_millis() as u64,
            "echo canceller: the speaker is heard this much later than its pipeline plays it"
        );
    }
    let chain = [&input, &probe, &sink];
    pipeline
        .add_many(chain)
        .map_err(|e| PipelineError::StateChange(format!("cannot add the speaker chain: {e}")))?;
    gst::Element::link_many(chain)
        .map_err(|e| PipelineError::StateChange(format!("cannot link the speaker chain: {e}")))?;
    Ok(())
}

/// How much later than the pipeline's own timing the microphone hears
/// what the speaker chain plays: the screen's delay the sink waits
/// (`picture_delay`) and what the box cannot see (`[audio] echo_delay_ms`).
/// webrtc-audio-processing's canceller (0.3) only finds an echo up to
/// about 50 ms after the time it is told.
fn echo_probe_offset(plan: &PlaybackPlan) -> std::time::Duration {
    plan.picture_delay + plan.echo_delay
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// What the speaker chain carries.
fn speaker_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("rate", 48_000i32)
        .field("channels", 1i32)
        .field("layout", "interleaved")
        .build()
}

/// Builds a sender's playback chain whenever rtpbin adds a receive pad;
/// the picture goes to the screen ([`super::screen`]). A chain that cannot
/// be built is logged; the box keeps sending.
pub fn attach(rtpbin: &gst::Element) {
    rtpbin.connect_pad_added(move |rtpbin, pad| {
        let name = pad.name();
        let Some(rest) = name.strip_prefix("recv_rtp_src_") else {
            return;
        };
        let mut parts = rest.split('_');
        let (Some(session), Some(ssrc)) = (parts.next(), parts.next()) else {
            return;
        };
        let played = match session {
            "0" => play_video(rtpbin, pad, ssrc).map(|d| ("video", d)),
            "1" => play_audio(rtpbin, pad, ssrc).map(|d| ("audio", d)),
            _ => return,
        };
        match played {
            Ok((kind, decoder)) => {
                tracing::info!(
                    kind,
                    ssrc,
                    decoder,
                    "the hub's return stream arrived: playing it"
                )
            }
            Err(error) => {
                tracing::warn!(ssrc, %error, "the hub's return stream cannot be played")
            }
        }
    });
}

fn pipeline_of(rtpbin: &gst::Element) -> Result<gst::Bin, PipelineError> {
    rtpbin
        .parent()
        .and_then(|p| p.downcast::<gst::Bin>().ok())
        .ok_or_else(|| PipelineError::StateChange("rtpbin is not in a pipeline".into()))
}

fn play_video(
    rtpbin: &gst::Element,
    pad: &gst::Pad,
    ssrc: &str,
) -> Result<&'static str, PipelineError> {
    let pipeline = pipeline_of(rtpbin)?;
    let role = "the hub's return video";
    let name = |what: &str| format!("video-return-{what}-{ssrc}");
    let depay = make("rtph264depay", &name("depayloader"), role)?;
    // After a loss, no broken picture: the depayloader waits for the next
    // keyframe and asks for one upstream; rtpbin (SAVPF profile with a
    // receive key) sends the hub an RTCP Picture Loss Indication.
    depay.set_property("request-keyframe", true);
    depay.set_property("wait-for-keyframe", true);
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
    // Handed to the screen in real time; the screen shows the latest.
    let sink = make("intervideosink", &name("display"), role)?;
    sink.set_property("channel", super::screen::CENTRAL_CHANNEL);
    sink.set_property("sync", true);
    sink.set_property("async", false);
    add_and_link(&pipeline, pad, &[&depay, &decoder, &sink], None)?;
    Ok(factory)
}

fn play_audio(
    rtpbin: &gst::Element,
    pad: &gst::Pad,
    ssrc: &str,
) -> Result<&'static str, PipelineError> {
    let pipeline = pipeline_of(rtpbin)?;
    let role = "the hub's return audio";
    let name = |what: &str| format!("audio-return-{what}-{ssrc}");
    let depay = make("rtpopusdepay", &name("depayloader"), role)?;
    let decoder = make("opusdec", &name("decoder"), role)?;
    // Lost packets (the jitter buffer's do-lost events) are concealed.
    decoder.set_property("plc", true);
    let convert = make("audioconvert", &name("convert"), role)?;
    let resample = make("audioresample", &name("resample"), role)?;
    let caps = make("capsfilter", &name("caps"), role)?;
    caps.set_property("caps", speaker_caps());
    let input = pipeline
        .by_name(SPEAKER_INPUT)
        .ok_or_else(|| PipelineError::StateChange("no speaker chain to play on".into()))?;
    add_and_link(
        &pipeline,
        pad,
        &[&depay, &decoder, &convert, &resample, &caps],
        Some(&input),
    )?;
    Ok("opusdec")
}

/// Adds `chain` to `pipeline`, links it from `pad` (and into a new sink pad
/// of `into`, if given) and starts it.
fn add_and_link(
    pipeline: &gst::Bin,
    pad: &gst::Pad,
    chain: &[&gst::Element],
    into: Option<&gst::Element>,
) -> Result<(), PipelineError> {
    let fail = |what: String| PipelineError::StateChange(what);
    pipeline
        .add_many(chain.iter().copied())
        .map_err(|e| fail(format!("cannot add {}: {e}", chain[0].name())))?;
    gst::Element::link_many(chain.iter().copied())
        .map_err(|e| fail(format!("cannot link the chain of {}: {e}", chain[0].name())))?;
    if let (Some(into), Some(last)) = (into, chain.last()) {
        last.link(into).map_err(|e| {
            fail(format!(
                "cannot link {} to {}: {e}",
                last.name(),
                into.name()
            ))
        })?;
    }
    for element in chain {
        element
            .sync_state_with_parent()
            .map_err(|e| fail(format!("{}: cannot start: {e}", element.name())))?;
    }
    let sink_pad = chain[0]
        .static_pad("sink")
        .ok_or_else(|| fail(format!("{} has no sink pad", chain[0].name())))?;
    pad.link(&sink_pad).map_err(|e| {
        fail(format!(
            "cannot link {} to {}: {e:?}",
            pad.name(),
            chain[0].name()
        ))
    })?;
    // The sinks' latency was measured before this chain existed: measure
    // again, now through the jitter buffer and this decoder.
    let _ = chain[0].post_message(gst::message::Latency::builder().src(chain[0]).build());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speaker_waits_the_screens_latency_and_the_probe_is_told_when_the_room_hears_it() {
        gst::init().unwrap();
        for (picture_ms, echo_ms) in [(0u64, 0u64), (104, 0), (0, 60), (104, 60)] {
            let pipeline = gst::Pipeline::new();
            let plan = PlaybackPlan {
                speaker: SpeakerChoice::Fake { why: "test".into() },
                picture_delay: std::time::Duration::from_millis(picture_ms),
                echo_delay: std::time::Duration::from_millis(echo_ms),
            };
            build_speaker(&pipeline, &plan).unwrap();
            let sink = pipeline.by_name("speaker-sink").unwrap();
            let ms = |n: u64| i64::try_from(n * 1_000_000).unwrap();
            assert_eq!(sink.property::<i64>("ts-offset"), ms(picture_ms));
            let probe = pipeline.by_name(ECHO_PROBE).unwrap();
            let heard = ms(picture_ms + echo_ms);
            assert_eq!(probe.static_pad("sink").unwrap().offset(), heard);
            assert_eq!(probe.static_pad("src").unwrap().offset(), -heard);
        }
    }
}
