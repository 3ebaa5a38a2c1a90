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
//!
//! **Stall watchdog.** While streaming, the adapter reports the packet
//! counters ([`StreamSupervisor::on_packets`], every second). A stream whose
//! video or audio counter stays still for `stall_timeout` has stalled (an
//! encoder that stops producing, a known fault of the Pi's hardware encoder):
//! it counts as a failure like any other, so the pipeline is torn down and
//! restarted through the same back-off, and [`StreamSupervisor::stalls`]
//! counts it. The watchdog is armed by the first report after the stream
//! started, so an adapter that reports nothing is never declared stalled.

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
    /// A stream whose video or audio packets stop for this long has stalled.
    pub stall_timeout: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(30),
            start_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(5),
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
    Starting {
        since: Instant,
    },
    Streaming {
        since: Instant,
        /// The stall watchdog; `None` until the first packet report.
        progress: Option<Progress>,
    },
    Backoff {
        until: Instant,
    },
}

/// The last packet counts seen while streaming, and when each last moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    video: Counter,
    audio: Counter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counter {
    total: u64,
    moved_at: Instant,
}

impl Counter {
    /// `None`: the count is held off on purpose (the circuit breaker
    /// stopped the video), which is not a stall.
    fn observe(&mut self, total: Option<u64>, now: Instant) {
        match total {
            Some(total) if total != self.total => {
                self.total = total;
                self.moved_at = now;
            }
            Some(_) => {}
            None => self.moved_at = now,
        }
    }
}

impl Progress {
    /// The stream that stalled first, and since when.
    fn stalled_since(&self) -> (&'static str, &'static str, Instant) {
        if self.audio.moved_at < self.video.moved_at {
            ("audio", "the microphone", self.audio.moved_at)
        } else {
            ("video", "the encoder", self.video.moved_at)
        }
    }
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
    stalls: u64,
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
            stalls: 0,
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

    /// How many times a stream stalled (since this supervisor was made).
    pub fn stalls(&self) -> u64 {
        self.stalls
    }

    /// The adapter saw the first packet leave.
    pub fn on_streaming(&mut self, now: Instant) {
        if let Phase::Starting { .. } = self.phase {
            self.phase = Phase::Streaming {
                since: now,
                progress: None,
            };
        }
    }

    /// The packets sent so far (the adapter's counters, cumulative or not:
    /// only a change counts). Outside streaming it changes nothing.
    /// `video` is `None` while the video is held off on purpose (the
    /// circuit breaker): only the audio is watched then.
    pub fn on_packets(&mut self, video: Option<u64>, audio: u64, now: Instant) {
        let Phase::Streaming { since, progress } = self.phase else {
            return;
        };
        let progress = match progress {
            None => Progress {
                video: Counter {
                    total: video.unwrap_or(0),
                    moved_at: now,
                },
                audio: Counter {
                    total: audio,
                    moved_at: now,
                },
            },
            Some(mut p) => {
                p.video.observe(video, now);
                p.audio.observe(Some(audio), now);
                p
            }
        };
        self.phase = Phase::Streaming {
            since,
            progress: Some(progress),
        };
    }

    /// The pipeline failed. Returns `Stop` so the adapter tears it down.
    pub fn on_failed(&mut self, reason: String, now: Instant) -> Option<StreamAction> {
        let stable = match self.phase {
            Phase::Streaming { since, .. } => {
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
            Phase::Streaming {
                progress: Some(p), ..
            } => Some(p.stalled_since().2 + self.policy.stall_timeout),
            _ => None,
        }
    }

    /// Lets time pass: retries after backoff, fails a start that hangs and
    /// a stream that stalled.
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
            Phase::Streaming {
                progress: Some(p), ..
            } => {
                let (stream, culprit, since) = p.stalled_since();
                if now < since + self.policy.stall_timeout {
                    return None;
                }
                self.stalls += 1;
                self.on_failed(
                    format!(
                        "no {stream} packet left the box for {} s ({culprit} stalled?)",
                        self.policy.stall_timeout.as_secs()
                    ),
                    now,
                )
            }
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

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A supervisor streaming since `t0`, with a first packet report at `t0`.
    fn streaming(t0: Instant) -> StreamSupervisor {
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.on_streaming(t0);
        s.on_packets(Some(10), 20, t0);
        s
    }

    #[test]
    fn video_held_off_on_purpose_is_no_stall_but_the_audio_is_still_watched() {
        let t0 = Instant::now();
        let mut s = streaming(t0);
        // The circuit breaker stopped the video: its count stays still for
        // a minute while the audio moves.
        for i in 1..=60 {
            s.on_packets(None, 20 + 50 * i, t0 + secs(i));
            assert_eq!(s.handle_timeout(t0 + secs(i)), None);
        }
        assert_eq!(s.state(), StreamState::Streaming);
        // Back on, then the audio stops: a stall 5 s later.
        for i in 61..=63 {
            s.on_packets(Some(10 + 30 * i), 3020, t0 + secs(i));
        }
        assert_eq!(s.poll_timeout(), Some(t0 + secs(60) + secs(5)));
        assert_eq!(s.handle_timeout(t0 + secs(65)), Some(StreamAction::Stop));
        assert_eq!(s.stalls(), 1);
    }

    #[test]
    fn a_stall_is_detected_at_exactly_the_timeout_and_not_before() {
        let t0 = Instant::now();
        let mut s = streaming(t0);
        // The counters move for 3 s, then stop at 100 video packets.
        for i in 1..=3 {
            s.on_packets(Some(10 + 30 * i), 20 + 50 * i, t0 + secs(i));
        }
        for i in 4..=7 {
            s.on_packets(Some(100), 20 + 50 * i, t0 + secs(i));
        }
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + secs(8)),
            "5 s after video last moved"
        );
        assert_eq!(s.handle_timeout(t0 + secs(8) - ms(1)), None);
        assert_eq!(s.state(), StreamState::Streaming);
        assert_eq!(s.stalls(), 0);
        assert_eq!(s.handle_timeout(t0 + secs(8)), Some(StreamAction::Stop));
        assert_eq!(s.stalls(), 1);
        match s.state() {
            StreamState::Error {
                reason, failures, ..
            } => {
                assert_eq!(
                    reason,
                    "no video packet left the box for 5 s (the encoder stalled?)"
                );
                assert_eq!(failures, 1);
            }
            other => panic!("expected error, got {other:?}"),
        }
    }

    #[test]
    fn a_slow_but_flowing_stream_is_not_a_stall() {
        let t0 = Instant::now();
        let mut s = streaming(t0);
        // One packet of each every 4.9 s, for an hour.
        let mut now = t0;
        for i in 1..=735u64 {
            now = t0 + ms(4900 * i);
            assert_eq!(s.handle_timeout(now), None, "at {:?}", now - t0);
            s.on_packets(Some(10 + i), 20 + i, now);
        }
        assert_eq!(s.state(), StreamState::Streaming);
        assert_eq!(s.stalls(), 0);
        assert_eq!(s.poll_timeout(), Some(now + secs(5)));
    }

    #[test]
    fn stalled_audio_is_a_stall_too_and_names_the_microphone() {
        let t0 = Instant::now();
        let mut s = streaming(t0);
        for i in 1..=5 {
            s.on_packets(Some(10 + 30 * i), 20, t0 + secs(i));
        }
        assert_eq!(s.handle_timeout(t0 + secs(5)), Some(StreamAction::Stop));
        assert!(
            matches!(s.state(), StreamState::Error { reason, .. } if reason == "no audio packet left the box for 5 s (the microphone stalled?)")
        );
    }

    #[test]
    fn every_stall_is_counted_and_a_restart_resets_the_clock() {
        let t0 = Instant::now();
        let mut s = streaming(t0);
        let mut now = t0;
        let mut total = 10;
        for n in 1..=4u64 {
            // Stalls 5 s after the last report.
            let stall = now + secs(5);
            assert_eq!(s.poll_timeout(), Some(stall));
            assert_eq!(s.handle_timeout(stall), Some(StreamAction::Stop));
            assert_eq!(s.stalls(), n);
            let retry = s.poll_timeout().unwrap();
            assert_eq!(s.handle_timeout(retry), Some(StreamAction::Start));
            // The new pipeline has not sent anything yet: no stall clock,
            // only the start timeout.
            assert_eq!(s.state(), StreamState::Starting);
            assert_eq!(s.poll_timeout(), Some(retry + secs(15)));
            s.on_packets(Some(total), 20, retry + ms(100));
            assert_eq!(
                s.state(),
                StreamState::Starting,
                "reports do not start a stream"
            );
            // It streams, and the watchdog waits for its first report.
            now = retry + secs(1);
            s.on_streaming(now);
            assert_eq!(s.poll_timeout(), None, "disarmed until the first report");
            total += 1;
            s.on_packets(Some(total), 20, now);
        }
        match s.state() {
            StreamState::Streaming => {}
            other => panic!("expected streaming, got {other:?}"),
        }
        // Back to back stalls back off like any failure: 0.5, 1, 2, 4 s.
        assert_eq!(s.failures, 4);
    }

    #[test]
    fn without_packet_reports_a_stream_is_never_declared_stalled() {
        let t0 = Instant::now();
        let mut s = StreamSupervisor::new(RestartPolicy::default());
        s.set_wanted(true, t0);
        s.on_streaming(t0);
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.handle_timeout(t0 + secs(3600)), None);
        assert_eq!(s.state(), StreamState::Streaming);
    }

    #[test]
    fn a_stall_after_a_long_stable_stream_is_a_first_failure() {
        let t0 = Instant::now();
        let mut s = streaming(t0);
        for i in 1..=60 {
            s.on_packets(Some(10 + i), 20 + i, t0 + secs(i));
        }
        s.handle_timeout(t0 + secs(65));
        assert!(matches!(s.state(), StreamState::Error { failures: 1, .. }));
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + secs(65) + ms(500)),
            "the back-off starts over"
        );
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
