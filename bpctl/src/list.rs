//! `bpctl list`: the boxes' retained statuses and last reports.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use bridgepoint_mqtt::client::mqttbytes::v5::Packet;
use bridgepoint_mqtt::QoS;
use bridgepoint_proto::topics::split;
use bridgepoint_proto::{ConfigReported, Leaf, Status, Topics};
use tokio::time::Instant;

use crate::broker::{topic_of, Mqtt};
use crate::cli::{BrokerArgs, ListArgs};
use crate::list_table::{render_table, BoxRow};

/// Retained messages are collected until none came for this long.
const IDLE: Duration = Duration::from_millis(500);

/// Runs `list`.
pub async fn run(broker: &BrokerArgs, args: &ListArgs) -> Result<()> {
    let timeout = Duration::from_secs_f64(broker.timeout);
    let root = broker.topic_root.as_str();
    let mut mqtt = Mqtt::connect(broker, timeout, false).await?;
    // QoS 0: retained messages for hundreds of boxes are then not held back
    // by the broker's in-flight limit for QoS 1.
    let every = Topics::every_device(root);
    let subs = [
        (every.topic(Leaf::Status), QoS::AtMostOnce),
        (every.topic(Leaf::ConfigReported), QoS::AtMostOnce),
    ];
    mqtt.subscribe(&subs, Instant::now() + timeout).await?;
    let mut rows: BTreeMap<String, BoxRow> = BTreeMap::new();
    let hard_deadline = Instant::now() + timeout;
    loop {
        let deadline = (Instant::now() + IDLE).min(hard_deadline);
        let Some(packet) = mqtt.next(deadline).await? else {
            break;
        };
        let Packet::Publish(p) = packet else { continue };
        let topic = topic_of(&p);
        let Some((device, leaf)) = split(root, &topic) else {
            continue;
        };
        if p.payload.is_empty() {
            continue; // a cleared retained message
        }
        let row = rows.entry(device.to_owned()).or_insert_with(|| BoxRow {
            device: device.to_owned(),
            ..BoxRow::default()
        });
        match leaf {
            Leaf::Status => match Status::parse(&p.payload) {
                Ok(s) => row.status = Some(s),
                Err(e) => eprintln!("warning: {device}: {e}"),
            },
            Leaf::ConfigReported => match ConfigReported::parse(&p.payload) {
                Ok(r) => row.report = Some(r),
                Err(e) => eprintln!("warning: {device}: {e}"),
            },
            _ => {}
        }
    }
    mqtt.disconnect().await;
    let rows: Vec<BoxRow> = rows.into_values().collect();
    if args.json {
        let doc = serde_json::Value::Array(rows.iter().map(BoxRow::to_json).collect());
        crate::say(&doc.to_string());
    } else {
        crate::say(render_table(&rows).trim_end());
    }
    Ok(())
}
