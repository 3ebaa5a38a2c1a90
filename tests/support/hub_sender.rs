//! The hub's return media, sent by a stock tool: `gst-launch-1.0` encoding
//! a test picture (H.264, PT 96) and a tone (Opus, PT 111), each protected
//! by `srtpenc` with the given key and sent to the box's ports, as a hub
//! sends the official's camera and microphone back to the room.

use std::process::{Child, Command, Stdio};

/// A running sender; stopped when dropped.
#[derive(Debug)]
pub struct HubSender {
    child: Child,
}

impl HubSender {
    /// Sends to 127.0.0.1 `video_port` and `audio_port` with the
    /// AES_CM_128_HMAC_SHA1_80 `key` (30 bytes).
    pub fn start(video_port: u16, audio_port: u16, key: &[u8]) -> HubSender {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        // One rtpbin for both streams, as a hub's RTP stack: one CNAME and
        // one clock, and RTCP sender reports (protected like the media) to
        // the box's RTCP ports, from which the box lip-syncs.
        let pipeline = format!(
            "rtpbin name=r \
             videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 \
             ! rtph264pay pt=96 config-interval=-1 ! r.send_rtp_sink_0 \
             r.send_rtp_src_0 ! srtpenc name=ve key={hex} ! udpsink host=127.0.0.1 port={video_port} \
             r.send_rtcp_src_0 ! ve.rtcp_sink_0 ve.rtcp_src_0 \
             ! udpsink host=127.0.0.1 port={video_rtcp} sync=false async=false \
             audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample ! opusenc \
             ! rtpopuspay pt=111 ! r.send_rtp_sink_1 \
             r.send_rtp_src_1 ! srtpenc name=ae key={hex} ! udpsink host=127.0.0.1 port={audio_port} \
             r.send_rtcp_src_1 ! ae.rtcp_sink_0 ae.rtcp_src_0 \
             ! udpsink host=127.0.0.1 port={audio_rtcp} sync=false async=false",
            video_rtcp = video_port + 1,
            audio_rtcp = audio_port + 1,
        );
        let child = Command::new("gst-launch-1.0")
            .arg("-q")
            .args(pipeline.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gst-launch-1.0 (gstreamer1.0-tools)");
        HubSender { child }
    }

    /// Stops sending.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HubSender {
    fn drop(&mut self) {
        self.halt();
    }
}
