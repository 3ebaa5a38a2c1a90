//! The control plane on a real mosquitto broker: provisioning over mutual
//! TLS with signed configs, calls and commands, bad pushes rejected while
//! the box keeps streaming, the durable outbox across kill -9 and a broker
//! outage, and presence by the Last Will.

use std::time::Duration;

use bridgepoint_proto::Leaf;
use bridgepoint_system_tests::control::{
    all_json, box_config, bpctl_plain, plain_box_config, push, pushed_config, start_plain_box,
    start_streaming_box, topic, wait_json, wait_ok_result, wait_online, write_json, BoxLink,
    Central, Keys,
};
use bridgepoint_system_tests::daemon::{run_cli, Daemon};
use bridgepoint_system_tests::ffmpeg::{decode_errors, probe, record};
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::broker::Broker;
use bridgepoint_testkit::certs::Certs;
use bridgepoint_testkit::TempDir;
use serde_json::{json, Value};

const DEVICE: &str = "lang-son-01";

/// The unsigned JSON of a push to this test's box.
fn push_payload(version: u64, config: Value) -> Vec<u8> {
    push(None, DEVICE, version, &config)
}

/// The SDP the hub records with, from a config that names the hub.
fn hub_sdp(dir: &TempDir, video_port: u16, audio_port: u16) -> String {
    let file = dir.path().join("hub-view.toml");
    std::fs::write(
        &file,
        bridgepoint_system_tests::fixtures::config(
            &dir.path().join("unused"),
            video_port,
            audio_port,
            "on_call",
            (640, 360),
        ),
    )
    .unwrap();
    let out = run_cli(&["sdp", "--config", file.to_str().unwrap()]);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Video bytes per second in `[from, to)` seconds of a recording.
fn video_rate(path: &std::path::Path, from: f64, to: f64) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,size",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut first: Option<f64> = None;
    let mut bytes = 0.0;
    for line in text.lines() {
        let mut parts = line.split(',');
        let (Some(Ok(t)), Some(Ok(size))) = (
            parts.next().map(str::parse::<f64>),
            parts.next().map(str::parse::<f64>),
        ) else {
            continue;
        };
        let start = *first.get_or_insert(t);
        let rel = t - start;
        if rel >= from && rel < to {
            bytes += size;
        }
    }
    bytes / (to - from)
}

#[test]
fn provisioning_over_mutual_tls_then_a_session_then_a_live_bitrate_change() {
    let dir = TempDir::new("provision");
    let certs = Certs::generate(dir.path(), &[DEVICE, "central"]);
    let broker = Broker::tls(&certs);
    let central = Central::new(&broker, Some(&certs));
    // Central IT's tool, over mutual TLS as `central`.
    let bpctl = |args: &[&str]| -> (bool, String) {
        let out = std::process::Command::new(bridgepoint_system_tests::bin("bpctl"))
            .arg("--url")
            .arg(broker.url())
            .arg("--ca-file")
            .arg(certs.ca_cert())
            .arg("--cert-file")
            .arg(certs.client_cert("central"))
            .arg("--key-file")
            .arg(certs.client_key("central"))
            .args(args)
            .output()
            .expect("run bpctl");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let key_prefix = dir.path().join("ops");
    let (ok, said) = bpctl(&["keygen", key_prefix.to_str().unwrap()]);
    assert!(ok, "{said}");
    let public_b64 = std::fs::read_to_string(key_prefix.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned();
    let private_key = key_prefix.with_extension("key.jwk");
    let reported = topic(DEVICE, Leaf::ConfigReported);
    let status = topic(DEVICE, Leaf::Status);
    let events = topic(DEVICE, Leaf::Event);
    let results = topic(DEVICE, Leaf::CmdResult);
    let sub = central.subscribe(&[&reported, &status, &events, &results]);

    // The box starts with no hub at all.
    let text = box_config(
        &dir.path().join("data"),
        DEVICE,
        &broker,
        BoxLink::Tls(&certs),
        &[&public_b64],
        None,
        "on_call",
    );
    let daemon = Daemon::start(dir.path(), &text);
    let online = wait_online(&sub, &status, Duration::from_secs(15));
    assert!(
        online.is_some(),
        "box never came online; log:\n{}\nbroker:\n{}",
        daemon.log_text(),
        broker.log_text()
    );
    assert_eq!(online.unwrap()["config_version"], 0);

    // Central IT pushes a signed config with the hub: `bpctl push`.
    let (video_port, audio_port) = free_ports();
    let config_file = dir.path().join("hub.json");
    write_json(&config_file, &pushed_config(video_port, audio_port, 1500));
    let key_arg = private_key.to_str().unwrap();
    let config_arg = config_file.to_str().unwrap();
    let push = |version| {
        bpctl(&[
            "push",
            DEVICE,
            config_arg,
            "--key",
            key_arg,
            "--version",
            version,
        ])
    };
    let (ok, said) = push("1");
    assert!(
        ok && said.contains("applied"),
        "bpctl push: {said}\nlog:\n{}",
        daemon.log_text()
    );
    let report = wait_json(&sub, &reported, 0, Duration::from_secs(10), |v| {
        v["version"] == 1
    });
    assert_eq!(
        report.unwrap(),
        json!({"version": 1, "state": "applied", "error": null, "applied_version": 1})
    );

    // The hub starts a session (`bpctl session start`); ffmpeg records it.
    let recorder = record(dir.path(), "hub", &hub_sdp(&dir, video_port, audio_port), 9);
    let (ok, said) = bpctl(&["session", "start", DEVICE]);
    assert!(ok, "bpctl session start: {said}");
    assert!(
        wait_json(&sub, &results, 0, Duration::from_secs(10), |v| v["ok"]
            == true)
        .is_some()
    );
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    assert!(
        wait_json(&sub, &events, 0, Duration::from_secs(5), |v| v["type"]
            == "session.started")
        .is_some()
    );

    // A bitrate change applies live, mid-recording.
    std::thread::sleep(Duration::from_secs(4));
    write_json(&config_file, &pushed_config(video_port, audio_port, 300));
    let (ok, said) = push("2");
    assert!(ok && said.contains("applied"), "bpctl push: {said}");
    let report = wait_json(&sub, &reported, 0, Duration::from_secs(10), |v| {
        v["version"] == 2
    });
    assert_eq!(report.unwrap()["state"], "applied");
    let log = recorder.wait();
    let recording = dir.path().join("hub.mkv");
    let p = probe(&recording).unwrap_or_else(|| panic!("nothing recorded; ffmpeg:\n{log}"));
    assert_eq!(p.video_codec.as_deref(), Some("h264"));
    let errors = decode_errors(&recording);
    assert!(
        errors.trim().is_empty(),
        "decoding the recording gave errors:\n{errors}\nffmpeg while recording:\n{log}\nbox log:\n{}",
        daemon.log_text()
    );
    let high = video_rate(&recording, 1.0, 3.5);
    let low = video_rate(&recording, 6.0, 8.5);
    assert!(
        high > 2.0 * low,
        "bitrate did not drop: {high:.0} B/s before, {low:.0} B/s after"
    );
    let daemon_log = daemon.log_text();
    assert_eq!(
        daemon_log.matches("pipeline started").count(),
        1,
        "the stream was restarted:\n{daemon_log}"
    );
    assert!(daemon_log.contains("bitrates changed live"));
    assert_eq!(board.state()["stream"], "streaming");
}

/// A pushed config that keeps the box streaming all the time.
fn always_on(video_port: u16, audio_port: u16, bitrate_kbps: u32) -> Value {
    let mut c = pushed_config(video_port, audio_port, bitrate_kbps);
    c["session"]["mode"] = json!("always");
    c
}

#[test]
fn bad_pushes_are_rejected_with_a_reason_and_the_box_keeps_streaming() {
    let dir = TempDir::new("badpush");
    let broker = Broker::plain();
    let keys = Keys::generate(dir.path(), "trusted");
    let stranger = Keys::generate(dir.path(), "stranger");
    let central = Central::new(&broker, None);
    let reported = topic(DEVICE, Leaf::ConfigReported);
    let results = topic(DEVICE, Leaf::CmdResult);
    let sub = central.subscribe(&[&reported, &results]);
    let (daemon, mut board, (video_port, audio_port)) =
        start_streaming_box(dir.path(), DEVICE, &broker, &keys);

    // A good push first: version 5 becomes the last good config.
    let good = keys.sign(&push_payload(5, always_on(video_port, audio_port, 1500)));
    central.publish(&topic(DEVICE, Leaf::ConfigDesired), good.as_bytes(), true);
    let r = wait_json(&sub, &reported, 0, Duration::from_secs(10), |v| {
        v["version"] == 5
    });
    assert_eq!(
        r.unwrap()["state"],
        "applied",
        "log:\n{}",
        daemon.log_text()
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = always_on(video_port, audio_port, 1500);
        f(&mut c);
        c
    };
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("invalid JSON", keys.sign(b"{\"version\": 6, \"config\": ").into_bytes(), "payload is not valid JSON"),
        ("100 KB payload", vec![b'x'; 100 * 1024], "payload is 102400 bytes, limit 65536"),
        (
            "version 2^63",
            keys.sign(&push_payload(1 << 63, always_on(video_port, audio_port, 800))).into_bytes(),
            "version: must be an integer from 1 to 9007199254740991",
        ),
        (
            "version far ahead of the box's clock",
            keys.sign(&push_payload((1 << 53) - 1, always_on(video_port, audio_port, 800))).into_bytes(),
            "is more than a day ahead of this box's clock",
        ),
        (
            "a member twice",
            keys.sign(format!(r#"{{"version":6,"device_id":"hue-02","device_id":"{DEVICE}","config":{}}}"#, always_on(video_port, audio_port, 800)).as_bytes()).into_bytes(),
            "holds a member twice: device_id (it appears twice)",
        ),
        (
            "wrong type",
            keys.sign(&push_payload(6, with(&|c| c["video"]["width"] = json!("wide")))).into_bytes(),
            "config.video.width: expected an integer, got a string",
        ),
        (
            "unknown key",
            keys.sign(&push_payload(6, with(&|c| c["video"]["colour"] = json!("red")))).into_bytes(),
            "config.video.colour: unknown key",
        ),
        (
            "out of range",
            keys.sign(&push_payload(6, with(&|c| c["hub"]["video_port"] = json!(70000)))).into_bytes(),
            "config.hub.video_port: must be between 1 and 65534, got 70000",
        ),
        (
            "old version",
            keys.sign(&push_payload(3, always_on(video_port, audio_port, 800))).into_bytes(),
            "version: 3 is not newer than the applied version 5",
        ),
        (
            "same version, other content",
            keys.sign(&push_payload(5, always_on(video_port, audio_port, 700))).into_bytes(),
            "version: 5 is not newer than the applied version 5",
        ),
        ("bad signature", tampered, "signature:"),
        (
            "signed by an unknown key",
            stranger.sign(&push_payload(6, always_on(video_port, audio_port, 800))).into_bytes(),
            "signature:",
        ),
        (
            "for another device",
            keys.sign(&json!({"version": 6, "device_id": "hue-02", "config": always_on(video_port, audio_port, 800)}).to_string().into_bytes()).into_bytes(),
            "device_id: config is for \"hue-02\", this box is \"lang-son-01\"",
        ),
        ("unsigned", push_payload(6, always_on(video_port, audio_port, 800)), "unsigned config refused"),
    ];
    for (what, payload, expected) in cases {
        let before = sub.messages().len();
        central.publish(&topic(DEVICE, Leaf::ConfigDesired), &payload, true);
        let report = wait_json(&sub, &reported, before, Duration::from_secs(10), |v| {
            v["state"] == "rejected"
        });
        let report = report.unwrap_or_else(|| {
            panic!("{what}: no rejection reported; log:\n{}", daemon.log_text())
        });
        let error = report["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(expected),
            "{what}: expected {expected:?} in {error:?}"
        );
        assert_eq!(report["applied_version"], 5, "{what}: {report}");
        assert_eq!(
            board.state()["stream"],
            "streaming",
            "{what}: the box stopped streaming"
        );
    }

    // The applied push sent again (as the broker does after every reconnect)
    // is confirmed, not rejected, and changes nothing.
    let before = sub.messages().len();
    central.publish(&topic(DEVICE, Leaf::ConfigDesired), good.as_bytes(), true);
    let r = wait_json(&sub, &reported, before, Duration::from_secs(10), |v| {
        v["version"] == 5
    });
    assert_eq!(
        r.unwrap(),
        json!({"version": 5, "state": "applied", "error": null, "applied_version": 5})
    );
    assert_eq!(
        daemon.log_text().matches("pipeline started").count(),
        1,
        "the resend restarted the stream"
    );

    // Bad commands get ok:false with the reason; the box carries on.
    for (payload, expected) in [
        (
            r#"{"id":"c1","cmd":"self-destruct"}"#,
            "unknown command \"self-destruct\"",
        ),
        (
            r#"{"id":"c2","cmd":"identify","args":{"seconds":-1}}"#,
            "args.seconds: must be 1 to 600",
        ),
        ("not json", "not valid JSON"),
    ] {
        let before = sub.messages().len();
        central.publish(&topic(DEVICE, Leaf::Cmd), payload.as_bytes(), false);
        let result = wait_json(&sub, &results, before, Duration::from_secs(10), |v| {
            v["ok"] == false
        });
        let result = result.unwrap_or_else(|| panic!("no result for {payload}"));
        assert!(
            result["error"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{payload}: {result}"
        );
    }
    // A good command still works.
    let before = sub.messages().len();
    central.publish(
        &topic(DEVICE, Leaf::Cmd),
        br#"{"id":"id-1","cmd":"identify","args":{"seconds":2}}"#,
        false,
    );
    assert!(wait_ok_result(&sub, &results, before, Duration::from_secs(10), "id-1").is_some());
    assert_eq!(board.led("call"), "identify");
    assert_eq!(board.state()["stream"], "streaming");
    assert!(!daemon.log_text().contains("panicked"));
}

#[test]
fn an_event_stored_before_the_broker_ack_survives_kill_9_and_arrives_once() {
    let dir = TempDir::new("outbox-kill");
    let mut broker = Broker::plain();
    let text = plain_box_config(dir.path(), DEVICE, &broker);
    // No broker: the press cannot be acknowledged.
    broker.stop();
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    assert_eq!(board.cmd("press call"), "ok");
    let queued = bridgepoint_testkit::wait_for(Duration::from_secs(5), || {
        daemon.log_text().contains("event queued").then_some(())
    });
    assert!(queued.is_some(), "log:\n{}", daemon.log_text());
    drop(board);
    daemon.kill9();

    broker.restart();
    let central = Central::new(&broker, None);
    let events = topic(DEVICE, Leaf::Event);
    let sub = central.subscribe(&[&events]);
    let daemon = Daemon::start(dir.path(), &text);
    let got = wait_json(&sub, &events, 0, Duration::from_secs(15), |v| {
        v["type"] == "call.request"
    });
    assert!(got.is_some(), "event lost; log:\n{}", daemon.log_text());
    std::thread::sleep(Duration::from_secs(2));
    let all: Vec<Value> = all_json(&sub, &events)
        .into_iter()
        .filter(|v| v["type"] == "call.request")
        .collect();
    let ids: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(
        ids.len(),
        1,
        "after dedupe by id exactly one call.request: {all:?}"
    );
}

#[test]
fn three_presses_during_a_30_s_broker_outage_arrive_in_order() {
    let dir = TempDir::new("outbox-outage");
    let mut broker = Broker::plain();
    let status = topic(DEVICE, Leaf::Status);
    let sub = Central::new(&broker, None).subscribe(&[&status]);
    let text = plain_box_config(dir.path(), DEVICE, &broker);
    let daemon = Daemon::start(dir.path(), &text);
    assert!(wait_online(&sub, &status, Duration::from_secs(10)).is_some());
    drop(sub);

    broker.stop();
    let down = std::time::Instant::now();
    let mut board = SimBoard::connect(&daemon.socket());
    assert_eq!(board.cmd("press call"), "ok"); // call.request
    assert_eq!(board.cmd("hold call 2500"), "ok"); // call.cancelled
    assert_eq!(board.cmd("press call"), "ok"); // call.request
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    broker.restart();
    let events = topic(DEVICE, Leaf::Event);
    let sub = Central::new(&broker, None).subscribe(&[&events]);
    let got = bridgepoint_testkit::wait_for(Duration::from_secs(30), || {
        (all_json(&sub, &events).len() >= 3).then_some(())
    });
    let all = all_json(&sub, &events);
    assert!(
        got.is_some(),
        "events after the outage: {all:?}; log:\n{}",
        daemon.log_text()
    );
    let types: Vec<&str> = all.iter().filter_map(|v| v["type"].as_str()).collect();
    assert_eq!(
        types,
        vec!["call.request", "call.cancelled", "call.request"]
    );
    let seqs: Vec<u64> = all.iter().filter_map(|v| v["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seqs:?}"
    );
}

#[test]
fn a_killed_box_is_marked_offline_by_its_will() {
    let dir = TempDir::new("presence");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let status = topic(DEVICE, Leaf::Status);
    let sub = central.subscribe(&[&status]);
    let text = plain_box_config(dir.path(), DEVICE, &broker);
    let daemon = Daemon::start(dir.path(), &text);
    assert!(wait_online(&sub, &status, Duration::from_secs(10)).is_some());
    let seen = sub.messages().len();
    daemon.kill9();
    let offline = wait_json(&sub, &status, seen, Duration::from_secs(15), |v| {
        v["online"] == false
    });
    assert_eq!(offline, Some(json!({"online": false, "device_id": DEVICE})));
    // And it is retained: a newcomer sees the box offline.
    let late = central.subscribe(&[&status]);
    assert!(
        wait_json(&late, &status, 0, Duration::from_secs(5), |v| v["online"]
            == false)
        .is_some()
    );
}

/// Runs Python from the repository's venv (made by scripts/jose-interop) with
/// jwcrypto, an independent JOSE implementation.
fn jwcrypto(script: &str, args: &[&str]) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/jose-interop first (scripts/test does)",
        python.display()
    );
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(format!(
            "import sys; sys.path.insert(0, {:?}); from jose_interop import *\n{script}",
            root.join("signing/interop").display().to_string()
        ))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_config_signed_by_jwcrypto_is_applied_and_bpctl_tokens_verify_in_jwcrypto() {
    let dir = TempDir::new("jose");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    // A key made by jwcrypto, not by us.
    let private_jwk = jwcrypto("print(generate_private_jwk())", &[]);
    let public_b64 = jwcrypto(
        "print(public_base64_from_jwk(sys.argv[1]))",
        &[&private_jwk],
    );
    let reported = topic(DEVICE, Leaf::ConfigReported);
    let desired = topic(DEVICE, Leaf::ConfigDesired);
    let sub = central.subscribe(&[&reported, &desired]);
    let trust = [public_b64.as_str()];
    let daemon = start_plain_box(dir.path(), DEVICE, &broker, &trust, None, "on_call");

    let (video_port, audio_port) = free_ports();
    let payload =
        String::from_utf8(push_payload(7, pushed_config(video_port, audio_port, 1200))).unwrap();
    let token = jwcrypto(
        "print(sign_with_jwcrypto(sys.argv[1].encode(), sys.argv[2]))",
        &[&payload, &private_jwk],
    );
    central.publish(&desired, token.as_bytes(), true);
    let report = wait_json(&sub, &reported, 0, Duration::from_secs(10), |v| {
        v["version"] == 7
    });
    let report = report.unwrap_or_else(|| panic!("no report; log:\n{}", daemon.log_text()));
    assert_eq!(report["state"], "applied", "{report}");

    // bpctl pushes with its own key; its retained token verifies in jwcrypto.
    let key_prefix = dir.path().join("ops");
    let out = std::process::Command::new(bridgepoint_system_tests::bin("bpctl"))
        .arg("keygen")
        .arg(&key_prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config_file = dir.path().join("config.json");
    write_json(&config_file, &pushed_config(video_port, audio_port, 900));
    let before = sub.messages().len();
    // The box trusts only the jwcrypto key, so it must reject bpctl's push.
    let out = bpctl_plain(
        &broker,
        [
            "push".as_ref(),
            DEVICE.as_ref(),
            config_file.as_os_str(),
            "--key".as_ref(),
            key_prefix.with_extension("key.jwk").as_os_str(),
            "--version".as_ref(),
            "8".as_ref(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && stdout.contains("rejected"),
        "bpctl push: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = wait_for_token(&sub, &desired, before);
    let bpctl_public = std::fs::read_to_string(key_prefix.with_extension("pub")).unwrap();
    let verified = jwcrypto(
        "print(verify_with_jwcrypto(sys.argv[1], public_jwk_from_base64(sys.argv[2])).decode())",
        &[&token, bpctl_public.trim()],
    );
    let doc: Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(
        (doc["version"].as_u64(), doc["device_id"].as_str()),
        (Some(8), Some(DEVICE))
    );
    assert_eq!(doc["config"]["video"]["bitrate_kbps"], 900);
}

fn wait_for_token(
    sub: &bridgepoint_testkit::broker::Subscriber,
    desired: &str,
    skip: usize,
) -> String {
    bridgepoint_testkit::wait_for(Duration::from_secs(10), || {
        sub.messages()
            .into_iter()
            .skip(skip)
            .find(|(t, p)| t == desired && p.starts_with("eyJ"))
            .map(|(_, p)| p)
    })
    .expect("bpctl's token on config/desired")
}

#[test]
fn telemetry_reports_rtcp_round_trip_and_loss_from_the_hubs_receiver_reports() {
    let dir = TempDir::new("telemetry");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let telemetry = topic(DEVICE, Leaf::Telemetry);
    let sub = central.subscribe(&[&telemetry]);
    let (video_port, audio_port) = free_ports();
    let key = bridgepoint_system_tests::fixtures::key_bytes();
    let _hub = bridgepoint_system_tests::rtcp_receiver::RtcpReceiver::start(video_port, &key);
    let hub = Some((video_port, audio_port));
    let daemon = start_plain_box(dir.path(), DEVICE, &broker, &[], hub, "always");
    // Receiver reports start a few seconds in; telemetry comes every 5 s.
    let report = wait_json(&sub, &telemetry, 0, Duration::from_secs(30), |v| {
        v["rtcp"]["rtt_ms"].is_number()
    });
    let report = report.unwrap_or_else(|| {
        panic!(
            "no RTCP figures in telemetry: {:?}\nlog:\n{}",
            all_json(&sub, &telemetry),
            daemon.log_text()
        )
    });
    let rtt = report["rtcp"]["rtt_ms"].as_f64().unwrap();
    assert!((0.0..1000.0).contains(&rtt), "{report}");
    assert_eq!(
        report["rtcp"]["fraction_lost"], 0.0,
        "loopback loses nothing: {report}"
    );
    // The rate control's target: the hub's path is clear, the ceiling.
    assert_eq!(report["target_kbps"], 1500, "{report}");
    // A receiver that reports is said to: feedback is known.
    assert_eq!(report["rtcp"]["feedback"], "receiver_reports", "{report}");
    // What the box did about the path: nothing to do on a clear one.
    let send = &report["send"];
    assert_eq!(send["video"], "on", "{report}");
    assert_eq!(send["breaker_trips"], 0, "{report}");
    assert_eq!(send["retransmissions"], 0, "hub.feedback = none: {report}");
    assert_eq!(send["audio_fec"], false, "{report}");
    assert!(send["keyframes"].is_u64(), "{report}");
    assert_eq!(report["stream"], "streaming");
    assert!(report["packets_sent"].as_u64().unwrap() > 100, "{report}");
    assert!(report["bitrate_kbps"].as_f64().unwrap() > 100.0, "{report}");
    assert!(report["uptime_s"].as_u64().is_some());
    // The first report says what the box found and uses; the later ones do not repeat it.
    let reports = all_json(&sub, &telemetry);
    let first = &reports[0]["devices"];
    assert_eq!(
        first["chosen"]["camera"]["use"], "the test picture",
        "{first}"
    );
    assert_eq!(first["chosen"]["encoder"]["use"], "x264enc", "{first}");
    assert!(
        first["cameras"].is_array() && first["gpio_chips"].is_array(),
        "{first}"
    );
    assert!(
        reports[1..].iter().all(|r| r.get("devices").is_none()),
        "{reports:?}"
    );
}

#[test]
fn telemetry_status_and_bpctl_list_show_what_comes_back_from_the_hub() {
    use base64::Engine as _;
    let dir = TempDir::new("telemetry-return");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let (telemetry, status) = (topic(DEVICE, Leaf::Telemetry), topic(DEVICE, Leaf::Status));
    let sub = central.subscribe(&[&telemetry, &status]);
    let hub_ports = free_ports();
    let local = free_ports();
    let receive_key: Vec<u8> = (0..30u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let text = box_config(
        &dir.path().join("data"),
        DEVICE,
        &broker,
        BoxLink::Plain,
        &[],
        Some(hub_ports),
        "always",
    )
    .replace(
        "\n[srtp]\n",
        &format!(
            "local_video_port = {}\nlocal_audio_port = {}\n\n[srtp]\nreceive_key = \"{}\"\n",
            local.0,
            local.1,
            base64::engine::general_purpose::STANDARD.encode(&receive_key)
        ),
    );
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    // Before the hub sends: the status says the room waits for central.
    wait_json(&sub, &status, 0, Duration::from_secs(10), |v| {
        v["return_stream"] == "waiting"
    })
    .unwrap_or_else(|| {
        panic!(
            "no status with return_stream waiting: {:?}",
            all_json(&sub, &status)
        )
    });

    let _hub =
        bridgepoint_system_tests::hub_sender::HubSender::start(local.0, local.1, &receive_key);
    let report = wait_json(&sub, &telemetry, 0, Duration::from_secs(30), |v| {
        v["receive"]["status"] == "playing" && v["receive"]["lip_sync_ms"].is_i64()
    })
    .unwrap_or_else(|| {
        panic!(
            "no telemetry with the return stream playing and lip sync: {:?}\nlog:\n{}",
            all_json(&sub, &telemetry),
            daemon.log_text()
        )
    });
    let receive = &report["receive"];
    assert!(receive["video_fps"].as_u64().unwrap_or(0) >= 8, "{report}");
    assert!(
        receive["video_frames"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(receive["audio_ms"].as_u64().unwrap_or(0) > 0, "{report}");
    assert!(
        receive["jitter_ms"].is_u64() && receive["lost_packets"].is_u64(),
        "{report}"
    );
    assert_eq!(receive["rejected_packets"], 0, "{report}");
    wait_json(&sub, &status, 0, Duration::from_secs(10), |v| {
        v["return_stream"] == "playing"
    })
    .unwrap_or_else(|| {
        panic!(
            "no status with return_stream playing: {:?}",
            all_json(&sub, &status)
        )
    });
    let list = bpctl_plain(&broker, ["list"]);
    let table = String::from_utf8_lossy(&list.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with(DEVICE))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        table.lines().next().unwrap_or_default().contains("RETURN") && row.contains(" playing "),
        "{table}"
    );
    // The status says how the box's video goes: on, and (this hub sends
    // media, not RTCP reports on the box's stream) no feedback.
    let last = all_json(&sub, &status).pop().unwrap_or_default();
    assert_eq!(last["video"], "on", "{last}");
    assert_eq!(last["feedback"], "none", "{last}");
    assert!(
        table
            .lines()
            .next()
            .unwrap_or_default()
            .contains("VIDEO  FEEDBACK")
            && row.contains(" on ")
            && row.contains(" none "),
        "{table}"
    );
    assert!(daemon.stop(), "the daemon did not stop cleanly");
}
