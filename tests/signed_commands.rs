//! Commands are as trusted as configs: a box with trusted keys obeys what
//! changes what or where it sends or what it runs only signed, bound to it,
//! newer than the last signed command (also after a restart) and unexpired;
//! a per-session SRTP key gets the same checks as a configured one. The
//! real daemon, a real mosquitto, tokens signed by the workspace's jws-tool.

use std::time::Duration;

use bridgepoint_proto::{Command, Leaf};
use bridgepoint_system_tests::control::{
    box_config, command, topic, unix_now, wait_json, BoxLink, Central, Keys,
};
use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::broker::{Broker, Subscriber};
use bridgepoint_testkit::{wait_for, TempDir};
use serde_json::Value;

const DEVICE: &str = "lang-son-01";

/// Sends `payload` on the box's `cmd` and returns its result.
fn ask(central: &Central, sub: &Subscriber, id: &str, payload: &[u8], daemon: &Daemon) -> Value {
    let results = topic(DEVICE, Leaf::CmdResult);
    let before = sub.messages().len();
    central.publish(&topic(DEVICE, Leaf::Cmd), payload, false);
    wait_json(sub, &results, before, Duration::from_secs(10), |v| {
        v["id"] == id
    })
    .unwrap_or_else(|| panic!("no result for {id}; log:\n{}", daemon.log_text()))
}

fn refused_with(result: &Value, expected: &str) {
    assert_eq!(result["ok"], false, "{result}");
    let error = result["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(expected),
        "expected {expected:?} in {error:?}"
    );
}

#[test]
fn unsigned_forged_expired_replayed_and_other_box_commands_are_refused_and_signed_ones_obeyed() {
    let dir = TempDir::new("signed-commands");
    let broker = Broker::plain();
    let keys = Keys::generate(dir.path(), "central");
    let stranger = Keys::generate(dir.path(), "stranger");
    let central = Central::new(&broker, None);
    let sub = central.subscribe(&[
        &topic(DEVICE, Leaf::CmdResult),
        &topic(DEVICE, Leaf::Status),
    ]);
    let (video_port, audio_port) = free_ports();
    let text = box_config(
        &dir.path().join("data"),
        DEVICE,
        &broker,
        BoxLink::Plain,
        &[&keys.public_b64],
        Some((video_port, audio_port)),
        "on_call",
    );
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    assert!(
        wait_json(
            &sub,
            &topic(DEVICE, Leaf::Status),
            0,
            Duration::from_secs(10),
            |v| v["online"] == true
        )
        .is_some(),
        "log:\n{}",
        daemon.log_text()
    );
    let now = unix_now();
    let key: Vec<u8> = (1..=30).collect();

    let unsigned = command("c1", Command::Reboot, None);
    refused_with(
        &ask(&central, &sub, "c1", &unsigned, &daemon),
        "unsigned reboot refused",
    );
    let unsigned_key = command(
        "c2",
        Command::SessionStart {
            srtp_key: Some(key.clone()),
        },
        None,
    );
    refused_with(
        &ask(&central, &sub, "c2", &unsigned_key, &daemon),
        "unsigned session key refused",
    );
    let unsigned_update = command(
        "c3",
        Command::Update {
            url: "https://fw.example/x.raucb".into(),
        },
        None,
    );
    refused_with(
        &ask(&central, &sub, "c3", &unsigned_update, &daemon),
        "unsigned update refused",
    );
    let forged = command(
        "c4",
        Command::Reboot,
        Some((&stranger, DEVICE, 10, now + 60)),
    );
    refused_with(&ask(&central, &sub, "c4", &forged, &daemon), "signature:");
    let other_box = command("c5", Command::Reboot, Some((&keys, "hue-02", 10, now + 60)));
    refused_with(
        &ask(&central, &sub, "c5", &other_box, &daemon),
        "device_id: command is for \"hue-02\", this box is \"lang-son-01\"",
    );
    let expired = command("c6", Command::Reboot, Some((&keys, DEVICE, 10, now - 30)));
    refused_with(
        &ask(&central, &sub, "c6", &expired, &daemon),
        "expires_at: the command expired",
    );
    let zero_key = command(
        "c7",
        Command::SessionStart {
            srtp_key: Some(vec![0; 30]),
        },
        Some((&keys, DEVICE, 11, now + 60)),
    );
    refused_with(
        &ask(&central, &sub, "c7", &zero_key, &daemon),
        "args.srtp_key: is a constant byte pattern",
    );
    assert_eq!(
        board.state()["stream"],
        "stopped",
        "nothing refused started a stream"
    );

    // A signed session key is obeyed: the session streams.
    let start = command(
        "c8",
        Command::SessionStart {
            srtp_key: Some(key.clone()),
        },
        Some((&keys, DEVICE, 12, now + 60)),
    );
    assert_eq!(
        ask(&central, &sub, "c8", &start, &daemon)["ok"],
        true,
        "log:\n{}",
        daemon.log_text()
    );
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);
    // The same token again is a replay.
    refused_with(
        &ask(&central, &sub, "c8", &start, &daemon),
        "counter: 12 is not newer than the last signed command's 12",
    );
    // Read-only commands may come unsigned.
    let identify = command("c9", Command::Identify { seconds: Some(2) }, None);
    assert_eq!(ask(&central, &sub, "c9", &identify, &daemon)["ok"], true);

    // After a restart the counter is remembered: the replay is still refused.
    assert!(daemon.stop(), "a clean stop");
    let daemon = Daemon::start(dir.path(), &text);
    assert!(
        wait_for(Duration::from_secs(10), || daemon
            .log_text()
            .contains("mqtt: connected")
            .then_some(()))
        .is_some(),
        "log:\n{}",
        daemon.log_text()
    );
    refused_with(
        &ask(&central, &sub, "c8", &start, &daemon),
        "counter: 12 is not newer than the last signed command's 12",
    );

    // A newer signed reboot is obeyed: the box answers, then restarts.
    let reboot = command("c10", Command::Reboot, Some((&keys, DEVICE, 13, now + 60)));
    assert_eq!(ask(&central, &sub, "c10", &reboot, &daemon)["ok"], true);
    let mut daemon = daemon;
    assert!(
        wait_for(Duration::from_secs(10), || (!daemon.is_running())
            .then_some(()))
        .is_some(),
        "the daemon did not exit for the restart"
    );
    assert!(daemon
        .log_text()
        .contains("restart requested by central IT"));
    assert!(!daemon.log_text().contains("panicked"));
}
