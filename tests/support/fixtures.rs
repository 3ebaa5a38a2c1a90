//! Config files for the tests.

use std::path::Path;

/// A valid SRTP key (30 bytes, base64).
pub const KEY: &str = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZ";
/// Another valid key, for the wrong-key test.
pub const OTHER_KEY: &str = "ZmFrZS1rZXktZm9yLXRoZS13cm9uZy1rZXktdGVzdA";

/// [`KEY`]'s bytes (master key and salt), as a hub's receiver takes them.
pub fn key_bytes() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .expect("KEY is base64")
}

/// A config streaming test sources to 127.0.0.1 on the given ports.
pub fn config(
    data_dir: &Path,
    video_port: u16,
    audio_port: u16,
    mode: &str,
    size: (u32, u32),
) -> String {
    format!(
        r#"device_id = "test-box-01"
data_dir = "{data}"
board = "sim"

[hub]
host = "127.0.0.1"
video_port = {video_port}
audio_port = {audio_port}

[srtp]
suite = "AES_CM_128_HMAC_SHA1_80"
key = "{KEY}"

[video]
source = "test"
encoder = "x264"
width = {w}
height = {h}
fps = 30
bitrate_kbps = 1500
keyframe_interval_s = 1

[audio]
source = "test"
bitrate_kbps = 32

[session]
mode = "{mode}"
call_timeout_s = 60
"#,
        data = data_dir.display(),
        w = size.0,
        h = size.1,
    )
}

/// [`config`] for a box whose data dir is `dir/data`, streaming to free
/// loopback ports (from [`crate::free_ports`]).
pub fn config_on_free_ports(dir: &Path, mode: &str, size: (u32, u32)) -> String {
    let (video_port, audio_port) = crate::free_ports();
    config(&dir.join("data"), video_port, audio_port, mode, size)
}
