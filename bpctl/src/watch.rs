//! `bpctl watch`: events and telemetry as they come.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bridgepoint_mqtt::client::mqttbytes::v5::Packet;
use bridgepoint_mqtt::QoS;
use bridgepoint_proto::topics::split;
use bridgepoint_proto::{Leaf, Topics};
use tokio::time::Instant;

use crate::broker::{topic_of, LoopEvent, Mqtt};
use crate::cli::{BrokerArgs, WatchArgs};
use crate::targets::check_device_id;
use crate::watch_line::watch_line;

/// How many event ids are remembered for de-duplication.
const SEEN_IDS: usize = 10_000;

/// Runs `watch` until Ctrl-C or `--count` messages.
pub async fn run(broker: &BrokerArgs, args: &WatchArgs) -> Result<()> {
    let device = match &args.device {
        Some(d) => {
            check_device_id(d).map_err(|e| anyhow!(e))?;
            d.as_str()
        }
        None => "+",
    };
    let timeout = Duration::from_secs_f64(broker.timeout);
    let root = broker.topic_root.as_str();
    let topics = Topics::new(root, device);
    let subs = [
        (topics.topic(Leaf::Event), QoS::AtLeastOnce),
        (topics.topic(Leaf::Telemetry), QoS::AtMostOnce),
    ];
    let mut mqtt = Mqtt::connect(broker, timeout, true).await?;
    mqtt.subscribe(&subs, Instant::now() + timeout).await?;
    eprintln!("watching {} and {} (Ctrl-C to stop)", subs[0].0, subs[1].0);

    let mut seen: HashSet<String> = HashSet::new();
    let mut seen_order: VecDeque<String> = VecDeque::new();
    let mut printed = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let event = tokio::select! {
            _ = &mut ctrl_c => break,
            event = mqtt.next_event() => event,
        };
        match event {
            None => bail!("lost the broker at {}", mqtt.addr),
            Some(LoopEvent::Lost(why)) => {
                eprintln!("lost the broker at {}: {why}; reconnecting", mqtt.addr)
            }
            Some(LoopEvent::Packet(packet)) => match *packet {
                Packet::ConnAck(_) => {
                    // A clean session: subscribe again.
                    mqtt.resubscribe(&subs).await?;
                    eprintln!("reconnected to {}", mqtt.addr);
                }
                Packet::Publish(p) => {
                    let topic = topic_of(&p);
                    let Some((device, leaf)) = split(root, &topic) else {
                        continue;
                    };
                    if leaf != Leaf::Event && leaf != Leaf::Telemetry {
                        continue;
                    }
                    let watched = watch_line(device, leaf, &p.payload, args.json);
                    if let Some(id) = watched.event_id {
                        if !seen.insert(id.clone()) {
                            continue; // a redelivered event
                        }
                        seen_order.push_back(id);
                        if seen_order.len() > SEEN_IDS {
                            if let Some(old) = seen_order.pop_front() {
                                seen.remove(&old);
                            }
                        }
                    }
                    crate::say(&watched.line);
                    printed += 1;
                    if args.count.is_some_and(|n| printed >= n) {
                        break;
                    }
                }
                _ => {}
            },
        }
    }
    mqtt.disconnect().await;
    Ok(())
}
