//! Kernel event timestamps to [`Instant`]s.
//!
//! GPIO line events carry the time of the edge, taken by the kernel in the
//! interrupt handler, on `CLOCK_MONOTONIC` (kernels before 5.7 used
//! `CLOCK_REALTIME` for the v1 ABI). `Instant` is `CLOCK_MONOTONIC` on Linux
//! but cannot be built from a raw value, so the event's age is measured
//! against the clock now and subtracted from `Instant::now()`. That keeps the
//! edge's real time even when the reader ran late, which is what debounce and
//! press timing in the core need.

use std::time::{Duration, Instant};

/// An event older than this (or from the future, or on another clock) is
/// stamped with the time it was read instead.
const MAX_AGE: Duration = Duration::from_secs(10);

/// The `Instant` of a kernel timestamp on `CLOCK_MONOTONIC`.
pub(crate) fn instant_of(monotonic: Duration) -> Instant {
    let now = Instant::now();
    match monotonic_now().checked_sub(monotonic) {
        Some(age) if age <= MAX_AGE => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_timestamp_maps_to_its_age_before_now() {
        let before = Instant::now();
        let at = instant_of(monotonic_now() - Duration::from_millis(20));
        let after = Instant::now();
        assert!(at <= after - Duration::from_millis(19), "{:?}", after - at);
        assert!(at >= before - Duration::from_millis(25));
    }

    #[test]
    fn odd_timestamps_fall_back_to_now() {
        let before = Instant::now();
        // From the future, and a CLOCK_REALTIME value from an old kernel.
        for ts in [
            monotonic_now() + Duration::from_secs(5),
            Duration::from_secs(1_700_000_000),
        ] {
            assert!(instant_of(ts) >= before);
        }
    }
}
