//! The MQTT link: a task that owns the broker connection.
//!
//! Each connection attempt gets a fresh client (`bridgepoint_mqtt`'s one
//! setup, MQTT 5), so nothing is retransmitted behind the daemon's back.
//! Attempts back off from 1 s to 10 s with jitter (the core's `Backoff`),
//! so 700 boxes do not reconnect in the same second after a broker restart.
//!
//! What is published is never dropped when it matters:
//! - **retained** state (`status`, `config/reported`): the latest payload per
//!   topic is kept while offline and published again on every connect;
//! - **events** (outbox entries): while offline they stay in the daemon's
//!   outbox and come back on [`LinkEvent::Connected`]; while online they wait
//!   in this task's queue when rumqttc's request queue is full, and are
//!   published in order once it drains;
//! - only plain messages (telemetry, command results) are dropped while
//!   offline, and the oldest of them when the queue is very long.
//!
//! The box announces a maximum packet size at connect, so the broker drops
//! (and logs) a message too large for the box instead of sending it: one
//! oversize retained message can never cut the box off. Broker acks of
//! outbox events are matched to their publishes: rumqttc reports each
//! outgoing publish's packet id in request order, and the PubAck carries it
//! back.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bridgepoint_core::backoff::Backoff;
use bridgepoint_core::config::MqttConfig;
use bridgepoint_mqtt::client::mqttbytes::v5::{Packet, PubAckReason};
use bridgepoint_mqtt::client::{AsyncClient, Event};
use bridgepoint_mqtt::{ClientSettings, FileLabels, QoS, TlsFiles, Will};
use bridgepoint_proto::{Leaf, OfflineStatus, Status, Topics};
use rumqttc::Outgoing;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use super::publish_queue::Publish;
use super::publish_queue::PublishQueue;
use crate::DaemonError;

/// The largest packet the box takes from the broker, announced at connect.
/// Larger than any valid push or command (64 KiB, 16 KiB), so an oversized
/// one up to this size is read and refused with a report; the broker drops
/// anything larger for this box.
pub const MAX_INCOMING_PACKET: u32 = 256 * 1024;

/// How many requests wait for rumqttc's event loop.
const REQUEST_CAPACITY: usize = 512;

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the link reports to the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// Connected and subscribed.
    Connected,
    /// The connection was lost (or an attempt failed after having been up).
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A (retained or live) message on `config/desired`.
    Desired(Vec<u8>),
    /// A message on `cmd`.
    Command(Vec<u8>),
    /// The broker acknowledged the outbox event with this sequence number.
    Acked {
        /// The outbox sequence number.
        outbox_seq: u64,
    },
}

/// The main loop's side of the link.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    requests: mpsc::UnboundedSender<Publish>,
}

impl LinkHandle {
    /// Queues a publish; never waits.
    pub fn publish(&self, publish: Publish) {
        let _ = self.requests.send(publish);
    }
}

/// The box's client settings from its `[mqtt]` config: client id
/// `bridgepoint-<device_id>`, and the Last Will saying it is offline.
pub fn client_settings(config: &MqttConfig, device_id: &str, topics: &Topics) -> ClientSettings {
    let will = Status::Offline(OfflineStatus {
        device_id: device_id.to_owned(),
    });
    ClientSettings {
        broker: config.broker_url(),
        client_id: format!("bridgepoint-{device_id}"),
        keepalive: Duration::from_secs(u64::from(config.keepalive_s)),
        credentials: config
            .username
            .clone()
            .map(|u| (u, config.password.clone().unwrap_or_default())),
        tls: TlsFiles {
            ca: config.ca_file.clone(),
            client: config.cert_file.clone().zip(config.key_file.clone()),
        },
        labels: FileLabels::BOX,
        max_packet_bytes: MAX_INCOMING_PACKET,
        request_capacity: REQUEST_CAPACITY,
        will: Some(Will {
            topic: topics.topic(Leaf::Status),
            payload: will.to_json().into_bytes(),
            retain: true,
        }),
    }
}

/// Starts the link task. The settings are checked once here (TLS files
/// readable), so a bad path fails at start with its key named.
pub fn spawn(
    settings: ClientSettings,
    device_id: String,
    topics: Topics,
    events: mpsc::UnboundedSender<LinkEvent>,
    cancel: CancellationToken,
) -> Result<(LinkHandle, tokio::task::JoinHandle<()>), DaemonError> {
    settings.options().map_err(DaemonError::Mqtt)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let link = Link {
        settings,
        device_id,
        topics,
        events,
        requests: rx,
        queue: PublishQueue::new(),
    };
    let task = tokio::spawn(link.run(cancel));
    Ok((LinkHandle { requests: tx }, task))
}

/// The task's state across connections.
struct Link {
    settings: ClientSettings,
    device_id: String,
    topics: Topics,
    events: mpsc::UnboundedSender<LinkEvent>,
    requests: mpsc::UnboundedReceiver<Publish>,
    /// What waits to be published (and the retained state to send on connect).
    queue: PublishQueue,
}

/// One connection's bookkeeping.
#[derive(Default)]
struct Session {
    connected: bool,
    /// Tags of publishes handed to rumqttc, in order, until it assigns packet ids.
    awaiting: VecDeque<Option<u64>>,
    /// Packet id → outbox sequence number, until the PubAck.
    inflight: HashMap<u16, u64>,
}

impl Link {
    async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF).with_jitter(0.5);
        let broker = self.settings.broker.address();
        loop {
            let (client, mut eventloop) = match self.settings.client() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "mqtt: cannot set up the connection");
                    if sleep_or_cancel(
                        backoff.next_delay(bridgepoint_mqtt::jitter::random_unit()),
                        &cancel,
                    )
                    .await
                    {
                        return;
                    }
                    continue;
                }
            };
            let mut session = Session::default();
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => {
                        if session.connected {
                            // What the daemon handed over last (the answer to
                            // `reboot`, say) still goes out, before the goodbye.
                            while let Ok(p) = self.requests.try_recv() {
                                self.queue.accept(p);
                            }
                            let handed = self.drain_into(&client);
                            session.awaiting.extend(handed);
                            self.say_goodbye(&client, &mut eventloop).await;
                        }
                        return;
                    }
                    Some(p) = self.requests.recv() => {
                        if let Some(dropped) = self.queue.accept(p) {
                            tracing::warn!(topic = %dropped.leaf, "mqtt: a plain message dropped (the broker is slow)");
                        }
                    }
                    polled = eventloop.poll() => match polled {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            session.connected = true;
                            backoff.reset();
                            tracing::info!(broker = %broker, "mqtt: connected");
                            for leaf in [Leaf::ConfigDesired, Leaf::Cmd] {
                                let topic = self.topics.topic(leaf);
                                if let Err(e) = client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                                    tracing::error!(%topic, error = %e, "mqtt: cannot subscribe");
                                }
                            }
                            // The retained state as it is now, before anything newer.
                            self.queue.on_connected();
                            let _ = self.events.send(LinkEvent::Connected);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let payload = p.payload.to_vec();
                            let topic = String::from_utf8_lossy(&p.topic);
                            if topic == self.topics.topic(Leaf::ConfigDesired) {
                                let _ = self.events.send(LinkEvent::Desired(payload));
                            } else if topic == self.topics.topic(Leaf::Cmd) {
                                let _ = self.events.send(LinkEvent::Command(payload));
                            } else {
                                tracing::warn!(%topic, "mqtt: message on a topic the box does not use");
                            }
                        }
                        Ok(Event::Incoming(Packet::PubAck(ack))) => {
                            if let Some(seq) = session.inflight.remove(&ack.pkid) {
                                if matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) {
                                    let _ = self.events.send(LinkEvent::Acked { outbox_seq: seq });
                                } else {
                                    tracing::error!(seq, reason = ?ack.reason, "mqtt: the broker refused an event; it stays in the outbox (check the broker's ACL)");
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::Disconnect(d))) => {
                            tracing::warn!(reason = ?d.reason_code, "mqtt: the broker closed the connection");
                        }
                        Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                            if let Some(Some(seq)) = session.awaiting.pop_front() {
                                session.inflight.insert(pkid, seq);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let why = bridgepoint_mqtt::describe(&e);
                            if session.connected {
                                tracing::warn!(broker = %broker, error = %why, "mqtt: connection lost");
                                let _ = self.events.send(LinkEvent::Disconnected { reason: why });
                            } else {
                                tracing::warn!(broker = %broker, error = %why, "mqtt: cannot connect");
                            }
                            self.queue.on_disconnected();
                            break;
                        }
                    },
                }
                let handed = self.drain_into(&client);
                session.awaiting.extend(handed);
            }
            let delay = backoff.next_delay(bridgepoint_mqtt::jitter::random_unit());
            tracing::info!(
                retry_in_ms = delay.as_millis() as u64,
                "mqtt: reconnecting after a pause"
            );
            if sleep_or_cancel(delay, &cancel).await {
                return;
            }
        }
    }

    /// Hands queued publishes to the client while it has room (a full
    /// request queue: the rest wait for the next poll); returns their tags.
    fn drain_into(&mut self, client: &AsyncClient) -> Vec<Option<u64>> {
        let topics = &self.topics;
        self.queue.drain(|p| {
            let qos = if p.must_not_be_dropped() {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            client
                .try_publish(
                    topics.topic(p.leaf),
                    qos,
                    p.leaf.retained(),
                    p.payload.clone(),
                )
                .is_ok()
        })
    }

    /// On a clean stop the Will does not fire: say offline ourselves, then disconnect.
    async fn say_goodbye(
        &self,
        client: &AsyncClient,
        eventloop: &mut bridgepoint_mqtt::client::EventLoop,
    ) {
        let offline = Status::Offline(OfflineStatus {
            device_id: self.device_id.clone(),
        });
        let _ = client.try_publish(
            self.topics.topic(Leaf::Status),
            QoS::AtLeastOnce,
            true,
            offline.to_json(),
        );
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(event) = eventloop.poll().await {
                if let Event::Outgoing(Outgoing::Disconnect) = event {
                    break;
                }
            }
        })
        .await;
    }
}

/// Sleeps; returns true if cancelled meanwhile.
async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
