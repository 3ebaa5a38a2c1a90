//! The wire protocol between a Bridgepoint box and central IT.
//!
//! Every MQTT topic and every payload that crosses the broker is a type
//! here, and each type both parses and builds its JSON, so the box, `bpctl`,
//! the benchmarks and the tests speak through the same definitions
//! (the shape of mini-redis's `cmd/*.rs`: one type per message, used by
//! server and client alike). docs/provisioning.md is the reference; a test
//! (`tests/docs_examples.rs`) parses every JSON example in it into its type
//! and checks that it serializes back to the same value.
//!
//! Two kinds of parsing live here:
//! - payloads a box receives from the network (a pushed config, a command)
//!   are read strictly: a size limit, UTF-8, no duplicated member at any
//!   depth ([`strict_json`]), unknown members refused, and an error that
//!   names the member at fault;
//! - payloads central IT reads from boxes (status, reports, results,
//!   events, telemetry) are read leniently: members a later firmware may
//!   add are ignored.
//!
//! Nothing here does IO, reads a clock or decides anything about a box's
//! state: what is accepted in context (versions, signatures, replays) is
//! decided in `bridgepoint-core`.
//!
//! - [`topics`]: `<topic_root>/<device_id>/<leaf>` and the leaves.
//! - [`validate`]: the rules both sides check (device ids, topic roots,
//!   bundle URLs, identify durations, JSON-safe integers).
//! - [`broker_url`]: the broker URL, `mqtts://host[:port]`.
//! - [`envelope`]: a received payload's size, text and whether it is a JWS.
//! - [`strict_json`]: JSON without duplicated members.
//! - [`status`], [`push`], [`report`], [`command`], [`command_result`],
//!   [`event`], [`telemetry`]: the payloads, one module per topic.
//! - [`devices`]: what a box found plugged in and uses (`probe`, telemetry).
//! - [`error`]: the error type, [`ProtoError`].

/// `parse` and `to_json` for a payload central IT reads from boxes: read
/// leniently (members a later firmware adds are ignored) with a message
/// that starts with `what`; written compactly. Used in the file that defines
/// the type, so its impl stays there.
macro_rules! lenient_payload {
    ($t:ty, $what:literal) => {
        impl $t {
            /// Reads the payload (members this reader does not know are ignored).
            pub fn parse(raw: &[u8]) -> Result<$t, String> {
                serde_json::from_slice(raw).map_err(|e| format!(concat!($what, ": {}"), e))
            }

            /// The payload.
            pub fn to_json(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
        }
    };
}

pub mod broker_url;
pub mod command;
pub mod command_result;
pub mod devices;
pub mod envelope;
pub mod error;
pub mod event;
pub mod push;
pub mod report;
pub mod status;
pub mod strict_json;
pub mod telemetry;
pub mod time;
pub mod topics;
pub mod validate;

pub use broker_url::BrokerUrl;
pub use command::{Command, CommandBinding, CommandRejected, CommandRequest};
pub use command_result::CommandResult;
pub use envelope::Envelope;
pub use error::ProtoError;
pub use event::{EndReason, Event, EventKind, SlotVerdict};
pub use push::PushPayload;
pub use report::{ConfigReported, PushState};
pub use status::{
    CallStatus, OfflineStatus, OnlineStatus, ReturnStreamStatus, Status, StreamStatus,
};
pub use telemetry::{FeedbackStatus, ReceiveStats, RtcpStats, SendStats, Telemetry};
pub use topics::{Leaf, Topics};
