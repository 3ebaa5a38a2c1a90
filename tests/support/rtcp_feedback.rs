//! The hub's side of the box's RTCP: what a hub's RTP stack reads from the
//! box's reports. A GStreamer `udpsrc` on the hub's video RTCP port
//! decrypts them (`srtpdec` under the box's key) and counts the feedback
//! messages asking for a keyframe: Picture Loss Indication (RTCP PSFB,
//! payload type 206, FMT 1, RFC 4585) and Full Intra Request (FMT 4,
//! RFC 5104), packet by packet of each compound packet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;

/// A running listener; stopped when dropped.
pub struct RtcpFeedback {
    pipeline: gst::Pipeline,
    keyframe_requests: Arc<AtomicU64>,
    reports: Arc<AtomicU64>,
}

/// Keyframe requests in one compound RTCP packet.
pub fn keyframe_requests_in(mut packet: &[u8]) -> u64 {
    let mut n = 0;
    while packet.len() >= 4 {
        let fmt = packet[0] & 0x1f;
        let pt = packet[1];
        let words = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        let len = (words + 1) * 4;
        if len > packet.len() {
            break; // truncated: not a whole packet
        }
        if pt == 206 && (fmt == 1 || fmt == 4) {
            n += 1;
        }
        packet = &packet[len..];
    }
    n
}

impl RtcpFeedback {
    /// Listens on 127.0.0.1 `rtcp_port` for the box's SRTCP under `key`
    /// (AES_CM_128_HMAC_SHA1_80, 30 bytes).
    pub fn start(rtcp_port: u16, key: &[u8]) -> RtcpFeedback {
        gst::init().expect("GStreamer init");
        let make = |factory: &str| {
            gst::ElementFactory::make(factory)
                .build()
                .unwrap_or_else(|_| panic!("GStreamer element {factory} missing"))
        };
        let pipeline = gst::Pipeline::new();
        let source = make("udpsrc");
        source.set_property("address", "127.0.0.1");
        source.set_property("port", i32::from(rtcp_port));
        source.set_property("caps", gst::Caps::builder("application/x-srtcp").build());
        let dec = make("srtpdec");
        let caps = gst::Caps::builder("application/x-srtp")
            .field("srtp-key", gst::Buffer::from_slice(key.to_vec()))
            .field("srtp-cipher", "aes-128-icm")
            .field("srtp-auth", "hmac-sha1-80")
            .field("srtcp-cipher", "aes-128-icm")
            .field("srtcp-auth", "hmac-sha1-80")
            .build();
        dec.connect("request-key", false, move |_| Some(caps.to_value()));
        let sink = make("fakesink");
        sink.set_property("sync", false);
        sink.set_property("async", false);
        sink.set_property("signal-handoffs", true);
        let keyframe_requests = Arc::new(AtomicU64::new(0));
        let reports = Arc::new(AtomicU64::new(0));
        let (k, r) = (keyframe_requests.clone(), reports.clone());
        sink.connect("handoff", false, move |values| {
            if let Ok(buffer) = values[1].get::<gst::Buffer>() {
                if let Ok(map) = buffer.map_readable() {
                    r.fetch_add(1, Ordering::Relaxed);
                    k.fetch_add(keyframe_requests_in(&map), Ordering::Relaxed);
                }
            }
            None
        });
        pipeline.add_many([&source, &dec, &sink]).expect("add");
        source
            .link_pads(Some("src"), &dec, Some("rtcp_sink"))
            .expect("link udpsrc to srtpdec");
        dec.link_pads(Some("rtcp_src"), &sink, Some("sink"))
            .expect("link srtpdec to fakesink");
        pipeline
            .set_state(gst::State::Playing)
            .expect("the RTCP listener starts");
        RtcpFeedback {
            pipeline,
            keyframe_requests,
            reports,
        }
    }

    /// PLI and FIR messages received so far.
    pub fn keyframe_requests(&self) -> u64 {
        self.keyframe_requests.load(Ordering::Relaxed)
    }

    /// Compound RTCP packets decrypted so far.
    pub fn reports(&self) -> u64 {
        self.reports.load(Ordering::Relaxed)
    }
}

impl Drop for RtcpFeedback {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_loss_and_full_intra_requests_are_found_in_compound_packets() {
        // RR (no blocks) + PLI + FIR + a generic NACK (RTPFB, PT 205).
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        let fir = [
            0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0,
        ];
        let nack = [0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0];
        let compound: Vec<u8> = [&rr[..], &pli, &fir, &nack].concat();
        assert_eq!(keyframe_requests_in(&compound), 2);
        assert_eq!(keyframe_requests_in(&rr), 0);
        // A truncated packet ends the walk.
        assert_eq!(keyframe_requests_in(&pli[..6]), 0);
    }
}
