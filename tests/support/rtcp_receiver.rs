//! A hub-side receiver that sends RTCP receiver reports back to the box, as
//! a conferencing hub does (ffmpeg's SDP receiver does not report back).
//!
//! A real GStreamer receiver (udpsrc → srtpdec → rtpbin, with SRTCP out
//! through srtpenc) receives the box's video session (and its audio, with
//! [`RtcpReceiver::start_with_audio`]). Its reports are sent
//! to a relay socket on the hub's RTCP port, which passes the box's sender
//! reports in and the receiver's reports back out to the address the box
//! sent from — the box's symmetric RTCP socket.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

/// A running receiver; stopped when dropped.
pub struct RtcpReceiver {
    pipeline: gst::Pipeline,
}

/// A GStreamer element, or a panic naming the missing factory.
pub fn make(factory: &str) -> gst::Element {
    gst::ElementFactory::make(factory)
        .build()
        .unwrap_or_else(|_| panic!("GStreamer element {factory} missing"))
}

/// The SRTP caps of AES_CM_128_HMAC_SHA1_80 under `key`.
pub fn key_caps(key: &[u8]) -> gst::Caps {
    gst::Caps::builder("application/x-srtp")
        .field("srtp-key", gst::Buffer::from_slice(key.to_vec()))
        .field("srtp-cipher", "aes-128-icm")
        .field("srtp-auth", "hmac-sha1-80")
        .field("srtcp-cipher", "aes-128-icm")
        .field("srtcp-auth", "hmac-sha1-80")
        .build()
}

impl RtcpReceiver {
    /// Receives the box's video on `video_port` (RTCP on `video_port + 1`)
    /// with the AES_CM_128_HMAC_SHA1_80 `key`.
    pub fn start(video_port: u16, key: &[u8]) -> RtcpReceiver {
        Self::start_sessions(Some(video_port), None, key, None)
    }

    /// Receives and reports on the box's audio alone (`audio_port`, RTCP
    /// on the next): with a video receiver of its own beside it, a hub
    /// that reports on both streams.
    pub fn start_audio_only(audio_port: u16, key: &[u8]) -> RtcpReceiver {
        Self::start_sessions(None, Some(audio_port), key, None)
    }

    /// [`RtcpReceiver::start_with_audio`] that also records the video, as
    /// the hub records a session: the depayloaded H.264 (byte-stream,
    /// SPS/PPS in band) into `video_file`, readable by ffmpeg at any time.
    pub fn start_recording(
        video_port: u16,
        audio_port: u16,
        key: &[u8],
        video_file: &std::path::Path,
    ) -> RtcpReceiver {
        Self::start_sessions(Some(video_port), Some(audio_port), key, Some(video_file))
    }

    /// Receives the box's video and audio (each with RTCP on the next
    /// port), reporting on both, as a conferencing hub does.
    pub fn start_with_audio(video_port: u16, audio_port: u16, key: &[u8]) -> RtcpReceiver {
        Self::start_sessions(Some(video_port), Some(audio_port), key, None)
    }

    fn start_sessions(
        video_port: Option<u16>,
        audio_port: Option<u16>,
        key: &[u8],
        video_file: Option<&std::path::Path>,
    ) -> RtcpReceiver {
        gst::init().expect("GStreamer init");
        let pipeline = gst::Pipeline::new();
        let rtpbin = make("rtpbin");
        pipeline.add(&rtpbin).expect("add rtpbin");
        let video_caps = gst::Caps::builder("application/x-srtp")
            .field("media", "video")
            .field("clock-rate", 90000i32)
            .field("encoding-name", "H264")
            .field("payload", 96i32)
            .build();
        if let Some(port) = video_port {
            add_session(&pipeline, &rtpbin, 0, port, video_caps, key);
        }
        if let Some(port) = audio_port {
            let audio_caps = gst::Caps::builder("application/x-srtp")
                .field("media", "audio")
                .field("clock-rate", 48000i32)
                .field("encoding-name", "OPUS")
                .field("payload", 111i32)
                .build();
            add_session(&pipeline, &rtpbin, 1, port, audio_caps, key);
        }
        let bin = pipeline.clone();
        let video_file = video_file.map(std::path::Path::to_path_buf);
        rtpbin.connect_pad_added(move |_, pad| {
            let name = pad.name();
            if !name.starts_with("recv_rtp_src_") {
                return;
            }
            let sink = make("fakesink");
            sink.set_property("sync", false);
            let recording = video_file
                .as_ref()
                .filter(|_| name.starts_with("recv_rtp_src_0_"));
            let chain: Vec<gst::Element> = match recording {
                None => vec![sink],
                Some(path) => {
                    let depay = make("rtph264depay");
                    let parse = make("h264parse");
                    // SPS/PPS before every keyframe, as the hub's recorder keeps them.
                    parse.set_property("config-interval", -1i32);
                    let byte_stream = make("capsfilter");
                    byte_stream.set_property(
                        "caps",
                        gst::Caps::builder("video/x-h264")
                            .field("stream-format", "byte-stream")
                            .field("alignment", "au")
                            .build(),
                    );
                    let file = make("filesink");
                    file.set_property("location", path.to_str().expect("UTF-8 path"));
                    file.set_property("sync", false);
                    vec![depay, parse, byte_stream, file]
                }
            };
            if bin.add_many(chain.iter()).is_err() || gst::Element::link_many(chain.iter()).is_err()
            {
                return;
            }
            for element in &chain {
                let _ = element.sync_state_with_parent();
            }
            let _ = pad.link(&chain[0].static_pad("sink").expect("sink pad"));
        });
        pipeline
            .set_state(gst::State::Playing)
            .expect("receiver pipeline starts");
        RtcpReceiver { pipeline }
    }
}

/// One RTP session of a hub-side receiver on the hub's `port` (RTCP on the
/// next): udpsrc → srtpdec → `rtpbin` (already in `pipeline`) session
/// `index`, and its RTCP back out through srtpenc and a relay socket that
/// sends it to where the box's RTCP came from. Returns the RTP source, for
/// probes on what arrives.
pub fn add_session(
    pipeline: &gst::Pipeline,
    rtpbin: &gst::Element,
    index: u32,
    port: u16,
    caps: gst::Caps,
    key: &[u8],
) -> gst::Element {
    // The relay owns the hub's RTCP port.
    let relay = UdpSocket::bind(("127.0.0.1", port + 1)).expect("bind the hub's RTCP port");
    let inner = UdpSocket::bind("127.0.0.1:0").expect("bind the receiver's RTCP port");
    let inner_port = inner.local_addr().expect("addr").port();
    drop(inner);
    // The receiver sends its reports from a known port, so the relay
    // tells them from the box's packets whatever arrives first.
    let out = UdpSocket::bind("127.0.0.1:0").expect("bind the receiver's RTCP send port");
    let out_port = out.local_addr().expect("addr").port();
    drop(out);

    let rtp_src = make("udpsrc");
    rtp_src.set_property("port", i32::from(port));
    rtp_src.set_property("caps", caps);
    let rtp_dec = make("srtpdec");
    let rtcp_src = make("udpsrc");
    rtcp_src.set_property("port", i32::from(inner_port));
    rtcp_src.set_property("caps", gst::Caps::builder("application/x-srtcp").build());
    let rtcp_dec = make("srtpdec");
    for dec in [&rtp_dec, &rtcp_dec] {
        let caps = key_caps(key);
        dec.connect("request-key", false, move |_| Some(caps.to_value()));
    }
    let rtcp_enc = make("srtpenc");
    rtcp_enc.set_property("key", gst::Buffer::from_slice(key.to_vec()));
    let rtcp_out = make("udpsink");
    rtcp_out.set_property("host", "127.0.0.1");
    rtcp_out.set_property("port", i32::from(port + 1));
    rtcp_out.set_property("bind-address", "127.0.0.1");
    rtcp_out.set_property("bind-port", i32::from(out_port));
    rtcp_out.set_property("sync", false);
    rtcp_out.set_property("async", false);
    pipeline
        .add_many([
            &rtp_src, &rtp_dec, &rtcp_src, &rtcp_dec, &rtcp_enc, &rtcp_out,
        ])
        .expect("add");
    let (rtp_in, rtcp_in, rtcp_send) = (
        format!("recv_rtp_sink_{index}"),
        format!("recv_rtcp_sink_{index}"),
        format!("send_rtcp_src_{index}"),
    );
    for (src, src_pad, sink, sink_pad) in [
        (&rtp_src, "src", &rtp_dec, "rtp_sink"),
        (&rtp_dec, "rtp_src", rtpbin, rtp_in.as_str()),
        (&rtcp_src, "src", &rtcp_dec, "rtcp_sink"),
        (&rtcp_dec, "rtcp_src", rtpbin, rtcp_in.as_str()),
        (rtpbin, rtcp_send.as_str(), &rtcp_enc, "rtcp_sink_0"),
        (&rtcp_enc, "rtcp_src_0", &rtcp_out, "sink"),
    ] {
        src.link_pads(Some(src_pad), sink, Some(sink_pad))
            .unwrap_or_else(|e| panic!("link {src_pad} to {sink_pad}: {e}"));
    }

    // The relay: the receiver's reports (from its known port) go to the
    // box's address, learnt from the box's own packets; the box's go in.
    let box_addr: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let receiver_in: SocketAddr = ([127, 0, 0, 1], inner_port).into();
        let receiver_out: SocketAddr = ([127, 0, 0, 1], out_port).into();
        while let Ok((n, from)) = relay.recv_from(&mut buf) {
            let mut known = box_addr.lock().expect("lock");
            if from == receiver_out {
                // A report before the box has spoken has nowhere to go yet.
                if let Some(the_box) = *known {
                    let _ = relay.send_to(&buf[..n], the_box);
                }
            } else {
                *known = Some(from);
                let _ = relay.send_to(&buf[..n], receiver_in);
            }
        }
    });
    rtp_src
}

impl Drop for RtcpReceiver {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
