//! `status` (retained, box → central): the box's presence and state, and
//! its Last Will `{"online":false,...}`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The call, as the box reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// No call.
    Idle,
    /// A citizen pressed the call button and waits for the hub.
    Calling,
    /// A session is on.
    InSession,
    /// A state a later firmware reports that this reader does not know.
    #[serde(other)]
    Other,
}

/// The stream, as the box reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Not streaming.
    Stopped,
    /// Building the pipeline, before the first packet left.
    Starting,
    /// Packets are leaving the box.
    Streaming,
    /// The pipeline failed; the box retries after a back-off.
    Error,
    /// A state a later firmware reports that this reader does not know.
    #[serde(other)]
    Other,
}

impl CallStatus {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            CallStatus::Idle => "idle",
            CallStatus::Calling => "calling",
            CallStatus::InSession => "in_session",
            CallStatus::Other => "other",
        }
    }
}

impl StreamStatus {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            StreamStatus::Stopped => "stopped",
            StreamStatus::Starting => "starting",
            StreamStatus::Streaming => "streaming",
            StreamStatus::Error => "error",
            StreamStatus::Other => "other",
        }
    }
}

/// What a connected box says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineStatus {
    /// The box.
    pub device_id: String,
    /// Its firmware version.
    pub firmware: String,
    /// The pushed config version it runs (0: never provisioned).
    pub config_version: u64,
    /// The call.
    pub call: CallStatus,
    /// The stream.
    pub stream: StreamStatus,
    /// The booted RAUC slot (`A`, `B`), `null` on a system without RAUC.
    pub slot: Option<String>,
    /// Something central IT must know that keeps the box from working as it
    /// should (a full data partition, say); absent when all is well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// What the hub's return stream does while a session runs; absent
    /// outside a session (and from firmware that predates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_stream: Option<ReturnStreamStatus>,
    /// The box's video while a session runs: `on`, or the circuit breaker
    /// that stopped it (`congestion`, `media_timeout`, `rtcp_timeout`);
    /// absent outside a session (and from firmware that predates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    /// Whether the hub's receiver reports come while a session runs;
    /// absent outside one (and from firmware that predates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<crate::FeedbackStatus>,
}

/// What the hub's return stream does, as the box reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStreamStatus {
    /// The box has no receive key: the hub only records.
    NotReceiving,
    /// Nothing came back yet this session.
    Waiting,
    /// Central's picture (and sound) plays.
    Playing,
    /// Central's sound plays, its picture does not.
    PlayingSoundOnly,
    /// Packets arrive that fail decryption (a wrong receive key?).
    Undecryptable,
    /// Central's media played and stopped.
    Interrupted,
    /// A state a later firmware reports that this reader does not know.
    #[serde(other)]
    Other,
}

impl ReturnStreamStatus {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ReturnStreamStatus::NotReceiving => "not_receiving",
            ReturnStreamStatus::Waiting => "waiting",
            ReturnStreamStatus::Playing => "playing",
            ReturnStreamStatus::PlayingSoundOnly => "playing_sound_only",
            ReturnStreamStatus::Undecryptable => "undecryptable",
            ReturnStreamStatus::Interrupted => "interrupted",
            ReturnStreamStatus::Other => "other",
        }
    }
}

/// The Last Will, which the broker publishes when it loses the box (and the
/// box publishes itself on a clean stop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineStatus {
    /// The box.
    pub device_id: String,
}

/// A `status` payload: `{"online":true,...}` or `{"online":false,...}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Connected.
    Online(OnlineStatus),
    /// Gone (its Last Will, or a clean stop).
    Offline(OfflineStatus),
}

impl Status {
    /// Whether the box is connected.
    pub fn is_online(&self) -> bool {
        matches!(self, Status::Online(_))
    }

    /// The state while online.
    pub fn online(&self) -> Option<&OnlineStatus> {
        match self {
            Status::Online(s) => Some(s),
            Status::Offline(_) => None,
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (online, body) = match self {
            Status::Online(s) => (true, serde_json::to_value(s)),
            Status::Offline(s) => (false, serde_json::to_value(s)),
        };
        let mut body = body.map_err(serde::ser::Error::custom)?;
        if let Value::Object(map) = &mut body {
            map.insert("online".into(), Value::Bool(online));
        }
        body.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Status, D::Error> {
        use serde::de::Error as _;
        let value = Value::deserialize(deserializer)?;
        match value.get("online") {
            Some(Value::Bool(true)) => serde_json::from_value(value)
                .map(Status::Online)
                .map_err(D::Error::custom),
            Some(Value::Bool(false)) => serde_json::from_value(value)
                .map(Status::Offline)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "online: expected true or false, got {}",
                other.map_or("nothing".to_owned(), Value::to_string)
            ))),
        }
    }
}

lenient_payload!(Status, "status");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn online() -> Status {
        Status::Online(OnlineStatus {
            device_id: "b".into(),
            firmware: "0.1.0".into(),
            config_version: 2,
            call: CallStatus::Idle,
            stream: StreamStatus::Streaming,
            slot: None,
            problem: None,
            return_stream: None,
            video: None,
            feedback: None,
        })
    }

    #[test]
    fn the_return_stream_is_shown_in_a_session_and_unknown_states_are_read() {
        let Status::Online(mut s) = online() else {
            unreachable!()
        };
        s.return_stream = Some(ReturnStreamStatus::Undecryptable);
        let v: Value = serde_json::from_str(&Status::Online(s).to_json()).unwrap();
        assert_eq!(v["return_stream"], "undecryptable");
        let later = r#"{"online":true,"device_id":"b","firmware":"9","config_version":2,"call":"in_session","stream":"streaming","slot":null,"return_stream":"teleported"}"#;
        let Status::Online(read) = Status::parse(later.as_bytes()).unwrap() else {
            panic!("online")
        };
        assert_eq!(read.return_stream, Some(ReturnStreamStatus::Other));
    }

    #[test]
    fn online_and_offline_have_the_documented_shape() {
        let v: Value = serde_json::from_str(&online().to_json()).unwrap();
        assert_eq!(
            v,
            json!({"online":true,"device_id":"b","firmware":"0.1.0","config_version":2,"call":"idle","stream":"streaming","slot":null})
        );
        let will = Status::Offline(OfflineStatus {
            device_id: "b".into(),
        });
        assert_eq!(will.to_json(), r#"{"device_id":"b","online":false}"#);
        assert_eq!(Status::parse(will.to_json().as_bytes()).unwrap(), will);
        assert_eq!(
            Status::parse(online().to_json().as_bytes()).unwrap(),
            online()
        );
    }

    #[test]
    fn readers_tolerate_new_members_and_states_but_not_a_missing_online() {
        let s = Status::parse(
            br#"{"online":true,"device_id":"b","firmware":"9","config_version":1,"call":"ringing","stream":"streaming","slot":"A","colour":"red"}"#,
        )
        .unwrap();
        assert_eq!(s.online().unwrap().call, CallStatus::Other);
        assert!(Status::parse(br#"{"device_id":"x"}"#)
            .unwrap_err()
            .contains("online"));
        assert!(Status::parse(b"nope").is_err());
        assert_eq!(CallStatus::InSession.name(), "in_session");
        assert_eq!(StreamStatus::Error.name(), "error");
    }
}
