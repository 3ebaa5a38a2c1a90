//! What pad probes share: telling the event they look for, and
//! discarding what they hold.
//!
//! A probe that returns `PadProbeReturn::Drop` with the buffer or event
//! still in its `PadProbeInfo` leaves GStreamer (1.22, with gstreamer-rs
//! 0.25) to unref an object the binding already released: a
//! `gst_mini_object_unref: assertion 'mini_object != NULL' failed`
//! critical for every buffer the circuit breaker held back, and for every
//! transport-wide feedback event. Taking the data out and answering
//! `Handled` tells GStreamer the probe consumed it, which it did.

use gstreamer as gst;

/// Whether `info` holds an event whose structure is named `name` (a
/// custom event such as `GstForceKeyUnit`).
pub fn is_event_named(info: &gst::PadProbeInfo<'_>, name: &str) -> bool {
    match &info.data {
        Some(gst::PadProbeData::Event(event)) => {
            event.structure().is_some_and(|s| s.name() == name)
        }
        _ => false,
    }
}

/// Drops the buffer, buffer list or event in `info`: the probe takes it
/// and tells GStreamer it was handled.
pub fn discard(info: &mut gst::PadProbeInfo<'_>) -> gst::PadProbeReturn {
    info.data.take();
    gst::PadProbeReturn::Handled
}
