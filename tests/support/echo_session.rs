//! One session of the echo test in a [`crate::pulse_room::PulseRoom`], and
//! how its recording is measured, shared by `tests/echo_room.rs` and the
//! `echo-room-bench` of `scripts/bench`.
//!
//! The box plays the hub's voice (sent over the return stream by a stock
//! gst-launch-1.0 from [`FAR_AFTER`] after the daemon starts) and hears it
//! back through the room; a citizen speaks in the room [`NEAR_AFTER_FAR`]
//! later; ffmpeg records what the box sends, as the hub does. From a
//! recording ([`Levels::of`]): the echo's RMS from 3 s after it starts (the
//! canceller's convergence) to its end, and the citizen's, both placed from
//! the citizen's speech onset (the recording's last sound).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::{run_cli, Daemon};
use crate::fixtures::KEY;
use crate::free_ports;
use crate::pulse_room::PulseRoom;
use crate::sim::SimBoard;
use bridgepoint_testkit::wait_for;

/// The hub's receive key (30 bytes, base64), not the box's send key.
const RECEIVE_KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB";
/// Seconds of the recording.
const RECORD_S: u32 = 30;
/// When the hub starts speaking, after the daemon starts.
pub const FAR_AFTER: Duration = Duration::from_secs(4);
/// When the citizen starts, after the hub.
pub const NEAR_AFTER_FAR: Duration = Duration::from_secs(17);

/// The official's words (12.9 s said twice) and the citizen's (4 s), in
/// `dir`.
pub fn voices(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("voices dir");
    let far = speech(
        dir,
        "official",
        "vi",
        "Xin chào. Tôi là cán bộ tiếp công dân của Thanh tra Chính phủ. Xin mời ông trình bày nội dung khiếu nại của mình.",
        2,
    );
    let near = speech(
        dir,
        "citizen",
        "en",
        "Good morning. I came here today to ask about my land certificate.",
        1,
    );
    (far, near)
}

/// What a recording holds: the echo's and the citizen's level (dBFS RMS)
/// and where the citizen starts.
#[derive(Debug, Clone, Copy)]
pub struct Levels {
    /// The official's voice coming back.
    pub echo_db: f64,
    /// The citizen's voice.
    pub citizen_db: f64,
    /// Seconds into the recording.
    pub citizen_onset_s: f64,
}

impl Levels {
    /// Measures a recording; `None` without the citizen's speech.
    pub fn of(s: &[i16]) -> Option<Levels> {
        let onset = near_onset(s)?;
        Some(Levels {
            // From 3 s after the echo starts (17 s before the citizen) to its end.
            echo_db: rms_db(s, onset - 14.0, onset - 5.0),
            citizen_db: rms_db(s, onset + 0.5, onset + 3.5),
            citizen_onset_s: onset,
        })
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// Speech as 48 kHz mono 16-bit WAV: `text` said `times` times.
pub fn speech(dir: &Path, name: &str, voice: &str, text: &str, times: usize) -> PathBuf {
    let raw = dir.join(format!("{name}-22k.wav"));
    let one = dir.join(format!("{name}-1.wav"));
    let out = dir.join(format!("{name}.wav"));
    run(
        "espeak-ng",
        &["-v", voice, "-w", raw.to_str().unwrap(), text],
    );
    run(
        "sox",
        &[
            "-G",
            raw.to_str().unwrap(),
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            one.to_str().unwrap(),
        ],
    );
    let mut args: Vec<&str> = vec!["-G"];
    let one_str = one.to_str().unwrap();
    args.extend(std::iter::repeat_n(one_str, times));
    args.push(out.to_str().unwrap());
    run("sox", &args);
    out
}

/// The 16-bit mono samples of a WAV file.
pub fn samples(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if id == b"data" {
            let end = (at + 8 + len).min(bytes.len());
            return bytes[at + 8..end]
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// RMS in dBFS of `s` from `from` to `to` seconds (48 kHz).
pub fn rms_db(s: &[i16], from: f64, to: f64) -> f64 {
    let a = ((from * 48_000.0) as usize).min(s.len());
    let b = ((to * 48_000.0) as usize).min(s.len());
    if b <= a {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = s[a..b].iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let rms = (sum / (b - a) as f64).sqrt();
    20.0 * (rms.max(1e-9) / 32768.0).log10()
}

/// Where the last sound of the recording (the citizen) starts, in seconds:
/// the start of the last run of 100 ms blocks above -50 dBFS with gaps
/// under 0.5 s.
pub fn near_onset(s: &[i16]) -> Option<f64> {
    let blocks: Vec<bool> = s
        .chunks(4800)
        .map(|c| {
            let sum: f64 = c.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            20.0 * ((sum / c.len() as f64).sqrt().max(1e-9) / 32768.0).log10() > -50.0
        })
        .collect();
    let last = blocks.iter().rposition(|&loud| loud)?;
    let mut onset = last;
    let mut quiet = 0;
    for i in (0..last).rev() {
        if blocks[i] {
            onset = i;
            quiet = 0;
        } else {
            quiet += 1;
            if quiet >= 5 {
                break;
            }
        }
    }
    Some(onset as f64 * 0.1)
}

/// One session in the room with the canceller on or off, told the echo
/// `echo_delay_ms` later; returns the recording's samples.
pub fn session(
    room: &PulseRoom,
    dir: &Path,
    echo_cancellation: bool,
    echo_delay_ms: u32,
    far: &Path,
    near: &Path,
) -> Vec<i16> {
    let (hub_video, hub_audio) = free_ports();
    let (local_video, local_audio) = free_ports();
    let data = dir.join("data");
    let text = format!(
        r#"device_id = "room-01"
data_dir = "{data}"
board = "sim"

[hub]
host = "127.0.0.1"
video_port = {hub_video}
audio_port = {hub_audio}
local_video_port = {local_video}
local_audio_port = {local_audio}

[srtp]
suite = "AES_CM_128_HMAC_SHA1_80"
key = "{KEY}"
receive_key = "{RECEIVE_KEY}"

[video]
source = "test"
encoder = "x264"
width = 320
height = 180
fps = 10
bitrate_kbps = 300
keyframe_interval_s = 1

[audio]
source = "alsa:room_mic"
noise_suppression = false
gain_control = false
echo_cancellation = {echo_cancellation}
echo_delay_ms = {echo_delay_ms}

[speaker]
sink = "alsa:room_speaker"

[display]
sink = "fake"
self_view = false

[session]
mode = "always"
"#,
        data = data.display(),
    );
    let config = dir.join("sdp.toml");
    std::fs::write(&config, &text).unwrap();
    let sdp = run_cli(&["sdp", "--config", config.to_str().unwrap()]);
    assert!(sdp.status.success());
    let sdp_file = dir.join("hub.sdp");
    std::fs::write(&sdp_file, &sdp.stdout).unwrap();
    let recording = dir.join("hub.wav");
    let mut recorder = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-protocol_whitelist",
            "file,udp,rtp,srtp,crypto",
            "-i",
        ])
        .arg(&sdp_file)
        .args(["-t", &RECORD_S.to_string(), "-vn", "-c:a", "pcm_s16le"])
        .args(["-ar", "48000", "-ac", "1", "-y"])
        .arg(&recording)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg");
    std::thread::sleep(Duration::from_millis(500));
    let home = room.home().to_str().unwrap().to_owned();
    let daemon = Daemon::start_with_env(dir, &text, &[("HOME", &home)]);
    let started = Instant::now();
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);
    std::thread::sleep(FAR_AFTER.saturating_sub(started.elapsed()));
    let receive_hex: String = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(RECEIVE_KEY)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut hub = Command::new("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", far.display()))
        .args(["!", "wavparse", "!", "audioconvert", "!", "audioresample"])
        .args(["!", "opusenc", "!", "rtpopuspay", "pt=111", "!", "srtpenc"])
        .arg(format!("key={receive_hex}"))
        .args(["!", "udpsink", "host=127.0.0.1"])
        .arg(format!("port={local_audio}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0");
    std::thread::sleep((FAR_AFTER + NEAR_AFTER_FAR).saturating_sub(started.elapsed()));
    let mut citizen = room.say(near);
    let done = wait_for(Duration::from_secs(u64::from(RECORD_S) + 20), || {
        recorder.try_wait().ok().flatten()
    });
    let _ = recorder.kill();
    let _ = hub.kill();
    let _ = hub.wait();
    let _ = citizen.wait();
    let log = daemon.log_text();
    assert!(done.is_some(), "ffmpeg did not finish; box log:\n{log}");
    assert!(
        log.contains("playing it kind=\"audio\""),
        "the box did not play the hub's voice:\n{log}"
    );
    drop(daemon);
    samples(&recording)
}
