//! The systemd service protocol (sd_notify), without libsystemd.
//!
//! Under `Type=notify` systemd passes `NOTIFY_SOCKET` (a Unix datagram
//! socket, `@` for the abstract namespace) and, with `WatchdogSec=`,
//! `WATCHDOG_USEC`. The daemon sends `READY=1` once it runs on a config with
//! a pipeline that builds, `STATUS=...` when its state changes, `WATCHDOG=1`
//! from the main loop itself (so a hung loop stops the pings and systemd
//! restarts the daemon), and `STOPPING=1` on shutdown. Outside systemd every
//! call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// A connection to the service manager, if there is one.
#[derive(Debug)]
pub struct ServiceNotifier {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    watchdog: Option<Duration>,
    last_status: String,
}

impl ServiceNotifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the environment.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let addr = if let Some(name) = path.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?
            } else {
                std::os::unix::net::SocketAddr::from_pathname(&path).ok()?
            };
            let sock = UnixDatagram::unbound().ok()?;
            Some((sock, addr))
        });
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|usec| *usec > 0)
            .map(Duration::from_micros);
        ServiceNotifier {
            socket,
            watchdog,
            last_status: String::new(),
        }
    }

    /// How often to send `WATCHDOG=1` (half the watchdog timeout), if enabled.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    fn send(&self, message: &str) {
        if let Some((sock, addr)) = &self.socket {
            if let Err(e) = sock.send_to_addr(message.as_bytes(), addr) {
                tracing::warn!(error = %e, "sd_notify failed");
            }
        }
    }

    /// The daemon is up.
    pub fn ready(&self) {
        self.send("READY=1");
    }

    /// The main loop is alive.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// One line of state for `systemctl status`, sent when it changes.
    pub fn status(&mut self, text: &str) {
        if text != self.last_status {
            self.send(&format!("STATUS={text}"));
            self.last_status = text.to_owned();
        }
    }

    /// The daemon is shutting down.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }
}
