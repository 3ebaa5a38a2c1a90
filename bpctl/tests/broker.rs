//! bpctl against a real broker (`mosquitto` on a free loopback port, one per
//! test, from `bridgepoint-testkit`), with the test playing the box's side
//! over MQTT: it checks what bpctl publishes (a retained token that verifies
//! and names the box and the version, a command with a fresh id) and answers
//! like a box would.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bridgepoint_signing::{verify_compact, PublicKey};
use bridgepoint_testkit::broker::{Broker, ClientAuth};
use bridgepoint_testkit::certs::Certs;
use bridgepoint_testkit::TempDir;
use rumqttc::{Client, Event, MqttOptions, Packet, Publish, QoS};
use serde_json::{json, Value};

const BPCTL: &str = env!("CARGO_BIN_EXE_bpctl");
const ROOT: &str = "bridgepoint/v1";
const WAIT: Duration = Duration::from_secs(5);
const CONFIG: &str = r#"{"hub":{"host":"203.0.113.10","video_port":5004},"srtp":{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},"video":{"bitrate_kbps":1500}}"#;

/// A box's topic.
fn topic(device: &str, leaf: &str) -> String {
    format!("{ROOT}/{device}/{leaf}")
}

/// bpctl with the plain `broker`'s flags set.
fn bpctl(broker: &Broker, args: &[&str]) -> Command {
    let mut cmd = Command::new(BPCTL);
    cmd.args(["--url", &broker.url(), "--allow-plaintext"])
        .args(args);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts [`bpctl`].
fn spawn(broker: &Broker, args: &[&str]) -> Child {
    bpctl(broker, args).spawn().expect("start bpctl")
}

/// Runs [`bpctl`] to completion.
fn run(broker: &Broker, args: &[&str]) -> Output {
    bpctl(broker, args).output().expect("run bpctl")
}

/// The test's side of MQTT: a box (or a second client).
struct Peer {
    client: Client,
    messages: mpsc::Receiver<Publish>,
    acks: mpsc::Receiver<Packet>,
}

impl Peer {
    fn connect(broker: &Broker, id: &str) -> Peer {
        let mut options = MqttOptions::new(id, broker.host(), broker.port());
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(options, 64);
        let (msg_tx, messages) = mpsc::channel();
        let (ack_tx, acks) = mpsc::channel();
        thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if msg_tx.send(p).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(
                        p @ (Packet::ConnAck(_) | Packet::SubAck(_) | Packet::PubAck(_)),
                    )) => {
                        if ack_tx.send(p).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let peer = Peer {
            client,
            messages,
            acks,
        };
        peer.expect_ack("ConnAck", |p| matches!(p, Packet::ConnAck(_)));
        peer
    }

    fn expect_ack(&self, what: &str, is: impl Fn(&Packet) -> bool) {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.acks.recv_timeout(left) {
                Ok(p) if is(&p) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no {what} from the broker");
    }

    fn subscribe(&self, topic: &str) {
        self.client.subscribe(topic, QoS::AtLeastOnce).unwrap();
        self.expect_ack("SubAck", |p| matches!(p, Packet::SubAck(_)));
    }

    /// Publishes with QoS 1 and waits for the broker's PubAck (so a retained
    /// message is stored before bpctl runs).
    fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .unwrap();
        self.expect_ack("PubAck", |p| matches!(p, Packet::PubAck(_)));
    }

    fn recv(&self, what: &str) -> Publish {
        self.messages
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("nothing on {what} within {WAIT:?}"))
    }

    /// Retains the status of a box that is online with config version 3,
    /// idle and streaming.
    fn publish_online(&self, device: &str) {
        self.publish(&topic(device, "status"), &online_status(device), true);
    }

    /// Retains the status a box's Last Will leaves: offline.
    fn publish_offline(&self, device: &str) {
        let status = format!(r#"{{"online":false,"device_id":"{device}"}}"#);
        self.publish(&topic(device, "status"), &status, true);
    }
}

/// Two boxes' retained statuses, as one peer: lang-son-01 online, hue-02
/// offline.
fn two_boxes(broker: &Broker) -> Peer {
    let fake = Peer::connect(broker, "boxes");
    fake.publish_online("lang-son-01");
    fake.publish_offline("hue-02");
    fake
}

fn online_status(device: &str) -> String {
    json!({"online":true,"device_id":device,"firmware":"0.1.0","config_version":3,"call":"idle","stream":"streaming"})
        .to_string()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Waits for a running bpctl and returns its output, killing it after `WAIT`.
fn finish(child: Child) -> Output {
    let (tx, rx) = mpsc::channel();
    let id = child.id();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WAIT * 2) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("bpctl did not finish");
        }
    }
}

fn assert_clean_failure(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failure, stdout: {}",
        text(&out.stdout)
    );
    assert!(!err.contains("panicked"), "bpctl panicked: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// Makes a key pair with `bpctl keygen` and returns (private path, public key).
fn keygen(dir: &TempDir) -> (PathBuf, PublicKey) {
    let prefix = dir.path().join("central");
    let out = Command::new(BPCTL)
        .arg("keygen")
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "keygen: {}", text(&out.stderr));
    let public = std::fs::read_to_string(dir.path().join("central.pub")).unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        public.trim(),
        "keygen prints the public key"
    );
    (
        dir.path().join("central.key.jwk"),
        PublicKey::from_base64(public.trim()).unwrap(),
    )
}

#[test]
fn push_publishes_a_retained_signed_token_and_reports_applied() {
    let broker = Broker::plain();
    let dir = TempDir::new("push");
    let (key, public) = keygen(&dir);
    let config = dir.path().join("config.json");
    std::fs::write(&config, CONFIG).unwrap();
    let (config, key) = (config.to_str().unwrap(), key.to_str().unwrap());

    let fake = Peer::connect(&broker, "box-lang-son-01");
    fake.publish_online("lang-son-01");
    // An old retained report with the same version must not count as the answer.
    fake.publish(
        &topic("lang-son-01", "config/reported"),
        r#"{"version":17,"state":"applied","error":null,"applied_version":17}"#,
        true,
    );
    fake.subscribe(&topic("lang-son-01", "config/desired"));

    let child = spawn(
        &broker,
        &[
            "push",
            "lang-son-01",
            config,
            "--key",
            key,
            "--version",
            "17",
        ],
    );
    let desired = fake.recv("config/desired");
    let token = std::str::from_utf8(&desired.payload).unwrap();
    let payload: Value =
        serde_json::from_slice(&verify_compact(token, &[public]).expect("token verifies")).unwrap();
    assert_eq!(payload["version"], 17);
    assert_eq!(payload["device_id"], "lang-son-01");
    assert_eq!(
        payload["config"],
        serde_json::from_str::<Value>(CONFIG).unwrap()
    );
    // The box refuses it (a replay of 17): bpctl must report that, not the old retained "applied".
    fake.publish(
        &topic("lang-son-01", "config/reported"),
        r#"{"version":17,"state":"rejected","error":"version: 17 is not newer than the applied version 17 (replayed or out-of-order push)","applied_version":17}"#,
        true,
    );
    let out = finish(child);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("lang-son-01: rejected (version 17): version: 17 is not newer"),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("0 applied, 1 rejected, 0 silent"),
        "{stdout}"
    );
    assert!(!out.status.success());

    // The token stays retained: a client that connects later gets it.
    let later = Peer::connect(&broker, "later");
    later.subscribe(&topic("lang-son-01", "config/desired"));
    let retained = later.recv("retained config/desired");
    assert!(retained.retain, "config/desired must be retained");
    assert_eq!(&retained.payload[..], token.as_bytes());

    // A newer version (the default is the time in ms), applied.
    let child = spawn(&broker, &["push", "lang-son-01", config, "--key", key]);
    let desired = fake.recv("config/desired");
    let token = std::str::from_utf8(&desired.payload).unwrap();
    let payload: Value =
        serde_json::from_slice(&verify_compact(token, &[public]).unwrap()).unwrap();
    let version = payload["version"].as_u64().unwrap();
    assert!(
        version > 1_700_000_000_000,
        "default version is Unix time in ms, got {version}"
    );
    fake.publish(
        &topic("lang-son-01", "config/reported"),
        &json!({"version":version,"state":"applied","error":null,"applied_version":version})
            .to_string(),
        true,
    );
    let out = finish(child);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("lang-son-01: applied (version {version})")),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 applied, 0 rejected, 0 silent"),
        "{stdout}"
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn push_all_reaches_every_box_with_a_status_and_counts_the_silent() {
    let broker = Broker::plain();
    let dir = TempDir::new("push-all");
    let config = dir.path().join("config.json");
    std::fs::write(&config, format!(r#"{{"version":42,"config":{CONFIG}}}"#)).unwrap();
    let config = config.to_str().unwrap();

    let fake = Peer::connect(&broker, "boxes");
    fake.publish_online("hue-02");
    fake.publish_offline("ca-mau-03");
    fake.subscribe(&topic("+", "config/desired"));

    let child = spawn(
        &broker,
        &["push", "--all", config, "--unsigned", "--timeout", "1"],
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        let p = fake.recv("config/desired");
        let payload: Value =
            serde_json::from_slice(&p.payload).expect("--unsigned publishes plain JSON");
        assert_eq!(payload["version"], 42, "the file's version is used");
        let device = payload["device_id"].as_str().unwrap().to_owned();
        assert_eq!(p.topic, topic(&device, "config/desired"));
        if device == "hue-02" {
            fake.publish(
                &topic("hue-02", "config/reported"),
                r#"{"version":42,"state":"applied","error":null,"applied_version":42}"#,
                true,
            );
        }
        seen.push(device);
    }
    seen.sort();
    assert_eq!(seen, ["ca-mau-03", "hue-02"]);
    let out = finish(child);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("hue-02: applied (version 42)"), "{stdout}");
    assert!(
        stdout.contains("ca-mau-03: no report within 1 s (offline"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 applied, 0 rejected, 1 silent"),
        "{stdout}"
    );
    assert!(!out.status.success(), "a silent box makes push fail");
}

#[test]
fn list_shows_the_retained_statuses() {
    let broker = Broker::plain();
    let fake = two_boxes(&broker);
    fake.publish(
        &topic("hue-02", "config/reported"),
        r#"{"version":5,"state":"applied","error":null,"applied_version":5}"#,
        true,
    );
    let out = run(&broker, &["list"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("DEVICE"), "{stdout}");
    let row = |d: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(d))
            .copied()
            .unwrap_or_else(|| panic!("no {d}: {stdout}"))
    };
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        words(row("lang-son-01"))[..6],
        ["lang-son-01", "yes", "0.1.0", "3", "idle", "streaming"]
    );
    assert_eq!(words(row("hue-02"))[..4], ["hue-02", "no", "-", "5"]);
    assert_eq!(lines.last(), Some(&"2 boxes, 1 online"));

    let out = run(&broker, &["list", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[1]["device_id"], "lang-son-01");
    assert_eq!(rows[1]["online"], true);
}

#[test]
fn session_start_waits_for_the_result_with_its_id() {
    let broker = Broker::plain();
    let fake = Peer::connect(&broker, "box-lang-son-01");
    fake.publish_online("lang-son-01");
    fake.subscribe(&topic("lang-son-01", "cmd"));

    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
    let child = spawn(
        &broker,
        &["session", "start", "lang-son-01", "--srtp-key", key],
    );
    let cmd = fake.recv("cmd");
    assert!(!cmd.retain);
    let cmd: Value = serde_json::from_slice(&cmd.payload).unwrap();
    assert_eq!(cmd["cmd"], "session.start");
    assert_eq!(cmd["args"], json!({"srtp_key": key}));
    let id = cmd["id"].as_str().unwrap();
    // Someone else's result first: ignored.
    fake.publish(
        &topic("lang-son-01", "cmd/result"),
        r#"{"id":"other","ok":false,"error":"x"}"#,
        false,
    );
    fake.publish(
        &topic("lang-son-01", "cmd/result"),
        &json!({"id":id,"ok":true,"error":null}).to_string(),
        false,
    );
    let out = finish(child);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "ok");

    // A refusal is an error with the box's reason.
    let child = spawn(&broker, &["keyframe", "lang-son-01"]);
    let cmd: Value = serde_json::from_slice(&fake.recv("cmd").payload).unwrap();
    assert_eq!(cmd["cmd"], "keyframe");
    fake.publish(
        &topic("lang-son-01", "cmd/result"),
        &json!({"id":cmd["id"],"ok":false,"error":"not streaming"}).to_string(),
        false,
    );
    assert_clean_failure(
        &finish(child),
        "lang-son-01 refused keyframe: not streaming",
    );
}

#[test]
fn a_reboot_with_key_is_a_token_bound_to_the_box_and_without_key_a_warning() {
    let dir = TempDir::new("signed-cmd");
    let (key, public) = keygen(&dir);
    let broker = Broker::plain();
    let fake = Peer::connect(&broker, "box-lang-son-01");
    fake.publish_online("lang-son-01");
    fake.subscribe(&topic("lang-son-01", "cmd"));

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let child = spawn(
        &broker,
        &[
            "reboot",
            "lang-son-01",
            "--key",
            key.to_str().unwrap(),
            "--valid-for",
            "60",
        ],
    );
    let token = String::from_utf8(fake.recv("cmd").payload.to_vec()).unwrap();
    let payload = verify_compact(&token, &[public]).expect("the command verifies with the key");
    let cmd: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(cmd["cmd"], "reboot");
    assert_eq!(cmd["device_id"], "lang-son-01");
    let counter = cmd["counter"].as_u64().unwrap();
    assert!(
        counter >= before.as_millis() as u64,
        "the counter is the time in ms: {cmd}"
    );
    let expires = cmd["expires_at"].as_u64().unwrap();
    assert!(
        (before.as_secs() + 59..=before.as_secs() + 62).contains(&expires),
        "{cmd}"
    );
    fake.publish(
        &topic("lang-son-01", "cmd/result"),
        &json!({"id":cmd["id"],"ok":true,"error":null}).to_string(),
        false,
    );
    let out = finish(child);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Without a key: plain JSON, and bpctl says a box with keys will refuse it.
    let child = spawn(&broker, &["reboot", "lang-son-01"]);
    let cmd: Value = serde_json::from_slice(&fake.recv("cmd").payload).unwrap();
    assert!(cmd.get("counter").is_none(), "{cmd}");
    fake.publish(
        &topic("lang-son-01", "cmd/result"),
        &json!({"id":cmd["id"],"ok":false,"error":"unsigned reboot refused"}).to_string(),
        false,
    );
    let out = finish(child);
    assert!(
        text(&out.stderr).contains("warning: sending reboot unsigned"),
        "{}",
        text(&out.stderr)
    );
    assert_clean_failure(&out, "lang-son-01 refused reboot: unsigned reboot refused");
}

#[test]
fn commands_fail_clearly_on_silence_and_unknown_boxes() {
    let broker = Broker::plain();
    let _boxes = two_boxes(&broker);

    let started = Instant::now();
    let out = run(
        &broker,
        &["session", "start", "lang-son-01", "--timeout", "1"],
    );
    assert_clean_failure(
        &out,
        "no answer from lang-son-01 to session.start within 1 s",
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );

    assert_clean_failure(
        &run(&broker, &["identify", "nobody-99", "--seconds", "5"]),
        "unknown device \"nobody-99\"",
    );
    assert_clean_failure(&run(&broker, &["identify", "hue-02"]), "hue-02 is offline");
    assert_clean_failure(
        &run(&broker, &["identify", "lang-son-01", "--seconds", "0"]),
        "--seconds must be 1 to 600",
    );
    assert_clean_failure(
        &run(
            &broker,
            &["session", "start", "lang-son-01", "--srtp-key", "AAEC"],
        ),
        "--srtp-key must be",
    );
    assert_clean_failure(
        &run(
            &broker,
            &["update", "lang-son-01", "ftp://fw.example/x.raucb"],
        ),
        "URL must be an http(s) URL",
    );
    assert_clean_failure(&run(&broker, &["reboot", "Bad/Id"]), "device id \"Bad/Id\"");
}

#[test]
fn watch_prints_events_and_telemetry_once_each() {
    let broker = Broker::plain();
    let mut child = spawn(&broker, &["watch", "--count", "2"]);
    // bpctl says "watching ..." on stderr once it is subscribed.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("watching"), "{line}");

    let fake = Peer::connect(&broker, "box-lang-son-01");
    let event = r#"{"id":"6f1c","seq":7,"at":"2026-11-23T18:30:05.123Z","type":"call.request"}"#;
    fake.publish(&topic("lang-son-01", "event"), event, false);
    fake.publish(&topic("lang-son-01", "event"), event, false); // redelivered: printed once
    fake.publish(
        &topic("lang-son-01", "telemetry"),
        r#"{"at":"2026-11-23T18:30:06.000Z","uptime_s":60,"call":"idle","stream":"streaming","config_version":3,"packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":12,"fraction_lost":0.0},"cpu_temp_c":51.5}"#,
        false,
    );
    let out = finish(child);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(out.status.success(), "{rest}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(
        lines[0],
        "2026-11-23T18:30:05.123Z lang-son-01 event call.request seq=7"
    );
    assert!(lines[1].starts_with("2026-11-23T18:30:06.000Z lang-son-01 telemetry call=idle stream=streaming bitrate=1980kbps"), "{}", lines[1]);
}

#[test]
fn bad_input_gives_a_clear_error_and_no_panic() {
    let dir = TempDir::new("bad");
    let (key, _) = keygen(&dir);
    let good = dir.path().join("good.json");
    std::fs::write(&good, CONFIG).unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"hub\": ").unwrap();
    let no_srtp = dir.path().join("no-srtp.json");
    std::fs::write(&no_srtp, r#"{"hub":{"host":"h"}}"#).unwrap();
    let bad_key = dir.path().join("bad.key.jwk");
    std::fs::write(&bad_key, "not a key").unwrap();
    let (good, bad_json, no_srtp, bad_key, key) = (
        good.to_str().unwrap(),
        bad_json.to_str().unwrap(),
        no_srtp.to_str().unwrap(),
        bad_key.to_str().unwrap(),
        key.to_str().unwrap(),
    );
    // Nothing listens here: every check happens before connecting.
    let run = |args: &[&str]| {
        Command::new(BPCTL)
            .args([
                "--url",
                "mqtt://127.0.0.1:9",
                "--allow-plaintext",
                "--timeout",
                "2",
            ])
            .args(args)
            .env_clear()
            .output()
            .unwrap()
    };
    assert_clean_failure(
        &run(&["push", "a", "/nonexistent/c.json", "--key", key]),
        "config file /nonexistent/c.json: cannot read it",
    );
    assert_clean_failure(
        &run(&["push", "a", bad_json, "--key", key]),
        &format!("config file {bad_json}: the file is not valid JSON"),
    );
    assert_clean_failure(&run(&["push", "a", no_srtp, "--key", key]), "srtp: missing");
    assert_clean_failure(
        &run(&["push", "a", good, "--key", bad_key]),
        &format!("--key {bad_key}: not a private Ed25519 JWK"),
    );
    assert_clean_failure(
        &run(&["push", "a", good, "--key", "/nonexistent/k.key.jwk"]),
        "--key /nonexistent/k.key.jwk",
    );
    assert_clean_failure(&run(&["push", good, "--key", key]), "needs a device id");
    assert_clean_failure(
        &run(&["push", "a", good, "--key", key, "--version", "0"]),
        "--version must be an integer from 1 to 9007199254740991, got 0",
    );
    assert_clean_failure(
        &run(&["push", "a", good, "--key", key]),
        "cannot connect to the broker at 127.0.0.1:9",
    );

    let plain = Command::new(BPCTL)
        .args(["--url", "mqtt://127.0.0.1:9", "list"])
        .env_clear()
        .output()
        .unwrap();
    assert_clean_failure(&plain, "--allow-plaintext");
    let no_url = Command::new(BPCTL)
        .args(["list"])
        .env_clear()
        .output()
        .unwrap();
    assert_clean_failure(&no_url, "--url (or BPCTL_URL) is required");

    for help in [
        &["--help"][..],
        &["push", "--help"],
        &["session", "start", "--help"],
        &["watch", "--help"],
    ] {
        let out = Command::new(BPCTL).args(help).output().unwrap();
        assert!(
            out.status.success() && text(&out.stdout).contains("Usage"),
            "{help:?}"
        );
    }
}

#[test]
fn mutual_tls_with_the_acl_central_it_runs() {
    let dir = TempDir::new("tls");
    let certs = Certs::generate(dir.path(), &["central", "lang-son-01"]);
    let broker = Broker::tls(&certs);
    // Retains `device`'s online status, published with the certificate `name`.
    let retain_status = |name: &str, device: &str| {
        let status = topic(device, "status");
        let auth = ClientAuth::cert(&certs, name);
        let out = broker.publish_retained(&auth, &status, online_status(device));
        broker.assert_acked(&out, &status);
    };
    // The box publishes its status with its own certificate (CN = device id).
    retain_status("lang-son-01", "lang-son-01");

    let bpctl = |cert: Option<&str>| {
        let mut cmd = Command::new(BPCTL);
        cmd.args(["--url", &broker.url()])
            .arg("--ca-file")
            .arg(certs.ca_cert())
            .args(["--timeout", "3", "list"])
            .env_clear();
        if let Some(name) = cert {
            cmd.arg("--cert-file")
                .arg(certs.client_cert(name))
                .arg("--key-file")
                .arg(certs.client_key(name));
        }
        cmd.output().unwrap()
    };
    let out = bpctl(Some("central"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("lang-son-01  yes"), "{stdout}");
    assert!(stdout.ends_with("1 boxes, 1 online\n"), "{stdout}");

    // Without a client certificate the broker turns bpctl away; no panic.
    assert_clean_failure(&bpctl(None), "cannot connect to the broker at 127.0.0.1:");
    // A box's certificate does not reach other boxes: the ACL hides them.
    retain_status("central", "hue-02");
    let out = bpctl(Some("lang-son-01"));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("lang-son-01") && !stdout.contains("hue-02"),
        "{stdout}"
    );
}
