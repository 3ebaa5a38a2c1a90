//! Commands are as trusted as configs: a box with trusted keys obeys what
//! changes what or where it sends or what it runs only signed, bound to it,
//! newer than the last signed command (also after a restart) and unexpired;
//! a per-session SRTP key gets the same checks as a configured one. The
//! real daemon, a real mosquitto, tokens signed by the workspace's jws-tool.

use std::time::Duration;

use bridgepoint_proto::{Command, Leaf};
use bridgepoint_system_tests::control::{
    box_config, command, start_plain_box, topic, unix_now, wait_json, BoxLink, Central, Keys,
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
    let hub = Some((video_port, audio_port));
    let trust = [keys.public_b64.as_str()];
    let daemon = start_plain_box(dir.path(), DEVICE, &broker, &trust, hub, "on_call");
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

    let session_key = |k: Vec<u8>| Command::SessionStart {
        srtp_key: Some(k),
        receive_key: None,
    };
    let update = Command::Update {
        url: "https://fw.example/x.raucb".into(),
    };
    // (id, command, signed by, for box, counter, expires at, the refusal)
    let refused = [
        (
            "c1",
            Command::Reboot,
            None,
            DEVICE,
            0,
            0,
            "unsigned reboot refused",
        ),
        (
            "c2",
            session_key(key.clone()),
            None,
            DEVICE,
            0,
            0,
            "unsigned session key refused",
        ),
        ("c3", update, None, DEVICE, 0, 0, "unsigned update refused"),
        (
            "c4",
            Command::Reboot,
            Some(&stranger),
            DEVICE,
            10,
            now + 60,
            "signature:",
        ),
        (
            "c5",
            Command::Reboot,
            Some(&keys),
            "hue-02",
            10,
            now + 60,
            "device_id: command is for \"hue-02\", this box is \"lang-son-01\"",
        ),
        (
            "c6",
            Command::Reboot,
            Some(&keys),
            DEVICE,
            10,
            now - 30,
            "expires_at: the command expired",
        ),
        (
            "c7",
            session_key(vec![0; 30]),
            Some(&keys),
            DEVICE,
            11,
            now + 60,
            "args.srtp_key: is a constant byte pattern",
        ),
        (
            "c7b",
            Command::SessionStart {
                srtp_key: Some(key.clone()),
                receive_key: Some(key.clone()),
            },
            Some(&keys),
            DEVICE,
            12,
            now + 60,
            "args.receive_key: must differ from the key the box sends with",
        ),
    ];
    for (id, cmd, signer, device, counter, expires_at, expected) in refused {
        let payload = command(id, cmd, signer.map(|k| (k, device, counter, expires_at)));
        refused_with(&ask(&central, &sub, id, &payload, &daemon), expected);
    }
    assert_eq!(
        board.state()["stream"],
        "stopped",
        "nothing refused started a stream"
    );

    // Signed session keys (both directions) are obeyed: the session streams.
    let receive_key: Vec<u8> = key.iter().rev().copied().collect();
    let start = command(
        "c8",
        Command::SessionStart {
            srtp_key: Some(key.clone()),
            receive_key: Some(receive_key),
        },
        Some((&keys, DEVICE, 13, now + 60)),
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
        "counter: 13 is not newer than the last signed command's 13",
    );
    // Read-only commands may come unsigned.
    let identify = command("c9", Command::Identify { seconds: Some(2) }, None);
    assert_eq!(ask(&central, &sub, "c9", &identify, &daemon)["ok"], true);

    // After a restart the counter is remembered: the replay is still refused.
    assert!(daemon.stop(), "a clean stop");
    let daemon = start_plain_box(dir.path(), DEVICE, &broker, &trust, hub, "on_call");
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
        "counter: 13 is not newer than the last signed command's 13",
    );

    // A newer signed reboot is obeyed, but this daemon has no way to reboot
    // (not run by systemd: no RUNTIME_DIRECTORY): refused with the reason.
    let reboot = command("c10", Command::Reboot, Some((&keys, DEVICE, 14, now + 60)));
    refused_with(
        &ask(&central, &sub, "c10", &reboot, &daemon),
        "cannot reboot: not started by systemd with RuntimeDirectory=",
    );
    assert!(daemon.stop(), "a clean stop");

    // As systemd runs it (RuntimeDirectory=bridgepoint): the box asks the
    // root-owned bridgepoint-reboot.path unit by writing the request file
    // there, answers, and keeps running until the reboot stops it.
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let text = box_config(
        &dir.path().join("data"),
        DEVICE,
        &broker,
        BoxLink::Plain,
        &trust,
        hub,
        "on_call",
    );
    let mut daemon = Daemon::start_with_env(
        dir.path(),
        &text,
        &[("RUNTIME_DIRECTORY", run_dir.to_str().unwrap())],
    );
    let reboot = command("c11", Command::Reboot, Some((&keys, DEVICE, 15, now + 60)));
    assert_eq!(ask(&central, &sub, "c11", &reboot, &daemon)["ok"], true);
    assert_eq!(
        std::fs::read_to_string(run_dir.join("reboot")).unwrap(),
        "reboot command c11 from central IT\n"
    );
    assert!(daemon.is_running(), "the daemon waits for the reboot");
    assert!(daemon.log_text().contains("reboot requested by central IT"));
    assert!(!daemon.log_text().contains("panicked"));
}
