//! The video's pacer in the pipeline: a queue before the RTP session whose
//! streaming thread waits before each packet until the core's [`Pacer`]
//! lets it go. With `hub.feedback = "none"` it follows the payloader; with
//! `"avpf"` it follows the retransmission sender, inside rtpbin's aux
//! sender ([`super::feedback`]), so that retransmissions are paced with the
//! video. Either way the RTP session comes after it and stamps each
//! packet's transport-wide send time when it really leaves.
//!
//! The payloader hands a whole NAL unit's packets over as one buffer list
//! (a keyframe is one list of a dozen packets); the probe splits it and
//! sends the packets on one at a time, each at its time. Waiting happens in
//! the queue's own thread, so the encoder goes on encoding; the queue's
//! level tells the pacer how much waits behind the packet at hand.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bridgepoint_core::pacer::Pacer;
use bridgepoint_core::sdp::VIDEO_PAYLOAD_TYPE;
use gstreamer as gst;
use gstreamer::prelude::*;

/// How long a video packet's send time is kept: as long as `rtprtxsend`
/// keeps the packet itself.
const SEND_TIMES_KEPT: Duration = Duration::from_millis(super::feedback::RTX_HISTORY_MS as u64);

/// When the pacer let each recent video packet go (payload type
/// [`VIDEO_PAYLOAD_TYPE`], not the retransmissions), by sequence number:
/// the retransmission limit refuses a request that comes before the hub
/// can have missed the packet.
#[derive(Debug, Default)]
pub struct SendTimes(Mutex<VecDeque<(u16, Instant)>>);

impl SendTimes {
    /// When packet `seq` left, if it left within the time kept.
    pub fn sent_at(&self, seq: u16) -> Option<Instant> {
        let times = self.0.lock().ok()?;
        times
            .iter()
            .rev()
            .find(|&&(s, _)| s == seq)
            .map(|&(_, at)| at)
    }

    fn note(&self, buffer: &gst::BufferRef, now: Instant) {
        let seq = {
            let Ok(map) = buffer.map_readable() else {
                return;
            };
            // RTP: the payload type in the second byte's low 7 bits, the
            // sequence number in the next two.
            if map.len() < 4 || map[1] & 0x7f != VIDEO_PAYLOAD_TYPE {
                return;
            }
            u16::from_be_bytes([map[2], map[3]])
        };
        let Ok(mut times) = self.0.lock() else {
            return;
        };
        times.push_back((seq, now));
        while times
            .front()
            .is_some_and(|&(_, at)| now.saturating_duration_since(at) > SEND_TIMES_KEPT)
        {
            times.pop_front();
        }
    }
}

/// The queue the video waits in for its turn on the link.
pub const PACER_QUEUE: &str = "video-pacer";

/// The pacer's queue, for the pipeline builder: it never drops (the pacer
/// empties it within `pacer::MAX_QUEUE_DELAY`) and holds at most this much.
pub fn make_queue() -> Result<gst::Element, super::PipelineError> {
    let queue = super::pipeline::make("queue", PACER_QUEUE, "video pacer queue")?;
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 4u32 * 1024 * 1024);
    queue.set_property("max-size-time", 0u64);
    Ok(queue)
}

/// Paces what leaves `pipeline`'s pacer queue by `pacer` (shared with the
/// runner, which sets its target), noting in `sent`, where there are
/// retransmissions to judge, when each video packet left. Does nothing in
/// a pipeline without the queue.
pub fn attach(pipeline: &gst::Pipeline, pacer: Arc<Mutex<Pacer>>, sent: Option<Arc<SendTimes>>) {
    let Some(queue) = pipeline.by_name(PACER_QUEUE) else {
        return;
    };
    let Some(pad) = queue.static_pad("src") else {
        return;
    };
    let weak_queue = queue.downgrade();
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |pad, info| {
            let queued = || {
                weak_queue
                    .upgrade()
                    .map_or(0, |q| u64::from(q.property::<u32>("current-level-bytes")))
            };
            match &info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    let left = wait_turn(&pacer, buffer.size(), queued());
                    if let Some(sent) = &sent {
                        sent.note(buffer, left);
                    }
                    gst::PadProbeReturn::Ok
                }
                Some(gst::PadProbeData::BufferList(_)) => {
                    let Some(gst::PadProbeData::BufferList(list)) = info.data.take() else {
                        return gst::PadProbeReturn::Ok;
                    };
                    let Some(peer) = pad.peer() else {
                        info.flow_res = Err(gst::FlowError::NotLinked);
                        return gst::PadProbeReturn::Handled;
                    };
                    let mut behind: u64 =
                        list.iter().map(|b| b.size() as u64).sum::<u64>() + queued();
                    for buffer in list.iter_owned() {
                        behind = behind.saturating_sub(buffer.size() as u64);
                        let left = wait_turn(&pacer, buffer.size(), behind);
                        if let Some(sent) = &sent {
                            sent.note(&buffer, left);
                        }
                        if let Err(error) = peer.chain(buffer) {
                            info.flow_res = Err(error);
                            return gst::PadProbeReturn::Handled;
                        }
                    }
                    info.flow_res = Ok(gst::FlowSuccess::Ok);
                    gst::PadProbeReturn::Handled
                }
                _ => gst::PadProbeReturn::Ok,
            }
        },
    );
}

/// Waits until the pacer lets a packet of `bytes` go, `queued` bytes
/// behind it; returns the time it goes.
fn wait_turn(pacer: &Mutex<Pacer>, bytes: usize, queued: u64) -> Instant {
    let now = Instant::now();
    let Ok(release) = pacer
        .lock()
        .map(|mut pacer| pacer.release_at(now, bytes, queued))
    else {
        return now;
    };
    let wait = release.saturating_duration_since(Instant::now());
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
    Instant::now()
}
