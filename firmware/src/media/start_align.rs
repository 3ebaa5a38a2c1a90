//! Starts the audio at the instant of the video's first frame, so a receiver
//! that re-times the streams from RTCP sender reports sees neither one jump.
//!
//! A receiver such as ffmpeg's RTP demuxer (what the hub records with) times
//! each stream from that stream's own first packet until the stream's first
//! sender report arrives, and from then on from the report's wall-clock
//! time, counted from the first packet of whichever stream reported first.
//! The stream that reports second therefore jumps by the difference between
//! the capture times of the two streams' first packets. The encoder queue
//! drops frames while the video encoder starts up, so the first video frame
//! sent is tens of milliseconds younger than the first audio sample; the
//! jump then gives the recording repeated timestamps (audio jumping back) or
//! video frames off their frame grid (video jumping back by a fraction of a
//! frame), and checks of the recording fail.
//!
//! [`StartAlign::attach`] holds the raw audio at the Opus encoder's input
//! until the first video frame has reached the video payloader, drops the
//! audio captured before that frame and cuts the buffer that straddles it
//! to the sample, so the first Opus packet starts where the first video frame
//! does and there is nothing to jump. A queue in front of the encoder (built
//! by [`super::pipeline`]) keeps the microphone capturing while audio waits.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

/// How long audio waits for the first video frame before it flows anyway.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// The raw audio the encoder takes: S16LE, mono, 48 kHz (the pipeline's
/// audio caps fix these).
pub const SAMPLE_RATE: u64 = 48_000;
const BYTES_PER_SAMPLE: usize = 2;

/// How often a waiting audio thread looks whether the pipeline is stopping.
const WAIT_SLICE: Duration = Duration::from_millis(10);

/// What to do with a raw audio buffer, given the first video frame's
/// running time (`None`: not seen yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AudioAction {
    /// Wait for the first video frame.
    Wait,
    /// Captured wholly before the first video frame.
    Drop,
    /// Straddles the first video frame: cut this many samples off its start.
    Trim(usize),
    /// Starts at or after the first video frame: send it; alignment is done.
    Start,
}

/// `start` and `duration` are the buffer's running time and length.
fn audio_action(
    video_first: Option<gst::ClockTime>,
    start: Option<gst::ClockTime>,
    duration: Option<gst::ClockTime>,
) -> AudioAction {
    let Some(video) = video_first else {
        return AudioAction::Wait;
    };
    let Some(start) = start else {
        // No time to compare: send it as it is.
        return AudioAction::Start;
    };
    if start >= video {
        return AudioAction::Start;
    }
    let end = start + duration.unwrap_or(gst::ClockTime::ZERO);
    if end <= video {
        return AudioAction::Drop;
    }
    let skip = (video - start).nseconds();
    let samples = (skip * SAMPLE_RATE + 500_000_000) / 1_000_000_000;
    AudioAction::Trim(samples as usize)
}

/// The running time (the clock time since the pipeline started playing, the
/// one time both branches share) of the buffer in `info`. Raw timestamps are
/// not comparable across branches: a video encoder may offset its output
/// timestamps and segment by a constant (x264enc adds 1000 hours).
fn running_time(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<gst::ClockTime> {
    let pts = buffer.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(pts)
}

/// The buffer without its first `samples` samples, its timestamps moved on
/// to match; `None` if nothing is left.
fn trimmed(buffer: &gst::BufferRef, samples: usize) -> Option<gst::Buffer> {
    let bytes = samples * BYTES_PER_SAMPLE;
    if bytes >= buffer.size() {
        return None;
    }
    let mut rest = buffer
        .copy_region(gst::BufferCopyFlags::all(), bytes..)
        .ok()?;
    let cut = gst::ClockTime::from_nseconds(samples as u64 * 1_000_000_000 / SAMPLE_RATE);
    let out = rest.get_mut()?;
    out.set_pts(buffer.pts().map(|t| t + cut));
    out.set_duration(buffer.duration().map(|d| d.saturating_sub(cut)));
    // GST_BUFFER_OFFSET_NONE is u64::MAX.
    if buffer.offset() != u64::MAX {
        out.set_offset(buffer.offset() + samples as u64);
    }
    Some(rest)
}

use super::probe::discard as drop_buffer;

#[derive(Default)]
struct Shared {
    video_first: Mutex<Option<gst::ClockTime>>,
    seen: Condvar,
}

/// The probes that align the audio's start with the video's.
pub struct StartAlign;

impl StartAlign {
    /// Watches the video payloader's input for the first frame and gates
    /// the audio encoder's input on it.
    pub fn attach(video_pay: &gst::Element, audio_encoder: &gst::Element) {
        let shared = Arc::new(Shared::default());
        if let Some(pad) = video_pay.static_pad("sink") {
            let shared = shared.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let Some(at) = info.buffer().and_then(|b| running_time(pad, b)) else {
                    return gst::PadProbeReturn::Ok;
                };
                *shared.video_first.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
                shared.seen.notify_all();
                gst::PadProbeReturn::Remove
            });
        }
        let Some(pad) = audio_encoder.static_pad("sink") else {
            return;
        };
        let dropped = AtomicU32::new(0);
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buffer) = info.buffer() else {
                return gst::PadProbeReturn::Ok;
            };
            let (start, duration) = (running_time(pad, buffer), buffer.duration());
            let deadline = Instant::now() + MAX_WAIT;
            let mut video_first = shared.video_first.lock().unwrap_or_else(|e| e.into_inner());
            let action = loop {
                let action = audio_action(*video_first, start, duration);
                if action != AudioAction::Wait {
                    break action;
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
            };
            let video = *video_first;
            drop(video_first);
            match action {
                AudioAction::Drop => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    drop_buffer(info)
                }
                AudioAction::Trim(samples) => match info.buffer().and_then(|b| trimmed(b, samples))
                {
                    Some(rest) => {
                        tracing::info!(
                            video_first_ms = video.map(|t| t.mseconds()),
                            audio_buffers_dropped = dropped.load(Ordering::Relaxed),
                            samples_cut = samples,
                            "audio starts with the first video frame"
                        );
                        info.data = Some(gst::PadProbeData::Buffer(rest));
                        gst::PadProbeReturn::Remove
                    }
                    None => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        drop_buffer(info)
                    }
                },
                AudioAction::Start | AudioAction::Wait => {
                    tracing::info!(
                        video_first_ms = video.map(|t| t.mseconds()),
                        audio_first_ms = start.map(|t| t.mseconds()),
                        audio_buffers_dropped = dropped.load(Ordering::Relaxed),
                        "audio starts after the first video frame"
                    );
                    gst::PadProbeReturn::Remove
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<gst::ClockTime> {
        Some(gst::ClockTime::from_mseconds(n))
    }

    #[test]
    fn audio_waits_for_video_then_starts_on_its_first_frame() {
        let twenty = ms(20);
        assert_eq!(audio_action(None, ms(0), twenty), AudioAction::Wait);
        // Wholly before the first frame (ends exactly on it, too).
        assert_eq!(audio_action(ms(66), ms(20), twenty), AudioAction::Drop);
        assert_eq!(audio_action(ms(66), ms(46), twenty), AudioAction::Drop);
        // Straddles it: cut 16 ms = 768 samples.
        assert_eq!(audio_action(ms(66), ms(50), twenty), AudioAction::Trim(768));
        // One sample is 20.83 µs: 10 µs rounds down, 11 µs up.
        let start = Some(gst::ClockTime::from_mseconds(50));
        let video =
            |us: u64| Some(gst::ClockTime::from_mseconds(50) + gst::ClockTime::from_useconds(us));
        assert_eq!(audio_action(video(10), start, twenty), AudioAction::Trim(0));
        assert_eq!(audio_action(video(11), start, twenty), AudioAction::Trim(1));
        assert_eq!(audio_action(ms(66), ms(66), twenty), AudioAction::Start);
        assert_eq!(audio_action(ms(66), ms(80), twenty), AudioAction::Start);
        // Audio without a time cannot be compared: it is sent.
        assert_eq!(audio_action(ms(66), None, twenty), AudioAction::Start);
    }

    #[test]
    fn a_trimmed_buffer_keeps_the_rest_with_moved_timestamps() {
        gst::init().unwrap();
        let samples: Vec<u8> = (0..960u32).flat_map(|i| (i as i16).to_le_bytes()).collect();
        let mut buffer = gst::Buffer::from_slice(samples);
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(100));
            b.set_duration(gst::ClockTime::from_mseconds(20));
            b.set_offset(4800);
        }
        let rest = trimmed(&buffer, 480).unwrap();
        assert_eq!(rest.size(), 480 * 2);
        assert_eq!(rest.pts(), Some(gst::ClockTime::from_mseconds(110)));
        assert_eq!(rest.duration(), Some(gst::ClockTime::from_mseconds(10)));
        assert_eq!(rest.offset(), 5280);
        let map = rest.map_readable().unwrap();
        assert_eq!(
            i16::from_le_bytes([map[0], map[1]]),
            480,
            "first sample kept is #480"
        );
        assert!(trimmed(&buffer, 960).is_none());
    }
}
