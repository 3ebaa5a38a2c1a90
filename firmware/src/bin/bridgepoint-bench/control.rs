//! The control-plane benchmark, against a local mosquitto and the real
//! daemon (with the simulated board):
//!
//! 1. a signed config push to the box's `applied` report (including the
//!    store's fsync), p50/p99 over N pushes;
//! 2. a button release (simulated board) to `call.request` seen by a
//!    subscriber, p50/p99;
//! 3. `session.start` to the first SRTP packet at the receiver, p50/p99.

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bridgepoint_firmware::media::latency::percentile;
use bridgepoint_mqtt::client::mqttbytes::v5::Packet;
use bridgepoint_mqtt::client::{Client, Event};
use bridgepoint_mqtt::{ClientSettings, FileLabels, QoS, TlsFiles};
use bridgepoint_proto::topics::split;
use bridgepoint_proto::{
    Command, CommandRequest, ConfigReported, Event as BoxEvent, EventKind, Leaf, PushPayload,
    PushState, Status, Topics,
};
use serde_json::json;

const DEVICE: &str = "bench-box";
const ROOT: &str = "bridgepoint/v1";
const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_mosquitto(dir: &Path) -> anyhow::Result<(Killed, u16)> {
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nuser root\nlog_dest none\n"),
    )?;
    let child = Process::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start mosquitto (Debian package mosquitto)")?;
    let broker = Killed(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((broker, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("mosquitto did not open port {port}")
}

fn topic(leaf: Leaf) -> String {
    Topics::new(ROOT, DEVICE).topic(leaf)
}

/// A message the bench's central side received, read with the protocol's types.
enum Inbound {
    Status(Status),
    Reported(ConfigReported),
    Event(BoxEvent),
}

/// Messages received by the bench's MQTT client, with their arrival time.
type Inbox = mpsc::Receiver<(Instant, Inbound)>;

/// Central IT's side, with the same client setup as bpctl.
fn connect(port: u16) -> anyhow::Result<(Client, Inbox)> {
    let settings = ClientSettings {
        broker: bridgepoint_proto::BrokerUrl::parse(&format!("mqtt://127.0.0.1:{port}"))
            .map_err(anyhow::Error::msg)?,
        client_id: format!("bench-central-{}", std::process::id()),
        keepalive: Duration::from_secs(30),
        credentials: None,
        tls: TlsFiles::default(),
        labels: FileLabels::BPCTL,
        max_packet_bytes: 1024 * 1024,
        request_capacity: 256,
        will: None,
    };
    let (client, mut connection) = Client::new(settings.options()?, 256);
    for leaf in [Leaf::ConfigReported, Leaf::Event, Leaf::Status] {
        client.subscribe(topic(leaf), QoS::AtLeastOnce)?;
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = Instant::now();
                    let t = String::from_utf8_lossy(&p.topic).into_owned();
                    let inbound = match split(ROOT, &t).map(|(_, leaf)| leaf) {
                        Some(Leaf::Status) => Status::parse(&p.payload).ok().map(Inbound::Status),
                        Some(Leaf::ConfigReported) => ConfigReported::parse(&p.payload)
                            .ok()
                            .map(Inbound::Reported),
                        Some(Leaf::Event) => BoxEvent::parse(&p.payload).ok().map(Inbound::Event),
                        _ => None,
                    };
                    if let Some(inbound) = inbound {
                        if tx.send((at, inbound)).is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    Ok((client, rx))
}

/// Waits up to 10 s for a message `want` accepts; returns its arrival time.
fn wait_for(inbox: &Inbox, what: &str, want: impl Fn(&Inbound) -> bool) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, m) = inbox
            .recv_timeout(left)
            .with_context(|| format!("no {what} within 10 s"))?;
        if want(&m) {
            return Ok(at);
        }
    }
}

fn is_event(m: &Inbound, kind: &str) -> bool {
    matches!(m, Inbound::Event(e) if e.kind.name() == kind)
}

/// Publishes an unsigned command (the bench's box trusts a key, but these
/// commands need no signature).
fn send(client: &Client, id: String, command: Command) -> anyhow::Result<()> {
    let payload = CommandRequest {
        id,
        command,
        binding: None,
    }
    .to_json();
    client.publish(topic(Leaf::Cmd), QoS::AtLeastOnce, false, payload)?;
    Ok(())
}

fn report(name: &str, samples: &mut [Duration], target: &str) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} runs (target {target})",
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 99.0)),
        ms(*samples.last().unwrap_or(&Duration::ZERO)),
        samples.len()
    );
}

fn pushed(version: u64, video_port: u16, bitrate: u32) -> PushPayload {
    let config = json!({
        "hub": {"host": "127.0.0.1", "video_port": video_port, "audio_port": video_port + 2},
        "srtp": {"key": KEY_B64},
        "video": {"source": "test", "encoder": "x264", "width": 1280, "height": 720, "fps": 30, "bitrate_kbps": bitrate},
        "session": {"mode": "on_call"}
    });
    PushPayload {
        version,
        device_id: Some(DEVICE.to_owned()),
        config: config.as_object().cloned().unwrap_or_default(),
    }
}

/// Runs the control-plane benchmark.
pub fn run(pushes: usize, presses: usize, sessions: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("bp-bench-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (_broker, port) = start_mosquitto(&dir)?;
    let keys = bridgepoint_signing::generate_keypair()?;

    // The hub: video RTP is timed, the rest drained.
    let (video_port, _) = super::media::drain_ports()?;
    let hub = UdpSocket::bind(("127.0.0.1", video_port + 4)).context("bind the timed hub port")?;
    let hub_port = video_port + 4;
    let _ = UdpSocket::bind(("127.0.0.1", hub_port + 1));
    let (packet_tx, packets) = mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while hub.recv(&mut buf).is_ok() {
            if packet_tx.send(Instant::now()).is_err() {
                return;
            }
        }
    });

    let config = dir.join("box.toml");
    std::fs::write(
        &config,
        format!(
            "device_id = \"{DEVICE}\"\ndata_dir = \"{}\"\nboard = \"sim\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nallow_plaintext = true\ntopic_root = \"{ROOT}\"\n[trust]\nconfig_keys = [\"{}\"]\n",
            dir.join("data").display(),
            keys.public.to_base64()
        ),
    )?;
    let (client, inbox) = connect(port)?;
    let exe = std::env::current_exe()?;
    let daemon_bin = exe.parent().context("exe dir")?.join("bridgepointd");
    let _daemon = Killed(
        Process::new(&daemon_bin)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", daemon_bin.display()))?,
    );
    wait_for(
        &inbox,
        "online status",
        |m| matches!(m, Inbound::Status(s) if s.is_online()),
    )?;

    // 1. Push → applied.
    let mut samples = Vec::with_capacity(pushes);
    for i in 0..pushes {
        let version = i as u64 + 1;
        let payload = pushed(version, hub_port, if i % 2 == 0 { 1000 } else { 1100 }).to_json();
        let token = bridgepoint_signing::sign_compact(payload.as_bytes(), &keys.signing);
        let t0 = Instant::now();
        client.publish(topic(Leaf::ConfigDesired), QoS::AtLeastOnce, true, token)?;
        let at = wait_for(
            &inbox,
            "applied report",
            |m| matches!(m, Inbound::Reported(r) if r.version == Some(version) && r.state == PushState::Applied),
        )?;
        samples.push(at - t0);
    }
    report(
        "config push → applied report (signed, fsynced)",
        &mut samples,
        "p99 ≤ 50 ms",
    );

    // 2. Button release → call.request at a subscriber.
    let socket = dir.join("data/board.sock");
    let stream =
        UnixStream::connect(&socket).with_context(|| format!("connect {}", socket.display()))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let hold = Duration::from_millis(100);
    let mut samples = Vec::with_capacity(presses);
    for i in 0..presses {
        let sent = Instant::now();
        writeln!(writer, "hold call {}", hold.as_millis())?;
        let at = wait_for(&inbox, "call.request", |m| {
            is_event(m, EventKind::CallRequest.name())
        })?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        samples.push(at.saturating_duration_since(sent + hold));
        send(&client, format!("end-{i}"), Command::SessionEnd)?;
        wait_for(&inbox, "call.cancelled", |m| {
            is_event(m, EventKind::CallCancelled.name())
        })?;
    }
    report(
        "button release → call.request at a subscriber",
        &mut samples,
        "p99 ≤ 20 ms",
    );

    // 3. session.start → first SRTP packet at the receiver.
    let mut samples = Vec::with_capacity(sessions);
    for i in 0..sessions {
        while packets.try_recv().is_ok() {}
        let t0 = Instant::now();
        send(
            &client,
            format!("start-{i}"),
            Command::SessionStart {
                srtp_key: None,
                receive_key: None,
            },
        )?;
        let first = packets
            .recv_timeout(Duration::from_secs(10))
            .context("no packet after session.start")?;
        samples.push(first - t0);
        send(&client, format!("stop-{i}"), Command::SessionEnd)?;
        wait_for(
            &inbox,
            "session.ended",
            |m| matches!(m, Inbound::Event(e) if matches!(e.kind, EventKind::SessionEnded { .. })),
        )?;
        // Wait until the stream has really stopped.
        while packets.recv_timeout(Duration::from_millis(300)).is_ok() {}
    }
    report(
        "session.start → first SRTP packet at the receiver (720p30 x264)",
        &mut samples,
        "≤ 150 ms",
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
