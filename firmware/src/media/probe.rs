//! Discarding what a pad probe holds.
//!
//! A probe that returns `PadProbeReturn::Drop` with the buffer or event
//! still in its `PadProbeInfo` leaves GStreamer (1.22, with gstreamer-rs
//! 0.25) to unref an object the binding already released: a
//! `gst_mini_object_unref: assertion 'mini_object != NULL' failed`
//! critical for every buffer the circuit breaker held back, and for every
//! transport-wide feedback event. Taking the data out and answering
//! `Handled` tells GStreamer the probe consumed it, which it did.

use gstreamer as gst;

/// Drops the buffer, buffer list or event in `info`: the probe takes it
/// and tells GStreamer it was handled.
pub fn discard(info: &mut gst::PadProbeInfo<'_>) -> gst::PadProbeReturn {
    info.data.take();
    gst::PadProbeReturn::Handled
}
