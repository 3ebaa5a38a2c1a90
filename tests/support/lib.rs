//! Helpers for the system tests: temp dirs, free ports, the daemon as a child
//! process, the simulated board's socket, and ffmpeg/ffprobe as the hub's
//! independent receiver.
//!
//! The binaries under test are the workspace's own build outputs, found next
//! to the test executable (`target/<profile>/`); `scripts/test` builds them
//! before running the tests.

pub mod broker;
pub mod certs;
pub mod control;
pub mod daemon;
pub mod ffmpeg;
pub mod fixtures;
pub mod rtcp_receiver;
pub mod sim;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Path of a workspace binary, e.g. `bridgepointd`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh empty directory under the system temp dir.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("bp-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("BP_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Four consecutive free UDP ports on loopback, the first even:
/// video RTP, video RTCP, audio RTP, audio RTCP.
pub fn free_ports() -> (u16, u16) {
    for _ in 0..200 {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind probe");
        let base = probe.local_addr().expect("addr").port() & !1;
        drop(probe);
        if !(1024..=65530).contains(&base) {
            continue;
        }
        let all_free = (0..4).all(|i| std::net::UdpSocket::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return (base, base + 2);
        }
    }
    panic!("no four consecutive free UDP ports on 127.0.0.1");
}

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
