//! Packet and byte counters on the UDP senders, kept with pad probes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;

/// Counters of what left the box. Cumulative over pipeline restarts.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Video RTP packets sent.
    pub video_packets: AtomicU64,
    /// Video RTP bytes sent (after SRTP).
    pub video_bytes: AtomicU64,
    /// Audio RTP packets sent.
    pub audio_packets: AtomicU64,
    /// Audio RTP bytes sent (after SRTP).
    pub audio_bytes: AtomicU64,
}

/// A snapshot of [`StreamStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Video RTP packets sent.
    pub video_packets: u64,
    /// Video RTP bytes sent.
    pub video_bytes: u64,
    /// Audio RTP packets sent.
    pub audio_packets: u64,
    /// Audio RTP bytes sent.
    pub audio_bytes: u64,
}

impl StreamStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            video_packets: self.video_packets.load(Ordering::Relaxed),
            video_bytes: self.video_bytes.load(Ordering::Relaxed),
            audio_packets: self.audio_packets.load(Ordering::Relaxed),
            audio_bytes: self.audio_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Packets and bytes in a probe's data (a buffer or a buffer list).
pub fn count_probe_data(info: &gst::PadProbeInfo<'_>) -> (u64, u64) {
    match &info.data {
        Some(gst::PadProbeData::Buffer(buffer)) => (1, buffer.size() as u64),
        Some(gst::PadProbeData::BufferList(list)) => (
            list.len() as u64,
            list.iter().map(|b| b.size() as u64).sum(),
        ),
        _ => (0, 0),
    }
}

/// Counts everything entering `sink`'s sink pad into the two counters.
pub fn attach_counter(
    sink: &gst::Element,
    packets: impl Fn(&StreamStats) -> &AtomicU64 + Send + Sync + 'static,
    bytes: impl Fn(&StreamStats) -> &AtomicU64 + Send + Sync + 'static,
    stats: Arc<StreamStats>,
) {
    let Some(pad) = sink.static_pad("sink") else {
        return;
    };
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            let (n, size) = count_probe_data(info);
            packets(&stats).fetch_add(n, Ordering::Relaxed);
            bytes(&stats).fetch_add(size, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        },
    );
}
