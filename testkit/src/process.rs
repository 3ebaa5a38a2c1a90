//! Checks on finished child processes.

use std::process::Output;

/// Panics unless `out` is a successful exit, with `what` (the command, or
/// what it was for), its status, stdout and stderr in the message.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
