//! A hub-side receiver that helps, as a conferencing hub does: it asks for
//! what it lost (RTCP generic NACK, RFC 4585) and takes the box's RFC 4588
//! retransmissions, and asks for a keyframe (PLI) when the picture breaks.
//!
//! udpsrc → srtpdec → rtpbin (SAVPF, `do-retransmission`, an
//! `rtprtxreceive` aux receiver mapping the retransmission payload type 97
//! back to 96, latency 300 ms) → rtph264depay (after a loss it asks for
//! a keyframe and drops everything until one comes, as a hub that shows no
//! broken pictures does) → avdec_h264 → fakesink. Its RTCP (reports,
//! NACK, PLI) goes back out through srtpenc to where the box's RTCP came
//! from, through a small relay socket on the hub's RTCP port, as in
//! [`crate::rtcp_receiver`]. Its caps name the box's transport-wide
//! sequence number extension, so its rtpbin also sends transport-cc
//! feedback for every frame (not in the reporting-only variant).
//!
//! The bench and the tests give it the box's SDP
//! ([`AvpfReceiver::take_bandwidth_from`]): its RTCP is sized by the video's
//! `b=AS` as rtspsrc sizes rtpbin's.
//!
//! What it counts: the keyframe requests (PLI) its rtpbin sent; the RTP packets arriving at its socket (their headers
//! are in the clear under SRTP: the video's SSRC and latest sequence
//! number, and the retransmissions, payload type 97); the frames whose
//! every packet came out of the jitter buffer (complete frames, at the
//! depayloader's input); the frames the decoder output; and the keyframes
//! (IDR, NAL unit type 5) depayloaded, each with the time it came out.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::rtcp_feedback::keyframe_requests_in;
use crate::rtcp_receiver::{add_session, make};

/// The box's video payload type and its retransmissions' (`core::sdp`).
const VIDEO_PT: u8 = 96;
const RTX_PT: u8 = 97;

#[derive(Default)]
struct Counts {
    /// Video packets (PT 96) and retransmissions (PT 97) at the socket.
    video_packets: AtomicU64,
    rtx_packets: AtomicU64,
    /// SSRC + 1 of the video (0: none seen yet), and its latest sequence number.
    video_ssrc: AtomicU64,
    last_seq: AtomicU32,
    frames_complete: AtomicU64,
    frames_incomplete: AtomicU64,
    frames_decoded: AtomicU64,
    keyframes: Mutex<Vec<Instant>>,
    /// When the decoder output each frame (for freezes: the gaps between).
    decoded_at: Mutex<Vec<Instant>>,
    /// Keyframe requests (PLI, FIR) in the RTCP rtpbin sent.
    keyframe_requests_sent: AtomicU64,
}

/// A running receiver; stopped when dropped.
pub struct AvpfReceiver {
    pipeline: gst::Pipeline,
    rtpbin: gst::Element,
    counts: Arc<Counts>,
}

/// The transport-wide sequence number extension, as the box's SDP
/// announces it with `hub.feedback = "avpf"` (`a=extmap:3 ...`; the avpf
/// test reads it there).
pub const TRANSPORT_CC_EXTENSION_ID: u8 = 3;
/// Its URI.
pub const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

fn transport_cc_field() -> (String, &'static str) {
    (
        format!("extmap-{TRANSPORT_CC_EXTENSION_ID}"),
        TRANSPORT_CC_URI,
    )
}

fn pt_caps(pt: u32, asks: bool) -> Option<gst::Caps> {
    let caps = gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("clock-rate", 90000i32);
    match pt {
        96 => {
            let caps = caps.field("encoding-name", "H264").field("payload", 96i32);
            Some(if asks {
                let (name, uri) = transport_cc_field();
                caps.field(name, uri).build()
            } else {
                caps.build()
            })
        }
        97 => Some(
            caps.field("encoding-name", "RTX")
                .field("payload", 97i32)
                .field("apt", 96i32)
                .build(),
        ),
        _ => None,
    }
}

/// Calls `f` with the bytes of every buffer a probe sees.
fn each_buffer(info: &gst::PadProbeInfo, mut f: impl FnMut(&[u8])) {
    match &info.data {
        Some(gst::PadProbeData::Buffer(buffer)) => {
            if let Ok(map) = buffer.map_readable() {
                f(&map);
            }
        }
        Some(gst::PadProbeData::BufferList(list)) => {
            for buffer in list.iter() {
                if let Ok(map) = buffer.map_readable() {
                    f(&map);
                }
            }
        }
        _ => {}
    }
}

/// Whether an H.264 byte-stream access unit holds an IDR slice (NAL type 5).
pub fn has_idr(au: &[u8]) -> bool {
    au.windows(4)
        .any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] & 0x1f == 5)
}

/// The video section's `b=AS` (kbit/s) in a session description.
pub fn video_bandwidth_kbps(sdp: &str) -> Option<u32> {
    sdp.split("\nm=")
        .find(|section| section.starts_with("video "))?
        .lines()
        .find_map(|line| line.strip_prefix("b=AS:"))?
        .trim()
        .parse()
        .ok()
}

/// The aux receiver bin rtpbin asks for: rtprtxreceive, pads sink_0/src_0.
fn rtx_receiver() -> gst::Element {
    let bin = gst::Bin::new();
    let rtx = gst::ElementFactory::make("rtprtxreceive")
        .name("hub-rtx-receive")
        .build()
        .expect("rtprtxreceive");
    rtx.set_property(
        "payload-type-map",
        gst::Structure::builder("application/x-rtp-pt-map")
            .field("96", u32::from(RTX_PT))
            .build(),
    );
    bin.add(&rtx).expect("add rtprtxreceive");
    for (target, name) in [("sink", "sink_0"), ("src", "src_0")] {
        let pad = rtx.static_pad(target).expect("rtprtxreceive pad");
        let ghost = gst::GhostPad::builder_with_target(&pad)
            .expect("ghost pad")
            .name(name)
            .build();
        bin.add_pad(&ghost).expect("add ghost pad");
    }
    bin.upcast()
}

impl AvpfReceiver {
    /// Receives the box's video on `video_port` (RTCP on `video_port + 1`)
    /// with the AES_CM_128_HMAC_SHA1_80 `key`, and sends its RTCP under
    /// the same key (a box without `srtp.receive_key` reads it so).
    pub fn start(video_port: u16, key: &[u8]) -> AvpfReceiver {
        Self::start_asking(video_port, key, true)
    }

    /// Like [`AvpfReceiver::start`], but a receiver that reports and asks
    /// for nothing: rtpbin in the plain AVP profile (receiver reports at
    /// its regular interval), no NACK, no retransmission, no keyframe
    /// request; after a loss it still decodes nothing until a keyframe.
    /// What a recorder with a plain RTP stack does.
    pub fn start_reporting_only(video_port: u16, key: &[u8]) -> AvpfReceiver {
        Self::start_asking(video_port, key, false)
    }

    fn start_asking(video_port: u16, key: &[u8], asks: bool) -> AvpfReceiver {
        gst::init().expect("GStreamer init");
        let counts = Arc::new(Counts::default());
        let pipeline = gst::Pipeline::new();
        let rtpbin = make("rtpbin");
        rtpbin.set_property("latency", 300u32);
        if asks {
            rtpbin.set_property("do-retransmission", true);
            rtpbin.set_property_from_str("rtp-profile", "savpf");
        }
        rtpbin.connect("request-pt-map", false, move |values| {
            let pt = values[2].get::<u32>().unwrap_or(0);
            Some(pt_caps(pt, asks).to_value())
        });
        rtpbin.connect("request-aux-receiver", false, |values| {
            let session = values[1].get::<u32>().unwrap_or(u32::MAX);
            let aux = (session == 0).then(rtx_receiver);
            Some(aux.to_value())
        });

        pipeline.add(&rtpbin).expect("add rtpbin");
        let rtp_src = add_session(
            &pipeline,
            &rtpbin,
            0,
            video_port,
            {
                let caps = gst::Caps::builder("application/x-srtp")
                    .field("media", "video")
                    .field("clock-rate", 90000i32)
                    .field("encoding-name", "H264")
                    .field("payload", 96i32);
                // Asking for everything includes transport-wide feedback:
                // rtpbin sends it for every frame once its caps name the
                // extension. And the keyframe requests: rtpsession turns
                // the depayloader's into a PLI only when these caps (the
                // session keeps them for payload type 96, request-pt-map
                // is not asked) say `nack pli`, as GStreamer reads the
                // box's `a=rtcp-fb:96 nack pli`.
                if asks {
                    let (name, uri) = transport_cc_field();
                    caps.field(name, uri)
                        .field("rtcp-fb-nack-pli", true)
                        .build()
                } else {
                    caps.build()
                }
            },
            key,
        );
        let c = counts.clone();
        rtpbin
            .static_pad("send_rtcp_src_0")
            .expect("rtpbin's RTCP pad")
            .add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    each_buffer(info, |p| {
                        let n = keyframe_requests_in(p);
                        c.keyframe_requests_sent.fetch_add(n, Ordering::Relaxed);
                    });
                    gst::PadProbeReturn::Ok
                },
            );
        let c = counts.clone();
        rtp_src.static_pad("src").expect("udpsrc pad").add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                each_buffer(info, |p| {
                    if p.len() < 12 {
                        return;
                    }
                    let pt = p[1] & 0x7f;
                    let seq = u16::from_be_bytes([p[2], p[3]]);
                    let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
                    if pt == VIDEO_PT {
                        c.video_packets.fetch_add(1, Ordering::Relaxed);
                        c.video_ssrc.store(u64::from(ssrc) + 1, Ordering::Relaxed);
                        c.last_seq.store(u32::from(seq), Ordering::Relaxed);
                    } else if pt == RTX_PT {
                        c.rtx_packets.fetch_add(1, Ordering::Relaxed);
                    }
                });
                gst::PadProbeReturn::Ok
            },
        );
        let bin = pipeline.clone();
        let c = counts.clone();
        rtpbin.connect_pad_added(move |_, pad| {
            if !pad.name().starts_with("recv_rtp_src_0_") {
                return;
            }
            let depay = make("rtph264depay");
            depay.set_property("request-keyframe", asks);
            // No broken pictures: after a loss, nothing until a keyframe.
            depay.set_property("wait-for-keyframe", true);
            let caps = make("capsfilter");
            caps.set_property(
                "caps",
                gst::Caps::builder("video/x-h264")
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au")
                    .build(),
            );
            let decoder = make("avdec_h264");
            decoder.set_property("output-corrupt", false);
            let sink = make("fakesink");
            sink.set_property("sync", false);
            sink.set_property("async", false);
            if bin.add_many([&depay, &caps, &decoder, &sink]).is_err() {
                return;
            }
            // Complete frames: every packet of the frame, in sequence,
            // since the previous frame's last (marker) packet.
            let counts = c.clone();
            let state = Mutex::new((None::<u16>, true));
            depay.static_pad("sink").expect("depay pad").add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    let mut guard = state.lock().expect("lock");
                    let (last, whole) = &mut *guard;
                    each_buffer(info, |p| {
                        if p.len() < 12 {
                            return;
                        }
                        let seq = u16::from_be_bytes([p[2], p[3]]);
                        if last.is_some_and(|l| l.wrapping_add(1) != seq) {
                            *whole = false;
                        }
                        *last = Some(seq);
                        if p[1] & 0x80 != 0 {
                            let n = if *whole {
                                &counts.frames_complete
                            } else {
                                &counts.frames_incomplete
                            };
                            n.fetch_add(1, Ordering::Relaxed);
                            *whole = true;
                        }
                    });
                    gst::PadProbeReturn::Ok
                },
            );
            let counts = c.clone();
            caps.static_pad("src").expect("caps pad").add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    each_buffer(info, |au| {
                        if has_idr(au) {
                            counts.keyframes.lock().expect("lock").push(Instant::now());
                        }
                    });
                    gst::PadProbeReturn::Ok
                },
            );
            let counts = c.clone();
            decoder.static_pad("src").expect("decoder pad").add_probe(
                gst::PadProbeType::BUFFER,
                move |_, _| {
                    counts.frames_decoded.fetch_add(1, Ordering::Relaxed);
                    counts.decoded_at.lock().expect("lock").push(Instant::now());
                    gst::PadProbeReturn::Ok
                },
            );
            let linked = depay.link(&caps).is_ok()
                && caps.link(&decoder).is_ok()
                && decoder.link(&sink).is_ok();
            for element in [&depay, &caps, &decoder, &sink] {
                let _ = element.sync_state_with_parent();
            }
            if linked {
                if let Some(sink_pad) = depay.static_pad("sink") {
                    let _ = pad.link(&sink_pad);
                }
            }
        });
        pipeline
            .set_state(gst::State::Playing)
            .expect("receiver pipeline starts");

        AvpfReceiver {
            pipeline,
            rtpbin,
            counts,
        }
    }

    /// rtpbin's RTPSession of the video (session 0).
    fn internal_session(&self) -> Option<gst::glib::Object> {
        self.rtpbin
            .emit_by_name::<Option<gst::glib::Object>>("get-internal-session", &[&0u32])
    }

    /// Sizes the receiver's RTCP by the video's bandwidth in the box's
    /// session description (`b=AS`, kbit/s), as GStreamer's rtspsrc sets
    /// up rtpbin from an SDP (the session's `bandwidth` = AS x 1000).
    /// Without it rtpbin guesses the bandwidth from what has arrived, and
    /// in the first seconds its reports and NACKs wait too long. Returns
    /// the bandwidth taken, if the description gave one.
    pub fn take_bandwidth_from(&self, sdp: &str) -> Option<u32> {
        let kbps = video_bandwidth_kbps(sdp)?;
        self.internal_session()?
            .set_property("bandwidth", f64::from(kbps) * 1000.0);
        Some(kbps)
    }

    /// Video packets (payload type 96) that reached the socket.
    pub fn video_packets(&self) -> u64 {
        self.counts.video_packets.load(Ordering::Relaxed)
    }

    /// Retransmissions (payload type 97) that reached the socket.
    pub fn rtx_packets(&self) -> u64 {
        self.counts.rtx_packets.load(Ordering::Relaxed)
    }

    /// Retransmissions `rtprtxreceive` took (its `num-rtx-packets`).
    pub fn retransmissions_received(&self) -> u64 {
        self.pipeline
            .by_name("hub-rtx-receive")
            .map_or(0, |rtx| u64::from(rtx.property::<u32>("num-rtx-packets")))
    }

    /// What the receiver's rtpbin holds, for a run that went wrong: the
    /// session's sources (packets each one sent that the session took),
    /// each jitter buffer's counts, and the pads rtpbin made for the
    /// streams it found.
    pub fn diagnosis(&self) -> String {
        let mut parts = Vec::new();
        if let Some(session) = self.internal_session() {
            let stats = session.property::<gst::Structure>("stats");
            parts.push(format!("session: {stats}"));
        }
        let inside = self
            .rtpbin
            .downcast_ref::<gst::Bin>()
            .map(|bin| bin.iterate_recurse());
        for element in inside.into_iter().flat_map(|it| it.into_iter().flatten()) {
            let factory = element.factory().map(|f| f.name().to_string());
            if factory.as_deref() == Some("rtpjitterbuffer") {
                let stats = element.property::<gst::Structure>("stats");
                parts.push(format!("{}: {stats}", element.name()));
            }
        }
        let pads: Vec<String> = self
            .rtpbin
            .src_pads()
            .iter()
            .map(|p| {
                format!(
                    "{}{}",
                    p.name(),
                    if p.is_linked() { "" } else { " (unlinked)" }
                )
            })
            .collect();
        parts.push(format!("rtpbin's source pads: {}", pads.join(", ")));
        parts.join("; ")
    }

    /// Retransmission requests the receiver's own jitter buffer made
    /// (`rtprtxreceive`'s `num-rtx-requests`: one per packet asked for,
    /// again for each retry).
    pub fn retransmission_requests(&self) -> u64 {
        self.pipeline
            .by_name("hub-rtx-receive")
            .map_or(0, |rtx| u64::from(rtx.property::<u32>("num-rtx-requests")))
    }

    /// The box's video SSRC, once a packet came.
    pub fn video_ssrc(&self) -> Option<u32> {
        let v = self.counts.video_ssrc.load(Ordering::Relaxed);
        (v > 0).then(|| (v - 1) as u32)
    }

    /// The sequence number of the latest video packet at the socket.
    pub fn last_seq(&self) -> u16 {
        self.counts.last_seq.load(Ordering::Relaxed) as u16
    }

    /// Frames whose every packet came out of the jitter buffer.
    pub fn frames_complete(&self) -> u64 {
        self.counts.frames_complete.load(Ordering::Relaxed)
    }

    /// Keyframe requests (PLI, FIR) in the RTCP rtpbin sent towards the box.
    pub fn keyframe_requests_sent(&self) -> u64 {
        self.counts.keyframe_requests_sent.load(Ordering::Relaxed)
    }

    /// Frames with a packet missing.
    pub fn frames_incomplete(&self) -> u64 {
        self.counts.frames_incomplete.load(Ordering::Relaxed)
    }

    /// Frames the decoder output (broken ones are not).
    pub fn frames_decoded(&self) -> u64 {
        self.counts.frames_decoded.load(Ordering::Relaxed)
    }

    /// When each keyframe (IDR) came out of the depayloader.
    pub fn keyframe_times(&self) -> Vec<Instant> {
        self.counts.keyframes.lock().expect("lock").clone()
    }

    /// When the decoder output each frame, in order (one entry per frame
    /// of [`AvpfReceiver::frames_decoded`]): a gap between two is a frozen
    /// picture at the hub.
    pub fn decoded_frame_times(&self) -> Vec<Instant> {
        self.counts.decoded_at.lock().expect("lock").clone()
    }
}

impl Drop for AvpfReceiver {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_video_bandwidth_is_read_from_its_own_section() {
        let sdp = "v=0\nc=IN IP4 127.0.0.1\nm=video 5004 RTP/SAVPF 96 97\nb=AS:1566\n\
                   a=rtpmap:96 H264/90000\nm=audio 5006 RTP/SAVP 111\nb=AS:52\n";
        assert_eq!(video_bandwidth_kbps(sdp), Some(1566));
        let audio_only = "v=0\nm=video 5004 RTP/SAVP 96\nm=audio 5006 RTP/SAVP 111\nb=AS:52\n";
        assert_eq!(video_bandwidth_kbps(audio_only), None);
    }

    #[test]
    fn idr_slices_are_found_and_others_are_not() {
        let sps_pps_idr = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 9,
        ];
        assert!(has_idr(&sps_pps_idr));
        let p_slice = [0, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x06, 5];
        assert!(!has_idr(&p_slice));
    }
}
