//! `event` (box → central, QoS 1, from the box's durable outbox): call,
//! session, error and update events.
//!
//! `{"id":"<uuid>","seq":41,"at":"2026-11-23T08:30:05.123Z","type":"call.request"}`
//! plus the members of its type. Consumers de-duplicate by `id` (an event
//! may arrive twice); `seq` grows by one per event on a box.

use serde::{Deserialize, Serialize};

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Staff held the call button.
    LongPress,
    /// Central IT sent `session.end`.
    Hub,
}

/// The health gate's verdict on a freshly booted slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotVerdict {
    /// Healthy: the slot stays.
    Good,
    /// Not healthy in time: the box falls back.
    Bad,
}

/// What happened, with the members of that kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// A citizen pressed the call button.
    #[serde(rename = "call.request")]
    CallRequest,
    /// The citizen cancelled before the hub answered.
    #[serde(rename = "call.cancelled")]
    CallCancelled,
    /// Nobody answered within `session.call_timeout_s`.
    #[serde(rename = "call.timeout")]
    CallTimeout,
    /// A session started.
    #[serde(rename = "session.started")]
    SessionStarted,
    /// A session ended.
    #[serde(rename = "session.ended")]
    SessionEnded {
        /// Why.
        reason: EndReason,
    },
    /// Something the operator should know about.
    #[serde(rename = "error")]
    Error {
        /// What.
        message: String,
    },
    /// An update install started.
    #[serde(rename = "update.started")]
    UpdateStarted {
        /// The bundle.
        url: String,
    },
    /// An update's progress.
    #[serde(rename = "update.progress")]
    UpdateProgress {
        /// Percent done.
        percent: u32,
        /// RAUC's message.
        message: String,
    },
    /// The update is installed; the box reboots into it.
    #[serde(rename = "update.installed")]
    UpdateInstalled,
    /// The update failed; the box still runs its current slot.
    #[serde(rename = "update.failed")]
    UpdateFailed {
        /// RAUC's words.
        error: String,
    },
    /// The circuit breaker stopped the video: the path to the hub cannot
    /// carry it (the sound goes on).
    #[serde(rename = "video.paused")]
    VideoPaused {
        /// Which breaker: `congestion`, `media_timeout`, `rtcp_timeout`.
        reason: String,
    },
    /// The path recovered: the video goes again.
    #[serde(rename = "video.resumed")]
    VideoResumed,
    /// The health gate decided on the booted slot.
    #[serde(rename = "update.health")]
    UpdateHealth {
        /// The booted slot.
        slot: String,
        /// Its verdict.
        verdict: SlotVerdict,
    },
}

impl EventKind {
    /// The `type` on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CallRequest => "call.request",
            EventKind::CallCancelled => "call.cancelled",
            EventKind::CallTimeout => "call.timeout",
            EventKind::SessionStarted => "session.started",
            EventKind::SessionEnded { .. } => "session.ended",
            EventKind::Error { .. } => "error",
            EventKind::UpdateStarted { .. } => "update.started",
            EventKind::UpdateProgress { .. } => "update.progress",
            EventKind::UpdateInstalled => "update.installed",
            EventKind::UpdateFailed { .. } => "update.failed",
            EventKind::UpdateHealth { .. } => "update.health",
            EventKind::VideoPaused { .. } => "video.paused",
            EventKind::VideoResumed => "video.resumed",
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// A unique id (a UUID), for de-duplication.
    pub id: String,
    /// The box's outbox sequence number.
    pub seq: u64,
    /// When it happened: UTC, RFC 3339 with milliseconds.
    pub at: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {}

lenient_payload!(Event, "event");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn events_have_the_documented_shape_both_ways() {
        let e = Event {
            id: "u1".into(),
            seq: 7,
            at: "2026-11-23T18:30:05.123Z".into(),
            kind: EventKind::SessionEnded {
                reason: EndReason::LongPress,
            },
        };
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"id":"u1","seq":7,"at":"2026-11-23T18:30:05.123Z","type":"session.ended","reason":"long_press"})
        );
        assert_eq!(Event::parse(e.to_json().as_bytes()).unwrap(), e);
        let plain = Event::parse(br#"{"id":"u","seq":1,"at":"x","type":"call.request","later":1}"#)
            .unwrap();
        assert_eq!(plain.kind, EventKind::CallRequest);
        assert_eq!(plain.kind.name(), "call.request");
        assert!(Event::parse(br#"{"id":"u","seq":1,"at":"x","type":"dance"}"#).is_err());
    }
}
