//! The control plane: the box's MQTT link to central IT.
//!
//! - [`topics`]: the topic names under `<topic_root>/<device_id>/`.
//! - [`options`]: broker connection options (TLS, client certificate, Will).
//! - [`link`]: the rumqttc adapter task: connects, reconnects with capped
//!   backoff, subscribes, publishes, and reports broker acks of outbox events.
//! - [`messages`]: the JSON payloads the box publishes.
//!
//! The media path never waits on any of this: the main loop hands publishes
//! to the link through a channel and goes on.

pub mod link;
pub mod messages;
pub mod options;
pub mod topics;

pub use link::{LinkEvent, LinkHandle};
pub use topics::Topics;
