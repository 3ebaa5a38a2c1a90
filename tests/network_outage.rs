//! The path to the hub goes away: a blackout on a real relay between the
//! real daemon and ffmpeg recording as the hub does (the impairment relay
//! of `bridgepoint_testkit::relay`, both directions, RTP and RTCP).

use std::process::Command;
use std::time::Duration;

use bridgepoint_system_tests::daemon::{run_cli, Daemon};
use bridgepoint_system_tests::ffmpeg;
use bridgepoint_system_tests::fixtures::config;
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::relay;
use bridgepoint_system_tests::sim::SimBoard;

use bridgepoint_testkit::TempDir;

/// (decoding time in ms, keyframe) of every video packet of a recording.
fn video_packets(path: &std::path::Path) -> Vec<(i64, bool)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "packet=dts_time,flags", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(',');
            let t = fields.next()?.trim().parse::<f64>().ok()?;
            let flags = fields.next().unwrap_or("");
            Some(((t * 1000.0).round() as i64, flags.contains('K')))
        })
        .collect()
}

#[test]
fn a_10_s_blackout_mid_session_the_daemon_stays_up_and_the_hub_decodes_again_within_2_s() {
    let dir = TempDir::new("blackout");
    let data = dir.path().join("data");
    // The hub (ffmpeg) listens on its ports; the box sends to the relay's.
    let (hub_video, hub_audio) = free_ports();
    let (relay_video, relay_audio) = free_ports();
    let with_keyframes_every_2_s =
        |text: String| text.replace("keyframe_interval_s = 1", "keyframe_interval_s = 2");
    let hub_config = dir.path().join("hub.toml");
    std::fs::write(
        &hub_config,
        with_keyframes_every_2_s(config(&data, hub_video, hub_audio, "always", (320, 180))),
    )
    .unwrap();
    let out = run_cli(&["sdp", "--config", hub_config.to_str().unwrap()]);
    assert!(out.status.success());
    let sdp = String::from_utf8(out.stdout).unwrap();
    let recorder = ffmpeg::record(dir.path(), "blackout", &sdp, 24);

    // Clear for 6 s, nothing either way for 10 s, then clear again.
    let mut relay = relay::between_box_and_hub(
        "clear for 6s; blackout for 10s; clear",
        1,
        (relay_video, relay_audio),
        (hub_video, hub_audio),
    );
    let mut daemon = Daemon::start(
        dir.path(),
        &with_keyframes_every_2_s(config(
            &data,
            relay_video,
            relay_audio,
            "always",
            (320, 180),
        )),
    );
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);

    let log = recorder.wait();
    let counters = relay.counters();
    relay.stop();
    assert!(
        daemon.is_running(),
        "the daemon died:\n{}",
        daemon.log_text()
    );
    // Through the blackout the box kept its session: it is still streaming.
    assert_eq!(
        board.state()["stream"],
        "streaming",
        "{}",
        daemon.log_text()
    );
    let up = counters.direction(bridgepoint_testkit::impairment::Direction::BoxToHub);
    assert!(
        up.dropped_blackout > 100,
        "the blackout dropped nothing: {counters:?}"
    );

    let packets = video_packets(&dir.path().join("blackout.mkv"));
    assert!(
        packets.len() > 100,
        "too few video packets: {}\n{log}",
        packets.len()
    );
    // The blackout: the longest gap between packets, 10 s give or take the
    // relay's timing.
    let (gap_at, gap) = packets
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i + 1, w[1].0 - w[0].0))
        .max_by_key(|&(_, gap)| gap)
        .unwrap();
    assert!(
        (9_000..=11_000).contains(&gap),
        "no 10 s gap in the recording (longest {gap} ms)"
    );
    // After it, the hub decodes from the first keyframe on: within 2 s of
    // the path coming back.
    let back_at = packets[gap_at].0;
    let keyframe_at = packets[gap_at..]
        .iter()
        .find(|(_, key)| *key)
        .map(|(t, _)| *t)
        .expect("no keyframe after the blackout");
    eprintln!(
        "blackout: {gap} ms without packets at the hub; the first keyframe {} ms after they came back",
        keyframe_at - back_at
    );
    assert!(
        keyframe_at - back_at <= 2_000,
        "the first decodable frame came {} ms after the path returned",
        keyframe_at - back_at
    );
    // And the recording reads to its end.
    let errors = ffmpeg::decode_errors(&dir.path().join("blackout.mkv"));
    assert!(!errors.contains("(ffmpeg exited"), "{errors}");
}
