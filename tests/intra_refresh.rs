//! `[video] intra_refresh`: x264's periodic intra refresh instead of
//! keyframes, so that no single frame bursts a narrow link's queue. The
//! real daemon streams to a stock ffmpeg recorder twice, with and without
//! it; the recording (the independent receiver's view) shows the biggest
//! frame against the median one, and that it decodes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bridgepoint_system_tests::daemon::{run_cli, Daemon};
use bridgepoint_system_tests::ffmpeg::{decode_errors, probe, record};
use bridgepoint_system_tests::fixtures::config;
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::TempDir;

/// The video packets' sizes in a recording (one packet a frame), in order.
fn frame_sizes(path: &Path) -> Vec<u64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=size",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// Streams 8 s to ffmpeg; returns the largest frame over the median (after
/// the first second), the frames recorded, and ffmpeg's decode errors.
fn largest_over_median(intra_refresh: bool) -> (f64, u64, String) {
    let dir = TempDir::new(if intra_refresh { "ir-on" } else { "ir-off" });
    let (video_port, audio_port) = free_ports();
    let text = config(
        &dir.path().join("data"),
        video_port,
        audio_port,
        "always",
        (640, 360),
    )
    .replace(
        "bitrate_kbps = 1500",
        &format!("bitrate_kbps = 1500\nintra_refresh = {intra_refresh}"),
    );
    assert!(text.contains("intra_refresh"));
    let config_file = dir.path().join("sdp.toml");
    std::fs::write(&config_file, &text).unwrap();
    let out = run_cli(&["sdp", "--config", config_file.to_str().unwrap()]);
    assert!(out.status.success());
    let sdp = String::from_utf8(out.stdout).unwrap();
    let recorder = record(dir.path(), "hub", &sdp, 8);
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    let ffmpeg_log = recorder.wait();
    let recording = dir.path().join("hub.mkv");
    let p = probe(&recording).unwrap_or_else(|| panic!("no recording: {ffmpeg_log}"));
    let mut sizes = frame_sizes(&recording);
    assert!(sizes.len() > 150, "{} frames recorded", sizes.len());
    let sizes: Vec<u64> = sizes.drain(30..).collect();
    let largest = *sizes.iter().max().unwrap() as f64;
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2] as f64;
    (largest / median, p.video_frames, decode_errors(&recording))
}

#[test]
fn intra_refresh_flattens_the_biggest_frame_and_the_recording_decodes() {
    let (keyframes, _, _) = largest_over_median(false);
    let (refresh, frames, errors) = largest_over_median(true);
    eprintln!(
        "largest frame over the median: {keyframes:.2} with a keyframe a second, {refresh:.2} with intra refresh"
    );
    // What the biggest frame carries beyond a median one: the burst a
    // narrow link's queue must absorb (measured: 0.7 of a median frame
    // with a keyframe a second, 0.1 with intra refresh, 640x360 at 1500
    // kbit/s).
    assert!(
        refresh - 1.0 < (keyframes - 1.0) / 2.0,
        "intra refresh: the largest frame is {refresh:.2}x the median; keyframes: {keyframes:.2}x"
    );
    assert!(frames >= 200, "{frames} frames decoded in 8 s");
    assert!(errors.trim().is_empty(), "ffmpeg decode errors:\n{errors}");
}
