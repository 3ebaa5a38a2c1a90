//! The impairment relay for real: plain UDP sockets on 127.0.0.1 as the box
//! and the hub, packets through `ImpairedRelay`, and the `impair-relay`
//! binary's command line. Each test runs in real time for at most about
//! 3 s and checks behaviour with tolerances (the model's own timing is
//! tested faster than real time in `impairment.rs`).

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bridgepoint_testkit::impairment::{Phase, Script};
use bridgepoint_testkit::relay::{ImpairedRelay, RelayConfig, RelayError};
use bridgepoint_testkit::{free_udp_ports, wait_for};

const IMPAIR_RELAY: &str = env!("CARGO_BIN_EXE_impair-relay");

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A socket on a free loopback port, reads timing out after 20 ms.
fn peer() -> UdpSocket {
    let socket = UdpSocket::bind(any_port()).expect("bind a loopback socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    socket
}

fn address(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().expect("socket address")
}

fn script(text: &str) -> Script {
    Script::parse(text).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

/// One packet as received: when, its sequence number, from where.
struct Received {
    at: Instant,
    sequence: u32,
    bytes: usize,
    from: SocketAddr,
}

/// Receives on a socket in its own thread (so its buffer never fills)
/// until finished.
struct Collector {
    done: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Received>>,
}

impl Collector {
    fn start(socket: UdpSocket) -> Collector {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let thread = thread::spawn(move || {
            let mut received = Vec::new();
            let mut buffer = [0u8; 2048];
            while !flag.load(Ordering::SeqCst) {
                if let Ok((bytes, from)) = socket.recv_from(&mut buffer) {
                    let sequence = u32::from_be_bytes(buffer[..4].try_into().expect("4 bytes"));
                    received.push(Received {
                        at: Instant::now(),
                        sequence,
                        bytes,
                        from,
                    });
                }
            }
            received
        });
        Collector { done, thread }
    }

    fn finish(self) -> Vec<Received> {
        self.done.store(true, Ordering::SeqCst);
        self.thread.join().expect("collector thread")
    }
}

/// Sends `count` packets of `bytes` (the first four the sequence number,
/// from `first`) to `to`, one every `interval` on an absolute schedule.
fn send_paced(
    socket: &UdpSocket,
    to: SocketAddr,
    first: u32,
    count: u32,
    bytes: usize,
    interval: Duration,
) {
    let start = Instant::now();
    let mut payload = vec![0u8; bytes.max(4)];
    for i in 0..count {
        let due = start + interval * i;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        payload[..4].copy_from_slice(&(first + i).to_be_bytes());
        socket.send_to(&payload, to).expect("send");
    }
}

fn start_relay(text: &str, hub: SocketAddr) -> ImpairedRelay {
    ImpairedRelay::start(RelayConfig::new(script(text), 1).route(any_port(), hub))
        .expect("start the relay")
}

#[test]
fn a_thousand_packets_through_ten_percent_loss_arrive_about_nine_hundred() {
    let (the_box, hub) = (peer(), peer());
    let relay = start_relay("loss=10%", address(&hub));
    let listen = relay.routes()[0].listen;
    let collector = Collector::start(hub);

    send_paced(&the_box, listen, 0, 1000, 200, Duration::from_millis(1));
    thread::sleep(Duration::from_millis(300));
    let received = collector.finish();
    let counters = relay.counters();

    // σ ≈ 9.5 packets: ±50 is over 5σ.
    assert!(
        (850..=950).contains(&received.len()),
        "{} of 1000 arrived: {counters:?}",
        received.len()
    );
    assert_eq!(counters.box_to_hub.packets_in, 1000, "{counters:?}");
    assert_eq!(
        counters.box_to_hub.dropped_loss + counters.box_to_hub.delivered,
        1000
    );
    assert_eq!(received.len() as u64, counters.box_to_hub.delivered);
    assert_eq!(counters.sent_to_hub, counters.box_to_hub.delivered);
    assert!(received.iter().all(|r| r.bytes == 200));
    // From the relay's hub side, not from the box.
    assert!(received
        .iter()
        .all(|r| r.from == relay.routes()[0].hub_side));
    // Without jitter, nothing overtakes.
    assert!(received.windows(2).all(|w| w[0].sequence < w[1].sequence));
}

#[test]
fn a_2_mbit_stream_through_a_500_kbit_limit_arrives_at_500_kbit_and_the_rest_drops_at_the_queue() {
    let (the_box, hub) = (peer(), peer());
    let relay = start_relay("rate=500kbit queue=20kB", address(&hub));
    let listen = relay.routes()[0].listen;
    let collector = Collector::start(hub);

    // 1000 bytes every 4 ms is 2 Mbit/s, for 1.5 s.
    send_paced(&the_box, listen, 0, 375, 1000, Duration::from_millis(4));
    // The 20 kB queue drains in 320 ms at 500 kbit/s.
    thread::sleep(Duration::from_millis(500));
    let received = collector.finish();
    let counters = relay.counters();
    let up = counters.box_to_hub;

    let (first, last) = (&received[0], &received[received.len() - 1]);
    let bits = (received.len() - 1) as f64 * 8000.0;
    let rate = bits / (last.at - first.at).as_secs_f64();
    assert!(
        (425_000.0..=575_000.0).contains(&rate),
        "arrived at {rate:.0} bit/s: {counters:?}"
    );
    // ~114 fit (1.5 s at 500 kbit/s and the queue); ~260 do not.
    assert!(up.dropped_queue_full >= 200, "{counters:?}");
    assert_eq!(up.dropped_queue_full + up.delivered, up.packets_in);
    assert_eq!(up.dropped_loss + up.dropped_blackout, 0);
    assert_eq!(received.len() as u64, up.delivered, "{counters:?}");
    assert!(
        up.max_queue_delay >= Duration::from_millis(250),
        "{counters:?}"
    );
}

#[test]
fn a_blackout_passes_nothing_in_either_direction() {
    let (the_box, hub) = (peer(), peer());
    let relay = start_relay("blackout", address(&hub));
    let route = relay.routes()[0];
    let box_collector = Collector::start(the_box.try_clone().expect("clone the box's socket"));
    let hub_collector = Collector::start(hub.try_clone().expect("clone the hub's socket"));

    send_paced(&the_box, route.listen, 0, 50, 100, Duration::from_millis(2));
    // The box has spoken (its address is known), but nothing came through.
    assert!(wait_for(Duration::from_secs(2), || {
        (relay.counters().box_to_hub.packets_in == 50).then_some(())
    })
    .is_some());
    send_paced(&hub, route.hub_side, 0, 50, 100, Duration::from_millis(2));
    thread::sleep(Duration::from_millis(300));

    let (at_box, at_hub) = (box_collector.finish(), hub_collector.finish());
    let counters = relay.counters();
    assert!(at_hub.is_empty() && at_box.is_empty(), "{counters:?}");
    assert_eq!(counters.box_to_hub.dropped_blackout, 50, "{counters:?}");
    assert_eq!(counters.hub_to_box.dropped_blackout, 50, "{counters:?}");
    assert_eq!(counters.before_box_spoke, 0);
    assert_eq!(counters.sent_to_box + counters.sent_to_hub, 0);
}

#[test]
fn replies_go_back_to_the_port_each_box_socket_sends_from() {
    // Four routes, as the box uses them: video RTP and RTCP, audio RTP and
    // RTCP, each with its own box socket and hub socket.
    let boxes: Vec<UdpSocket> = (0..4).map(|_| peer()).collect();
    let hubs: Vec<UdpSocket> = (0..4).map(|_| peer()).collect();
    let config = hubs
        .iter()
        .fold(RelayConfig::new(Script::clear(), 1), |config, hub| {
            config.route(any_port(), address(hub))
        });
    let relay = ImpairedRelay::start(config).expect("start the relay");
    let routes = relay.routes().to_vec();

    // The hub speaking first has nowhere to go yet.
    hubs[0].send_to(b"early", routes[0].hub_side).expect("send");
    assert!(wait_for(Duration::from_secs(2), || {
        (relay.counters().before_box_spoke == 1).then_some(())
    })
    .is_some());

    let mut buffer = [0u8; 64];
    for (i, (the_box, hub)) in boxes.iter().zip(&hubs).enumerate() {
        the_box
            .send_to(format!("box {i}").as_bytes(), routes[i].listen)
            .expect("send");
        let (n, from) = receive(hub, &mut buffer);
        assert_eq!(&buffer[..n], format!("box {i}").as_bytes());
        assert_eq!(
            from, routes[i].hub_side,
            "the hub sees the relay's hub side"
        );

        // The hub answers from another socket (as a hub's sender may).
        let hub_sender = peer();
        hub_sender
            .send_to(format!("hub {i}").as_bytes(), from)
            .expect("send");
        let (n, from) = receive(the_box, &mut buffer);
        assert_eq!(&buffer[..n], format!("hub {i}").as_bytes());
        assert_eq!(from, routes[i].listen, "the box hears from where it sends");
    }
    // Counted just after each send, so perhaps after the packet arrived.
    let counters = wait_for(Duration::from_secs(2), || {
        let counters = relay.counters();
        (counters.sent_to_hub == 4 && counters.sent_to_box == 4).then_some(counters)
    });
    let counters = counters.unwrap_or_else(|| panic!("4 sent each way: {:?}", relay.counters()));
    assert_eq!(counters.send_errors + counters.receive_errors, 0);
}

/// Waits up to 2 s for one packet.
fn receive(socket: &UdpSocket, buffer: &mut [u8]) -> (usize, SocketAddr) {
    wait_for(Duration::from_secs(2), || socket.recv_from(buffer).ok()).expect("a packet")
}

#[test]
fn lifting_a_rate_limit_mid_run_lets_the_whole_stream_through() {
    let (the_box, hub) = (peer(), peer());
    let relay = start_relay("rate=200kbit queue=10kB", address(&hub));
    let listen = relay.routes()[0].listen;
    let collector = Collector::start(hub);

    // 1 Mbit/s (500 bytes every 4 ms) for 1 s into 200 kbit/s...
    send_paced(&the_box, listen, 0, 250, 500, Duration::from_millis(4));
    relay.set_phase(Phase::clear(None));
    // ... then 1 s more with the limit lifted.
    send_paced(&the_box, listen, 250, 250, 500, Duration::from_millis(4));
    thread::sleep(Duration::from_millis(500));
    let received = collector.finish();
    let counters = relay.counters();

    let limited = received.iter().filter(|r| r.sequence < 250).count();
    let lifted = received.iter().filter(|r| r.sequence >= 250).count();
    // 1 s at 200 kbit/s is 50 packets, plus the 20 in the queue.
    assert!(
        (50..=90).contains(&limited),
        "{limited} while limited: {counters:?}"
    );
    assert!(lifted >= 245, "{lifted} of 250 after lifting: {counters:?}");
    assert!(
        counters.box_to_hub.dropped_queue_full >= 150,
        "{counters:?}"
    );
}

#[test]
fn a_fixed_delay_holds_every_packet_at_least_that_long() {
    let (the_box, hub) = (peer(), peer());
    let relay = start_relay("delay=100ms", address(&hub));
    let listen = relay.routes()[0].listen;
    let collector = Collector::start(hub);

    let sent_at = Instant::now();
    send_paced(&the_box, listen, 0, 20, 100, Duration::from_millis(10));
    thread::sleep(Duration::from_millis(400));
    let received = collector.finish();

    assert_eq!(received.len(), 20);
    for packet in &received {
        let sent = sent_at + Duration::from_millis(10) * packet.sequence;
        let delay = packet.at - sent;
        // Never early; late only by the machine's scheduling.
        assert!(delay >= Duration::from_millis(100), "{delay:?}");
        assert!(delay < Duration::from_millis(400), "{delay:?}");
    }
}

#[test]
fn stopping_joins_the_threads_frees_the_ports_and_keeps_the_counters() {
    let (the_box, hub) = (peer(), peer());
    let mut relay = start_relay("loss=0%", address(&hub));
    let listen = relay.routes()[0].listen;
    the_box.send_to(b"\0\0\0\0one", listen).expect("send");
    let mut buffer = [0u8; 16];
    receive(&hub, &mut buffer);

    let started = Instant::now();
    relay.stop();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    relay.stop();
    assert_eq!(relay.counters().sent_to_hub, 1);
    UdpSocket::bind(listen).expect("the listen port is free again");
}

#[test]
fn a_taken_port_is_an_error_naming_it() {
    let taken = peer();
    let config = RelayConfig::new(Script::clear(), 1).route(address(&taken), any_port());
    match ImpairedRelay::start(config) {
        Err(error @ RelayError::Bind { .. }) => {
            assert!(
                error.to_string().contains(&address(&taken).to_string()),
                "{error}"
            );
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(matches!(
        ImpairedRelay::start(RelayConfig::new(Script::clear(), 1)),
        Err(RelayError::NoRoutes)
    ));
}

/// Runs impair-relay with `args`; returns (exit code, stdout, stderr).
fn run_binary(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(IMPAIR_RELAY)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run impair-relay");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_binary_rejects_bad_arguments_with_exit_code_2_naming_the_argument() {
    let ok = ["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9"];
    for (extra, named) in [
        (vec!["--listen", "127.0.0.1:0"], "--to"),
        (
            vec!["--listen", "nowhere", "--to", "127.0.0.1:9"],
            "--listen",
        ),
        (
            ok.iter().copied().chain(["--to", "127.0.0.1:10"]).collect(),
            "--to",
        ),
        (
            ok.iter()
                .copied()
                .chain(["--hub-side", "127.0.0.1:0", "--hub-side", "127.0.0.1:0"])
                .collect(),
            "--hub-side",
        ),
        (
            ok.iter()
                .copied()
                .chain(["--script", "loss=5 for 1s"])
                .collect(),
            "`loss=5`",
        ),
        (
            ok.iter()
                .copied()
                .chain(["--script", "rate=fast"])
                .collect(),
            "--script",
        ),
        (
            ok.iter().copied().chain(["--seed", "many"]).collect(),
            "--seed",
        ),
        (
            ok.iter()
                .copied()
                .chain(["--report-every", "soon"])
                .collect(),
            "--report-every",
        ),
        (
            ok.iter()
                .copied()
                .chain(["--script", "loss=1%", "--exit-after-script"])
                .collect(),
            "--exit-after-script",
        ),
        (
            ok.iter().copied().chain(["--frobnicate"]).collect(),
            "--frobnicate",
        ),
    ] {
        let (code, _, stderr) = run_binary(&extra);
        assert_eq!(code, Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{extra:?} should name {named}: {stderr}"
        );
    }
    let (code, stdout, _) = run_binary(&["--help"]);
    assert_eq!(code, Some(0));
    for word in [
        "--listen",
        "--to",
        "--script",
        "--seed",
        "--report-every",
        "--exit-after-script",
        "RFC 8867",
    ] {
        assert!(stdout.contains(word), "--help mentions {word}: {stdout}");
    }
}

#[test]
fn the_binary_relays_reports_and_exits_at_the_end_of_its_script() {
    let hub = peer();
    let listen = SocketAddr::from(([127, 0, 0, 1], free_udp_ports(1)));
    let child = Command::new(IMPAIR_RELAY)
        .args([
            "--listen",
            &listen.to_string(),
            "--to",
            &address(&hub).to_string(),
        ])
        .args(["--script", "delay=10ms for 1500ms", "--exit-after-script"])
        .args(["--report-every", "500ms", "--seed", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start impair-relay");
    let the_box = peer();
    let mut buffer = [0u8; 16];
    // Until it is up (it binds at start), then a few more.
    let first = wait_for(Duration::from_secs(1), || {
        the_box.send_to(b"\0\0\0\0ping", listen).ok()?;
        hub.recv_from(&mut buffer).ok()
    });
    assert!(first.is_some(), "nothing came through the relay");
    for _ in 0..5 {
        the_box.send_to(b"\0\0\0\0ping", listen).expect("send");
    }
    let output = child
        .wait_with_output()
        .expect("impair-relay ends by itself");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(&format!("box -> {listen}")), "{stdout}");
    assert!(
        stdout.contains("phase 1/1: delay=10ms for 1500ms"),
        "{stdout}"
    );
    assert!(stdout.contains("up: in "), "a report line: {stdout}");
    assert!(stdout.contains("summary after"), "{stdout}");
    assert!(stdout.contains("(end of script)"), "{stdout}");
}
