//! bpctl against a real broker (`mosquitto` on a free loopback port, one per
//! test), with the test playing the box's side over MQTT: it checks what
//! bpctl publishes (a retained token that verifies and names the box and the
//! version, a command with a fresh id) and answers like a box would.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bridgepoint_signing::{verify_compact, PublicKey};
use rumqttc::{Client, Event, MqttOptions, Packet, Publish, QoS};
use serde_json::{json, Value};

const BPCTL: &str = env!("CARGO_BIN_EXE_bpctl");
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const ROOT: &str = "bridgepoint/v1";
const WAIT: Duration = Duration::from_secs(5);
const CONFIG: &str = r#"{"hub":{"host":"203.0.113.10","video_port":5004},"srtp":{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},"video":{"bitrate_kbps":1500}}"#;

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("bpctl-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// mosquitto on a free loopback port; killed on drop.
struct Broker {
    child: Child,
    port: u16,
    // Last, so the directory goes after the process.
    _dir: TempDir,
}

impl Broker {
    /// An anonymous plain-TCP broker.
    fn start() -> Broker {
        Broker::with("allow_anonymous true\n")
    }

    /// A broker with these extra config lines for its listener.
    fn with(extra: &str) -> Broker {
        let dir = TempDir::new("broker");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let conf = dir.path().join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\npersistence false\n\
                     log_dest file {}\n# Not root: ignored. Root: stay root to read the test's files.\nuser root\n{extra}",
                    dir.path().join("mosquitto.log").display()
                ),
            )
            .unwrap();
            let mut child = Command::new(MOSQUITTO)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start /usr/sbin/mosquitto (Debian package mosquitto)");
            let started = Instant::now();
            while started.elapsed() < WAIT {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Broker {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("mosquitto.log")).unwrap_or_default();
        panic!("mosquitto did not start; log:\n{log}");
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// bpctl with the broker flags set.
    fn bpctl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BPCTL);
        cmd.args(["--url", &self.url(), "--allow-plaintext"])
            .args(args);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.bpctl(args).output().expect("run bpctl")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's side of MQTT: a box (or a second client).
struct Peer {
    client: Client,
    messages: mpsc::Receiver<Publish>,
    acks: mpsc::Receiver<Packet>,
}

impl Peer {
    fn connect(broker: &Broker, id: &str) -> Peer {
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
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
    let broker = Broker::start();
    let dir = TempDir::new("push");
    let (key, public) = keygen(&dir);
    let config = dir.path().join("config.json");
    std::fs::write(&config, CONFIG).unwrap();

    let fake = Peer::connect(&broker, "box-lang-son-01");
    fake.publish(
        &format!("{ROOT}/lang-son-01/status"),
        &online_status("lang-son-01"),
        true,
    );
    // An old retained report with the same version must not count as the answer.
    fake.publish(
        &format!("{ROOT}/lang-son-01/config/reported"),
        r#"{"version":17,"state":"applied","error":null,"applied_version":17}"#,
        true,
    );
    fake.subscribe(&format!("{ROOT}/lang-son-01/config/desired"));

    let child = broker
        .bpctl(&[
            "push",
            "lang-son-01",
            config.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--version",
            "17",
        ])
        .spawn()
        .unwrap();
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
        &format!("{ROOT}/lang-son-01/config/reported"),
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
    later.subscribe(&format!("{ROOT}/lang-son-01/config/desired"));
    let retained = later.recv("retained config/desired");
    assert!(retained.retain, "config/desired must be retained");
    assert_eq!(&retained.payload[..], token.as_bytes());

    // A newer version (the default is the time in ms), applied.
    let child = broker
        .bpctl(&[
            "push",
            "lang-son-01",
            config.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
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
        &format!("{ROOT}/lang-son-01/config/reported"),
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
    let broker = Broker::start();
    let dir = TempDir::new("push-all");
    let config = dir.path().join("config.json");
    std::fs::write(&config, format!(r#"{{"version":42,"config":{CONFIG}}}"#)).unwrap();

    let fake = Peer::connect(&broker, "boxes");
    fake.publish(
        &format!("{ROOT}/hue-02/status"),
        &online_status("hue-02"),
        true,
    );
    fake.publish(
        &format!("{ROOT}/ca-mau-03/status"),
        r#"{"online":false,"device_id":"ca-mau-03"}"#,
        true,
    );
    fake.subscribe(&format!("{ROOT}/+/config/desired"));

    let child = broker
        .bpctl(&[
            "push",
            "--all",
            config.to_str().unwrap(),
            "--unsigned",
            "--timeout",
            "1",
        ])
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let p = fake.recv("config/desired");
        let payload: Value =
            serde_json::from_slice(&p.payload).expect("--unsigned publishes plain JSON");
        assert_eq!(payload["version"], 42, "the file's version is used");
        let device = payload["device_id"].as_str().unwrap().to_owned();
        assert_eq!(p.topic, format!("{ROOT}/{device}/config/desired"));
        if device == "hue-02" {
            fake.publish(
                &format!("{ROOT}/hue-02/config/reported"),
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
    let broker = Broker::start();
    let fake = Peer::connect(&broker, "boxes");
    fake.publish(
        &format!("{ROOT}/lang-son-01/status"),
        &online_status("lang-son-01"),
        true,
    );
    fake.publish(
        &format!("{ROOT}/hue-02/status"),
        r#"{"online":false,"device_id":"hue-02"}"#,
        true,
    );
    fake.publish(
        &format!("{ROOT}/hue-02/config/reported"),
        r#"{"version":5,"state":"applied","error":null,"applied_version":5}"#,
        true,
    );
    let out = broker.run(&["list"]);
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

    let out = broker.run(&["list", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[1]["device_id"], "lang-son-01");
    assert_eq!(rows[1]["online"], true);
}

#[test]
fn session_start_waits_for_the_result_with_its_id() {
    let broker = Broker::start();
    let fake = Peer::connect(&broker, "box-lang-son-01");
    fake.publish(
        &format!("{ROOT}/lang-son-01/status"),
        &online_status("lang-son-01"),
        true,
    );
    fake.subscribe(&format!("{ROOT}/lang-son-01/cmd"));

    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
    let child = broker
        .bpctl(&["session", "start", "lang-son-01", "--srtp-key", key])
        .spawn()
        .unwrap();
    let cmd = fake.recv("cmd");
    assert!(!cmd.retain);
    let cmd: Value = serde_json::from_slice(&cmd.payload).unwrap();
    assert_eq!(cmd["cmd"], "session.start");
    assert_eq!(cmd["args"], json!({"srtp_key": key}));
    let id = cmd["id"].as_str().unwrap();
    // Someone else's result first: ignored.
    fake.publish(
        &format!("{ROOT}/lang-son-01/cmd/result"),
        r#"{"id":"other","ok":false,"error":"x"}"#,
        false,
    );
    fake.publish(
        &format!("{ROOT}/lang-son-01/cmd/result"),
        &json!({"id":id,"ok":true,"error":null}).to_string(),
        false,
    );
    let out = finish(child);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "ok");

    // A refusal is an error with the box's reason.
    let child = broker.bpctl(&["keyframe", "lang-son-01"]).spawn().unwrap();
    let cmd: Value = serde_json::from_slice(&fake.recv("cmd").payload).unwrap();
    assert_eq!(cmd["cmd"], "keyframe");
    fake.publish(
        &format!("{ROOT}/lang-son-01/cmd/result"),
        &json!({"id":cmd["id"],"ok":false,"error":"not streaming"}).to_string(),
        false,
    );
    assert_clean_failure(
        &finish(child),
        "lang-son-01 refused keyframe: not streaming",
    );
}

#[test]
fn commands_fail_clearly_on_silence_and_unknown_boxes() {
    let broker = Broker::start();
    let fake = Peer::connect(&broker, "boxes");
    fake.publish(
        &format!("{ROOT}/lang-son-01/status"),
        &online_status("lang-son-01"),
        true,
    );
    fake.publish(
        &format!("{ROOT}/hue-02/status"),
        r#"{"online":false,"device_id":"hue-02"}"#,
        true,
    );

    let started = Instant::now();
    let out = broker.run(&["session", "start", "lang-son-01", "--timeout", "1"]);
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
        &broker.run(&["identify", "nobody-99", "--seconds", "5"]),
        "unknown device \"nobody-99\"",
    );
    assert_clean_failure(&broker.run(&["identify", "hue-02"]), "hue-02 is offline");
    assert_clean_failure(
        &broker.run(&["identify", "lang-son-01", "--seconds", "0"]),
        "--seconds must be 1 to 600",
    );
    assert_clean_failure(
        &broker.run(&["session", "start", "lang-son-01", "--srtp-key", "AAEC"]),
        "--srtp-key must be",
    );
    assert_clean_failure(
        &broker.run(&["update", "lang-son-01", "ftp://fw.example/x.raucb"]),
        "URL must be an http(s) URL",
    );
    assert_clean_failure(&broker.run(&["reboot", "Bad/Id"]), "device id \"Bad/Id\"");
}

#[test]
fn watch_prints_events_and_telemetry_once_each() {
    let broker = Broker::start();
    let mut child = broker.bpctl(&["watch", "--count", "2"]).spawn().unwrap();
    // bpctl says "watching ..." on stderr once it is subscribed.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("watching"), "{line}");

    let fake = Peer::connect(&broker, "box-lang-son-01");
    let event = r#"{"id":"6f1c","seq":7,"at":"2026-11-23T18:30:05.123Z","type":"call.request"}"#;
    fake.publish(&format!("{ROOT}/lang-son-01/event"), event, false);
    fake.publish(&format!("{ROOT}/lang-son-01/event"), event, false); // redelivered: printed once
    fake.publish(
        &format!("{ROOT}/lang-son-01/telemetry"),
        r#"{"at":"2026-11-23T18:30:06.000Z","uptime_s":60,"call":"idle","stream":"streaming","packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":12,"fraction_lost":0.0},"cpu_temp_c":51.5}"#,
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
        &format!("config file {bad_json}: not valid JSON"),
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
        "--version must be at least 1",
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

/// A throw-away PKI made with the openssl command line: a CA, a server
/// certificate for 127.0.0.1, and client certificates whose CN is the name.
fn make_pki(dir: &Path, clients: &[&str]) {
    const CNF: &str = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n\
        [ca_ext]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n\
        [server_ext]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n\
        subjectAltName = IP:127.0.0.1\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
        [client_ext]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n\
        subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
    let cnf = dir.join("openssl.cnf");
    std::fs::write(&cnf, CNF).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    let cnf = cnf.to_str().unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-config",
        cnf,
        "-extensions",
        "ca_ext",
        "-days",
        "2",
    ];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=Test CA",
    ]);
    openssl(&args);
    for (i, (name, ext)) in std::iter::once(("server", "server_ext"))
        .chain(clients.iter().map(|c| (*c, "client_ext")))
        .enumerate()
    {
        let (key, csr, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("/CN={name}"),
        );
        let mut args = vec!["req", "-new", "-config", cnf];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(&args);
        let serial = (i + 1).to_string();
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-extfile",
            cnf,
            "-extensions",
            ext,
            "-out",
            &crt,
        ]);
    }
}

#[test]
fn mutual_tls_with_the_acl_central_it_runs() {
    let dir = TempDir::new("tls");
    let pki = dir.path();
    make_pki(pki, &["central", "lang-son-01"]);
    let acl = pki.join("acl");
    std::fs::write(
        &acl,
        "pattern readwrite bridgepoint/v1/%u/#\nuser central\ntopic readwrite bridgepoint/v1/#\n",
    )
    .unwrap();
    let p = |f: &str| pki.join(f).to_str().unwrap().to_owned();
    let broker = Broker::with(&format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\nuse_identity_as_username true\n\
         allow_anonymous false\nacl_file {}\n",
        p("ca.crt"),
        p("server.crt"),
        p("server.key"),
        acl.display()
    ));
    // The box publishes its status with its own certificate (CN = device id).
    let out = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "--cafile",
            &p("ca.crt"),
        ])
        .args([
            "--cert",
            &p("lang-son-01.crt"),
            "--key",
            &p("lang-son-01.key"),
            "-q",
            "1",
            "-r",
        ])
        .args([
            "-t",
            "bridgepoint/v1/lang-son-01/status",
            "-m",
            &online_status("lang-son-01"),
        ])
        .output()
        .expect("run mosquitto_pub (Debian package mosquitto-clients)");
    assert!(out.status.success(), "mosquitto_pub: {}", text(&out.stderr));

    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let bpctl = |cert: Option<&str>| {
        let mut cmd = Command::new(BPCTL);
        cmd.args([
            "--url",
            &url,
            "--ca-file",
            &p("ca.crt"),
            "--timeout",
            "3",
            "list",
        ])
        .env_clear();
        if let Some(name) = cert {
            cmd.args([
                "--cert-file",
                &p(&format!("{name}.crt")),
                "--key-file",
                &p(&format!("{name}.key")),
            ]);
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
    let out = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "--cafile",
            &p("ca.crt"),
        ])
        .args([
            "--cert",
            &p("central.crt"),
            "--key",
            &p("central.key"),
            "-q",
            "1",
            "-r",
        ])
        .args([
            "-t",
            "bridgepoint/v1/hue-02/status",
            "-m",
            &online_status("hue-02"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = bpctl(Some("lang-son-01"));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("lang-son-01") && !stdout.contains("hue-02"),
        "{stdout}"
    );
}
