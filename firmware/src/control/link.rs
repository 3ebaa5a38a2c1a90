//! The MQTT link: a task that owns the broker connection.
//!
//! Each connection attempt gets a fresh rumqttc client, so nothing is
//! retransmitted behind the daemon's back: after a reconnect the daemon
//! republishes its retained state and resends the outbox from the store.
//! Attempts back off from 1 s to 10 s. Publishes requested while offline
//! are dropped here; durable ones (events) live in the outbox and are sent
//! again on [`LinkEvent::Connected`].
//!
//! Broker acks of outbox events are matched to their publishes: rumqttc
//! reports each outgoing publish's packet id in request order, and the
//! PubAck carries it back.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bridgepoint_core::config::MqttConfig;
use rumqttc::{AsyncClient, Event, Outgoing, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::messages;
use super::options::mqtt_options;
use super::Topics;
use crate::DaemonError;

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

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Publish {
    /// Full topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Retained or not.
    pub retain: bool,
    /// The outbox entry it carries, if any (QoS 1, ack reported).
    pub outbox_seq: Option<u64>,
}

/// The main loop's side of the link.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    requests: mpsc::UnboundedSender<Publish>,
}

impl LinkHandle {
    /// Queues a publish; never waits.
    pub fn publish(
        &self,
        topic: String,
        payload: impl Into<Vec<u8>>,
        retain: bool,
        outbox_seq: Option<u64>,
    ) {
        let _ = self.requests.send(Publish {
            topic,
            payload: payload.into(),
            retain,
            outbox_seq,
        });
    }
}

/// Starts the link task. The options are checked once here (TLS files
/// readable), so a bad path fails at start with its key named.
pub fn spawn(
    config: MqttConfig,
    device_id: String,
    topics: Topics,
    events: mpsc::UnboundedSender<LinkEvent>,
    cancel: CancellationToken,
) -> Result<(LinkHandle, tokio::task::JoinHandle<()>), DaemonError> {
    super::options::install_crypto_provider();
    mqtt_options(&config, &device_id, &topics)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(config, device_id, topics, events, rx, cancel));
    Ok((LinkHandle { requests: tx }, task))
}

async fn run(
    config: MqttConfig,
    device_id: String,
    topics: Topics,
    events: mpsc::UnboundedSender<LinkEvent>,
    mut requests: mpsc::UnboundedReceiver<Publish>,
    cancel: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    let broker = format!("{}:{}", config.host, config.port);
    loop {
        let options = match mqtt_options(&config, &device_id, &topics) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "mqtt: cannot build connection options");
                if sleep_or_cancel(backoff, &cancel).await {
                    return;
                }
                continue;
            }
        };
        let (client, mut eventloop) = AsyncClient::new(options, 512);
        // Control messages are small: without TCP_NODELAY, Nagle's algorithm
        // and delayed ACKs add ~40 ms to every round trip.
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        // Tags of publishes handed to rumqttc, in order, until it assigns packet ids.
        let mut awaiting: VecDeque<Option<u64>> = VecDeque::new();
        let mut inflight: HashMap<u16, u64> = HashMap::new();
        let mut connected = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    if connected {
                        say_goodbye(&client, &mut eventloop, &topics, &device_id).await;
                    }
                    return;
                }
                Some(p) = requests.recv() => {
                    if !connected {
                        continue; // durable messages come back from the outbox on reconnect
                    }
                    let qos = if p.outbox_seq.is_some() || p.retain { QoS::AtLeastOnce } else { QoS::AtMostOnce };
                    match client.try_publish(p.topic.clone(), qos, p.retain, p.payload) {
                        Ok(()) => awaiting.push_back(p.outbox_seq),
                        Err(e) => tracing::warn!(topic = %p.topic, error = %e, "mqtt: publish dropped (queue full)"),
                    }
                }
                polled = eventloop.poll() => match polled {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        backoff = MIN_BACKOFF;
                        tracing::info!(broker = %broker, "mqtt: connected");
                        for topic in [topics.desired(), topics.cmd()] {
                            if let Err(e) = client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                                tracing::error!(%topic, error = %e, "mqtt: cannot subscribe");
                            }
                        }
                        let _ = events.send(LinkEvent::Connected);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let payload = p.payload.to_vec();
                        if p.topic == topics.desired() {
                            let _ = events.send(LinkEvent::Desired(payload));
                        } else if p.topic == topics.cmd() {
                            let _ = events.send(LinkEvent::Command(payload));
                        } else {
                            tracing::warn!(topic = %p.topic, "mqtt: message on a topic the box does not use");
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(seq) = inflight.remove(&ack.pkid) {
                            let _ = events.send(LinkEvent::Acked { outbox_seq: seq });
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Some(Some(seq)) = awaiting.pop_front() {
                            inflight.insert(pkid, seq);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if connected {
                            tracing::warn!(broker = %broker, error = %e, "mqtt: connection lost");
                            let _ = events.send(LinkEvent::Disconnected { reason: e.to_string() });
                        } else {
                            tracing::warn!(broker = %broker, error = %e, retry_in_s = backoff.as_secs(), "mqtt: cannot connect");
                        }
                        break;
                    }
                },
            }
        }
        if sleep_or_cancel(backoff, &cancel).await {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sleeps; returns true if cancelled meanwhile.
async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// On a clean stop the Will does not fire: say offline ourselves, then disconnect.
async fn say_goodbye(
    client: &AsyncClient,
    eventloop: &mut rumqttc::EventLoop,
    topics: &Topics,
    device_id: &str,
) {
    let _ = client.try_publish(
        topics.status(),
        QoS::AtLeastOnce,
        true,
        messages::offline_status(device_id),
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
