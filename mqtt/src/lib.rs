//! The one MQTT client setup of Bridgepoint, used by the box's control link
//! and by bpctl alike.
//!
//! - [`settings`]: [`ClientSettings`] → a connected-on-first-poll rumqttc
//!   (MQTT 5) client: broker address, TLS with the CA and client
//!   certificate files, credentials, keep-alive, Last Will, TCP_NODELAY,
//!   and the **maximum packet size** the client announces, so the broker
//!   drops (and logs) a message too large for it instead of sending it and
//!   breaking the connection.
//! - [`describe`]: a connection error in words that say what to fix.
//! - [`jitter`]: randomness for the back-off's jitter
//!   (`bridgepoint_core::backoff::Backoff` is the one back-off).
//! - [`error`]: the error type, [`MqttSetupError`].
//!
//! The client type itself is rumqttc's MQTT 5 client, re-exported as
//! [`client`], so both sides name the same types.

pub mod describe;
pub mod error;
pub mod jitter;
pub mod settings;

/// rumqttc's MQTT 5 client, events and packets.
pub use rumqttc::v5 as client;
pub use rumqttc::v5::mqttbytes::QoS;

pub use describe::describe;
pub use error::MqttSetupError;
pub use settings::{ClientSettings, FileLabels, TlsFiles, Will};

/// Installs the TLS crypto provider once per process (rustls needs one; the
/// workspace builds rumqttc without a default).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
