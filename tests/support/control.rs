//! Central IT's side of the control plane, for the system tests: config
//! files with `[mqtt]`, signing with the workspace's `jws-tool`, publishing
//! with `mosquitto_pub` (through a file, so a 1 MB payload fits), and waiting
//! for the box's JSON messages.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};
use std::time::Duration;

use bridgepoint_proto::{Command, CommandBinding, CommandRequest, Leaf, PushPayload, Topics};
use bridgepoint_testkit::broker::{Broker, ClientAuth, Subscriber};
use bridgepoint_testkit::certs::Certs;
use bridgepoint_testkit::{assert_success, wait_for};
use serde_json::Value;

use crate::bin;
use crate::daemon::Daemon;
use crate::sim::SimBoard;

/// The topic root the tests use.
pub const ROOT: &str = bridgepoint_proto::topics::DEFAULT_TOPIC_ROOT;

/// A box's topic, built by the protocol crate as the box builds it.
pub fn topic(device: &str, leaf: Leaf) -> String {
    Topics::new(ROOT, device).topic(leaf)
}

/// A command as central IT sends it: plain JSON, or with `keys` a token
/// signed over the command bound to `device`, `counter` and `expires_at`.
pub fn command(id: &str, command: Command, signed: Option<(&Keys, &str, u64, u64)>) -> Vec<u8> {
    let binding = signed.map(|(_, device, counter, expires_at)| CommandBinding {
        device_id: device.to_owned(),
        counter,
        expires_at,
    });
    let json = CommandRequest {
        id: id.to_owned(),
        command,
        binding,
    }
    .to_json();
    match signed {
        Some((keys, ..)) => keys.sign(json.as_bytes()).into_bytes(),
        None => json.into_bytes(),
    }
}

/// A push as bpctl makes it (signed with `keys` when given).
pub fn push(keys: Option<&Keys>, device: &str, version: u64, config: &Value) -> Vec<u8> {
    let json = PushPayload {
        version,
        device_id: Some(device.to_owned()),
        config: config.as_object().cloned().unwrap_or_default(),
    }
    .to_json();
    match keys {
        Some(k) => k.sign(json.as_bytes()).into_bytes(),
        None => json.into_bytes(),
    }
}

/// The wall clock in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A signing key pair made by `jws-tool keygen`.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The private JWK file.
    pub private_jwk: PathBuf,
    /// The base64 raw public key.
    pub public_b64: String,
}

impl Keys {
    /// Generates a key pair under `dir/<name>`.
    pub fn generate(dir: &Path, name: &str) -> Keys {
        let prefix = dir.join(name);
        let out = Process::new(bin("jws-tool"))
            .arg("keygen")
            .arg(&prefix)
            .output()
            .expect("run jws-tool");
        assert_success(&out, "jws-tool keygen");
        let public_b64 = std::fs::read_to_string(prefix.with_extension("pub"))
            .expect("read .pub")
            .trim()
            .to_owned();
        Keys {
            private_jwk: prefix.with_extension("key.jwk"),
            public_b64,
        }
    }

    /// Signs `payload` into a JWS compact token.
    pub fn sign(&self, payload: &[u8]) -> String {
        use std::io::Write;
        let mut child = Process::new(bin("jws-tool"))
            .arg("sign")
            .arg("--key")
            .arg(&self.private_jwk)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run jws-tool sign");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(payload)
            .expect("write payload");
        let out = child.wait_with_output().expect("jws-tool sign");
        assert_success(&out, "jws-tool sign");
        String::from_utf8(out.stdout)
            .expect("token is text")
            .trim()
            .to_owned()
    }
}

/// How the box reaches the broker in a test.
pub enum BoxLink<'a> {
    /// Anonymous plain MQTT.
    Plain,
    /// Mutual TLS with the box's certificate (CN = device id).
    Tls(&'a Certs),
}

/// A config file for a box managed over MQTT. `hub` = Some((video_port,
/// audio_port)) gives it a hub in the file; None leaves it to provisioning.
pub fn box_config(
    data_dir: &Path,
    device: &str,
    broker: &Broker,
    link: BoxLink<'_>,
    trust: &[&str],
    hub: Option<(u16, u16)>,
    mode: &str,
) -> String {
    let mut text = format!("device_id = \"{device}\"\ndata_dir = \"{}\"\nboard = \"sim\"\ntelemetry_interval_s = 5\n\n[mqtt]\nurl = \"{}\"\ntopic_root = \"{ROOT}\"\nkeepalive_s = 5\n", data_dir.display(), broker.url());
    match link {
        BoxLink::Plain => text.push_str("allow_plaintext = true\n"),
        BoxLink::Tls(certs) => text.push_str(&format!(
            "ca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            certs.ca_cert().display(),
            certs.client_cert(device).display(),
            certs.client_key(device).display()
        )),
    }
    let keys: Vec<String> = trust.iter().map(|k| format!("\"{k}\"")).collect();
    text.push_str(&format!("\n[trust]\nconfig_keys = [{}]\n", keys.join(", ")));
    if let Some((v, a)) = hub {
        text.push_str(&format!(
            "\n[hub]\nhost = \"127.0.0.1\"\nvideo_port = {v}\naudio_port = {a}\n\n[srtp]\nkey = \"{}\"\n",
            crate::fixtures::KEY
        ));
    }
    text.push_str(&format!(
        "\n[video]\nsource = \"test\"\nencoder = \"x264\"\nwidth = 640\nheight = 360\nfps = 30\nbitrate_kbps = 1500\nkeyframe_interval_s = 1\n\n[session]\nmode = \"{mode}\"\ncall_timeout_s = 60\n"
    ));
    text
}

/// [`box_config`] for a box in `dir/data` on the plain `broker`, trusting
/// no signing key, with no hub, streaming only on a call.
pub fn plain_box_config(dir: &Path, device: &str, broker: &Broker) -> String {
    box_config(
        &dir.join("data"),
        device,
        broker,
        BoxLink::Plain,
        &[],
        None,
        "on_call",
    )
}

/// Starts a box on the plain `broker` (data in `dir/data`) that trusts the
/// public keys `trust`, with a hub in its file (`Some((video_port,
/// audio_port))`) or none, in session `mode`.
pub fn start_plain_box(
    dir: &Path,
    device: &str,
    broker: &Broker,
    trust: &[&str],
    hub: Option<(u16, u16)>,
    mode: &str,
) -> Daemon {
    let text = box_config(
        &dir.join("data"),
        device,
        broker,
        BoxLink::Plain,
        trust,
        hub,
        mode,
    );
    Daemon::start(dir, &text)
}

/// Starts a box on the plain `broker` that trusts `keys`, streams always
/// (test sources) to free loopback ports, and is streaming when this
/// returns; with its simulated board and the ports.
pub fn start_streaming_box(
    dir: &Path,
    device: &str,
    broker: &Broker,
    keys: &Keys,
) -> (Daemon, SimBoard, (u16, u16)) {
    let (video_port, audio_port) = crate::free_ports();
    let trust = [keys.public_b64.as_str()];
    let hub = Some((video_port, audio_port));
    let daemon = start_plain_box(dir, device, broker, &trust, hub, "always");
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    (daemon, board, (video_port, audio_port))
}

/// Runs bpctl against the plain `broker` (plain MQTT allowed, 10 s timeout,
/// no signing key from the environment) with `args`.
pub fn bpctl_plain<I, A>(broker: &Broker, args: I) -> Output
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    Process::new(bin("bpctl"))
        .args([
            "--url",
            &broker.url(),
            "--allow-plaintext",
            "--timeout",
            "10",
        ])
        .args(args)
        .env_remove("BPCTL_SIGNING_KEY")
        .output()
        .expect("run bpctl")
}

/// The `config` object of a push sending the stream to 127.0.0.1.
pub fn pushed_config(video_port: u16, audio_port: u16, bitrate_kbps: u32) -> Value {
    serde_json::json!({
        "hub": {"host": "127.0.0.1", "video_port": video_port, "audio_port": audio_port},
        "srtp": {"suite": "AES_CM_128_HMAC_SHA1_80", "key": crate::fixtures::KEY},
        "video": {"source": "test", "encoder": "x264", "width": 640, "height": 360, "fps": 30,
                  "bitrate_kbps": bitrate_kbps, "keyframe_interval_s": 1},
        "audio": {"source": "test", "bitrate_kbps": 32},
        "session": {"mode": "on_call", "call_timeout_s": 60},
        "telemetry_interval_s": 5
    })
}

/// Central IT's MQTT client (mosquitto_pub / mosquitto_sub).
pub struct Central<'a> {
    broker: &'a Broker,
    certs: Option<&'a Certs>,
}

impl<'a> Central<'a> {
    /// Central on `broker`; with `certs`, as the TLS client `central`.
    pub fn new(broker: &'a Broker, certs: Option<&'a Certs>) -> Self {
        Central { broker, certs }
    }

    fn auth(&self) -> ClientAuth {
        match self.certs {
            Some(c) => ClientAuth::cert(c, "central"),
            None => ClientAuth::anonymous(),
        }
    }

    /// Publishes `payload` (QoS 1), retained or not; panics unless the
    /// broker acknowledged it.
    pub fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        let out = if retain {
            self.broker.publish_retained(&self.auth(), topic, payload)
        } else {
            self.broker.publish(&self.auth(), topic, payload)
        };
        self.broker.assert_acked(&out, topic);
    }

    /// Subscribes to `topics`, waiting until the broker confirmed.
    pub fn subscribe(&self, topics: &[&str]) -> Subscriber {
        self.broker
            .subscribe_confirmed(&self.auth(), topics, Duration::from_secs(10))
    }
}

/// Waits for a message on `topic`, after the first `skip` messages, whose
/// JSON satisfies `want`; returns it.
pub fn wait_json(
    sub: &Subscriber,
    topic: &str,
    skip: usize,
    timeout: Duration,
    want: impl Fn(&Value) -> bool,
) -> Option<Value> {
    wait_for(timeout, || {
        sub.messages()
            .into_iter()
            .skip(skip)
            .filter(|(t, _)| t == topic)
            .filter_map(|(_, p)| serde_json::from_str::<Value>(&p).ok())
            .find(|v| want(v))
    })
}

/// Waits for a status on `status` (the box's status topic) saying the box
/// is online; returns it.
pub fn wait_online(sub: &Subscriber, status: &str, timeout: Duration) -> Option<Value> {
    wait_json(sub, status, 0, timeout, |v| v["online"] == true)
}

/// Waits for the successful result of command `id` on `results` (the box's
/// `cmd/result` topic), after the first `skip` messages; returns it.
pub fn wait_ok_result(
    sub: &Subscriber,
    results: &str,
    skip: usize,
    timeout: Duration,
    id: &str,
) -> Option<Value> {
    wait_json(sub, results, skip, timeout, |v| {
        v["id"] == id && v["ok"] == true
    })
}

/// Writes `value` to `path` as JSON.
pub fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, value.to_string())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Every JSON message on `topic` received so far.
pub fn all_json(sub: &Subscriber, topic: &str) -> Vec<Value> {
    sub.messages()
        .into_iter()
        .filter(|(t, _)| t == topic)
        .filter_map(|(_, p)| serde_json::from_str::<Value>(&p).ok())
        .collect()
}
