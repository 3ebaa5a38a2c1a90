//! No message can cut a box off: a retained config of 3 MB and a 3 MB
//! command (the box reads at most 256 KiB, and says so at connect, MQTT 5)
//! are dropped by the broker for the box, which stays connected, keeps
//! streaming and takes the next normal push; a push between the box's 64 KiB
//! limit and 256 KiB is read and refused with a report. The real daemon and
//! a real mosquitto, with no `max_packet_size` of its own.

use std::time::Duration;

use bridgepoint_proto::{Command, Leaf};
use bridgepoint_system_tests::control::{
    command, push, pushed_config, start_streaming_box, topic, wait_json, wait_ok_result, Central,
    Keys,
};
use bridgepoint_testkit::broker::Broker;
use bridgepoint_testkit::{wait_for, TempDir};
use serde_json::json;

const DEVICE: &str = "lang-son-01";

#[test]
fn a_3_mb_retained_config_and_a_3_mb_command_never_cut_the_box_off() {
    let dir = TempDir::new("oversize");
    let broker = Broker::plain();
    let keys = Keys::generate(dir.path(), "central");
    let central = Central::new(&broker, None);
    let (reported, results, status) = (
        topic(DEVICE, Leaf::ConfigReported),
        topic(DEVICE, Leaf::CmdResult),
        topic(DEVICE, Leaf::Status),
    );
    let sub = central.subscribe(&[&reported, &results, &status]);
    let (daemon, mut board, (video_port, audio_port)) =
        start_streaming_box(dir.path(), DEVICE, &broker, &keys);
    assert!(
        wait_json(&sub, &status, 0, Duration::from_secs(10), |v| v["online"]
            == true)
        .is_some()
    );

    // 3 MB retained on config/desired, and 3 MB on cmd.
    let huge = vec![b'x'; 3 * 1024 * 1024];
    central.publish(&topic(DEVICE, Leaf::ConfigDesired), &huge, true);
    central.publish(&topic(DEVICE, Leaf::Cmd), &huge, false);
    let dropped = wait_for(Duration::from_secs(10), || {
        (broker
            .log_text()
            .matches("Dropping too large outgoing PUBLISH")
            .count()
            >= 2)
            .then_some(())
    });
    assert!(
        dropped.is_some(),
        "the broker did not drop them for the box; broker log:\n{}",
        broker.log_text()
    );

    // Between the box's limit and its packet size: read, refused with a report.
    let before = sub.messages().len();
    central.publish(
        &topic(DEVICE, Leaf::ConfigDesired),
        &vec![b' '; 100 * 1024],
        true,
    );
    let report = wait_json(&sub, &reported, before, Duration::from_secs(10), |v| {
        v["state"] == "rejected"
    })
    .unwrap_or_else(|| panic!("no report; log:\n{}", daemon.log_text()));
    assert!(
        report["error"]
            .as_str()
            .unwrap_or_default()
            .contains("payload is 102400 bytes, limit 65536"),
        "{report}"
    );

    // Still connected (never lost the link), still streaming, and a normal
    // push and command work.
    let log = daemon.log_text();
    assert!(
        !log.contains("connection lost"),
        "the box lost its link; log:\n{log}"
    );
    assert_eq!(
        log.matches("mqtt: connected").count(),
        1,
        "the box reconnected; log:\n{log}"
    );
    assert_eq!(board.state()["stream"], "streaming");
    let mut config = pushed_config(video_port, audio_port, 1200);
    config["session"]["mode"] = json!("always");
    let before = sub.messages().len();
    central.publish(
        &topic(DEVICE, Leaf::ConfigDesired),
        &push(Some(&keys), DEVICE, 7, &config),
        true,
    );
    let applied = wait_json(&sub, &reported, before, Duration::from_secs(10), |v| {
        v["version"] == 7
    });
    assert_eq!(
        applied.map(|r| r["state"].clone()),
        Some(json!("applied")),
        "log:\n{}",
        daemon.log_text()
    );
    let before = sub.messages().len();
    central.publish(
        &topic(DEVICE, Leaf::Cmd),
        &command("k1", Command::Keyframe, None),
        false,
    );
    assert!(wait_ok_result(&sub, &results, before, Duration::from_secs(10), "k1").is_some());
    assert!(!daemon.log_text().contains("panicked"));
}
