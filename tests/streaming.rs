//! The box streams to the hub: the real daemon sends H.264 + Opus over SRTP
//! and an independent receiver (ffmpeg, started from the SDP the daemon
//! prints) records it.

use std::time::Duration;

use bridgepoint_system_tests::daemon::{run_cli, Daemon};
use bridgepoint_system_tests::ffmpeg::{
    decode_errors, packet_times_ms, probe, record, short_steps,
};
use bridgepoint_system_tests::fixtures::{KEY, OTHER_KEY};
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::TempDir;

fn sdp_for(daemon: &Daemon) -> String {
    let out = run_cli(&["sdp", "--config", daemon.config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "sdp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ffmpeg_records_h264_and_opus_from_the_sdp_the_box_prints() {
    let dir = TempDir::new("stream");
    let daemon = Daemon::start_on_free_ports(dir.path(), "on_call", (1280, 720));
    let sdp = sdp_for(&daemon);
    assert!(sdp.contains(&format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}")));

    // The receiver starts first and waits, as the hub does.
    let recorder = record(dir.path(), "hub", &sdp, 6);
    let mut board = SimBoard::connect(&daemon.socket());
    assert_eq!(board.cmd("press call"), "ok");
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    let ffmpeg_log = recorder.wait();
    // A stock ffmpeg recorder sends no receiver report: the box says so,
    // keeps its configured bitrate, and counts what its sockets sent.
    let state = board.state();
    assert_eq!(state["send"]["feedback"], "none", "{state}");
    assert_eq!(state["send"]["target_kbps"], 1500, "{state}");
    assert_eq!(
        state["send"]["loss_pct"],
        serde_json::Value::Null,
        "{state}"
    );
    assert!(
        state["send"]["video_packets"].as_u64().unwrap_or(0) > 100
            && state["send"]["audio_packets"].as_u64().unwrap_or(0) > 100,
        "{state}"
    );

    let p = probe(&dir.path().join("hub.mkv"))
        .unwrap_or_else(|| panic!("no recording; ffmpeg said:\n{ffmpeg_log}"));
    assert_eq!(p.video_codec.as_deref(), Some("h264"), "{p:?}");
    assert_eq!((p.width, p.height), (1280, 720), "{p:?}");
    assert_eq!(p.audio_codec.as_deref(), Some("opus"), "{p:?}");
    assert_eq!(p.sample_rate, 48_000, "{p:?}");
    assert!(p.duration >= 5.0, "recorded only {} s", p.duration);
    let expected = p.duration * 30.0;
    assert!(
        p.video_frames as f64 >= 0.9 * expected,
        "{} frames in {:.2} s, expected at least {:.0}",
        p.video_frames,
        p.duration,
        0.9 * expected
    );
    // Neither stream is re-timed when the receiver switches to RTCP timing
    // (the first sender reports arrive within the recording): video frames
    // stay 33 ms apart or more, Opus packets 20 ms (after the encoder's
    // first, shorter step).
    let recording = dir.path().join("hub.mkv");
    let video = packet_times_ms(&recording, "v:0");
    let audio = packet_times_ms(&recording, "a:0");
    assert!(
        video.len() > 100 && audio.len() > 200,
        "{} video, {} audio packets",
        video.len(),
        audio.len()
    );
    assert_eq!(
        short_steps(&video, 0, 30),
        Vec::<String>::new(),
        "video steps back"
    );
    assert_eq!(
        short_steps(&audio, 1, 18),
        Vec::<String>::new(),
        "audio steps back"
    );
    let errors = decode_errors(&dir.path().join("hub.mkv"));
    assert!(
        errors.trim().is_empty(),
        "decoding the recording gave errors:\n{errors}"
    );
    assert!(daemon.stop(), "daemon did not exit cleanly on SIGTERM");
}

#[test]
fn a_receiver_with_the_wrong_key_records_no_frames() {
    let dir = TempDir::new("wrongkey");
    let daemon = Daemon::start_on_free_ports(dir.path(), "always", (640, 360));
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);

    let sdp = sdp_for(&daemon).replace(KEY, OTHER_KEY);
    let recorder = record(dir.path(), "wrong", &sdp, 4);
    // Give ffmpeg time to receive (and reject) several seconds of packets.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        board.state()["stream"],
        "streaming",
        "the box kept sending throughout"
    );
    let _ = std::process::Command::new("pkill")
        .args([
            "-INT",
            "-f",
            &format!("{}", dir.path().join("wrong.sdp").display()),
        ])
        .status();
    let log = recorder.wait();

    let frames = probe(&dir.path().join("wrong.mkv"))
        .map(|p| p.video_frames)
        .unwrap_or(0);
    assert_eq!(
        frames, 0,
        "a receiver with the wrong key decoded frames; ffmpeg said:\n{log}"
    );

    // Control: the right key, same daemon, records frames. Without this the
    // test above would also pass if nothing were sent at all.
    let recorder = record(dir.path(), "right", &sdp_for(&daemon), 2);
    let log = recorder.wait();
    let frames = probe(&dir.path().join("right.mkv"))
        .map(|p| p.video_frames)
        .unwrap_or(0);
    assert!(
        frames > 30,
        "the right key recorded only {frames} frames; ffmpeg said:\n{log}"
    );
}
