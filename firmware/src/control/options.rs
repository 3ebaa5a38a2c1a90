//! Broker connection options from the `[mqtt]` config: TLS with the CA and
//! client certificate files, credentials, keep-alive and the Last Will.

use std::path::Path;
use std::time::Duration;

use bridgepoint_core::config::MqttConfig;
use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};

use super::messages;
use super::Topics;
use crate::DaemonError;

/// The largest packet the box accepts from the broker. Larger than any valid
/// push, so an oversized push is read and rejected with a report instead of
/// breaking the connection (the box checks its own, smaller limit).
pub const MAX_INCOMING_PACKET: usize = 2 * 1024 * 1024;

/// System CA bundle used when `mqtt.ca_file` is not set.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn read(key: &str, path: &Path) -> Result<Vec<u8>, DaemonError> {
    std::fs::read(path).map_err(|source| DaemonError::MqttFile {
        key: key.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// Builds the options for one connection attempt.
pub fn mqtt_options(
    config: &MqttConfig,
    device_id: &str,
    topics: &Topics,
) -> Result<MqttOptions, DaemonError> {
    let mut options = MqttOptions::new(
        format!("bridgepoint-{device_id}"),
        config.host.clone(),
        config.port,
    );
    options.set_keep_alive(Duration::from_secs(u64::from(config.keepalive_s)));
    options.set_clean_session(true);
    options.set_max_packet_size(MAX_INCOMING_PACKET, 256 * 1024);
    options.set_last_will(LastWill::new(
        topics.status(),
        messages::offline_status(device_id),
        QoS::AtLeastOnce,
        true,
    ));
    if let Some(user) = &config.username {
        options.set_credentials(user.clone(), config.password.clone().unwrap_or_default());
    }
    if config.tls {
        let ca = match &config.ca_file {
            Some(path) => read("mqtt.ca_file", path)?,
            None => read("mqtt.ca_file (system bundle)", Path::new(SYSTEM_CA_BUNDLE))?,
        };
        let client_auth = match (&config.cert_file, &config.key_file) {
            (Some(cert), Some(key)) => {
                Some((read("mqtt.cert_file", cert)?, read("mqtt.key_file", key)?))
            }
            _ => None,
        };
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
    }
    Ok(options)
}

/// Installs the TLS crypto provider once per process (rustls needs one).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
