//! RFC 8083's circuit breaker with a real daemon: through the impairment
//! relay (100 ms each way, then 40 % loss towards the hub) to a GStreamer
//! rtpbin receiver that reports on both the video and the audio, as a
//! conferencing hub does. The video stops while the sound goes on, the
//! LEDs, the screen and an event say why; when the loss clears the video
//! comes back, from the floor, with a keyframe.

use std::time::Duration;

use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::fixtures::{config, key_bytes};
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::relay;
use bridgepoint_system_tests::rtcp_receiver::RtcpReceiver;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::wait_for;
use bridgepoint_testkit::TempDir;

fn packets(board: &mut SimBoard) -> (u64, u64) {
    let s = board.state();
    (
        s["send"]["video_packets"].as_u64().unwrap_or(0),
        s["send"]["audio_packets"].as_u64().unwrap_or(0),
    )
}

#[test]
fn persistent_heavy_loss_stops_the_video_keeps_the_sound_says_why_and_recovers() {
    let dir = TempDir::new("breaker");
    let data = dir.path().join("data");
    let (hub_video, hub_audio) = free_ports();
    let (relay_video, relay_audio) = free_ports();
    let key = key_bytes();
    let _hub = RtcpReceiver::start_with_audio(hub_video, hub_audio, &key);
    // A round trip of 200 ms: the TCP equation gives a rate worth
    // comparing (on a loopback's 0.1 ms any rate would be fair).
    let mut relay = relay::between_box_and_hub(
        "delay=100ms",
        11,
        (relay_video, relay_audio),
        (hub_video, hub_audio),
    );
    let text = config(&data, relay_video, relay_audio, "always", (640, 360)).replace(
        "bitrate_kbps = 1500",
        "bitrate_kbps = 1500\nmin_bitrate_kbps = 300",
    );
    assert!(text.contains("min_bitrate_kbps = 300"));
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);
    // Reports on a clear path first.
    wait_for(Duration::from_secs(20), || {
        (board.state()["send"]["feedback"] == "receiver_reports").then_some(())
    })
    .unwrap_or_else(|| panic!("no receiver reports: {}", board.state()));
    assert_eq!(board.state()["send"]["video"], "on");

    // 40 % of what the box sends is lost: at 300 kbit/s and more that is
    // far beyond ten times what TCP would get on this path.
    relay.replace_script("delay=100ms up.loss=40%".parse().unwrap());
    let state = wait_for(Duration::from_secs(60), || {
        let s = board.state();
        (s["send"]["video"] == "congestion").then_some(s)
    })
    .unwrap_or_else(|| {
        panic!(
            "the breaker never stopped the video: {}\nlog:\n{}",
            board.state(),
            daemon.log_text()
        )
    });
    assert_eq!(state["screen"]["indication"], "sound_only", "{state}");
    assert_eq!(state["stream"], "streaming", "{state}");
    assert_eq!(state["send"]["breaker_trips"], 1, "{state}");
    assert!(
        state["screen"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("đường truyền"),
        "the room reads why: {state}"
    );
    assert_eq!(board.led("status"), "blink-slow");
    assert_eq!(board.led("call"), "on");
    assert!(daemon
        .log_text()
        .contains("circuit breaker: the video stops, the sound goes on"));
    // The sound goes on, the video does not.
    let (video_before, audio_before) = packets(&mut board);
    std::thread::sleep(Duration::from_secs(3));
    let (video_after, audio_after) = packets(&mut board);
    assert_eq!(video_after, video_before, "no video packet while stopped");
    assert!(
        audio_after >= audio_before + 100,
        "the sound goes on: {audio_before} -> {audio_after}"
    );
    // Not a stall: the stream is not restarted while the video is held.
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !daemon.log_text().contains("stalled?"),
        "a held video was taken for a stall:\n{}",
        daemon.log_text()
    );

    // The loss clears: after the hold, a clean report brings the video back.
    relay.replace_script("delay=100ms".parse().unwrap());
    let state = wait_for(Duration::from_secs(40), || {
        let s = board.state();
        (s["send"]["video"] == "on").then_some(s)
    })
    .unwrap_or_else(|| {
        panic!(
            "the video never resumed: {}\nlog:\n{}",
            board.state(),
            daemon.log_text()
        )
    });
    assert_eq!(state["screen"]["indication"], "on_air", "{state}");
    assert!(
        state["send"]["keyframes"].as_u64().unwrap_or(0) >= 1,
        "{state}"
    );
    let log = daemon.log_text();
    assert!(
        log.contains("the video resumes from the lowest bitrate"),
        "{log}"
    );
    assert!(
        log.contains("reason=\"video_resumed\"") || log.contains("reason=video_resumed"),
        "{log}"
    );
    let (v1, _) = packets(&mut board);
    std::thread::sleep(Duration::from_secs(3));
    let (v2, _) = packets(&mut board);
    assert!(v2 > v1 + 30, "video flows again: {v1} -> {v2}");
    assert_eq!(board.led("status"), "heartbeat");
    relay.stop();
}
