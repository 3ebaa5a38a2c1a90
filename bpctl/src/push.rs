//! `bpctl push`: sign, publish retained, wait for the boxes' reports.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use bridgepoint_mqtt::client::mqttbytes::v5::Packet;
use bridgepoint_mqtt::QoS;
use bridgepoint_proto::push::MAX_PUSH_BYTES;
use bridgepoint_proto::topics::split;
use bridgepoint_proto::{ConfigReported, Leaf, PushPayload, Status, Topics};
use bridgepoint_signing::sign_compact;
use tokio::time::Instant;

use crate::broker::{topic_of, Mqtt};
use crate::cli::{BrokerArgs, PushArgs};
use crate::keygen::load_signing_key;
use crate::outcome::{fmt_secs, outcome_line, push_summary, Outcome};
use crate::push_file::{choose_version, parse_push_file};
use crate::targets::{check_device_id, split_push_targets};

/// Above this many targets, progress goes to stderr.
const PROGRESS_FROM: usize = 20;
/// `--all`: retained statuses are collected until none came for this long.
const DISCOVERY_IDLE: Duration = Duration::from_millis(500);

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Progress on stderr for big pushes.
struct Progress {
    total: usize,
    tty: bool,
    shown: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn show(&mut self, what: &str, done: usize) {
        if self.total < PROGRESS_FROM {
            return;
        }
        if self.tty {
            eprint!("\r{what} {done}/{}   ", self.total);
            self.shown = true;
            if done == self.total {
                eprintln!();
                self.shown = false;
            }
        } else if done.is_multiple_of(100) || done == self.total {
            eprintln!("{what} {done}/{}", self.total);
        }
    }

    fn clear(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}

/// Runs `push`.
pub async fn run(broker: &BrokerArgs, args: &PushArgs) -> Result<ExitCode> {
    let (devices, config_path) =
        split_push_targets(args.all, &args.args).map_err(|e| anyhow!(e))?;
    let config_path = Path::new(&config_path);
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("config file {}: cannot read it", config_path.display()))?;
    let file = parse_push_file(&text)
        .map_err(|e| anyhow!("config file {}: {e}", config_path.display()))?;
    if let Some(for_device) = &file.device_id {
        if args.all || devices.iter().any(|d| d != for_device) {
            bail!(
                "config file {} is for device {for_device:?} (its \"device_id\"); push it to that box only, or remove \"device_id\" from the file",
                config_path.display()
            );
        }
    }
    let key = match (&args.key, args.unsigned) {
        (_, true) => None,
        (Some(path), false) => Some(load_signing_key(path)?),
        (None, false) => bail!(
            "--key PREFIX.key.jwk is required (or --unsigned for boxes without trust.config_keys)"
        ),
    };
    let version =
        choose_version(args.version, file.version, now_unix_ms()).map_err(|e| anyhow!(e))?;
    let timeout = Duration::from_secs_f64(broker.timeout);
    let timeout_text = fmt_secs(broker.timeout);
    let root = broker.topic_root.as_str();

    let mut mqtt = Mqtt::connect(broker, timeout, false).await?;
    let mut statuses: HashMap<String, Option<Status>> = HashMap::new();

    // Subscribe to the reports (and statuses) BEFORE publishing.
    let targets: Vec<String> = if args.all {
        let every = Topics::every_device(root);
        let subs = [
            (every.topic(Leaf::Status), QoS::AtMostOnce),
            (every.topic(Leaf::ConfigReported), QoS::AtMostOnce),
        ];
        mqtt.subscribe(&subs, Instant::now() + timeout).await?;
        let hard_deadline = Instant::now() + timeout;
        loop {
            let deadline = (Instant::now() + DISCOVERY_IDLE).min(hard_deadline);
            let Some(packet) = mqtt.next(deadline).await? else {
                break;
            };
            if let Packet::Publish(p) = packet {
                let topic = topic_of(&p);
                if let Some((device, Leaf::Status)) = split(root, &topic) {
                    if p.payload.is_empty() {
                        statuses.remove(device);
                    } else if check_device_id(device).is_ok() {
                        statuses.insert(device.to_owned(), Status::parse(&p.payload).ok());
                    } else {
                        eprintln!("warning: skipping {topic:?}: not a valid device id");
                    }
                }
            }
        }
        let mut found: Vec<String> = statuses.keys().cloned().collect();
        found.sort();
        if found.is_empty() {
            bail!("--all found no boxes: no retained status under {root}/+/status (check --topic-root)");
        }
        eprintln!("pushing version {version} to {} boxes", found.len());
        found
    } else {
        let subs: Vec<(String, QoS)> = devices
            .iter()
            .flat_map(|d| {
                let topics = Topics::new(root, d);
                [
                    (topics.topic(Leaf::Status), QoS::AtMostOnce),
                    (topics.topic(Leaf::ConfigReported), QoS::AtLeastOnce),
                ]
            })
            .collect();
        mqtt.subscribe(&subs, Instant::now() + timeout).await?;
        devices
    };

    // One token per box: the device id is inside what is signed.
    let mut tokens = Vec::with_capacity(targets.len());
    for device in &targets {
        let payload = PushPayload {
            version,
            device_id: Some(device.clone()),
            config: file.config.clone(),
        }
        .to_json();
        let token = match &key {
            Some(key) => sign_compact(payload.as_bytes(), key),
            None => payload,
        };
        if token.len() > MAX_PUSH_BYTES {
            bail!(
                "config file {}: the push for {device} is {} bytes, boxes read at most {MAX_PUSH_BYTES}",
                config_path.display(),
                token.len()
            );
        }
        tokens.push((Topics::new(root, device).topic(Leaf::ConfigDesired), token));
    }

    let client = mqtt.client();
    let publisher = tokio::spawn(async move {
        for (topic, token) in tokens {
            if let Err(e) = client.publish(topic, QoS::AtLeastOnce, true, token).await {
                return Err(e.to_string());
            }
        }
        Ok(())
    });

    let total = targets.len();
    let wanted: HashSet<&str> = targets.iter().map(String::as_str).collect();
    let mut progress = Progress::new(total);
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut acked = 0usize;
    // While publishing, the deadline moves with every acknowledgement; once
    // all are in, the boxes get `timeout` to report.
    let mut deadline = Instant::now() + timeout;
    while outcomes.len() < total || acked < total {
        let Some(packet) = mqtt.next(deadline).await? else {
            break;
        };
        match packet {
            Packet::PubAck(_) => {
                acked += 1;
                progress.show("pushing", acked);
                deadline = Instant::now() + timeout;
            }
            Packet::Publish(p) => {
                let topic = topic_of(&p);
                let Some((device, leaf)) = split(root, &topic) else {
                    continue;
                };
                if !wanted.contains(device) {
                    continue;
                }
                let device = device.to_owned();
                match leaf {
                    Leaf::Status if !p.payload.is_empty() => {
                        statuses.insert(device, Status::parse(&p.payload).ok());
                    }
                    // A retained report is from before this push.
                    Leaf::ConfigReported if !p.retain && !outcomes.contains_key(&device) => {
                        let report = match ConfigReported::parse(&p.payload) {
                            Ok(r) => r,
                            Err(e) => {
                                eprintln!("warning: {device}: unreadable report: {e}");
                                continue;
                            }
                        };
                        if let Some(result) = report.outcome_for(version) {
                            let outcome = match result {
                                Ok(()) => Outcome::Applied,
                                Err(reason) => Outcome::Rejected(reason),
                            };
                            progress.clear();
                            crate::say(&outcome_line(&device, version, &outcome, &timeout_text));
                            outcomes.insert(device, outcome);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    progress.clear();
    if acked < total {
        let published = match publisher.await {
            Ok(Err(e)) => format!(": {e}"),
            _ => String::new(),
        };
        let addr = mqtt.addr.clone();
        mqtt.disconnect().await;
        bail!(
            "the broker at {addr} acknowledged only {acked} of {total} publishes within {timeout_text} s{published}; the rest may not have been delivered",
        );
    }
    for device in &targets {
        if !outcomes.contains_key(device) {
            let online = statuses
                .get(device)
                .map(|s| s.as_ref().is_none_or(Status::is_online));
            let outcome = Outcome::Silent(online);
            crate::say(&outcome_line(device, version, &outcome, &timeout_text));
            outcomes.insert(device.clone(), outcome);
        }
    }
    crate::say(&push_summary(outcomes.values()));
    mqtt.disconnect().await;
    Ok(if outcomes.values().all(|o| *o == Outcome::Applied) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
