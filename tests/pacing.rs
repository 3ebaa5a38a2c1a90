//! The video's pacer (`core/src/pacer.rs`, `firmware/src/media/pacing.rs`):
//! the real daemon streams 1280x720 at 600 kbit/s with a keyframe every
//! second, and a plain UDP socket stands where the hub's receiver would be,
//! noting when each video packet arrives and how big it is (the packets
//! are SRTP; their sizes and times are all this test needs).
//!
//! x264's keyframe at that rate is 10-20 kB (measured with the box's
//! settings), which leaves an unpaced sender on loopback within a
//! millisecond or two. Paced at twice the target (1.2 Mbit/s), no 10 ms
//! holds more than 1.5 kB and one packet; the test allows twice that for a
//! loaded machine's late wake-ups, and still fails on any keyframe sent
//! in one burst. It also checks that the video as a whole keeps its rate.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::fixtures::config;
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::TempDir;

const TARGET_KBPS: u64 = 600;
/// The window the burst is measured over.
const WINDOW: Duration = Duration::from_millis(10);
/// What may arrive within [`WINDOW`] at twice the target, plus one packet,
/// doubled for a loaded machine.
const MAX_WINDOW_BYTES: usize = 2 * (2 * TARGET_KBPS as usize * 1000 / 8 / 100 + 1300);

#[test]
fn keyframes_leave_the_box_paced_at_twice_the_video_target() {
    let dir = TempDir::new("pacing");
    let (video_port, audio_port) = free_ports();
    let text = config(
        &dir.path().join("data"),
        video_port,
        audio_port,
        "always",
        (1280, 720),
    )
    .replace(
        "bitrate_kbps = 1500",
        &format!("bitrate_kbps = {TARGET_KBPS}"),
    );
    assert!(text.contains("bitrate_kbps = 600"));
    // The hub's video RTP port, and its RTCP port so the box's reports
    // land somewhere.
    let hub = UdpSocket::bind(("127.0.0.1", video_port)).expect("bind the hub's video port");
    let _hub_rtcp = UdpSocket::bind(("127.0.0.1", video_port + 1)).expect("bind RTCP");
    hub.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);

    // Let the encoder's rate settle, then record 6 s of arrivals.
    let mut buf = [0u8; 2048];
    let settle_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle_until {
        let _ = hub.recv(&mut buf);
    }
    let start = Instant::now();
    let mut arrivals: Vec<(Duration, usize)> = Vec::new();
    while start.elapsed() < Duration::from_secs(6) {
        if let Ok(n) = hub.recv(&mut buf) {
            arrivals.push((start.elapsed(), n));
        }
    }
    drop(daemon);

    let total: usize = arrivals.iter().map(|&(_, n)| n).sum();
    let kbps = total as f64 * 8.0 / 6.0 / 1000.0;
    assert!(
        kbps >= 0.7 * TARGET_KBPS as f64 && kbps <= 1.5 * TARGET_KBPS as f64,
        "the video arrived at {kbps:.0} kbit/s, configured {TARGET_KBPS}"
    );

    // The most bytes that arrived within any WINDOW.
    let mut most = (0usize, Duration::ZERO);
    let mut first = 0;
    let mut in_window = 0usize;
    for &(at, size) in &arrivals {
        in_window += size;
        while at - arrivals[first].0 > WINDOW {
            in_window -= arrivals[first].1;
            first += 1;
        }
        if in_window > most.0 {
            most = (in_window, at);
        }
    }
    eprintln!(
        "{} packets, {kbps:.0} kbit/s; the most in {WINDOW:?}: {} bytes at {:?} (allowed {MAX_WINDOW_BYTES})",
        arrivals.len(),
        most.0,
        most.1
    );
    assert!(
        most.0 <= MAX_WINDOW_BYTES,
        "{} bytes arrived within {WINDOW:?} at {:?}: a burst, not paced at twice {TARGET_KBPS} kbit/s",
        most.0,
        most.1
    );
}
