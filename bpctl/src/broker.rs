//! The broker connection: options from the flags, and a connection whose
//! event loop runs in its own task so publishing never stalls reading.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS,
    SubscribeReasonCode, TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::BrokerArgs;
use crate::payload::check_topic_root;

/// System CA bundle used when `--ca-file` is not given (as on the box).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Largest packet read or written (a push is at most 64 KiB; list and watch
/// read small messages, but a misbehaving publisher must not break bpctl).
const MAX_PACKET: usize = 1024 * 1024;
/// Reconnect back-off for `watch`.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the broker is, parsed from `--url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// `mqtts://`.
    pub tls: bool,
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Parses `mqtts://host[:port]` / `mqtt://host[:port]` like the box does.
pub fn parse_url(url: &str) -> Result<BrokerUrl, String> {
    // The box's own parser: bpctl and the box read a URL the same way.
    let (tls, host, port) =
        bridgepoint_core::config::parse_mqtt_url(url).map_err(|e| format!("--url {e}"))?;
    Ok(BrokerUrl { tls, host, port })
}

/// Checks the flag combinations that need no files.
pub fn check_flags(args: &BrokerArgs) -> Result<BrokerUrl, String> {
    let url = args
        .url
        .as_deref()
        .ok_or("--url (or BPCTL_URL) is required, e.g. --url mqtts://broker.example.vn:8883")?;
    let url = parse_url(url)?;
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
    check_topic_root(&args.topic_root)?;
    if let Some(id) = &args.client_id {
        if id.is_empty() || id.starts_with(' ') || id.len() > 256 {
            return Err(format!(
                "--client-id must be 1 to 256 characters and not start with a space, got {id:?}"
            ));
        }
    }
    Ok(url)
}

fn read_pem(flag: &str, path: &Path, what: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{flag} {}: cannot read it", path.display()))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        bail!(
            "{flag} {}: no PEM {what} in it (expected a -----BEGIN ...----- block)",
            path.display()
        );
    }
    Ok(bytes)
}

/// The rumqttc options for the flags.
pub fn mqtt_options(args: &BrokerArgs) -> Result<(MqttOptions, BrokerUrl)> {
    let url = check_flags(args).map_err(|e| anyhow!(e))?;
    let client_id = args.client_id.clone().unwrap_or_else(|| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("bpctl-{}", &random[..12])
    });
    let mut options = MqttOptions::new(client_id, url.host.clone(), url.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    options.set_request_channel_capacity(256);
    if let Some(user) = &args.username {
        options.set_credentials(user.clone(), args.password.clone().unwrap_or_default());
    }
    if url.tls {
        let ca = match &args.ca_file {
            Some(path) => read_pem("--ca-file", path, "certificate")?,
            None => read_pem(
                "--ca-file (default: system bundle)",
                Path::new(SYSTEM_CA_BUNDLE),
                "certificate",
            )?,
        };
        let client_auth = match (&args.cert_file, &args.key_file) {
            (Some(cert), Some(key)) => Some((
                read_pem("--cert-file", cert, "certificate")?,
                read_pem("--key-file", key, "private key")?,
            )),
            _ => None,
        };
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
    }
    Ok((options, url))
}

/// What the event-loop task hands over.
#[derive(Debug)]
pub enum LoopEvent {
    /// An incoming packet (ConnAck, Publish, SubAck, PubAck, ...).
    Packet(Packet),
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

/// Why rumqttc gave up, in words that say what to fix.
fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => {
                    "bad user name or password (--username/--password)"
                }
                ConnectReturnCode::NotAuthorized => {
                    "not authorized (check the client certificate or credentials)"
                }
                ConnectReturnCode::BadClientId => "client id refused (--client-id)",
                ConnectReturnCode::ServiceUnavailable => "service unavailable",
                ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not supported",
                ConnectReturnCode::Success => "success?",
            };
            format!("the broker refused the connection: {why}")
        }
        ConnectionError::Tls(e) => format!(
            "TLS failed: {e} (check --ca-file, --cert-file, --key-file and the host name in --url)"
        ),
        ConnectionError::Io(e) => e.to_string(),
        ConnectionError::NetworkTimeout => "no answer (network timeout)".into(),
        other => other.to_string(),
    }
}

impl Mqtt {
    /// Connects and waits for the broker's ConnAck (up to `timeout`). With
    /// `reconnect`, a connection lost later is retried with back-off and
    /// reported as [`LoopEvent::Lost`] followed by a new ConnAck; without, a
    /// loss ends the connection.
    pub async fn connect(args: &BrokerArgs, timeout: Duration, reconnect: bool) -> Result<Mqtt> {
        let (options, url) = mqtt_options(args)?;
        let addr = format!("{}:{}", url.host, url.port);
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        // Small messages, answered in turn: no Nagle delay.
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut backoff = MIN_BACKOFF;
            let mut connected_once = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(packet)) => {
                        if matches!(packet, Packet::ConnAck(_)) {
                            connected_once = true;
                            backoff = MIN_BACKOFF;
                        }
                        if tx.send(LoopEvent::Packet(packet)).is_err() {
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
                        let _ = tx.send(LoopEvent::Lost(describe(&e)));
                        if !(reconnect && connected_once) {
                            return;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
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
                    crate::payload::fmt_secs(timeout.as_secs_f64())
                ),
                Ok(None) => bail!(
                    "cannot connect to the broker at {}: the connection closed",
                    mqtt.addr
                ),
                Ok(Some(LoopEvent::Lost(why))) => {
                    bail!("cannot connect to the broker at {}: {why}", mqtt.addr)
                }
                Ok(Some(LoopEvent::Packet(Packet::ConnAck(_)))) => return Ok(mqtt),
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
            Ok(Some(LoopEvent::Packet(p))) => Ok(Some(p)),
            Ok(Some(LoopEvent::Lost(why))) => bail!("lost the broker at {}: {why}", self.addr),
            Ok(None) => bail!("lost the broker at {}: the connection closed", self.addr),
        }
    }

    /// The next event including connection losses (for `watch`, which reconnects).
    pub async fn next_event(&mut self) -> Option<LoopEvent> {
        if let Some(p) = self.held.pop_front() {
            return Some(LoopEvent::Packet(p));
        }
        self.events.recv().await
    }

    /// Subscribes and waits for the SubAck; messages that arrive meanwhile
    /// are kept for [`Mqtt::next`]. A refused topic (broker ACL) is an error.
    pub async fn subscribe(&mut self, topics: &[(String, QoS)], deadline: Instant) -> Result<()> {
        let filters = topics
            .iter()
            .map(|(t, q)| rumqttc::SubscribeFilter::new(t.clone(), *q))
            .collect::<Vec<_>>();
        self.client
            .subscribe_many(filters)
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
                Ok(Some(LoopEvent::Packet(Packet::SubAck(ack)))) => {
                    let refused: Vec<&str> = ack
                        .return_codes
                        .iter()
                        .zip(topics)
                        .filter(|(code, _)| matches!(code, SubscribeReasonCode::Failure))
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
                Ok(Some(LoopEvent::Packet(p))) => early.push_back(p),
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

    /// Sends DISCONNECT and lets the event loop finish.
    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(500), self.task).await;
    }
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
    fn urls_parse_like_on_the_box() {
        assert_eq!(
            parse_url("mqtts://broker.example.vn").unwrap(),
            BrokerUrl {
                tls: true,
                host: "broker.example.vn".into(),
                port: 8883
            }
        );
        assert_eq!(
            parse_url("mqtt://127.0.0.1:1884").unwrap(),
            BrokerUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 1884
            }
        );
        assert_eq!(parse_url("mqtts://[::1]:8884/").unwrap().host, "::1");
        assert!(parse_url("http://x").unwrap_err().contains("mqtts://"));
        assert!(parse_url("mqtts://x:0").unwrap_err().contains("port"));
        assert!(parse_url("mqtts://x:http").unwrap_err().contains("port"));
        assert!(parse_url("mqtts://").unwrap_err().contains("host"));
        assert!(parse_url("mqtts://user@x").unwrap_err().contains("host"));
    }

    #[test]
    fn flag_combinations_are_checked() {
        assert!(check_flags(&args(&[])).unwrap_err().contains("--url"));
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
    fn missing_or_bad_tls_files_are_named() {
        let e = mqtt_options(&args(&[
            "--url",
            "mqtts://h",
            "--ca-file",
            "/nonexistent/ca.pem",
        ]))
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("--ca-file /nonexistent/ca.pem"),
            "{e:#}"
        );
        let dir =
            std::env::temp_dir().join(format!("bpctl-unit-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a pem").unwrap();
        let e = mqtt_options(&args(&[
            "--url",
            "mqtts://h",
            "--ca-file",
            junk.to_str().unwrap(),
        ]))
        .unwrap_err();
        assert!(format!("{e:#}").contains("no PEM certificate"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
