//! `bpctl session start|end`, `identify`, `keyframe`, `reboot`, `update`,
//! `set-version`: one command, one answer.
//!
//! With `--key`, the command is signed like a config (JWS, EdDSA) and bound
//! to the box, to a counter (the Unix time in milliseconds, so it grows
//! from one command to the next) and to an expiry (`--valid-for`). A box
//! with trusted keys obeys `session.start` with a key, `update`, `reboot`
//! and `config.set_version` only signed.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use base64::Engine as _;
use bridgepoint_mqtt::client::mqttbytes::v5::Packet;
use bridgepoint_mqtt::QoS;
use bridgepoint_proto::validate::{check_bundle_url, check_identify_seconds};
use bridgepoint_proto::{
    Command, CommandBinding, CommandRequest, CommandResult, Leaf, Status, Topics,
};
use bridgepoint_signing::{sign_compact, SigningKey};
use tokio::time::Instant;

use crate::broker::{topic_of, Mqtt};
use crate::cli::{BrokerArgs, SigningArgs};
use crate::keygen::load_signing_key;
use crate::outcome::fmt_secs;
use crate::targets::check_device_id;

/// How long to wait for the box's retained status after subscribing; the
/// broker sends it right after the SubAck, so this only delays the
/// "unknown device" error.
const STATUS_WAIT: Duration = Duration::from_millis(1000);

/// Reads `--srtp-key`: base64 of a master key + salt of a length one of the
/// box's suites takes, not a constant byte pattern (the box checks it
/// against its own suite again).
pub fn read_srtp_key(b64: &str) -> Result<Vec<u8>, String> {
    read_key("--srtp-key", b64)
}

/// Reads `--receive-key`, checked as `--srtp-key`.
pub fn read_receive_key(b64: &str) -> Result<Vec<u8>, String> {
    read_key("--receive-key", b64)
}

fn read_key(option: &str, b64: &str) -> Result<Vec<u8>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("{option} is not valid base64: {e}"))?;
    let suites = bridgepoint_core::srtp::SrtpSuite::ALL;
    let Some(suite) = suites.iter().find(|s| s.key_len() == bytes.len()) else {
        let lengths: Vec<String> = suites
            .iter()
            .map(|s| format!("{} for {}", s.key_len(), s.name()))
            .collect();
        return Err(format!(
            "{option} must be a master key + salt of {} bytes, got {} bytes (make one with: head -c 30 /dev/urandom | base64)",
            lengths.join(", "),
            bytes.len()
        ));
    };
    bridgepoint_core::srtp::check_key(*suite, &bytes).map_err(|e| format!("{option} {e}"))?;
    Ok(bytes)
}

/// Checks a command's arguments before anything is sent.
pub fn check(command: &Command) -> Result<(), String> {
    match command {
        Command::Identify { seconds: Some(s) } => check_identify_seconds(u64::from(*s))
            .map(|_| ())
            .map_err(|e| format!("--seconds {e}")),
        Command::Update { url } => check_bundle_url(url).map_err(|e| format!("URL {e}")),
        _ => Ok(()),
    }
}

/// The payload to publish: the command's JSON, or a JWS token over it bound
/// to `device` when a signing key is given.
pub fn payload(
    device: &str,
    id: &str,
    command: Command,
    key: Option<&SigningKey>,
    valid_for: Duration,
    now: SystemTime,
) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let binding = key.map(|_| CommandBinding {
        device_id: device.to_owned(),
        counter: since.as_millis() as u64,
        expires_at: (since + valid_for).as_secs(),
    });
    let request = CommandRequest {
        id: id.to_owned(),
        command,
        binding,
    };
    match key {
        Some(key) => sign_compact(request.to_json().as_bytes(), key),
        None => request.to_json(),
    }
}

fn signing_key(signing: &SigningArgs, command: &Command) -> Result<Option<SigningKey>> {
    match &signing.key {
        Some(path) => Ok(Some(load_signing_key(Path::new(path))?)),
        None => {
            if command.must_be_signed() {
                eprintln!(
                    "warning: sending {} unsigned: a box with trust.config_keys refuses it (give --key PREFIX.key.jwk)",
                    command.name()
                );
            }
            Ok(None)
        }
    }
}

/// Sends `command` to `device` and waits for its result.
pub async fn run(
    broker: &BrokerArgs,
    device: &str,
    command: Command,
    signing: &SigningArgs,
) -> Result<()> {
    check_device_id(device).map_err(|e| anyhow!(e))?;
    check(&command).map_err(|e| anyhow!(e))?;
    let key = signing_key(signing, &command)?;
    let name = command.name();
    let timeout = Duration::from_secs_f64(broker.timeout);
    let topics = Topics::new(&broker.topic_root, device);
    let status_topic = topics.topic(Leaf::Status);
    let result_topic = topics.topic(Leaf::CmdResult);

    let mut mqtt = Mqtt::connect(broker, timeout, false).await?;
    // Subscribe to the result BEFORE publishing the command.
    let subs = [
        (status_topic.clone(), QoS::AtLeastOnce),
        (result_topic.clone(), QoS::AtLeastOnce),
    ];
    mqtt.subscribe(&subs, Instant::now() + timeout).await?;

    // The box must exist (a retained status) and be online.
    let status_deadline = Instant::now() + STATUS_WAIT.min(timeout);
    let status = loop {
        match mqtt.next(status_deadline).await? {
            None => break None,
            Some(Packet::Publish(p)) if topic_of(&p) == status_topic && !p.payload.is_empty() => {
                break Some(Status::parse(&p.payload).map_err(|e| anyhow!("{device}: {e}"))?)
            }
            Some(_) => {}
        }
    };
    match status {
        None => {
            mqtt.disconnect().await;
            bail!(
                "unknown device {device:?}: nothing on {status_topic} (check the device id and --topic-root; `bpctl list` shows the boxes)"
            );
        }
        Some(s) if !s.is_online() => {
            mqtt.disconnect().await;
            bail!("{device} is offline (its status says online:false); {name} was not sent");
        }
        Some(_) => {}
    }

    let id = uuid::Uuid::new_v4().to_string();
    let valid_for = Duration::from_secs(signing.valid_for);
    let payload = payload(
        device,
        &id,
        command,
        key.as_ref(),
        valid_for,
        SystemTime::now(),
    );
    mqtt.client()
        .publish(topics.topic(Leaf::Cmd), QoS::AtLeastOnce, false, payload)
        .await
        .map_err(|e| anyhow!("cannot publish the command at {}: {e}", mqtt.addr))?;
    let deadline = Instant::now() + timeout;
    let answer = loop {
        match mqtt.next(deadline).await? {
            None => break None,
            Some(Packet::Publish(p)) if topic_of(&p) == result_topic => {
                match CommandResult::parse(&p.payload) {
                    Ok(r) if r.id.as_deref() == Some(id.as_str()) => break Some(r),
                    Ok(_) => {} // another caller's command
                    Err(e) => eprintln!("warning: {device}: unreadable result: {e}"),
                }
            }
            Some(Packet::Publish(p)) if topic_of(&p) == status_topic => {
                if Status::parse(&p.payload).is_ok_and(|s| !s.is_online()) {
                    mqtt.disconnect().await;
                    bail!("{device} went offline before answering {name} (id {id})");
                }
            }
            Some(_) => {}
        }
    };
    mqtt.disconnect().await;
    match answer {
        None => bail!(
            "no answer from {device} to {name} within {} s (command id {id})",
            fmt_secs(broker.timeout)
        ),
        Some(r) if r.ok => {
            crate::say("ok");
            Ok(())
        }
        Some(r) => bail!(
            "{device} refused {name}: {}",
            r.error.unwrap_or_else(|| "no reason given".into())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridgepoint_signing::{generate_keypair, verify_compact};

    #[test]
    fn srtp_keys_and_arguments_are_checked_before_sending() {
        assert_eq!(
            read_srtp_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd")
                .unwrap()
                .len(),
            30
        );
        assert!(read_srtp_key("!!")
            .unwrap_err()
            .contains("not valid base64"));
        assert!(read_srtp_key("AAEC").unwrap_err().contains("got 3 bytes"));
        let zeros = base64::engine::general_purpose::STANDARD.encode([0u8; 30]);
        assert!(read_srtp_key(&zeros).unwrap_err().contains("constant"));
        assert!(check(&Command::Identify { seconds: Some(0) })
            .unwrap_err()
            .contains("1 to 600"));
        assert!(check(&Command::Identify { seconds: Some(600) }).is_ok());
        assert!(check(&Command::Update {
            url: "file:///x.raucb".into()
        })
        .unwrap_err()
        .contains("http(s)"));
        assert!(check(&Command::Update {
            url: "https://fw/x.tar".into()
        })
        .unwrap_err()
        .contains(".raucb"));
    }

    #[test]
    fn an_unsigned_command_is_plain_json_and_a_signed_one_is_bound_to_the_box() {
        let now = UNIX_EPOCH + Duration::from_millis(1_795_459_805_123);
        let plain = payload(
            "box-1",
            "t1",
            Command::SessionEnd,
            None,
            Duration::from_secs(120),
            now,
        );
        assert_eq!(plain, r#"{"id":"t1","cmd":"session.end","args":{}}"#);
        let pair = generate_keypair().unwrap();
        let token = payload(
            "box-1",
            "t2",
            Command::Reboot,
            Some(&pair.signing),
            Duration::from_secs(120),
            now,
        );
        let verified = verify_compact(&token, &[pair.public]).unwrap();
        let request = CommandRequest::parse(&verified).unwrap();
        assert_eq!(request.command, Command::Reboot);
        assert_eq!(
            request.binding,
            Some(CommandBinding {
                device_id: "box-1".into(),
                counter: 1_795_459_805_123,
                expires_at: 1_795_459_925,
            })
        );
    }
}
