//! Per-packet feedback from the hub (`hub.feedback = "avpf"`): transport-wide
//! congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01).
//!
//! - The video payloader writes a transport-wide sequence number into
//!   every packet as an RTP header extension (id
//!   [`TRANSPORT_CC_EXTENSION_ID`], announced in the SDP with `a=extmap`
//!   and `a=rtcp-fb:96 transport-cc`): a caps filter after it names the
//!   extension and the payloader adds it itself (`auto-header-extension`).
//!   rtpbin's session numbers the packets and keeps when each was sent.
//! - A hub whose RTP stack knows the extension (GStreamer's rtpbin does,
//!   given the `extmap` in its caps) answers with RTCP transport-cc
//!   feedback about every frame: for each packet, when it arrived or that
//!   it did not. rtpbin's session matches it with its send times and
//!   pushes the result upstream as an `RTPTWCCPackets` event.
//! - A probe on the payloader's source pad turns each event into
//!   [`PacketResult`]s and hands them to the daemon at most every
//!   [`BATCH_INTERVAL`] ([`MediaEvent::TransportFeedback`]); the core's
//!   delay-based control decides (`bridgepoint_core::delay_control`).
//!
//! A hub that knows nothing of the extension ignores it (RFC 8285): ffmpeg
//! records as before, and the box stays on receiver reports or on none.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bridgepoint_core::delay_control::PacketResult;
pub use bridgepoint_core::sdp::{TRANSPORT_CC_EXTENSION_ID, TRANSPORT_CC_URI};
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use super::MediaEvent;

/// The feedback is handed to the daemon at most this often.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// What a video packet carries on the wire besides the payload the
/// feedback counts: the RTP header (12), the extension (8) and the SRTP
/// authentication tag (10).
pub const PACKET_OVERHEAD_BYTES: u32 = 30;
/// The event rtpbin's session pushes upstream with each feedback.
pub const EVENT_NAME: &str = "RTPTWCCPackets";

/// The caps filter after the video payloader: the payloader adds the
/// transport-wide sequence number extension under this id.
pub fn extension_caps() -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field(
            format!("extmap-{TRANSPORT_CC_EXTENSION_ID}"),
            TRANSPORT_CC_URI,
        )
        .build()
}

/// The packets of one `RTPTWCCPackets` structure, in the order they were
/// sent; `None` if it is not one. Entries that lack a field are skipped.
pub fn packet_results(structure: &gst::StructureRef) -> Option<Vec<PacketResult>> {
    if structure.name() != EVENT_NAME {
        return None;
    }
    let packets = structure.value("packets").ok()?;
    let list: Vec<gst::Structure> = if let Ok(array) = packets.get::<gst::glib::ValueArray>() {
        array
            .iter()
            .filter_map(|v| v.get::<gst::Structure>().ok())
            .collect()
    } else if let Ok(array) = packets.get::<gst::Array>() {
        array
            .iter()
            .filter_map(|v| v.get::<gst::Structure>().ok())
            .collect()
    } else if let Ok(list) = packets.get::<gst::List>() {
        list.iter()
            .filter_map(|v| v.get::<gst::Structure>().ok())
            .collect()
    } else {
        return Some(Vec::new());
    };
    let results = list
        .iter()
        .filter_map(|p| {
            let sent_ns = p.get::<u64>("local-ts").ok()?;
            if sent_ns == u64::MAX {
                return None;
            }
            let lost = p.get::<bool>("lost").unwrap_or(false);
            let arrived_ns = p
                .get::<u64>("remote-ts")
                .ok()
                .filter(|&ts| !lost && ts != u64::MAX);
            let size = p.get::<u32>("size").unwrap_or(0);
            Some(PacketResult {
                sent_ns,
                arrived_ns,
                size_bytes: size.saturating_add(PACKET_OVERHEAD_BYTES),
            })
        })
        .collect();
    Some(results)
}

/// Watches the video payloader's source pad for the hub's transport-wide
/// feedback and hands it to the daemon, batched.
pub fn watch(pay: &gst::Element, generation: u64, events: UnboundedSender<MediaEvent>) {
    let Some(pad) = pay.static_pad("src") else {
        tracing::warn!(
            element = %pay.name(),
            "no source pad: the hub's transport-wide feedback is not read"
        );
        return;
    };
    let pending = Mutex::new((Vec::<PacketResult>::new(), None::<Instant>));
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(results) = event.structure().and_then(packet_results) else {
            return gst::PadProbeReturn::Ok;
        };
        let now = Instant::now();
        let mut guard = pending.lock().unwrap_or_else(|e| e.into_inner());
        let (batch, last) = &mut *guard;
        batch.extend(results);
        if last.is_none_or(|at| now.saturating_duration_since(at) >= BATCH_INTERVAL)
            && !batch.is_empty()
        {
            *last = Some(now);
            let packets = std::mem::take(batch);
            let _ = events.send(MediaEvent::TransportFeedback {
                generation,
                packets,
            });
        }
        // Nobody upstream wants it.
        super::probe::discard(info)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u32, local: u64, remote: Option<u64>, size: u32) -> gst::Structure {
        gst::Structure::builder("RTPTWCCPacket")
            .field("seqnum", seq)
            .field("local-ts", local)
            .field("remote-ts", remote.unwrap_or(u64::MAX))
            .field("payload-type", 96u8)
            .field("size", size)
            .field("lost", remote.is_none())
            .build()
    }

    // rtpbin's session puts a GValueArray in the event, which cannot be
    // built here (it is not Send); the same entries in a GstValueArray
    // take the same path after the container. The system test `avpf`
    // reads rtpbin's own events.
    #[test]
    fn the_sessions_event_is_read_packet_by_packet() {
        gst::init().expect("GStreamer init");
        let array = gst::Array::new([
            packet(1, 1_000, Some(50_000), 1200).to_send_value(),
            packet(2, 2_000, None, 900).to_send_value(),
            packet(3, 3_000, Some(52_000), 10).to_send_value(),
        ]);
        let structure = gst::Structure::builder(EVENT_NAME)
            .field("packets", array)
            .build();
        let results = packet_results(&structure).expect("an RTPTWCCPackets event");
        assert_eq!(
            results,
            vec![
                PacketResult {
                    sent_ns: 1_000,
                    arrived_ns: Some(50_000),
                    size_bytes: 1230
                },
                PacketResult {
                    sent_ns: 2_000,
                    arrived_ns: None,
                    size_bytes: 930
                },
                PacketResult {
                    sent_ns: 3_000,
                    arrived_ns: Some(52_000),
                    size_bytes: 40
                },
            ]
        );
    }

    #[test]
    fn other_events_and_broken_entries_are_not_taken_for_feedback() {
        gst::init().expect("GStreamer init");
        let other = gst::Structure::builder("GstForceKeyUnit").build();
        assert_eq!(packet_results(&other), None);
        let broken = gst::Structure::builder(EVENT_NAME)
            .field("packets", "not a list")
            .build();
        assert_eq!(packet_results(&broken), Some(Vec::new()));
        let array = gst::Array::new([
            gst::Structure::builder("RTPTWCCPacket")
                .field("seqnum", 1u32)
                .build()
                .to_send_value(),
            packet(2, u64::MAX, Some(5), 100).to_send_value(),
        ]);
        let no_times = gst::Structure::builder(EVENT_NAME)
            .field("packets", array)
            .build();
        assert_eq!(packet_results(&no_times), Some(Vec::new()));
    }
}
