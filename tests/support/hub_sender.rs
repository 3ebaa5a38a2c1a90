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
        let pipeline = format!(
            "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 \
             ! rtph264pay pt=96 config-interval=-1 ! srtpenc key={hex} \
             ! udpsink host=127.0.0.1 port={video_port} \
             audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample ! opusenc \
             ! rtpopuspay pt=111 ! srtpenc key={hex} ! udpsink host=127.0.0.1 port={audio_port}"
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
