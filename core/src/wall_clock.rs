//! Whether the box's wall clock can be believed.
//!
//! A Raspberry Pi has no battery-backed clock: until NTP answers it may read
//! 1970 or the time of its last shutdown. Decisions that compare with the
//! wall clock (a pushed version too far ahead, a signed command's expiry)
//! only use a time this module calls plausible. The time itself is always
//! passed in.

/// 2026-01-01T00:00:00Z in Unix milliseconds: this firmware did not exist
/// before, so a clock that reads earlier is not set.
pub const EARLIEST_PLAUSIBLE_UNIX_MS: u64 = 1_767_225_600_000;

/// `unix_ms` if it is plausible, `None` for a clock that is not set.
pub fn plausible(unix_ms: u64) -> Option<u64> {
    (unix_ms >= EARLIEST_PLAUSIBLE_UNIX_MS).then_some(unix_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_in_1970_is_not_set() {
        assert_eq!(plausible(0), None);
        assert_eq!(plausible(1_000_000_000_000), None, "2001");
        assert_eq!(plausible(1_795_459_805_123), Some(1_795_459_805_123));
    }
}
