//! Packet and byte counters on the UDP senders, and what the return path
//! played, kept with pad probes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// What the hub sent back and the box played, since the pipeline started
/// (each session start starts one), and the box's own ports.
#[derive(Debug, Default)]
pub struct ReturnStats {
    /// Video frames decoded (and shown).
    video_frames: AtomicU64,
    /// Audio decoded (and played), in nanoseconds.
    audio_ns: AtomicU64,
    /// The box's video and audio RTP ports of the running pipeline.
    ports: Mutex<Option<(u16, u16)>>,
    /// rtpbin's jitter buffers (one per sender): they count lost packets.
    jitterbuffers: Mutex<Vec<gst::glib::WeakRef<gst::Element>>>,
}

/// A snapshot of [`ReturnStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReturnSnapshot {
    /// Decoded video frames played.
    pub video_frames: u64,
    /// Decoded audio played, in milliseconds.
    pub audio_ms: u64,
    /// RTP packets the jitter buffers gave up waiting for.
    pub lost_packets: u64,
    /// The box's video and audio RTP ports (RTCP on the next ports).
    pub ports: Option<(u16, u16)>,
}

impl ReturnStats {
    /// Starts counting `pipeline`'s return path from zero: its decoders
    /// and jitter buffers as they are created.
    pub fn watch(self: &Arc<Self>, pipeline: &gst::Pipeline, ports: Option<(u16, u16)>) {
        self.video_frames.store(0, Ordering::Relaxed);
        self.audio_ns.store(0, Ordering::Relaxed);
        *lock(&self.ports) = ports;
        lock(&self.jitterbuffers).clear();
        let stats = Arc::downgrade(self);
        pipeline.connect_deep_element_added(move |_, _, element| {
            let Some(stats) = stats.upgrade() else { return };
            let factory = element.factory().map(|f| f.name().to_string());
            let name = element.name();
            if factory.as_deref() == Some("rtpjitterbuffer") {
                lock(&stats.jitterbuffers).push(element.downgrade());
            } else if name.starts_with("video-return-decoder") {
                stats.count_played(element, |s, _| {
                    s.video_frames.fetch_add(1, Ordering::Relaxed);
                });
            } else if name.starts_with("audio-return-decoder") {
                stats.count_played(element, |s, buffer| {
                    let ns = buffer.duration().map_or(0, gst::ClockTime::nseconds);
                    s.audio_ns.fetch_add(ns, Ordering::Relaxed);
                });
            }
        });
    }

    fn count_played(
        self: &Arc<Self>,
        decoder: &gst::Element,
        count: impl Fn(&ReturnStats, &gst::BufferRef) + Send + Sync + 'static,
    ) {
        let Some(pad) = decoder.static_pad("src") else {
            return;
        };
        let stats = Arc::downgrade(self);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let (Some(stats), Some(gst::PadProbeData::Buffer(buffer))) =
                (stats.upgrade(), &info.data)
            {
                count(&stats, buffer);
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// Reads every counter (the jitter buffers' lost packets, summed).
    pub fn snapshot(&self) -> ReturnSnapshot {
        let lost_packets = lock(&self.jitterbuffers)
            .iter()
            .filter_map(gst::glib::WeakRef::upgrade)
            .filter_map(|jb| {
                jb.property::<gst::Structure>("stats")
                    .get::<u64>("num-lost")
                    .ok()
            })
            .sum();
        ReturnSnapshot {
            video_frames: self.video_frames.load(Ordering::Relaxed),
            audio_ms: self.audio_ns.load(Ordering::Relaxed) / 1_000_000,
            lost_packets,
            ports: *lock(&self.ports),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
