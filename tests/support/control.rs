//! Central IT's side of the control plane, for the system tests: config
//! files with `[mqtt]`, signing with the workspace's `jws-tool`, publishing
//! with `mosquitto_pub` (from a file, so a 1 MB payload fits), and waiting
//! for the box's JSON messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::broker::{Broker, ClientAuth, Subscriber};
use crate::certs::Certs;
use crate::{bin, wait_for};

/// The topic root the tests use.
pub const ROOT: &str = "bridgepoint/v1";

/// A box's topic.
pub fn topic(device: &str, leaf: &str) -> String {
    format!("{ROOT}/{device}/{leaf}")
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
        let out = Command::new(bin("jws-tool"))
            .arg("keygen")
            .arg(&prefix)
            .output()
            .expect("run jws-tool");
        assert!(
            out.status.success(),
            "jws-tool keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
        let mut child = Command::new(bin("jws-tool"))
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
        assert!(
            out.status.success(),
            "jws-tool sign: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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

    /// Publishes `payload` (QoS 1), retained or not.
    pub fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        let file = self.broker.dir().join(format!(
            "pub-{}.bin",
            std::process::id() as u128 * 1000 + rand_suffix()
        ));
        std::fs::write(&file, payload).expect("write payload file");
        let mut cmd = Command::new("timeout");
        cmd.args([
            "10",
            "mosquitto_pub",
            "-V",
            "mqttv311",
            "-q",
            "1",
            "-h",
            "127.0.0.1",
        ])
        .args(["-p", &self.broker.port().to_string(), "-t", topic, "-f"])
        .arg(&file);
        if retain {
            cmd.arg("-r");
        }
        if let Some(c) = self.certs {
            cmd.arg("--cafile").arg(c.ca_cert());
            cmd.arg("--cert").arg(c.client_cert("central"));
            cmd.arg("--key").arg(c.client_key("central"));
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_pub");
        assert!(
            out.status.success(),
            "mosquitto_pub to {topic}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_file(&file);
    }

    /// Subscribes to `topics`, waiting until the broker confirmed.
    pub fn subscribe(&self, topics: &[&str]) -> Subscriber {
        let mut sub = self.broker.subscribe(&self.auth(), topics);
        assert!(
            sub.wait_subscribed(Duration::from_secs(10)),
            "subscription not confirmed:\n{}",
            sub.output()
        );
        sub
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1000)
        .unwrap_or(0)
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

/// Every JSON message on `topic` received so far.
pub fn all_json(sub: &Subscriber, topic: &str) -> Vec<Value> {
    sub.messages()
        .into_iter()
        .filter(|(t, _)| t == topic)
        .filter_map(|(_, p)| serde_json::from_str::<Value>(&p).ok())
        .collect()
}
