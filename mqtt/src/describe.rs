//! Connection errors in words that say what to fix.

use rumqttc::v5::mqttbytes::v5::ConnectReturnCode;
use rumqttc::v5::ConnectionError;

/// Why rumqttc gave up on a connection.
pub fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => "bad user name or password",
                ConnectReturnCode::NotAuthorized => {
                    "not authorized (check the client certificate or credentials)"
                }
                ConnectReturnCode::BadClientId | ConnectReturnCode::ClientIdentifierNotValid => {
                    "client id refused"
                }
                ConnectReturnCode::ServiceUnavailable
                | ConnectReturnCode::ServerUnavailable
                | ConnectReturnCode::ServerBusy => "the broker is unavailable or busy",
                ConnectReturnCode::RefusedProtocolVersion
                | ConnectReturnCode::UnsupportedProtocolVersion => {
                    "MQTT 5 not supported by the broker (mosquitto ≥ 1.6 supports it)"
                }
                ConnectReturnCode::Banned => "this client is banned",
                ConnectReturnCode::PacketTooLarge => "packet too large",
                other => return format!("the broker refused the connection: {other:?}"),
            };
            format!("the broker refused the connection: {why}")
        }
        ConnectionError::Tls(e) => format!(
            "TLS failed: {e} (check the CA file, the client certificate and key, and the host name in the URL)"
        ),
        ConnectionError::Io(e) => e.to_string(),
        ConnectionError::Timeout(_) => "no answer (network timeout)".into(),
        other => other.to_string(),
    }
}
