//! Starts the audio at the video's first frame, so a receiver that re-times
//! the streams from RTCP sender reports never sees either one jump back.
//!
//! A receiver such as ffmpeg's RTP demuxer (what the hub records with) times
//! each stream from that stream's own first packet until the stream's first
//! sender report arrives, and from then on from the report's wall-clock
//! time, counted from the first packet of whichever stream reported first.
//! The stream that reports second therefore jumps by the difference between
//! the capture times of the two streams' first packets. The encoder queue
//! drops frames while the video encoder starts up, so the first video frame
//! sent can be tens of milliseconds younger than the first audio; when the
//! audio then reports second it jumps back by that much, and the recording
//! gets repeated or decreasing timestamps.
//!
//! [`StartAlign::attach`] holds the audio at its payloader until the first
//! video frame has reached the video payloader, then drops the audio packets
//! captured before that frame. Audio then starts at most one Opus frame after
//! the video: a forward shift for the audio, and for the video a shift back
//! smaller than one frame interval (the Opus frame size is chosen for that in
//! [`opus_frame_ms`]), so neither stream's timestamps ever go backwards.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

/// How long audio waits for the first video frame before it flows anyway.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// How often a waiting audio thread looks whether the pipeline is stopping.
const WAIT_SLICE: Duration = Duration::from_millis(10);

/// The Opus frame duration for a video frame rate: short enough that the
/// audio's start (rounded up to a whole Opus frame) stays within one video
/// frame interval with room to spare (20 ms up to 30 fps, 10 ms above).
pub fn opus_frame_ms(fps: u32) -> u32 {
    if fps <= 30 {
        20
    } else {
        10
    }
}

/// What the audio does with a packet of running time `audio_at`, given the
/// first video frame's running time (`None`: not seen yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AudioVerdict {
    /// Wait for the first video frame.
    Wait,
    /// Captured before the first video frame: drop it.
    Drop,
    /// The first packet to send; the alignment is done.
    Start,
}

fn audio_verdict(
    video_first: Option<gst::ClockTime>,
    audio_at: Option<gst::ClockTime>,
) -> AudioVerdict {
    match (video_first, audio_at) {
        (None, _) => AudioVerdict::Wait,
        (Some(video), Some(audio)) if audio < video => AudioVerdict::Drop,
        _ => AudioVerdict::Start,
    }
}

/// The running time (the clock time since the pipeline started playing, the
/// one time both branches share) of the buffer in `info`. Raw timestamps are
/// not comparable across branches: a video encoder may offset its output
/// timestamps and segment by a constant (x264enc adds 1000 hours).
fn running_time(pad: &gst::Pad, info: &gst::PadProbeInfo<'_>) -> Option<gst::ClockTime> {
    let Some(gst::PadProbeData::Buffer(buffer)) = &info.data else {
        return None;
    };
    let pts = buffer.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(pts)
}

/// Drops the buffer in `info`: the probe takes it and tells GStreamer it
/// was handled (returning `Drop` with the data still in `info` makes
/// gstreamer-rs release it twice).
fn drop_buffer(info: &mut gst::PadProbeInfo<'_>) -> gst::PadProbeReturn {
    info.data.take();
    gst::PadProbeReturn::Handled
}

#[derive(Default)]
struct Shared {
    video_first: Mutex<Option<gst::ClockTime>>,
    seen: Condvar,
}

/// The probes that align the audio's start with the video's.
pub struct StartAlign;

impl StartAlign {
    /// Attaches the probes to the two payloaders' sink pads.
    pub fn attach(video_pay: &gst::Element, audio_pay: &gst::Element) {
        let shared = Arc::new(Shared::default());
        if let Some(pad) = video_pay.static_pad("sink") {
            let shared = shared.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let Some(at) = running_time(pad, info) else {
                    return gst::PadProbeReturn::Ok;
                };
                *shared.video_first.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
                shared.seen.notify_all();
                gst::PadProbeReturn::Remove
            });
        }
        if let Some(pad) = audio_pay.static_pad("sink") {
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let audio_at = running_time(pad, info);
                let deadline = Instant::now() + MAX_WAIT;
                let mut video_first = shared.video_first.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    match audio_verdict(*video_first, audio_at) {
                        AudioVerdict::Start => {
                            tracing::info!(
                                video_first = ?*video_first,
                                audio_first = ?audio_at,
                                "audio starts at the first video frame"
                            );
                            return gst::PadProbeReturn::Remove;
                        }
                        AudioVerdict::Drop => return drop_buffer(info),
                        AudioVerdict::Wait => {}
                    }
                    if pad.pad_flags().contains(gst::PadFlags::FLUSHING) {
                        return drop_buffer(info);
                    }
                    if Instant::now() >= deadline {
                        tracing::warn!(
                            "no video frame within {} s of the first audio; audio starts unaligned",
                            MAX_WAIT.as_secs()
                        );
                        return gst::PadProbeReturn::Remove;
                    }
                    video_first = shared
                        .seen
                        .wait_timeout(video_first, WAIT_SLICE)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<gst::ClockTime> {
        Some(gst::ClockTime::from_mseconds(n))
    }

    #[test]
    fn audio_waits_for_video_then_drops_what_came_before_it() {
        assert_eq!(audio_verdict(None, ms(0)), AudioVerdict::Wait);
        assert_eq!(audio_verdict(ms(66), ms(40)), AudioVerdict::Drop);
        assert_eq!(audio_verdict(ms(66), ms(60)), AudioVerdict::Drop);
        assert_eq!(audio_verdict(ms(66), ms(66)), AudioVerdict::Start);
        assert_eq!(audio_verdict(ms(66), ms(80)), AudioVerdict::Start);
        // Audio without a time cannot be compared: it is sent.
        assert_eq!(audio_verdict(ms(66), None), AudioVerdict::Start);
    }

    #[test]
    fn the_opus_frame_is_shorter_than_a_video_frame_interval() {
        for fps in 1..=60 {
            let frame_interval_ms = 1000.0 / f64::from(fps);
            let opus = f64::from(opus_frame_ms(fps));
            assert!(
                opus <= 0.61 * frame_interval_ms,
                "{fps} fps: {opus} ms Opus frames against {frame_interval_ms:.1} ms video frames"
            );
        }
    }
}
