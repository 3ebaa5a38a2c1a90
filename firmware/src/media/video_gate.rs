//! The video's gate: what the circuit breaker closes when the path to the
//! hub cannot carry video (the core decides, [`bridgepoint_core::circuit_breaker`]).
//!
//! A pad probe on the payloader's sink pad drops the encoded video while
//! the gate is shut; the audio, the RTCP and the rest of the pipeline run
//! on. When it opens again, the frames before the next keyframe are
//! dropped too (they refer to pictures the hub never got), and the daemon
//! asks the encoder for that keyframe at once. The payloader never sees the
//! dropped frames, so the RTP sequence numbers go on without a gap: the
//! hub's jitter buffer sees a pause, not a loss.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;

/// The gate of one pipeline's video.
#[derive(Debug, Default)]
pub struct VideoGate {
    shut: AtomicBool,
    /// Open again, waiting for a keyframe before letting frames through.
    awaiting_keyframe: AtomicBool,
    /// Encoded frames dropped while shut or waiting.
    dropped: AtomicU64,
}

impl VideoGate {
    /// Shuts (`true`) or opens the gate.
    pub fn set_shut(&self, shut: bool) {
        let was = self.shut.swap(shut, Ordering::SeqCst);
        if was && !shut {
            self.awaiting_keyframe.store(true, Ordering::SeqCst);
        }
    }

    /// Whether the gate is shut.
    pub fn is_shut(&self) -> bool {
        self.shut.load(Ordering::SeqCst)
    }

    /// Encoded frames dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether a frame passes: nothing while shut; after opening, nothing
    /// until a keyframe (a buffer without the delta-unit flag).
    pub fn passes(&self, delta_unit: bool) -> bool {
        if self.is_shut() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if self.awaiting_keyframe.load(Ordering::SeqCst) {
            if delta_unit {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            self.awaiting_keyframe.store(false, Ordering::SeqCst);
        }
        true
    }

    /// Puts the gate on `element`'s sink pad (the video payloader).
    /// Returns false if it has no such pad.
    pub fn attach(self: &Arc<Self>, element: &gst::Element) -> bool {
        let Some(pad) = element.static_pad("sink") else {
            return false;
        };
        let gate = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let delta = match &info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    buffer.flags().contains(gst::BufferFlags::DELTA_UNIT)
                }
                _ => return gst::PadProbeReturn::Ok,
            };
            if gate.passes(delta) {
                gst::PadProbeReturn::Ok
            } else {
                super::probe::discard(info)
            }
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shut_drops_everything_and_open_waits_for_a_keyframe() {
        let gate = VideoGate::default();
        assert!(gate.passes(true) && gate.passes(false));
        gate.set_shut(true);
        assert!(!gate.passes(false), "even a keyframe while shut");
        assert!(!gate.passes(true));
        gate.set_shut(false);
        assert!(
            !gate.passes(true),
            "a delta frame after opening refers to lost ones"
        );
        assert!(gate.passes(false), "the keyframe");
        assert!(gate.passes(true), "and what follows it");
        assert_eq!(gate.dropped(), 3);
    }

    #[test]
    fn opening_a_gate_that_was_never_shut_waits_for_nothing() {
        let gate = VideoGate::default();
        gate.set_shut(false);
        assert!(gate.passes(true));
    }

    #[test]
    fn the_probe_drops_buffers_on_a_real_pad() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(
            "videotestsrc num-buffers=60 ! video/x-raw,width=64,height=48,framerate=30/1 \
             ! x264enc key-int-max=30 tune=zerolatency ! h264parse name=pay \
             ! fakesink name=sink signal-handoffs=true",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let gate = Arc::new(VideoGate::default());
        gate.set_shut(true);
        let pay = pipeline.by_name("pay").unwrap();
        assert!(gate.attach(&pay));
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        pipeline
            .by_name("sink")
            .unwrap()
            .connect("handoff", false, move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
                None
            });
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(30),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .expect("the test pipeline ends");
        assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(
            seen.load(Ordering::Relaxed),
            0,
            "nothing passes a shut gate"
        );
        assert_eq!(gate.dropped(), 60);
    }
}
