//! What a client needs to reach the broker, and the rumqttc client made
//! from it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bridgepoint_proto::BrokerUrl;
use rumqttc::v5::mqttbytes::v5::LastWill;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, EventLoop, MqttOptions};
use rumqttc::{NetworkOptions, TlsConfiguration, Transport};

use crate::MqttSetupError;

/// The system's CA bundle, used when no CA file is given.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The files of a TLS connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate(s) to verify the broker with (PEM); `None`: the system bundle.
    pub ca: Option<PathBuf>,
    /// Client certificate and its private key (PEM), for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// How the user names the files, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLabels {
    /// The CA file's setting.
    pub ca: &'static str,
    /// The client certificate's setting.
    pub cert: &'static str,
    /// The client key's setting.
    pub key: &'static str,
}

impl FileLabels {
    /// The box's config keys.
    pub const BOX: FileLabels = FileLabels {
        ca: "mqtt.ca_file",
        cert: "mqtt.cert_file",
        key: "mqtt.key_file",
    };
    /// bpctl's flags.
    pub const BPCTL: FileLabels = FileLabels {
        ca: "--ca-file",
        cert: "--cert-file",
        key: "--key-file",
    };
}

/// A message the broker publishes when it loses the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Where.
    pub topic: String,
    /// What.
    pub payload: Vec<u8>,
    /// Retained or not.
    pub retain: bool,
}

/// Everything a connection needs.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The broker.
    pub broker: BrokerUrl,
    /// MQTT client id.
    pub client_id: String,
    /// Keep-alive.
    pub keepalive: Duration,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// TLS files (used when the URL is `mqtts://`).
    pub tls: TlsFiles,
    /// How the files are named in messages.
    pub labels: FileLabels,
    /// The largest packet this client takes, announced to the broker at
    /// connect (MQTT 5 Maximum Packet Size): the broker drops a larger
    /// message for this client (and logs it) instead of sending it.
    pub max_packet_bytes: u32,
    /// How many requests may wait for the event loop.
    pub request_capacity: usize,
    /// The Last Will.
    pub will: Option<Will>,
}

fn read_pem(label: &str, path: &Path, what: &'static str) -> Result<Vec<u8>, MqttSetupError> {
    let bytes = std::fs::read(path).map_err(|source| MqttSetupError::Unreadable {
        label: label.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(MqttSetupError::NotPem {
            label: label.to_owned(),
            path: path.to_owned(),
            what,
        });
    }
    Ok(bytes)
}

impl ClientSettings {
    /// The rumqttc options; reads the TLS files (so a bad path is reported
    /// with its setting before any connection is tried).
    pub fn options(&self) -> Result<MqttOptions, MqttSetupError> {
        let mut options = MqttOptions::new(
            self.client_id.clone(),
            self.broker.host.clone(),
            self.broker.port,
        );
        options.set_keep_alive(self.keepalive);
        options.set_clean_start(true);
        options.set_max_packet_size(Some(self.max_packet_bytes));
        options.set_request_channel_capacity(self.request_capacity);
        // Control messages are small and answered in turn: without
        // TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to
        // every round trip.
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        options.set_network_options(network);
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        if let Some(will) = &self.will {
            options.set_last_will(LastWill::new(
                will.topic.clone(),
                will.payload.clone(),
                QoS::AtLeastOnce,
                will.retain,
                None,
            ));
        }
        if self.broker.tls {
            let labels = self.labels;
            let ca = match &self.tls.ca {
                Some(path) => read_pem(labels.ca, path, "certificate")?,
                None => read_pem(
                    &format!("{} (the system bundle)", labels.ca),
                    Path::new(SYSTEM_CA_BUNDLE),
                    "certificate",
                )?,
            };
            let client_auth = match &self.tls.client {
                Some((cert, key)) => Some((
                    read_pem(labels.cert, cert, "certificate")?,
                    read_pem(labels.key, key, "private key")?,
                )),
                None => None,
            };
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca,
                alpn: None,
                client_auth,
            }));
        }
        Ok(options)
    }

    /// A client and its event loop (nothing is sent until the loop is
    /// polled).
    pub fn client(&self) -> Result<(AsyncClient, EventLoop), MqttSetupError> {
        crate::install_crypto_provider();
        Ok(AsyncClient::new(self.options()?, self.request_capacity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> ClientSettings {
        ClientSettings {
            broker: BrokerUrl::parse(url).unwrap(),
            client_id: "c".into(),
            keepalive: Duration::from_secs(30),
            credentials: Some(("u".into(), "p".into())),
            tls: TlsFiles::default(),
            labels: FileLabels::BPCTL,
            max_packet_bytes: 65_536,
            request_capacity: 16,
            will: Some(Will {
                topic: "t".into(),
                payload: b"w".to_vec(),
                retain: true,
            }),
        }
    }

    #[test]
    fn plain_options_carry_the_packet_limit_credentials_and_will() {
        let o = settings("mqtt://127.0.0.1:1884").options().unwrap();
        assert_eq!(o.max_packet_size(), Some(65_536));
        assert_eq!(o.broker_address(), ("127.0.0.1".to_owned(), 1884));
        assert!(o.last_will().is_some());
        assert_eq!(o.credentials().map(|l| l.username), Some("u".to_owned()));
    }

    #[test]
    fn missing_or_bad_tls_files_are_named_by_their_setting() {
        let mut s = settings("mqtts://h");
        s.tls.ca = Some("/nonexistent/ca.pem".into());
        let e = s.options().unwrap_err().to_string();
        assert!(
            e.starts_with("--ca-file /nonexistent/ca.pem: cannot read it"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("bp-mqtt-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a pem").unwrap();
        s.tls.ca = Some(junk.clone());
        s.labels = FileLabels::BOX;
        let e = s.options().unwrap_err().to_string();
        assert!(
            e.starts_with("mqtt.ca_file ") && e.contains("no PEM certificate"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
