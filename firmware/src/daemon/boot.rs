//! This boot: its id and when it happened, from the kernel.
//!
//! The health gate's deadline counts from the boot, not from the daemon's
//! start. `BRIDGEPOINT_SIM_BOOT=<unix seconds>` fakes a boot at that time
//! (and a boot id made from it) for the update tests; it is honoured only
//! on the simulated board, so a box in the field never obeys it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`).
    pub id: String,
    /// When it happened, on the monotonic clock.
    pub at: Instant,
}

impl Boot {
    /// This boot; `sim` allows the test override.
    pub fn current(sim: bool) -> Boot {
        let now = Instant::now();
        if sim {
            if let Some(at) = std::env::var("BRIDGEPOINT_SIM_BOOT")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH + Duration::from_secs(at))
                    .unwrap_or_default();
                tracing::warn!(boot_unix_s = at, "test boot (BRIDGEPOINT_SIM_BOOT)");
                return Boot {
                    id: format!("sim-boot-{at}"),
                    at: now.checked_sub(since).unwrap_or(now),
                };
            }
        }
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or_default();
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown-boot".to_owned());
        Boot {
            id,
            at: now.checked_sub(uptime).unwrap_or(now),
        }
    }
}
