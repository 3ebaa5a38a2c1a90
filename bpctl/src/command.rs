//! `bpctl session start|end`, `identify`, `keyframe`, `reboot`: one command,
//! one answer.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use rumqttc::{Packet, QoS};
use tokio::time::Instant;

use crate::broker::Mqtt;
use crate::cli::BrokerArgs;
use crate::payload::{
    check_device_id, fmt_secs, parse_command_result, parse_status, topic, Command,
};

/// How long to wait for the box's retained status after subscribing; the
/// broker sends it right after the SubAck, so this only delays the
/// "unknown device" error.
const STATUS_WAIT: Duration = Duration::from_millis(1000);

/// Sends `command` to `device` and waits for its result.
pub async fn run(broker: &BrokerArgs, device: &str, command: Command) -> Result<()> {
    check_device_id(device).map_err(|e| anyhow!(e))?;
    command.check().map_err(|e| anyhow!(e))?;
    let timeout = Duration::from_secs_f64(broker.timeout);
    let root = broker.topic_root.as_str();
    let status_topic = topic(root, device, "status");
    let result_topic = topic(root, device, "cmd/result");

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
            Some(Packet::Publish(p)) if p.topic == status_topic && !p.payload.is_empty() => {
                break Some(parse_status(&p.payload).map_err(|e| anyhow!("{device}: {e}"))?)
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
        Some(s) if !s.online => {
            mqtt.disconnect().await;
            bail!(
                "{device} is offline (its status says online:false); {} was not sent",
                command.name()
            );
        }
        Some(_) => {}
    }

    let id = uuid::Uuid::new_v4().to_string();
    mqtt.client()
        .publish(
            topic(root, device, "cmd"),
            QoS::AtLeastOnce,
            false,
            command.payload(&id),
        )
        .await
        .map_err(|e| anyhow!("cannot publish the command at {}: {e}", mqtt.addr))?;
    let deadline = Instant::now() + timeout;
    let answer = loop {
        match mqtt.next(deadline).await? {
            None => break None,
            Some(Packet::Publish(p)) if p.topic == result_topic => {
                match parse_command_result(&p.payload) {
                    Ok(r) if r.id.as_deref() == Some(id.as_str()) => break Some(r),
                    Ok(_) => {} // another caller's command
                    Err(e) => eprintln!("warning: {device}: unreadable result: {e}"),
                }
            }
            Some(Packet::Publish(p)) if p.topic == status_topic => {
                if parse_status(&p.payload).is_ok_and(|s| !s.online) {
                    mqtt.disconnect().await;
                    bail!(
                        "{device} went offline before answering {} (id {id})",
                        command.name()
                    );
                }
            }
            Some(_) => {}
        }
    };
    mqtt.disconnect().await;
    match answer {
        None => bail!(
            "no answer from {device} to {} within {} s (command id {id})",
            command.name(),
            fmt_secs(broker.timeout)
        ),
        Some(r) if r.ok => {
            crate::say("ok");
            Ok(())
        }
        Some(r) => bail!(
            "{device} refused {}: {}",
            command.name(),
            r.error.unwrap_or_else(|| "no reason given".into())
        ),
    }
}
