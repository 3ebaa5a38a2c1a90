//! The broker connection: the shared client setup (`bridgepoint-mqtt`) from
//! the flags, and a connection whose event loop runs in its own task so
//! publishing never stalls reading.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bridgepoint_core::backoff::Backoff;
use bridgepoint_mqtt::client::mqttbytes::v5::{Filter, Packet, SubscribeReasonCode};
use bridgepoint_mqtt::client::{AsyncClient, Event};
use bridgepoint_mqtt::{ClientSettings, FileLabels, QoS, TlsFiles};
use bridgepoint_proto::validate::check_topic_root;
use bridgepoint_proto::BrokerUrl;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::BrokerArgs;
use crate::outcome::fmt_secs;

/// Largest packet bpctl takes, announced to the broker: a misbehaving
/// publisher's huge retained message is dropped by the broker for bpctl
/// instead of breaking `list` or `watch`.
const MAX_PACKET: u32 = 1024 * 1024;
/// Reconnect back-off for `watch`.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Checks the flag combinations that need no files; returns the broker URL.
pub fn check_flags(args: &BrokerArgs) -> Result<BrokerUrl, String> {
    let url = args
        .url
        .as_deref()
        .ok_or("--url (or BPCTL_URL) is required, e.g. --url mqtts://broker.example.vn:8883")?;
    let url = BrokerUrl::parse(url).map_err(|e| format!("--url {e}"))?;
    if !url.tls && !args.allow_plaintext {
        return Err("mqtt:// sends configs and SRTP keys in the clear; use mqtts:// or add --allow-plaintext (development only)".into());
    }
    if !url.tls && (args.ca_file.is_some() || args.cert_file.is_some() || args.key_file.is_some()) {
        return Err("--ca-file/--cert-file/--key-file need an mqtts:// --url".into());
    }
    match (&args.cert_file, &args.key_file) {
        (Some(_), None) => return Err("--cert-file needs --key-file (mutual TLS)".into()),
        (None, Some(_)) => return Err("--key-file needs --cert-file (mutual TLS)".into()),
        _ => {}
    }
    if args.password.is_some() && args.username.is_none() {
        return Err("--password needs --username".into());
    }
    check_topic_root(&args.topic_root).map_err(|e| format!("--topic-root {e}"))?;
    if let Some(id) = &args.client_id {
        if id.is_empty() || id.starts_with(' ') || id.len() > 256 {
            return Err(format!(
                "--client-id must be 1 to 256 characters and not start with a space, got {id:?}"
            ));
        }
    }
    Ok(url)
}

/// The client settings for the flags.
pub fn client_settings(args: &BrokerArgs) -> Result<ClientSettings> {
    let broker = check_flags(args).map_err(|e| anyhow!(e))?;
    let client_id = args.client_id.clone().unwrap_or_else(|| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("bpctl-{}", &random[..12])
    });
    Ok(ClientSettings {
        broker,
        client_id,
        keepalive: Duration::from_secs(30),
        credentials: args
            .username
            .clone()
            .map(|u| (u, args.password.clone().unwrap_or_default())),
        tls: TlsFiles {
            ca: args.ca_file.clone(),
            client: args.cert_file.clone().zip(args.key_file.clone()),
        },
        labels: FileLabels::BPCTL,
        max_packet_bytes: MAX_PACKET,
        request_capacity: 256,
        will: None,
    })
}

/// What the event-loop task hands over.
#[derive(Debug)]
pub enum LoopEvent {
    /// An incoming packet (ConnAck, Publish, SubAck, PubAck, ...).
    Packet(Box<Packet>),
    /// The connection failed or was lost, with the reason.
    Lost(String),
}

/// A connection to the broker.
pub struct Mqtt {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<LoopEvent>,
    held: VecDeque<Packet>,
    /// `host:port`, for messages.
    pub addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl Mqtt {
    /// Connects and waits for the broker's ConnAck (up to `timeout`). With
    /// `reconnect`, a connection lost later is retried with back-off and
    /// reported as [`LoopEvent::Lost`] followed by a new ConnAck; without, a
    /// loss ends the connection.
    pub async fn connect(args: &BrokerArgs, timeout: Duration, reconnect: bool) -> Result<Mqtt> {
        let settings = client_settings(args)?;
        let addr = settings.broker.address();
        let (client, mut eventloop) = settings.client()?;
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF).with_jitter(0.5);
            let mut connected_once = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(packet)) => {
                        if matches!(packet, Packet::ConnAck(_)) {
                            connected_once = true;
                            backoff.reset();
                        }
                        if tx.send(LoopEvent::Packet(Box::new(packet))).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                        // Give the DISCONNECT a moment to be written, then stop.
                        let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll())
                            .await;
                        return;
                    }
                    Ok(Event::Outgoing(_)) => {}
                    Err(e) => {
                        let _ = tx.send(LoopEvent::Lost(bridgepoint_mqtt::describe(&e)));
                        if !(reconnect && connected_once) {
                            return;
                        }
                        let delay = backoff.next_delay(bridgepoint_mqtt::jitter::random_unit());
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        });
        let mut mqtt = Mqtt {
            client,
            events,
            held: VecDeque::new(),
            addr,
            task,
        };
        let deadline = Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, mqtt.events.recv()).await {
                Err(_) => bail!(
                    "cannot connect to the broker at {}: no answer within {} s",
                    mqtt.addr,
                    fmt_secs(timeout.as_secs_f64())
                ),
                Ok(None) => bail!(
                    "cannot connect to the broker at {}: the connection closed",
                    mqtt.addr
                ),
                Ok(Some(LoopEvent::Lost(why))) => {
                    bail!("cannot connect to the broker at {}: {why}", mqtt.addr)
                }
                Ok(Some(LoopEvent::Packet(p))) if matches!(*p, Packet::ConnAck(_)) => {
                    return Ok(mqtt)
                }
                Ok(Some(LoopEvent::Packet(_))) => {}
            }
        }
    }

    /// A handle for publishing from another task.
    pub fn client(&self) -> AsyncClient {
        self.client.clone()
    }

    /// The next incoming packet, or `None` at `deadline`. A lost connection is an error.
    pub async fn next(&mut self, deadline: Instant) -> Result<Option<Packet>> {
        if let Some(p) = self.held.pop_front() {
            return Ok(Some(p));
        }
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(LoopEvent::Packet(p))) => Ok(Some(*p)),
            Ok(Some(LoopEvent::Lost(why))) => bail!("lost the broker at {}: {why}", self.addr),
            Ok(None) => bail!("lost the broker at {}: the connection closed", self.addr),
        }
    }

    /// The next event including connection losses (for `watch`, which reconnects).
    pub async fn next_event(&mut self) -> Option<LoopEvent> {
        if let Some(p) = self.held.pop_front() {
            return Some(LoopEvent::Packet(Box::new(p)));
        }
        self.events.recv().await
    }

    /// Subscribes and waits for the SubAck; messages that arrive meanwhile
    /// are kept for [`Mqtt::next`]. A refused topic (broker ACL) is an error.
    pub async fn subscribe(&mut self, topics: &[(String, QoS)], deadline: Instant) -> Result<()> {
        self.client
            .subscribe_many(filters(topics))
            .await
            .map_err(|e| anyhow!("cannot subscribe at {}: {e}", self.addr))?;
        let mut early = VecDeque::new();
        let result = loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => {
                    break Err(anyhow!(
                        "the broker at {} did not acknowledge the subscription in time",
                        self.addr
                    ))
                }
                Ok(Some(LoopEvent::Packet(p))) => match *p {
                    Packet::SubAck(ack) => {
                        let refused: Vec<&str> = ack
                            .return_codes
                            .iter()
                            .zip(topics)
                            .filter(|(code, _)| !matches!(code, SubscribeReasonCode::Success(_)))
                            .map(|(_, (t, _))| t.as_str())
                            .collect();
                        if refused.is_empty() {
                            break Ok(());
                        }
                        break Err(anyhow!(
                            "the broker refused the subscription to {} (does the broker's ACL let this client read there?)",
                            refused.join(", ")
                        ));
                    }
                    other => early.push_back(other),
                },
                Ok(Some(LoopEvent::Lost(why))) => {
                    break Err(anyhow!("lost the broker at {}: {why}", self.addr))
                }
                Ok(None) => {
                    break Err(anyhow!(
                        "lost the broker at {}: the connection closed",
                        self.addr
                    ))
                }
            }
        };
        self.held.extend(early);
        result
    }

    /// Subscribes again without waiting (after a reconnect in `watch`).
    pub async fn resubscribe(&self, topics: &[(String, QoS)]) -> Result<()> {
        self.client
            .subscribe_many(filters(topics))
            .await
            .map_err(|e| anyhow!("cannot subscribe again at {}: {e}", self.addr))
    }

    /// Sends DISCONNECT and lets the event loop finish.
    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(500), self.task).await;
    }
}

fn filters(topics: &[(String, QoS)]) -> Vec<Filter> {
    topics
        .iter()
        .map(|(t, q)| Filter::new(t.clone(), *q))
        .collect()
}

/// A publish's topic as text.
pub fn topic_of(p: &bridgepoint_mqtt::client::mqttbytes::v5::Publish) -> String {
    String::from_utf8_lossy(&p.topic).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn args(extra: &[&str]) -> BrokerArgs {
        let cli = crate::cli::Cli::try_parse_from(["bpctl", "list"].iter().chain(extra)).unwrap();
        cli.broker
    }

    #[test]
    fn flag_combinations_are_checked() {
        assert!(check_flags(&args(&[])).unwrap_err().contains("--url"));
        assert!(check_flags(&args(&["--url", "http://x"]))
            .unwrap_err()
            .starts_with("--url must start with mqtts://"));
        assert!(check_flags(&args(&["--url", "mqtt://h"]))
            .unwrap_err()
            .contains("--allow-plaintext"));
        assert!(check_flags(&args(&["--url", "mqtt://h", "--allow-plaintext"])).is_ok());
        assert!(check_flags(&args(&[
            "--url",
            "mqtt://h",
            "--allow-plaintext",
            "--ca-file",
            "ca.pem"
        ]))
        .unwrap_err()
        .contains("mqtts://"));
        assert!(
            check_flags(&args(&["--url", "mqtts://h", "--cert-file", "c.pem"]))
                .unwrap_err()
                .contains("--key-file")
        );
        assert!(
            check_flags(&args(&["--url", "mqtts://h", "--key-file", "k.pem"]))
                .unwrap_err()
                .contains("--cert-file")
        );
        assert!(
            check_flags(&args(&["--url", "mqtts://h", "--password", "p"]))
                .unwrap_err()
                .contains("--username")
        );
        assert!(
            check_flags(&args(&["--url", "mqtts://h", "--topic-root", "a/#"]))
                .unwrap_err()
                .contains("--topic-root")
        );
        assert!(
            check_flags(&args(&["--url", "mqtts://h", "--client-id", ""]))
                .unwrap_err()
                .contains("--client-id")
        );
    }

    #[test]
    fn missing_or_bad_tls_files_are_named_by_their_flag() {
        let settings = client_settings(&args(&[
            "--url",
            "mqtts://h",
            "--ca-file",
            "/nonexistent/ca.pem",
        ]))
        .unwrap();
        let e = settings.options().unwrap_err().to_string();
        assert!(e.contains("--ca-file /nonexistent/ca.pem"), "{e}");
    }
}
