//! The stall watchdog: a box whose video encoder stops producing while it
//! streams restarts its pipeline, counts the stall and reports it, and the
//! hub records video again. The encoder is stalled with the simulated
//! board's test fault `BRIDGEPOINT_SIM_FAULT=stall-video-after=S` (the first
//! pipeline's encoder output is dropped from S seconds on; the pipeline
//! after the restart is whole).

use std::time::{Duration, Instant};

use bridgepoint_proto::Leaf;
use bridgepoint_system_tests::control::{all_json, box_config, topic, wait_json, BoxLink, Central};
use bridgepoint_system_tests::daemon::{run_cli, Daemon};
use bridgepoint_system_tests::ffmpeg::{probe, record};
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::broker::Broker;
use bridgepoint_testkit::{wait_for, TempDir};

const DEVICE: &str = "stall-box-01";

/// The stall message the core reports (5 s: the supervisor's stall timeout).
const STALL: &str = "no video packet left the box for 5 s (the encoder stalled?)";

#[test]
fn a_stalled_video_encoder_is_restarted_counted_and_reported_and_the_hub_records_again() {
    let dir = TempDir::new("stall");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let (event, telemetry, status) = (
        topic(DEVICE, Leaf::Event),
        topic(DEVICE, Leaf::Telemetry),
        topic(DEVICE, Leaf::Status),
    );
    let sub = central.subscribe(&[&event, &telemetry, &status]);
    let (video_port, audio_port) = free_ports();
    let text = box_config(
        &dir.path().join("data"),
        DEVICE,
        &broker,
        BoxLink::Plain,
        &[],
        Some((video_port, audio_port)),
        "always",
    );
    let daemon = Daemon::start_with_env(
        dir.path(),
        &text,
        &[("BRIDGEPOINT_SIM_FAULT", "stall-video-after=3")],
    );
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);
    let streaming_at = Instant::now();

    // The encoder stops 3 s after the pipeline started; the watchdog fails
    // the stream 5 s after video last moved (counts go to the core every
    // second) and the first failure is an `error` event naming the stall.
    let error = wait_json(&sub, &event, 0, Duration::from_secs(30), |v| {
        v["type"] == "error"
    })
    .unwrap_or_else(|| {
        panic!(
            "no error event; events {:?}\nlog:\n{}",
            all_json(&sub, &event),
            daemon.log_text()
        )
    });
    assert_eq!(error["message"], STALL, "{error}");
    let took = streaming_at.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "a stall reported {took:?} after streaming began: the encoder stopped only 3 s in and the watchdog waits 5 s"
    );

    // The stream went to error (or straight on to starting) and back to
    // streaming, with a new pipeline.
    board.assert_stream("streaming", Duration::from_secs(20), &daemon);
    // The board shows the state before the status published over MQTT
    // reaches central: wait a little for the status to say it too.
    let states_now = || -> Vec<String> {
        all_json(&sub, &status)
            .iter()
            .filter_map(|v| v["stream"].as_str().map(str::to_owned))
            .collect()
    };
    let failed_in = |states: &[String]| {
        states
            .iter()
            .position(|s| s == "streaming")
            .and_then(|first| {
                let after = states[first..]
                    .iter()
                    .position(|s| s == "error" || s == "starting")?;
                Some(first + after)
            })
    };
    let _ = wait_for(Duration::from_secs(10), || {
        let states = states_now();
        let failed = failed_in(&states)?;
        states[failed..]
            .iter()
            .any(|s| s == "streaming")
            .then_some(())
    });
    let states = states_now();
    let Some(failed) = failed_in(&states) else {
        panic!("no streaming → error/starting in the status: {states:?}");
    };
    assert!(
        states[failed..].iter().any(|s| s == "streaming"),
        "not streaming again after the stall: {states:?}"
    );
    let log = daemon.log_text();
    assert!(log.contains(STALL), "{log}");
    assert!(log.contains("generation=2"), "no second pipeline:\n{log}");

    // Telemetry counts it.
    let report = wait_json(&sub, &telemetry, 0, Duration::from_secs(20), |v| {
        v["stalls"].as_u64().is_some_and(|n| n >= 1) && v["stream"] == "streaming"
    })
    .unwrap_or_else(|| {
        panic!(
            "no telemetry with stalls >= 1 while streaming: {:?}",
            all_json(&sub, &telemetry)
        )
    });
    assert_eq!(report["stalls"], 1, "{report}");

    // The hub records video from the new pipeline (ffmpeg joins mid-stream
    // and decodes from the next keyframe, 1 s apart here).
    let sdp = hub_sdp(&daemon);
    let recorder = record(dir.path(), "after-restart", &sdp, 3);
    let ffmpeg_log = recorder.wait();
    let p = probe(&dir.path().join("after-restart.mkv"))
        .unwrap_or_else(|| panic!("no recording; ffmpeg said:\n{ffmpeg_log}"));
    assert_eq!(p.video_codec.as_deref(), Some("h264"), "{p:?}");
    assert!(
        p.video_frames > 30,
        "{} frames recorded after the restart; ffmpeg said:\n{ffmpeg_log}",
        p.video_frames
    );

    // The restarted pipeline is whole: still one stall, still streaming.
    let seen = sub.messages().len();
    let later = wait_json(&sub, &telemetry, seen, Duration::from_secs(15), |_| true)
        .expect("a later telemetry report");
    assert_eq!(later["stalls"], 1, "{later}");
    assert_eq!(later["stream"], "streaming", "{later}");
    assert!(daemon.stop(), "daemon did not exit cleanly on SIGTERM");
}

/// The SDP the hub records the box's stream with.
fn hub_sdp(daemon: &Daemon) -> String {
    let out = run_cli(&["sdp", "--config", daemon.config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "sdp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdp = String::from_utf8(out.stdout).unwrap();
    assert!(sdp.contains("m=video"), "{sdp}");
    sdp
}
