//! The control plane: the box's MQTT link to central IT.
//!
//! - [`link`]: the task that owns the broker connection (the shared client
//!   setup of `bridgepoint-mqtt`): connects, reconnects with jittered
//!   back-off, subscribes, publishes without ever dropping events or
//!   retained state, and reports broker acks of outbox events.
//! - [`publish_queue`]: what waits to be published and what may be dropped
//!   (only plain messages; events and retained state are only delayed).
//!
//! Topics and payloads are `bridgepoint-proto` types. The media path never
//! waits on any of this: the main loop hands publishes to the link through a
//! channel and goes on.

pub mod link;
pub mod publish_queue;

pub use link::{LinkEvent, LinkHandle};
pub use publish_queue::Publish;
