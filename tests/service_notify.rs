//! The systemd notify protocol, for real: a Unix datagram socket stands in
//! for systemd's NOTIFY_SOCKET, the real daemon runs with it, and the test
//! reads READY=1, STATUS=, periodic WATCHDOG=1 and STOPPING=1 — and checks
//! that the pings stop when the core loop hangs (test-only fault switch).

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bridgepoint_system_tests::bin;
use bridgepoint_system_tests::fixtures::config_on_free_ports;
use bridgepoint_testkit::TempDir;

struct Notified {
    at: Duration,
    message: String,
}

/// Binds the stand-in for systemd's notify socket in `dir`, then starts the
/// daemon with it; returns the socket, when the daemon was started, and the
/// daemon.
fn start(dir: &Path, fault: Option<&str>) -> (UnixDatagram, Instant, Child) {
    let socket = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&socket).unwrap();
    let started = Instant::now();
    let cfg = dir.join("box.toml");
    std::fs::write(&cfg, config_on_free_ports(dir, "on_call", (640, 360))).unwrap();
    let mut cmd = Command::new(bin("bridgepointd"));
    cmd.arg("--config")
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &socket)
        .env("WATCHDOG_USEC", "1000000")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("log")).unwrap());
    if let Some(f) = fault {
        cmd.env("BRIDGEPOINT_SIM_FAULT", f);
    }
    (sock, started, cmd.spawn().expect("start bridgepointd"))
}

fn collect(sock: &UnixDatagram, started: Instant, until: Duration) -> Vec<Notified> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < until {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            out.push(Notified {
                at: started.elapsed(),
                message: String::from_utf8_lossy(&buf[..n]).into_owned(),
            });
        }
    }
    out
}

#[test]
fn ready_status_watchdog_and_stopping_are_sent() {
    let dir = TempDir::new("notify");
    let (sock, started, mut child) = start(dir.path(), None);
    let got = collect(&sock, started, Duration::from_secs(4));
    let messages: Vec<&str> = got.iter().map(|n| n.message.as_str()).collect();
    assert!(messages.contains(&"READY=1"), "{messages:?}");
    assert!(
        messages.iter().any(
            |m| m.starts_with("STATUS=call idle, stream stopped, config version 0, standalone")
        ),
        "{messages:?}"
    );
    // WATCHDOG_USEC = 1 s: a ping every 0.5 s.
    let pings = messages.iter().filter(|m| **m == "WATCHDOG=1").count();
    assert!(
        pings >= 5,
        "only {pings} watchdog pings in 4 s: {messages:?}"
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let after = collect(&sock, started, Duration::from_secs(6));
    assert!(
        after.iter().any(|n| n.message == "STOPPING=1"),
        "no STOPPING=1"
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn watchdog_pings_stop_when_the_core_loop_hangs() {
    let dir = TempDir::new("notify-hang");
    let (sock, started, mut child) = start(dir.path(), Some("hang-core-after=2"));
    let got = collect(&sock, started, Duration::from_secs(6));
    let pings: Vec<Duration> = got
        .iter()
        .filter(|n| n.message == "WATCHDOG=1")
        .map(|n| n.at)
        .collect();
    assert!(pings.len() >= 2, "no pings before the hang: {pings:?}");
    let last = *pings.last().unwrap();
    assert!(
        last < Duration::from_millis(3000),
        "pings went on after the core hung at ~2 s: last at {last:?}"
    );
    // The process is still there (hung, not crashed): systemd's watchdog is what ends it.
    assert!(
        child.try_wait().unwrap().is_none(),
        "daemon exited instead of hanging"
    );
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(log.contains("test fault"), "{log}");
    let _ = child.kill();
    let _ = child.wait();
}
