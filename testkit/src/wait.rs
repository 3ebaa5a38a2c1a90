//! [`wait_for`]: polling until something happens, with a deadline.

use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes;
/// `check` runs at least once, and once more at the deadline.
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

#[cfg(test)]
mod tests {
    use super::wait_for;
    use std::time::{Duration, Instant};

    #[test]
    fn returns_the_first_value_and_gives_up_at_the_deadline() {
        let mut calls = 0;
        let got = wait_for(Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Some(3));

        let started = Instant::now();
        assert_eq!(wait_for(Duration::from_millis(200), || None::<()>), None);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
