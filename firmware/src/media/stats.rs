//! What the box's sockets really sent (the UDP senders' own per-client
//! counts), and what the return path played, kept with pad probes.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

/// Which stream a UDP sender carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentKind {
    /// The video RTP sender.
    Video,
    /// The audio RTP sender.
    Audio,
}

/// Counters of what left the box, cumulative over pipeline restarts.
///
/// [`StreamStats::snapshot`] is the UDP senders' own counts of what their
/// socket sent to the hub (`udpsink`'s `get-stats` for the hub's address):
/// a hub host that does not resolve has no client in the sender, and
/// nothing is counted while nothing leaves the box. The sender counts a
/// packet the kernel refused (no route: "Network is unreachable") as sent;
/// its warning comes synchronously, on the streaming thread, right after
/// the refused send, so [`StreamStats::note_refused`] takes the packets
/// last handed to that sender back out of the count.
/// [`StreamStats::handed_over`] counts the packets the pipeline handed to
/// the senders: the encoders' and the microphone's pace, which the
/// supervisor's stall watchdog follows (a path that refuses packets is not
/// a stalled encoder, and does not restart the pipeline).
#[derive(Debug, Default)]
pub struct StreamStats {
    /// What the pipelines stopped so far sent.
    retired: Mutex<StatsSnapshot>,
    /// The running pipeline's senders.
    live: Mutex<Vec<(SentKind, gst::Element)>>,
    /// Video packets handed to the sender.
    handed_video: AtomicU64,
    /// Audio packets handed to the sender.
    handed_audio: AtomicU64,
    /// What was last handed to each sender (video, audio): packets, bytes.
    last_handed: [(AtomicU64, AtomicU64); 2],
    /// What the network refused of it (video, audio): packets, bytes.
    refused: [(AtomicU64, AtomicU64); 2],
}

fn slot(kind: SentKind) -> usize {
    match kind {
        SentKind::Video => 0,
        SentKind::Audio => 1,
    }
}

/// A snapshot of [`StreamStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Video RTP packets sent.
    pub video_packets: u64,
    /// Video RTP bytes sent (after SRTP).
    pub video_bytes: u64,
    /// Audio RTP packets sent.
    pub audio_packets: u64,
    /// Audio RTP bytes sent (after SRTP).
    pub audio_bytes: u64,
}

impl StatsSnapshot {
    fn add(&mut self, kind: SentKind, packets: u64, bytes: u64) {
        match kind {
            SentKind::Video => {
                self.video_packets += packets;
                self.video_bytes += bytes;
            }
            SentKind::Audio => {
                self.audio_packets += packets;
                self.audio_bytes += bytes;
            }
        }
    }
}

impl StreamStats {
    /// Counts what `sink` (a `udpsink` sending to the hub) sends from now
    /// on, until [`StreamStats::retire`].
    pub fn watch_sink(self: &Arc<Self>, kind: SentKind, sink: &gst::Element) {
        lock(&self.live).push((kind, sink.clone()));
        let Some(pad) = sink.static_pad("sink") else {
            return;
        };
        let owner = Arc::downgrade(self);
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                if let Some(stats) = owner.upgrade() {
                    let (packets, bytes) = count_probe_data(info);
                    let handed = match kind {
                        SentKind::Video => &stats.handed_video,
                        SentKind::Audio => &stats.handed_audio,
                    };
                    handed.fetch_add(packets, Ordering::Relaxed);
                    let last = &stats.last_handed[slot(kind)];
                    last.0.store(packets, Ordering::Relaxed);
                    last.1.store(bytes, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    /// The network refused what was last handed to `kind`'s sender (its
    /// warning, on the same thread, right after the send): not sent.
    pub fn note_refused(&self, kind: SentKind) {
        let last = &self.last_handed[slot(kind)];
        let refused = &self.refused[slot(kind)];
        refused
            .0
            .fetch_add(last.0.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        refused
            .1
            .fetch_add(last.1.swap(0, Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Video and audio packets the pipelines handed to the senders.
    pub fn handed_over(&self) -> (u64, u64) {
        (
            self.handed_video.load(Ordering::Relaxed),
            self.handed_audio.load(Ordering::Relaxed),
        )
    }

    /// The running pipeline is stopping: what its senders sent stays in
    /// the totals, and they are no longer asked.
    pub fn retire(&self) {
        let live: Vec<_> = std::mem::take(&mut *lock(&self.live));
        let mut retired = lock(&self.retired);
        for (kind, sink) in &live {
            let (packets, bytes) = sent_by(sink);
            retired.add(*kind, packets, bytes);
        }
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut total = *lock(&self.retired);
        for (kind, sink) in lock(&self.live).iter() {
            let (packets, bytes) = sent_by(sink);
            total.add(*kind, packets, bytes);
        }
        let refused = |kind: SentKind| {
            let r = &self.refused[slot(kind)];
            (r.0.load(Ordering::Relaxed), r.1.load(Ordering::Relaxed))
        };
        let (vp, vb) = refused(SentKind::Video);
        let (ap, ab) = refused(SentKind::Audio);
        StatsSnapshot {
            video_packets: total.video_packets.saturating_sub(vp),
            video_bytes: total.video_bytes.saturating_sub(vb),
            audio_packets: total.audio_packets.saturating_sub(ap),
            audio_bytes: total.audio_bytes.saturating_sub(ab),
        }
    }
}

/// Counts the packets passing `pad` into `counter` of `owner` while it
/// lives.
fn count_packets<S: Send + Sync + 'static>(
    pad: &gst::Pad,
    owner: &Arc<S>,
    counter: impl Fn(&S) -> &AtomicU64 + Send + Sync + 'static,
) {
    let owner = Arc::downgrade(owner);
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            if let Some(owner) = owner.upgrade() {
                counter(&owner).fetch_add(count_probe_data(info).0, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Packets and bytes in a probe's data (a buffer or a buffer list).
fn count_probe_data(info: &gst::PadProbeInfo<'_>) -> (u64, u64) {
    match &info.data {
        Some(gst::PadProbeData::Buffer(buffer)) => (1, buffer.size() as u64),
        Some(gst::PadProbeData::BufferList(list)) => (
            list.len() as u64,
            list.iter().map(|b| b.size() as u64).sum(),
        ),
        _ => (0, 0),
    }
}

/// Packets and bytes `sink`'s socket sent to its one client (the hub's
/// `host`:`port`); (0, 0) while it has none (the host did not resolve).
fn sent_by(sink: &gst::Element) -> (u64, u64) {
    let host = sink.property::<Option<String>>("host").unwrap_or_default();
    let port = sink.property::<i32>("port");
    let stats = sink.emit_by_name::<gst::Structure>("get-stats", &[&host, &port]);
    let field = |name: &str| stats.get::<u64>(name).unwrap_or(0);
    (field("packets-sent"), field("bytes-sent"))
}

/// What the hub sent back and the box played, since the pipeline started
/// (each session start starts one), and the box's own ports.
///
/// Lip sync: rtpbin ties each sender's RTP clock to the hub's NTP clock
/// from its sender reports and marks every packet with the hub's capture
/// time (a reference timestamp meta). The sinks play a packet's content
/// at its running time plus the pipeline's latency, the same for sound and
/// picture, so (running time − capture time) of the picture minus the same
/// of the sound is how much later the picture plays than the sound of the
/// same moment. The screen shows the latest picture at its own frame
/// rate, which adds up to one frame (40 ms) not counted here.
#[derive(Debug)]
pub struct ReturnStats {
    /// Video frames decoded (and shown).
    video_frames: AtomicU64,
    /// Audio decoded (and played), in nanoseconds.
    audio_ns: AtomicU64,
    /// Packets that entered the return path's SRTP decryption.
    decrypt_in: AtomicU64,
    /// Packets that came out of it (authenticated and decrypted).
    decrypt_out: AtomicU64,
    /// Of the latest video and audio packet out of the jitter buffers: the
    /// time it is played at minus the hub's capture time (from the hub's
    /// sender reports), in nanoseconds; `i64::MIN` until known.
    video_schedule_ns: AtomicI64,
    audio_schedule_ns: AtomicI64,
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
    /// Packets that failed SRTP authentication or decryption.
    pub rejected_packets: u64,
    /// The largest of the senders' average interarrival jitter, in ms.
    pub jitter_ms: u64,
    /// How much later the picture plays than the sound (ms); `None` until
    /// the hub's sender reports tie both to its clock.
    pub lip_sync_ms: Option<i64>,
    /// The box's video and audio RTP ports (RTCP on the next ports).
    pub ports: Option<(u16, u16)>,
}

impl Default for ReturnStats {
    fn default() -> Self {
        ReturnStats {
            video_frames: AtomicU64::new(0),
            audio_ns: AtomicU64::new(0),
            decrypt_in: AtomicU64::new(0),
            decrypt_out: AtomicU64::new(0),
            video_schedule_ns: AtomicI64::new(i64::MIN),
            audio_schedule_ns: AtomicI64::new(i64::MIN),
            ports: Mutex::new(None),
            jitterbuffers: Mutex::new(Vec::new()),
        }
    }
}

impl ReturnStats {
    /// Starts counting `pipeline`'s return path from zero: its decoders
    /// and jitter buffers as they are created.
    pub fn watch(self: &Arc<Self>, pipeline: &gst::Pipeline, ports: Option<(u16, u16)>) {
        self.video_frames.store(0, Ordering::Relaxed);
        self.audio_ns.store(0, Ordering::Relaxed);
        self.decrypt_in.store(0, Ordering::Relaxed);
        self.decrypt_out.store(0, Ordering::Relaxed);
        self.video_schedule_ns.store(i64::MIN, Ordering::Relaxed);
        self.audio_schedule_ns.store(i64::MIN, Ordering::Relaxed);
        *lock(&self.ports) = ports;
        lock(&self.jitterbuffers).clear();
        for name in ["video-srtp-dec", "audio-srtp-dec"] {
            if let Some(dec) = pipeline.by_name(name) {
                self.count_decryption(&dec);
            }
        }
        if let Some(rtpbin) = pipeline.by_name(super::pipeline::names::RTPBIN) {
            self.watch_schedule(&rtpbin);
        }
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

    /// Counts the packets into and out of an SRTP decrypter: the
    /// difference failed authentication or decryption.
    fn count_decryption(self: &Arc<Self>, dec: &gst::Element) {
        if let Some(pad) = dec.static_pad("rtp_sink") {
            count_packets(&pad, self, |stats: &ReturnStats| &stats.decrypt_in);
        }
        if let Some(pad) = dec.static_pad("rtp_src") {
            count_packets(&pad, self, |stats: &ReturnStats| &stats.decrypt_out);
        }
    }

    /// Follows each sender's packets out of rtpbin: when they carry the
    /// hub's capture time, keeps (running time − capture time).
    fn watch_schedule(self: &Arc<Self>, rtpbin: &gst::Element) {
        let stats = Arc::downgrade(self);
        rtpbin.connect_pad_added(move |_, pad| {
            let name = pad.name();
            let video = if name.starts_with("recv_rtp_src_0_") {
                true
            } else if name.starts_with("recv_rtp_src_1_") {
                false
            } else {
                return;
            };
            let stats = stats.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let (Some(stats), Some(gst::PadProbeData::Buffer(buffer))) =
                    (stats.upgrade(), &info.data)
                else {
                    return gst::PadProbeReturn::Ok;
                };
                if let Some(schedule) = schedule_ns(pad, buffer) {
                    let slot = if video {
                        &stats.video_schedule_ns
                    } else {
                        &stats.audio_schedule_ns
                    };
                    slot.store(schedule, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
        });
    }

    /// Reads every counter (the jitter buffers' lost packets, summed).
    pub fn snapshot(&self) -> ReturnSnapshot {
        let jitterbuffer_stats: Vec<gst::Structure> = lock(&self.jitterbuffers)
            .iter()
            .filter_map(gst::glib::WeakRef::upgrade)
            .map(|jb| jb.property::<gst::Structure>("stats"))
            .collect();
        let lost_packets = jitterbuffer_stats
            .iter()
            .filter_map(|s| s.get::<u64>("num-lost").ok())
            .sum();
        let jitter_ms = jitterbuffer_stats
            .iter()
            .filter_map(|s| s.get::<u64>("avg-jitter").ok())
            .max()
            .unwrap_or(0)
            / 1_000_000;
        let (video, audio) = (
            self.video_schedule_ns.load(Ordering::Relaxed),
            self.audio_schedule_ns.load(Ordering::Relaxed),
        );
        let lip_sync_ms = (video != i64::MIN && audio != i64::MIN)
            .then(|| (video.saturating_sub(audio)) / 1_000_000);
        ReturnSnapshot {
            video_frames: self.video_frames.load(Ordering::Relaxed),
            audio_ms: self.audio_ns.load(Ordering::Relaxed) / 1_000_000,
            lost_packets,
            rejected_packets: self
                .decrypt_in
                .load(Ordering::Relaxed)
                .saturating_sub(self.decrypt_out.load(Ordering::Relaxed)),
            jitter_ms,
            lip_sync_ms,
            ports: *lock(&self.ports),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A packet's running time minus the hub's capture time (the NTP
/// reference timestamp rtpbin adds once the hub's sender reports came).
fn schedule_ns(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<i64> {
    let ntp_caps = gst::Caps::new_empty_simple("timestamp/x-ntp");
    let captured = buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| m.reference().can_intersect(&ntp_caps))?
        .timestamp();
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?;
    let running = segment.to_running_time(buffer.pts()?)?;
    i64::try_from(running.nseconds())
        .ok()?
        .checked_sub(i64::try_from(captured.nseconds()).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `audiotestsrc ! udpsink host=HOST` for a moment under the
    /// counters, then stops it; returns what was counted while it ran and
    /// after it was retired.
    fn send_to(host: &str) -> (StatsSnapshot, StatsSnapshot) {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(&format!(
            "audiotestsrc is-live=true samplesperbuffer=480 ! udpsink name=sink host={host} port=9 sync=false async=false"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let stats = Arc::new(StreamStats::default());
        stats.watch_sink(SentKind::Audio, &pipeline.by_name("sink").unwrap());
        pipeline.set_state(gst::State::Playing).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let running = stats.snapshot();
        stats.retire();
        pipeline.set_state(gst::State::Null).unwrap();
        let handed = stats.handed_over();
        assert!(handed.1 > 5 && handed.0 == 0, "{handed:?}");
        (running, stats.snapshot())
    }

    #[test]
    fn what_the_socket_sent_is_counted_and_kept_after_the_pipeline_stops() {
        let (running, retired) = send_to("127.0.0.1");
        assert!(running.audio_packets > 5, "{running:?}");
        assert!(
            running.audio_bytes >= running.audio_packets * 960,
            "{running:?}"
        );
        assert_eq!(running.video_packets, 0);
        assert!(
            retired.audio_packets >= running.audio_packets,
            "{retired:?}"
        );
    }

    #[test]
    fn nothing_counts_as_sent_to_a_host_that_does_not_resolve() {
        let (running, retired) = send_to("hub-typo.invalid");
        assert_eq!(running, StatsSnapshot::default());
        assert_eq!(retired, StatsSnapshot::default());
    }
}
