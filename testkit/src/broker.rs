//! A real MQTT broker (`mosquitto`, Debian package `mosquitto`) on a free
//! loopback port, and the `mosquitto_pub` / `mosquitto_sub` clients (package
//! `mosquitto-clients`) as independent MQTT peers.
//!
//! [`Broker::plain`] is an anonymous plain-TCP broker. [`Broker::tls`] is set
//! up as central IT runs it for the boxes: TLS with a client certificate
//! required, the certificate's CN taken as the MQTT user name, and the ACL in
//! [`ACL`]: a box (CN = its device id) reads and writes only under
//! `bridgepoint/v1/<device id>/#`; `central` reads and writes all of
//! `bridgepoint/v1/#`.
//!
//! The broker is killed when dropped; [`Broker::stop`] and
//! [`Broker::restart`] take it away and bring it back on the same port with
//! the same config. Nothing is persisted between runs (`persistence false`).
//! Everything it logs, over all its runs, is in [`Broker::log_text`].

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::certs::Certs;
use crate::{free_tcp_port, wait_for, TempDir};

/// Where the broker lives.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// The ACL of the TLS broker. `%u` is the user name, i.e. the client
/// certificate's CN. Pattern lines apply to every client.
pub const ACL: &str = "\
# A box: its own subtree only (user name = certificate CN = device id).
pattern readwrite bridgepoint/v1/%u/#

# Central IT: every box.
user central
topic readwrite bridgepoint/v1/#
";

/// How long start-up may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `line` is what mosquitto logs once its listeners are open
/// (`... mosquitto version 2.0.11 running`).
fn is_running_line(line: &str) -> bool {
    line.contains("mosquitto version") && line.ends_with(" running")
}

/// A running (or stopped) mosquitto; killed when dropped.
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    port: u16,
    tls: bool,
    /// TLS file lines for the config (empty for the plain broker).
    tls_conf: String,
    config: PathBuf,
    log: PathBuf,
    /// Numbers the files of client runs (subscriber outputs, payloads).
    clients: AtomicU32,
    // Last, so the directory goes after the process.
    dir: TempDir,
}

impl Broker {
    /// An anonymous plain-TCP broker on a free loopback port.
    pub fn plain() -> Broker {
        Broker::start(TempDir::new("mqtt-plain"), false, String::new())
    }

    /// A TLS broker on a free loopback port: server certificate and CA from
    /// `certs`, a client certificate required, its CN used as the user name,
    /// and [`ACL`]. The broker reads the files of `certs` at every (re)start:
    /// keep them until the broker is dropped.
    pub fn tls(certs: &Certs) -> Broker {
        let dir = TempDir::new("mqtt-tls");
        let acl = dir.path().join("acl");
        std::fs::write(&acl, ACL).expect("write the broker's ACL file");
        let tls_conf = format!(
            "cafile {ca}\n\
             certfile {cert}\n\
             keyfile {key}\n\
             require_certificate true\n\
             use_identity_as_username true\n\
             allow_anonymous false\n\
             acl_file {acl}\n",
            ca = conf_path(certs.ca_cert()),
            cert = conf_path(certs.server_cert()),
            key = conf_path(certs.server_key()),
            acl = conf_path(&acl),
        );
        Broker::start(dir, true, tls_conf)
    }

    fn start(dir: TempDir, tls: bool, tls_conf: String) -> Broker {
        let mut broker = Broker {
            child: None,
            port: 0,
            tls,
            tls_conf,
            config: dir.path().join("mosquitto.conf"),
            log: dir.path().join("mosquitto.log"),
            clients: AtomicU32::new(0),
            dir,
        };
        // The port is free when probed but may be taken before mosquitto
        // binds it: then try another.
        for _ in 0..5 {
            broker.port = free_tcp_port();
            match broker.spawn() {
                Start::Up => return broker,
                Start::AddressInUse => continue,
                Start::Failed(why) => panic!("{why}"),
            }
        }
        panic!(
            "mosquitto found its port in use 5 times; log:\n{}",
            broker.log_text()
        );
    }

    /// Writes the config for `self.port`, starts mosquitto and waits until it
    /// accepts connections.
    fn spawn(&mut self) -> Start {
        assert!(self.child.is_none(), "mosquitto is already running");
        let mut conf = format!(
            "# Bridgepoint test broker ({kind}).\n\
             listener {port} 127.0.0.1\n\
             persistence false\n\
             log_dest file {log}\n\
             log_type all\n\
             log_timestamp_format %Y-%m-%dT%H:%M:%S\n\
             connection_messages true\n\
             # Started as root, mosquitto would switch to the user `mosquitto`, who\n\
             # may not open the log and key files here. Not started as root: ignored.\n\
             user root\n",
            kind = if self.tls { "TLS" } else { "plain" },
            port = self.port,
            log = conf_path(&self.log),
        );
        if self.tls {
            conf.push_str(&self.tls_conf);
        } else {
            conf.push_str("allow_anonymous true\n");
        }
        std::fs::write(&self.config, conf).expect("write mosquitto.conf");

        // mosquitto appends to its log; its own stdout/stderr (errors before
        // the log is open) go to the same file. Only this run's part counts.
        let from = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0) as usize;
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open mosquitto.log");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone the log file handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {MOSQUITTO} (Debian package `mosquitto`): {e}"));
        self.child = Some(child);

        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let this_run = self.log_text().get(from..).unwrap_or_default().to_owned();
            let child = self.child.as_mut().expect("child just started");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                if this_run.contains("Address already in use") {
                    return Start::AddressInUse;
                }
                return Start::Failed(format!(
                    "mosquitto exited at start-up ({status}); log:\n{}",
                    self.log_text()
                ));
            }
            // The "running" line comes after the listener is open, so a
            // connection is to this mosquitto, not to whoever had the port.
            if this_run.lines().any(is_running_line)
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                return Start::Up;
            }
            if Instant::now() >= deadline {
                self.kill();
                return Start::Failed(format!(
                    "mosquitto did not accept connections on {addr} within {START_TIMEOUT:?}; log:\n{}",
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `mqtt://127.0.0.1:<port>` or `mqtts://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The host to connect to: `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The listener's port; the same across [`Broker::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this is the TLS broker.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The broker's directory (config, ACL, log, client outputs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// mosquitto's log file, over all its runs.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything mosquitto logged so far, over all its runs.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is up (false after [`Broker::stop`] or a crash).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Takes the broker away: SIGTERM (SIGKILL after 5 s), and waits for the
    /// process to end, which closes every client connection. Does nothing if
    /// it is not running.
    pub fn stop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let pid = child.id().to_string();
        let termed = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !termed || wait_for(Duration::from_secs(5), || child.try_wait().ok().flatten()).is_none()
        {
            self.kill();
        }
        self.child = None;
    }

    /// Brings the broker back on the same port with the same config (stops
    /// it first if it is running). Panics with the log if it does not come
    /// up, e.g. because something else took the port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        match self.spawn() {
            Start::Up => {}
            Start::AddressInUse => panic!(
                "port {} was taken while the broker was stopped; log:\n{}",
                self.port,
                self.log_text()
            ),
            Start::Failed(why) => panic!("{why}"),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Publishes one QoS 1 message with `mosquitto_pub` (MQTT 3.1.1) and
    /// returns its outcome. Success means the broker acknowledged it, not
    /// that anyone may read it: a 3.1.1 broker acknowledges a publish the
    /// ACL denies and drops it silently. The payload goes through a file, so
    /// any size and any bytes fit.
    pub fn publish(&self, auth: &ClientAuth, topic: &str, payload: impl AsRef<[u8]>) -> Output {
        self.run_pub(auth, topic, payload.as_ref(), false)
    }

    /// [`Broker::publish`] with the retain flag: the broker keeps the
    /// message and hands it to every later subscriber of `topic`.
    pub fn publish_retained(
        &self,
        auth: &ClientAuth,
        topic: &str,
        payload: impl AsRef<[u8]>,
    ) -> Output {
        self.run_pub(auth, topic, payload.as_ref(), true)
    }

    /// Panics unless `out`, the outcome of a [`Broker::publish`] to `topic`,
    /// says the broker acknowledged the message; the message has what
    /// mosquitto_pub said and the broker's log.
    pub fn assert_acked(&self, out: &Output, topic: &str) {
        assert!(
            out.status.success(),
            "mosquitto_pub to {topic} failed ({}): {}{}\nbroker log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
    }

    fn run_pub(&self, auth: &ClientAuth, topic: &str, payload: &[u8], retain: bool) -> Output {
        let n = self.clients.fetch_add(1, Ordering::Relaxed);
        let file = self.dir().join(format!("pub-{n}.bin"));
        std::fs::write(&file, payload).expect("write the payload file");
        let mut cmd = Command::new("timeout");
        cmd.args(["10", "mosquitto_pub", "-V", "mqttv311", "-q", "1"])
            .args(["-h", self.host(), "-p", &self.port.to_string()])
            .args(auth.args())
            .args(["-t", topic, "-f"])
            .arg(&file);
        if retain {
            cmd.arg("-r");
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_pub (Debian package `mosquitto-clients`)");
        let _ = std::fs::remove_file(&file);
        out
    }

    /// Starts a `mosquitto_sub` (MQTT 3.1.1, QoS 1) on `topics`; see
    /// [`Subscriber::wait_subscribed`] before publishing to it.
    pub fn subscribe(&self, auth: &ClientAuth, topics: &[&str]) -> Subscriber {
        let n = self.clients.fetch_add(1, Ordering::Relaxed);
        let out = self.dir().join(format!("sub-{n}.out"));
        let file = File::create(&out).expect("create the subscriber's output file");
        // mosquitto_sub flushes messages but not its debug lines (the SUBACK
        // one): line-buffer its stdout.
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "mosquitto_sub", "-V", "mqttv311", "-q", "1", "-d"])
            .args(["-F", &format!("{MSG}%t %p")])
            .args(["-h", self.host(), "-p", &self.port.to_string()])
            .args(auth.args());
        for topic in topics {
            cmd.args(["-t", topic]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(
                file.try_clone()
                    .expect("clone the subscriber's output handle"),
            )
            .stderr(file)
            .spawn()
            .expect("start mosquitto_sub (Debian package `mosquitto-clients`)");
        Subscriber { child, out }
    }

    /// [`Broker::subscribe`], then waits up to `timeout` for the broker's
    /// SUBACK; panics with what mosquitto_sub and the broker said if none
    /// comes.
    pub fn subscribe_confirmed(
        &self,
        auth: &ClientAuth,
        topics: &[&str],
        timeout: Duration,
    ) -> Subscriber {
        let mut sub = self.subscribe(auth, topics);
        assert!(
            sub.wait_subscribed(timeout),
            "mosquitto_sub on {topics:?} got no SUBACK; it said:\n{}\nbroker log:\n{}",
            sub.output(),
            self.log_text()
        );
        sub
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Start {
    Up,
    AddressInUse,
    Failed(String),
}

/// A path as it goes into mosquitto.conf (one value to the end of the line).
fn conf_path(path: &Path) -> String {
    let s = path
        .to_str()
        .expect("broker file paths are UTF-8")
        .to_owned();
    assert!(
        !s.contains('\n') && !s.starts_with(' '),
        "path unusable in mosquitto.conf: {s:?}"
    );
    s
}

/// How a `mosquitto_pub` / `mosquitto_sub` connects. The fields are separate
/// so that a test can trust the right CA yet present a foreign certificate.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth {
    /// `--cafile`: the CA the broker's certificate is checked against; `None`
    /// for plain TCP.
    pub cafile: Option<PathBuf>,
    /// `--cert`: the client certificate, if one is presented.
    pub cert: Option<PathBuf>,
    /// `--key`: its private key.
    pub key: Option<PathBuf>,
}

impl ClientAuth {
    /// Plain TCP, no user name.
    pub fn anonymous() -> ClientAuth {
        ClientAuth::default()
    }

    /// TLS, trusting the CA of `certs`, presenting the client certificate
    /// `name` of `certs` (so the MQTT user name is `name`).
    pub fn cert(certs: &Certs, name: &str) -> ClientAuth {
        ClientAuth {
            cafile: Some(certs.ca_cert().to_owned()),
            cert: Some(certs.client_cert(name).to_owned()),
            key: Some(certs.client_key(name).to_owned()),
        }
    }

    /// TLS, trusting the CA of `certs`, presenting no client certificate.
    pub fn no_cert(certs: &Certs) -> ClientAuth {
        ClientAuth {
            cafile: Some(certs.ca_cert().to_owned()),
            ..ClientAuth::default()
        }
    }

    /// The `--cafile`, `--cert` and `--key` options of mosquitto_pub and
    /// mosquitto_sub that connect this way.
    pub fn args(&self) -> Vec<&OsStr> {
        let mut args = Vec::new();
        for (flag, path) in [
            ("--cafile", &self.cafile),
            ("--cert", &self.cert),
            ("--key", &self.key),
        ] {
            if let Some(path) = path {
                args.push(OsStr::new(flag));
                args.push(path.as_os_str());
            }
        }
        args
    }
}

/// What marks a message line in a subscriber's output (the rest is
/// mosquitto_sub's `-d` debug lines).
const MSG: &str = "MSG ";

/// A running `mosquitto_sub`; killed when dropped.
#[derive(Debug)]
pub struct Subscriber {
    child: Child,
    out: PathBuf,
}

impl Subscriber {
    /// Everything mosquitto_sub printed: debug lines and messages.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits until the broker acknowledged the subscriptions (granted or
    /// not: a denied filter is acknowledged with 128); false on timeout or
    /// if mosquitto_sub exited.
    pub fn wait_subscribed(&mut self, timeout: Duration) -> bool {
        wait_for(timeout, || {
            if self.output().contains("received SUBACK") {
                Some(true)
            } else if matches!(self.child.try_wait(), Ok(Some(_))) {
                Some(false)
            } else {
                None
            }
        })
        .unwrap_or(false)
    }

    /// The (topic, payload) of every message received so far, in order.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.output()
            .lines()
            .filter_map(|line| line.strip_prefix(MSG))
            .map(|rest| match rest.split_once(' ') {
                Some((topic, payload)) => (topic.to_owned(), payload.to_owned()),
                None => (rest.to_owned(), String::new()),
            })
            .collect()
    }

    /// Waits until a message with this topic and payload has arrived.
    pub fn wait_message(&self, topic: &str, payload: &str, timeout: Duration) -> bool {
        wait_for(timeout, || {
            self.messages()
                .iter()
                .any(|(t, p)| t == topic && p == payload)
                .then_some(())
        })
        .is_some()
    }

    /// Whether mosquitto_sub is still running (it exits when refused or
    /// disconnected).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
