//! What the hub's return stream is doing, from the counters the media
//! pipeline keeps: playing, not there yet, undecryptable, or interrupted.
//!
//! The daemon feeds [`ReturnWatch::observe`] once a second with the
//! counters and the current time; the watch compares them with what it saw
//! before and says what the screen must tell the room. No clock, no IO.

use std::time::{Duration, Instant};

/// How long a counter may stand still before its stream counts as stopped.
pub const STALE_AFTER: Duration = Duration::from_secs(2);

/// The return path's counters since the session's pipeline started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReturnCounters {
    /// Video frames decoded.
    pub video_frames: u64,
    /// Audio decoded, in milliseconds.
    pub audio_ms: u64,
    /// Packets that arrived on the box's ports and failed decryption or
    /// authentication (a wrong key, garbage).
    pub rejected_packets: u64,
}

/// What the hub's return stream is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnStatus {
    /// The box has no receive key: it only sends (a hub that records).
    NotReceiving,
    /// Nothing came back yet this session.
    Waiting,
    /// Central's media is playing.
    Playing {
        /// Whether its picture is (frames decoded within [`STALE_AFTER`]).
        video: bool,
        /// Whether its sound is.
        audio: bool,
    },
    /// Packets arrive but none can be decrypted: a wrong receive key or
    /// garbage.
    Undecryptable,
    /// Central's media played and then stopped.
    Interrupted,
}

impl ReturnStatus {
    /// The short name used in logs and the simulated board's `state`.
    pub fn name(self) -> &'static str {
        match self {
            ReturnStatus::NotReceiving => "not_receiving",
            ReturnStatus::Waiting => "waiting",
            ReturnStatus::Playing { video: true, .. } => "playing",
            ReturnStatus::Playing { video: false, .. } => "playing_sound_only",
            ReturnStatus::Undecryptable => "undecryptable",
            ReturnStatus::Interrupted => "interrupted",
        }
    }
}

/// Watches one session's return stream.
#[derive(Debug, Clone)]
pub struct ReturnWatch {
    receiving: bool,
    last: ReturnCounters,
    video_at: Option<Instant>,
    audio_at: Option<Instant>,
    rejected_at: Option<Instant>,
    played_before: bool,
}

impl ReturnWatch {
    /// A watch for a session; `receiving`: the box has a receive key.
    pub fn new(receiving: bool) -> Self {
        ReturnWatch {
            receiving,
            last: ReturnCounters::default(),
            video_at: None,
            audio_at: None,
            rejected_at: None,
            played_before: false,
        }
    }

    /// Takes the counters at `now` and says what the stream is doing.
    /// Counters that went down belong to a new pipeline: the watch starts
    /// over from them.
    pub fn observe(&mut self, counters: ReturnCounters, now: Instant) -> ReturnStatus {
        if !self.receiving {
            return ReturnStatus::NotReceiving;
        }
        let restarted = counters.video_frames < self.last.video_frames
            || counters.audio_ms < self.last.audio_ms
            || counters.rejected_packets < self.last.rejected_packets;
        if restarted {
            *self = ReturnWatch::new(true);
        }
        if counters.video_frames > self.last.video_frames {
            self.video_at = Some(now);
        }
        if counters.audio_ms > self.last.audio_ms {
            self.audio_at = Some(now);
        }
        if counters.rejected_packets > self.last.rejected_packets {
            self.rejected_at = Some(now);
        }
        self.last = counters;
        let recent =
            |at: Option<Instant>| at.is_some_and(|at| now.duration_since(at) < STALE_AFTER);
        let (video, audio) = (recent(self.video_at), recent(self.audio_at));
        if video || audio {
            self.played_before = true;
            ReturnStatus::Playing { video, audio }
        } else if recent(self.rejected_at) {
            ReturnStatus::Undecryptable
        } else if self.played_before {
            ReturnStatus::Interrupted
        } else {
            ReturnStatus::Waiting
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(video_frames: u64, audio_ms: u64, rejected_packets: u64) -> ReturnCounters {
        ReturnCounters {
            video_frames,
            audio_ms,
            rejected_packets,
        }
    }

    #[test]
    fn a_session_waits_plays_stops_and_plays_again() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut watch = ReturnWatch::new(true);
        assert_eq!(
            watch.observe(counters(0, 0, 0), s(0)),
            ReturnStatus::Waiting
        );
        assert_eq!(
            watch.observe(counters(0, 0, 0), s(5)),
            ReturnStatus::Waiting
        );
        assert_eq!(
            watch.observe(counters(30, 1000, 0), s(6)),
            ReturnStatus::Playing {
                video: true,
                audio: true
            }
        );
        // One second without progress is still playing (frames come in bursts).
        assert_eq!(
            watch.observe(counters(30, 1000, 0), s(7)),
            ReturnStatus::Playing {
                video: true,
                audio: true
            }
        );
        assert_eq!(
            watch.observe(counters(30, 1000, 0), s(8)),
            ReturnStatus::Interrupted
        );
        assert_eq!(
            watch.observe(counters(30, 1000, 0), s(60)),
            ReturnStatus::Interrupted
        );
        // Sound comes back before the picture (the decoder waits for a keyframe).
        assert_eq!(
            watch.observe(counters(30, 2000, 0), s(61)),
            ReturnStatus::Playing {
                video: false,
                audio: true
            }
        );
        assert_eq!(
            watch.observe(counters(30, 2000, 0), s(61)).name(),
            "playing_sound_only"
        );
        assert_eq!(
            watch.observe(counters(40, 3000, 0), s(62)).name(),
            "playing"
        );
    }

    #[test]
    fn rejected_packets_with_nothing_played_are_undecryptable_until_they_stop() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut watch = ReturnWatch::new(true);
        assert_eq!(
            watch.observe(counters(0, 0, 50), s(1)),
            ReturnStatus::Undecryptable
        );
        assert_eq!(
            watch.observe(counters(0, 0, 90), s(2)),
            ReturnStatus::Undecryptable
        );
        assert_eq!(
            watch.observe(counters(0, 0, 90), s(4)),
            ReturnStatus::Waiting
        );
        // Rejected packets beside a stream that plays (garbage on the port) do not hide it.
        assert_eq!(watch.observe(counters(10, 500, 95), s(5)).name(), "playing");
        // After playing, a wrong key again: undecryptable, not merely interrupted.
        assert_eq!(
            watch.observe(counters(10, 500, 140), s(8)),
            ReturnStatus::Undecryptable
        );
        assert_eq!(
            watch.observe(counters(10, 500, 140), s(11)),
            ReturnStatus::Interrupted
        );
    }

    #[test]
    fn a_new_pipeline_starts_the_watch_over() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut watch = ReturnWatch::new(true);
        watch.observe(counters(100, 4000, 0), s(1));
        assert_eq!(
            watch.observe(counters(100, 4000, 0), s(10)),
            ReturnStatus::Interrupted
        );
        // The counters fell: a new pipeline, nothing from it yet.
        assert_eq!(
            watch.observe(counters(0, 0, 0), s(11)),
            ReturnStatus::Waiting
        );
    }

    #[test]
    fn without_a_receive_key_the_box_is_not_receiving_whatever_the_counters_say() {
        let mut watch = ReturnWatch::new(false);
        assert_eq!(
            watch.observe(counters(5, 5, 5), Instant::now()),
            ReturnStatus::NotReceiving
        );
    }
}
