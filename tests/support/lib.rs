//! Helpers for the system tests: the daemon as a child process, the
//! simulated board's socket, ffmpeg/ffprobe and a GStreamer RTCP receiver as
//! the hub's independent receivers, and central IT's side of the control
//! plane. What bpctl's tests share with them (temp dirs, ports, the
//! mosquitto harness, certificates) is in `bridgepoint-testkit`.
//!
//! The binaries under test are the workspace's own build outputs, found next
//! to the test executable (`target/<profile>/`); `scripts/test` builds them
//! before running the tests.

pub mod avpf_receiver;
pub mod control;
pub mod daemon;
pub mod echo_session;
pub mod ffmpeg;
pub mod fixtures;
pub mod hub_sender;
pub mod pulse_room;
pub mod relay;
pub mod rtcp_feedback;
pub mod rtcp_receiver;
pub mod sim;

use std::path::PathBuf;

/// Path of a workspace binary, e.g. `bridgepointd`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // A test: target/<profile>/deps/<test>-<hash> → target/<profile>/<name>;
    // a bench binary of this crate: target/<profile>/<bench> → the same.
    let parent = exe.parent().expect("target dir");
    let dir = if parent.file_name().is_some_and(|n| n == "deps") {
        parent.parent().expect("target dir")
    } else {
        parent
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// Four consecutive free UDP ports on loopback, the first even:
/// video RTP, video RTCP, audio RTP, audio RTCP. Returns the video and the
/// audio RTP port.
pub fn free_ports() -> (u16, u16) {
    let base = bridgepoint_testkit::free_udp_ports(4);
    (base, base + 2)
}
