//! The media pipeline's restart policy.
//!
//! The supervisor knows whether the pipeline should run, what it is doing,
//! and when to try again after a failure. It returns [`StreamAction`]s; the
//! GStreamer adapter carries them out and reports back with
//! [`StreamSupervisor::on_streaming`] and [`StreamSupervisor::on_failed`].
//!
//! Backoff doubles from `initial_backoff` up to `max_backoff`; a pipeline that
//! streamed for `stable_after` before failing starts again from the initial
//! delay. A pipeline that does not deliver its first packet within
//! `start_timeout` counts as failed.

use std::fmt;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;

/// Tunables of the restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Delay before the first retry.
    pub initial_backoff: Duration,
    /// Longest delay between retries.
    pub max_backoff: Duration,
    /// Streaming this long resets the backoff.
    pub stable_after: Duration,
    /// A start that sends nothing for this long has failed.
    pub start_timeout: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(30),
            start_timeout: Duration::from_secs(15),
        }
    }
}

/// What the pipeline is doing, as reported to staff (LEDs) and central IT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    /// Not running, and not meant to.
    Stopped,
    /// Built and started; no packet sent yet.
    Starting,
    /// Packets are leaving the box.
    Streaming,
    /// Failed; a retry is scheduled.
    Error {
        /// The last failure, naming the element.
        reason: String,
        /// How many failures in a row.
        failures: u32,
        /// When the next attempt starts.
        retry_at: Instant,
    },
}

impl StreamState {
    /// The short name used in status reports: stopped, starting, streaming, error.
    pub fn name(&self) -> &'static str {
        match self {
            StreamState::Stopped => "stopped",
            StreamState::Starting => "starting",
            StreamState::Streaming => "streaming",
            StreamState::Error { .. } => "error",
        }
    }
}

impl fmt::Display for StreamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the adapter must do to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamAction {
    /// Build and start a new pipeline.
    Start,
    /// Tear the pipeline down.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stopped,
    Starting { since: Instant },
    Streaming { since: Instant },
    Backoff { until: Instant },
}

/// The restart policy's state.
#[derive(Debug, Clone)]
pub struct StreamSupervisor {
    policy: RestartPolicy,
    wanted: bool,
    phase: Phase,
    failures: u32,
    backoff: Backoff,
    last_error: Option<String>,
}

impl StreamSupervisor {
    /// A supervisor with the pipeline stopped and not wanted.
    pub fn new(policy: RestartPolicy) -> Self {
        StreamSupervisor {
            policy,
            wanted: false,
            phase: Phase::Stopped,
            failures: 0,
            backoff: Backoff::new(policy.initial_backoff, policy.max_backoff),
            last_error: None,
        }
    }

    /// The state to report.
    pub fn state(&self) -> StreamState {
        match self.phase {
            Phase::Stopped => StreamState::Stopped,
            Phase::Starting { .. } => StreamState::Starting,
            Phase::Streaming { .. } => StreamState::Streaming,
            Phase::Backoff { until } => StreamState::Error {
                reason: self.last_error.clone().unwrap_or_default(),
                failures: self.failures,
                retry_at: until,
            },
        }
    }

    /// Says whether the pipeline should run.
    pub fn set_wanted(&mut self, wanted: bool, now: Instant) -> Option<StreamAction> {
        if wanted == self.wanted {
            return None;
        }
        self.wanted = wanted;
        match (wanted, self.phase) {
            (true, Phase::Stopped) => {
                self.failures = 0;
                self.backoff.reset();
                self.phase = Phase::Starting { since: now };
                Some(StreamAction::Start)
            }
            (true, _) => None,
            (false, Phase::Backoff { .. }) => {
                self.phase = Phase::Stopped;
                None
            }
            (false, Phase::Stopped) => None,
            (false, _) => {
                self.phase = Phase::Stopped;
                Some(StreamAction::Stop)
            }
        }
    }

    /// Asks for a fresh pipeline (a config change that needs a rebuild).
    pub fn restart(&mut self, now: Instant) -> Vec<StreamAction> {
        match self.phase {
            Phase::Starting { .. } | Phase::Streaming { .. } => {
                self.phase = Phase::Starting { since: now };
                vec![StreamAction::Stop, StreamAction::Start]
            }
            Phase::Backoff { .. } if self.wanted => {
                self.phase = Phase::Starting { since: now };
                vec![StreamAction::Start]
            }
            _ => Vec::new(),
        }
    }

    /// The adapter saw the first packet leave.
    pub fn on_streaming(&mut self, now: Instant) {
        if let Phase::Starting { .. } = self.phase {
            self.phase = Phase::Streaming { since: now };
        }
    }

    /// The pipeline failed. Returns `Stop` so the adapter tears it down.
    pub fn on_failed(&mut self, reason: String, now: Instant) -> Option<StreamAction> {
        let stable = match self.phase {
            Phase::Streaming { since } => {
                now.saturating_duration_since(since) >= self.policy.stable_after
            }
            Phase::Starting { .. } => false,
            // A late error from a pipeline already torn down changes nothing.
            Phase::Stopped | Phase::Backoff { .. } => return None,
        };
        if stable {
            self.failures = 0;
            self.backoff.reset();
        }
        self.failures += 1;
        self.last_error = Some(reason);
        // One box restarting its own pipeline needs no jitter.
        let delay = self.backoff.next_delay(0.0);
        self.phase = Phase::Backoff { until: now + delay };
        Some(StreamAction::Stop)
    }

    /// When [`StreamSupervisor::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Starting { since } => Some(since + self.policy.start_timeout),
            Phase::Backoff { until } => Some(until),
            _ => None,
        }
    }

    /// Lets time pass: retries after backoff, and fails a start that hangs.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<StreamAction> {
        match self.phase {
            Phase::Backoff { until } if now >= until => {
                self.phase = Phase::Starting { since: now };
                Some(StreamAction::Start)
            }
            Phase::Starting { since } if now >= since + self.policy.start_timeout => self
                .on_failed(
                    format!(
                        "pipeline sent no packet within {} s of starting",
                        self.policy.start_timeout.as_secs()
                    ),
                    now,
                ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn start_stream_and_stop() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        assert_eq!(s.state(), StreamState::Stopped);
        assert_eq!(s.set_wanted(true, t0), Some(StreamAction::Start));
        assert_eq!(s.state(), StreamState::Starting);
        s.on_streaming(t0 + ms(200));
        assert_eq!(s.state(), StreamState::Streaming);
        assert_eq!(s.set_wanted(false, t0 + ms(300)), Some(StreamAction::Stop));
        assert_eq!(s.state(), StreamState::Stopped);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..10 {
            assert_eq!(
                s.on_failed("video-encoder: boom".into(), now),
                Some(StreamAction::Stop)
            );
            let retry = s.poll_timeout().unwrap();
            delays.push(retry - now);
            assert_eq!(
                s.handle_timeout(retry - ms(1)),
                None,
                "no retry before the backoff ends"
            );
            assert_eq!(s.handle_timeout(retry), Some(StreamAction::Start));
            now = retry;
        }
        let secs: Vec<f64> = delays.iter().map(|d| d.as_secs_f64()).collect();
        assert_eq!(
            secs,
            vec![0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
        );
    }

    #[test]
    fn error_state_names_the_failure_and_count() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.on_failed("element video-source: cannot open /dev/video9".into(), t0);
        match s.state() {
            StreamState::Error {
                reason,
                failures,
                retry_at,
            } => {
                assert!(reason.contains("video-source"));
                assert_eq!(failures, 1);
                assert_eq!(retry_at, t0 + ms(500));
            }
            other => panic!("expected error, got {other:?}"),
        }
    }

    #[test]
    fn a_stable_stream_resets_the_backoff() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.on_failed("x".into(), t0);
        s.handle_timeout(t0 + ms(500));
        s.on_failed("x".into(), t0 + ms(600));
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + ms(1600)),
            "second failure waits 1 s"
        );
        s.handle_timeout(t0 + ms(1600));
        s.on_streaming(t0 + ms(1700));
        let later = t0 + ms(1700) + Duration::from_secs(31);
        s.on_failed("x".into(), later);
        assert_eq!(s.poll_timeout(), Some(later + ms(500)));
    }

    #[test]
    fn a_start_that_sends_nothing_fails_after_the_timeout() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(15)));
        assert_eq!(
            s.handle_timeout(t0 + Duration::from_secs(15)),
            Some(StreamAction::Stop)
        );
        assert_eq!(s.state().name(), "error");
    }

    #[test]
    fn unwanted_during_backoff_cancels_the_retry() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.on_failed("x".into(), t0);
        assert_eq!(
            s.set_wanted(false, t0 + ms(10)),
            None,
            "nothing is running to stop"
        );
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.state(), StreamState::Stopped);
    }

    #[test]
    fn a_late_error_after_stop_is_ignored() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.set_wanted(false, t0);
        assert_eq!(s.on_failed("late".into(), t0), None);
        assert_eq!(s.state(), StreamState::Stopped);
    }

    #[test]
    fn restart_rebuilds_a_running_pipeline_once() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.on_streaming(t0);
        assert_eq!(s.restart(t0), vec![StreamAction::Stop, StreamAction::Start]);
        assert_eq!(s.state(), StreamState::Starting);
    }
}
