//! ffmpeg and ffprobe as the hub's independent receiver.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An ffmpeg receiving from an SDP file into a Matroska file.
#[derive(Debug)]
pub struct Recorder {
    child: Child,
    /// The recording.
    pub out: PathBuf,
    /// ffmpeg's stderr.
    pub log: PathBuf,
}

/// Starts ffmpeg on `sdp`, recording `seconds` of stream into `dir/<name>.mkv`,
/// and returns once ffmpeg listens on every port of the SDP. ffmpeg waits for
/// the first packet; `timeout` stops it with SIGINT (so the file keeps its
/// trailer) if the stream never comes.
pub fn record(dir: &Path, name: &str, sdp: &str, seconds: u32) -> Recorder {
    let sdp_path = dir.join(format!("{name}.sdp"));
    std::fs::write(&sdp_path, sdp).expect("write sdp");
    let out = dir.join(format!("{name}.mkv"));
    let log = dir.join(format!("{name}.ffmpeg.log"));
    let child = Command::new("timeout")
        .args([
            "-s",
            "INT",
            &(seconds + 20).to_string(),
            "ffmpeg",
            "-nostdin",
            "-y",
            "-v",
            "warning",
        ])
        .args(["-protocol_whitelist", "file,udp,rtp,srtp,crypto", "-i"])
        .arg(&sdp_path)
        .args(["-t", &seconds.to_string(), "-map", "0", "-c", "copy"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("ffmpeg log"))
        .spawn()
        .expect("start ffmpeg");
    let recorder = Recorder { child, out, log };
    // As the hub does, the receiver is listening before the stream starts:
    // packets sent before ffmpeg has bound its sockets would be lost, and a
    // receiver that misses the start of one stream more than of the other
    // re-times that stream when the first sender reports arrive.
    let ports = sdp_ports(sdp);
    let bound = bridgepoint_testkit::wait_for(Duration::from_secs(20), || {
        let open = udp_bound_ports();
        ports.iter().all(|p| open.contains(p)).then_some(())
    });
    if bound.is_none() {
        panic!(
            "ffmpeg did not bind UDP ports {ports:?} within 20 s; it said:\n{}",
            std::fs::read_to_string(&recorder.log).unwrap_or_default()
        );
    }
    recorder
}

/// The RTP and RTCP ports of every `m=` line of an SDP.
fn sdp_ports(sdp: &str) -> Vec<u16> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("m="))
        .filter_map(|m| m.split_whitespace().nth(1)?.parse::<u16>().ok())
        .flat_map(|p| [p, p + 1])
        .collect()
}

/// Local ports of the machine's UDP sockets, from /proc/net/udp{,6}.
fn udp_bound_ports() -> Vec<u16> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|l| {
                    let local = l.split_whitespace().nth(1)?;
                    u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

impl Recorder {
    /// Waits for ffmpeg to finish; returns its log.
    pub fn wait(mut self) -> String {
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What ffprobe says of a recording.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// Video codec name, if a video stream exists.
    pub video_codec: Option<String>,
    /// Picture width.
    pub width: u64,
    /// Picture height.
    pub height: u64,
    /// Decoded video frames.
    pub video_frames: u64,
    /// Audio codec name, if an audio stream exists.
    pub audio_codec: Option<String>,
    /// Audio sample rate.
    pub sample_rate: u64,
    /// Container duration in seconds.
    pub duration: f64,
}

/// Probes `path` (counting frames by decoding); `None` if there is no file
/// or ffprobe cannot read it.
pub fn probe(path: &Path) -> Option<Probe> {
    if !path.exists() {
        return None;
    }
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-of", "json"])
        .args([
            "-show_entries",
            "stream=codec_type,codec_name,width,height,nb_read_frames,sample_rate",
        ])
        .args(["-show_entries", "format=duration"])
        .arg(path)
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let num = |v: &serde_json::Value| -> u64 {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0)
    };
    let mut p = Probe {
        duration: json["format"]["duration"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0),
        ..Probe::default()
    };
    for s in json["streams"].as_array()? {
        match s["codec_type"].as_str() {
            Some("video") => {
                p.video_codec = s["codec_name"].as_str().map(str::to_owned);
                p.width = num(&s["width"]);
                p.height = num(&s["height"]);
                p.video_frames = num(&s["nb_read_frames"]);
            }
            Some("audio") => {
                p.audio_codec = s["codec_name"].as_str().map(str::to_owned);
                p.sample_rate = num(&s["sample_rate"]);
            }
            _ => {}
        }
    }
    Some(p)
}

/// What `ffmpeg -v error -i FILE -f null -` prints (empty when the file decodes cleanly).
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("\n(ffmpeg exited with {})", out.status));
    }
    text
}

/// The decoding timestamps (ms) of one stream's packets in `path`, in order.
pub fn packet_times_ms(path: &Path, stream: &str) -> Vec<i64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream])
        .args(["-show_entries", "packet=dts_time", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .map(|t| (t * 1000.0).round() as i64)
        .collect()
}

/// Steps between consecutive packets (after the first `skip`) that are
/// shorter than `min_ms`: a stream whose timestamps went back or were
/// re-based mid-recording. Longer steps (a dropped frame) are not listed.
pub fn short_steps(times_ms: &[i64], skip: usize, min_ms: i64) -> Vec<String> {
    times_ms
        .windows(2)
        .enumerate()
        .skip(skip)
        .filter(|(_, w)| w[1] - w[0] < min_ms)
        .map(|(i, w)| format!("packet {}: {} ms -> {} ms", i + 1, w[0], w[1]))
        .collect()
}
