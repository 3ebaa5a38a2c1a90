//! The pure parts of bpctl: names and topics, the push file and payload,
//! version choice, and reading what the boxes publish (status, reports,
//! command results, events, telemetry). No IO here, so all of it is unit
//! tested.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// The largest push a box reads (the box refuses anything bigger unread).
pub use bridgepoint_core::provision::MAX_PUSH_BYTES;

/// The keys a pushed `config` object may hold: the box's own list.
use bridgepoint_core::config::PUSHED_KEYS as CONFIG_KEYS;
/// Sections of the pushed config that must be present.
pub const REQUIRED_SECTIONS: &[&str] = &["hub", "srtp"];
/// The keys of the `{"version":..,"config":..}` form of a push file.
const WRAPPER_KEYS: &[&str] = &["version", "config", "device_id"];

/// How long `identify` may blink, as the box accepts it.
pub const IDENTIFY_SECONDS: std::ops::RangeInclusive<u32> = 1..=600;

/// Checks a device id as the box does: 1–64 of `a-z 0-9 - _`.
pub fn check_device_id(id: &str) -> Result<(), String> {
    // The box's own rule (the id is part of its topics).
    bridgepoint_core::config::check_device_id(id).map_err(|e| format!("device id {id:?} {e}"))
}

/// Checks a topic root as the box does: no wildcards, no leading/trailing `/`.
pub fn check_topic_root(root: &str) -> Result<(), String> {
    let bad = root.is_empty()
        || root.starts_with('/')
        || root.ends_with('/')
        || root.contains(['+', '#', '\0']);
    if bad {
        Err(format!(
            "--topic-root must be a topic prefix without wildcards or leading/trailing '/', got {root:?}"
        ))
    } else {
        Ok(())
    }
}

/// `<root>/<device>/<leaf>`; `device` may be the wildcard `+`.
pub fn topic(root: &str, device: &str, leaf: &str) -> String {
    format!("{root}/{device}/{leaf}")
}

/// Splits `<root>/<device>/<leaf>` into (device, leaf); `None` for other topics.
pub fn split_topic<'a>(root: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = topic.strip_prefix(root)?.strip_prefix('/')?;
    let (device, leaf) = rest.split_once('/')?;
    if device.is_empty() || leaf.is_empty() {
        return None;
    }
    Some((device, leaf))
}

/// Splits `push`'s positional arguments into the target devices and the
/// config file: `DEVICE... CONFIG`, or only `CONFIG` with `--all`.
pub fn split_push_targets(all: bool, args: &[String]) -> Result<(Vec<String>, String), String> {
    let Some((config, devices)) = args.split_last() else {
        return Err("push needs a device id and a config file: bpctl push DEVICE CONFIG.json (or --all CONFIG.json)".into());
    };
    if all {
        if !devices.is_empty() {
            return Err(format!(
                "--all pushes to every box: give only the config file, not device ids ({})",
                devices.join(", ")
            ));
        }
        return Ok((Vec::new(), config.clone()));
    }
    if devices.is_empty() {
        return Err(format!(
            "push needs a device id before the config file {config:?}: bpctl push DEVICE CONFIG.json (or --all to push to every box)"
        ));
    }
    let mut seen = BTreeSet::new();
    for device in devices {
        check_device_id(device)?;
        if !seen.insert(device.as_str()) {
            return Err(format!("device {device:?} is named twice"));
        }
    }
    Ok((devices.to_vec(), config.clone()))
}

/// What a push file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PushFile {
    /// The `config` object.
    pub config: Map<String, Value>,
    /// The version the file names, if it is the `{"version":..,"config":..}` form.
    pub version: Option<u64>,
    /// The device the file names, if any.
    pub device_id: Option<String>,
}

/// Reads a push file: either the bare `config` object or
/// `{"version":N,"config":{...}}` (optionally with `"device_id"`).
pub fn parse_push_file(text: &str) -> Result<PushFile, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(map) = doc else {
        return Err(format!(
            "expected a JSON object (the config {{\"hub\":..,\"srtp\":..}} or {{\"version\":N,\"config\":{{..}}}}), got {}",
            kind_of(&doc)
        ));
    };
    if !map.contains_key("config") {
        check_config(&map)?;
        return Ok(PushFile {
            config: map,
            version: None,
            device_id: None,
        });
    }
    if let Some(unknown) = map.keys().find(|k| !WRAPPER_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown key next to \"config\" (known keys here: {})",
            WRAPPER_KEYS.join(", ")
        ));
    }
    let version = match map.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("version: must be an integer of at least 1, got {v}"))?,
        ),
    };
    let device_id = match map.get("device_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => {
            check_device_id(id).map_err(|e| format!("device_id: {e}"))?;
            Some(id.clone())
        }
        Some(other) => return Err(format!("device_id: expected a string, got {other}")),
    };
    let config = match map.get("config") {
        Some(Value::Object(c)) => c.clone(),
        Some(other) => {
            return Err(format!(
                "config: expected an object, got {}",
                kind_of(other)
            ))
        }
        None => unreachable!("checked above"),
    };
    check_config(&config).map_err(|e| format!("config.{e}"))?;
    Ok(PushFile {
        config,
        version,
        device_id,
    })
}

/// The shape checks bpctl can make without knowing the box's limits: known
/// top-level keys, `hub` and `srtp` present, sections are objects. The box
/// checks every value and reports what it refuses.
pub fn check_config(config: &Map<String, Value>) -> Result<(), String> {
    if let Some(unknown) = config.keys().find(|k| !CONFIG_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown key in the config (known keys: {})",
            CONFIG_KEYS.join(", ")
        ));
    }
    for required in REQUIRED_SECTIONS {
        if !config.contains_key(*required) {
            return Err(format!(
                "{required}: missing; a push must hold the hub and srtp sections"
            ));
        }
    }
    for (key, value) in config {
        match (key.as_str(), value) {
            ("telemetry_interval_s", v) if !v.is_u64() => {
                return Err(format!(
                    "telemetry_interval_s: expected a whole number of seconds, got {v}"
                ))
            }
            ("telemetry_interval_s", _) => {}
            (section, v) if !v.is_object() => {
                return Err(format!(
                    "{section}: expected an object of settings, got {}",
                    kind_of(v)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The version to push: `--version` if given, else the file's, else the
/// current Unix time in milliseconds (which only grows, so a later push is
/// always newer than an earlier one from any machine with a sane clock).
pub fn choose_version(
    flag: Option<u64>,
    file: Option<u64>,
    now_unix_ms: u64,
) -> Result<u64, String> {
    match (flag, file) {
        (Some(0), _) => Err("--version must be at least 1".into()),
        (Some(v), _) => Ok(v),
        (None, Some(v)) => Ok(v),
        (None, None) if now_unix_ms == 0 => {
            Err("the system clock is before 1970: give --version".into())
        }
        (None, None) => Ok(now_unix_ms),
    }
}

/// The signed (or, with `--unsigned`, published as is) payload of one push.
pub fn push_payload(version: u64, device_id: &str, config: &Map<String, Value>) -> String {
    json!({ "version": version, "device_id": device_id, "config": config }).to_string()
}

/// A box's `status` (retained; the Last Will is `{"online":false,..}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Whether the box is connected.
    pub online: bool,
    /// Firmware version, while online.
    pub firmware: Option<String>,
    /// The config version it runs, while online.
    pub config_version: Option<u64>,
    /// Call state (`idle`, `calling`, `in_session`).
    pub call: Option<String>,
    /// Stream state (`stopped`, `starting`, `streaming`, `error`).
    pub stream: Option<String>,
}

/// Reads a `status` payload.
pub fn parse_status(raw: &[u8]) -> Result<Status, String> {
    let doc: Value =
        serde_json::from_slice(raw).map_err(|e| format!("status is not valid JSON: {e}"))?;
    let Value::Object(map) = doc else {
        return Err("status is not a JSON object".into());
    };
    let online = match map.get("online") {
        Some(Value::Bool(b)) => *b,
        other => {
            return Err(format!(
                "status.online: expected true or false, got {}",
                show(other)
            ))
        }
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Status {
        online,
        firmware: text("firmware"),
        config_version: map.get("config_version").and_then(Value::as_u64),
        call: text("call"),
        stream: text("stream"),
    })
}

/// A box's `config/reported`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The version of the push it answers (`None` if the box could not read one).
    pub version: Option<u64>,
    /// `true` for `applied`, `false` for `rejected`.
    pub applied: bool,
    /// Why it was rejected.
    pub error: Option<String>,
    /// The version the box runs now.
    pub applied_version: Option<u64>,
}

/// Reads a `config/reported` payload.
pub fn parse_report(raw: &[u8]) -> Result<Report, String> {
    let doc: Value =
        serde_json::from_slice(raw).map_err(|e| format!("report is not valid JSON: {e}"))?;
    let Value::Object(map) = doc else {
        return Err("report is not a JSON object".into());
    };
    let version = match map.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| format!("report.version: expected an integer, got {v}"))?,
        ),
    };
    let applied = match map.get("state").and_then(Value::as_str) {
        Some("applied") => true,
        Some("rejected") => false,
        _ => {
            return Err(format!(
                "report.state: expected \"applied\" or \"rejected\", got {}",
                show(map.get("state"))
            ))
        }
    };
    let error = match map.get("error") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(Report {
        version,
        applied,
        error,
        applied_version: map.get("applied_version").and_then(Value::as_u64),
    })
}

/// What a live report means for the push of `pushed` to this box:
/// `Some(Ok(()))` applied, `Some(Err(reason))` rejected, `None` not about it.
///
/// A rejection without a version answers the push too: the box could not
/// read the version because the payload did not verify or parse (a wrong
/// signing key, say).
pub fn report_outcome(report: &Report, pushed: u64) -> Option<Result<(), String>> {
    match (report.version, report.applied) {
        (Some(v), true) if v == pushed => Some(Ok(())),
        (Some(v), false) if v == pushed => Some(Err(rejection(report))),
        (None, false) => Some(Err(rejection(report))),
        _ => None,
    }
}

fn rejection(report: &Report) -> String {
    report
        .error
        .clone()
        .unwrap_or_else(|| "no reason given".into())
}

/// How one push ended for one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied.
    Applied,
    /// Rejected, with the box's reason.
    Rejected(String),
    /// No report in time; `Some(false)` if the box is known to be offline,
    /// `None` if it never published a status.
    Silent(Option<bool>),
}

/// One line of `push` output.
pub fn outcome_line(device: &str, version: u64, outcome: &Outcome, timeout: &str) -> String {
    match outcome {
        Outcome::Applied => format!("{device}: applied (version {version})"),
        Outcome::Rejected(reason) => format!("{device}: rejected (version {version}): {reason}"),
        Outcome::Silent(online) => {
            let note = match online {
                Some(false) => " (offline: the retained config applies when it reconnects)",
                None => " (it has never published a status: the retained config applies when it connects)",
                Some(true) => "",
            };
            format!("{device}: no report within {timeout} s{note}")
        }
    }
}

/// The closing line of `push`.
pub fn push_summary<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> String {
    let (mut applied, mut rejected, mut silent) = (0, 0, 0);
    for o in outcomes {
        match o {
            Outcome::Applied => applied += 1,
            Outcome::Rejected(_) => rejected += 1,
            Outcome::Silent(_) => silent += 1,
        }
    }
    format!("{applied} applied, {rejected} rejected, {silent} silent")
}

/// A command for a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `session.start`, optionally with a per-session SRTP key (base64).
    SessionStart {
        /// Master key + salt, base64.
        srtp_key: Option<String>,
    },
    /// `session.end`.
    SessionEnd,
    /// `identify`, optionally for this many seconds.
    Identify {
        /// Seconds.
        seconds: Option<u32>,
    },
    /// `keyframe`.
    Keyframe,
    /// `reboot`.
    Reboot,
    /// `update`: install the RAUC bundle at this http(s) URL.
    Update {
        /// The bundle's URL.
        url: String,
    },
}

impl Command {
    /// The `cmd` name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::SessionStart { .. } => "session.start",
            Command::SessionEnd => "session.end",
            Command::Identify { .. } => "identify",
            Command::Keyframe => "keyframe",
            Command::Reboot => "reboot",
            Command::Update { .. } => "update",
        }
    }

    /// Checks the arguments before anything is sent.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Command::SessionStart {
                srtp_key: Some(key),
            } => check_srtp_key(key),
            Command::Identify { seconds: Some(s) } if !IDENTIFY_SECONDS.contains(s) => {
                Err(format!(
                    "--seconds must be {} to {}, got {s}",
                    IDENTIFY_SECONDS.start(),
                    IDENTIFY_SECONDS.end()
                ))
            }
            Command::Update { url } => check_bundle_url(url),
            _ => Ok(()),
        }
    }

    /// The `cmd` payload with this id.
    pub fn payload(&self, id: &str) -> String {
        let args = match self {
            Command::SessionStart {
                srtp_key: Some(key),
            } => json!({ "srtp_key": key.trim() }),
            Command::Identify { seconds: Some(s) } => json!({ "seconds": s }),
            Command::Update { url } => json!({ "url": url.trim() }),
            _ => json!({}),
        };
        json!({ "id": id, "cmd": self.name(), "args": args }).to_string()
    }
}

/// Checks a per-session SRTP key: base64 of a master key + salt of a length
/// one of the box's suites uses, not a constant byte pattern.
pub fn check_srtp_key(b64: &str) -> Result<(), String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("--srtp-key is not valid base64: {e}"))?;
    // The lengths the box's suites take (master key + salt).
    let suites = bridgepoint_core::srtp::SrtpSuite::ALL;
    if !suites.iter().any(|s| s.key_len() == bytes.len()) {
        let lengths: Vec<String> = suites
            .iter()
            .map(|s| format!("{} for {}", s.key_len(), s.name()))
            .collect();
        return Err(format!(
            "--srtp-key must be a master key + salt of {} bytes, got {} bytes (make one with: head -c 30 /dev/urandom | base64)",
            lengths.join(", "),
            bytes.len()
        ));
    }
    if bytes.iter().all(|b| *b == bytes[0]) {
        return Err("--srtp-key is a constant byte pattern, not a key".into());
    }
    Ok(())
}

/// Checks an update bundle URL as the box does: http(s), no spaces, a `.raucb` path.
pub fn check_bundle_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
        return Err(format!(
            "URL must be an http(s) URL of a bundle, got {url:?}"
        ));
    }
    if !url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .ends_with(".raucb")
    {
        return Err(format!("URL must name a .raucb bundle, got {url:?}"));
    }
    Ok(())
}

/// A box's `cmd/result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// The id of the command it answers (`None` if the box could not read one).
    pub id: Option<String>,
    /// Whether the command succeeded.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
}

/// Reads a `cmd/result` payload.
pub fn parse_command_result(raw: &[u8]) -> Result<CommandResult, String> {
    let doc: Value =
        serde_json::from_slice(raw).map_err(|e| format!("result is not valid JSON: {e}"))?;
    let Value::Object(map) = doc else {
        return Err("result is not a JSON object".into());
    };
    let ok = match map.get("ok") {
        Some(Value::Bool(b)) => *b,
        other => {
            return Err(format!(
                "result.ok: expected true or false, got {}",
                show(other)
            ))
        }
    };
    Ok(CommandResult {
        id: map.get("id").and_then(Value::as_str).map(str::to_owned),
        ok,
        error: match map.get("error") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        },
    })
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "nothing".to_owned(), Value::to_string)
}

/// One message seen by `watch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    /// The line to print.
    pub line: String,
    /// The event id, for de-duplication (events may arrive twice).
    pub event_id: Option<String>,
}

/// Formats a message on `<root>/<device>/<leaf>` for `watch`: one line,
/// device first; with `json`, a JSON object
/// `{"device_id":..,"topic":"event"|"telemetry","message":<payload>}`.
pub fn watch_line(device: &str, leaf: &str, raw: &[u8], as_json: bool) -> Watched {
    let parsed: Option<Value> = serde_json::from_slice(raw).ok();
    let event_id = match (leaf, &parsed) {
        ("event", Some(v)) => v.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    if as_json {
        let message = parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(raw).into_owned()));
        let line = json!({ "device_id": device, "topic": leaf, "message": message }).to_string();
        return Watched { line, event_id };
    }
    let line = match (leaf, parsed) {
        ("event", Some(Value::Object(map))) => event_line(device, &map),
        ("telemetry", Some(Value::Object(map))) => telemetry_line(device, &map),
        (_, _) => format!(
            "{device} {leaf} (not a JSON object): {}",
            String::from_utf8_lossy(raw)
                .chars()
                .take(200)
                .collect::<String>()
        ),
    };
    Watched { line, event_id }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn event_line(device: &str, map: &Map<String, Value>) -> String {
    let at = map.get("at").map(scalar).unwrap_or_else(|| "-".into());
    let kind = map.get("type").map(scalar).unwrap_or_else(|| "?".into());
    let mut line = format!("{at} {device} event {kind}");
    if let Some(seq) = map.get("seq") {
        let _ = write!(line, " seq={}", scalar(seq));
    }
    for (k, v) in map {
        if !["id", "seq", "at", "type"].contains(&k.as_str()) {
            let _ = write!(line, " {k}={}", scalar(v));
        }
    }
    line
}

fn telemetry_line(device: &str, map: &Map<String, Value>) -> String {
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    let at = get("at").map(scalar).unwrap_or_else(|| "-".into());
    let mut line = format!("{at} {device} telemetry");
    for key in ["call", "stream"] {
        if let Some(v) = get(key) {
            let _ = write!(line, " {key}={}", scalar(v));
        }
    }
    if let Some(v) = get("bitrate_kbps") {
        let _ = write!(line, " bitrate={}kbps", scalar(v));
    }
    for key in ["packets_sent", "bytes_sent", "uptime_s"] {
        if let Some(v) = get(key) {
            let _ = write!(line, " {key}={}", scalar(v));
        }
    }
    let rtcp = get("rtcp");
    let rtt = rtcp.and_then(|r| r.get("rtt_ms")).filter(|v| !v.is_null());
    let lost = rtcp
        .and_then(|r| r.get("fraction_lost"))
        .filter(|v| !v.is_null());
    let _ = write!(
        line,
        " rtt={}",
        rtt.map_or("-".into(), |v| format!("{}ms", scalar(v)))
    );
    let _ = write!(line, " lost={}", lost.map_or("-".into(), scalar));
    let _ = write!(
        line,
        " cpu_temp={}",
        get("cpu_temp_c").map_or("-".into(), |v| format!("{}C", scalar(v)))
    );
    line
}

/// One row of `list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoxRow {
    /// Device id.
    pub device: String,
    /// Its status, if it published one.
    pub status: Option<Status>,
    /// Its last report, if any.
    pub report: Option<Report>,
}

impl BoxRow {
    /// The config version it runs: from the status while online, else the
    /// last report's `applied_version`.
    pub fn config_version(&self) -> Option<u64> {
        self.status
            .as_ref()
            .and_then(|s| s.config_version)
            .or_else(|| self.report.as_ref().and_then(|r| r.applied_version))
    }

    fn online(&self) -> Option<bool> {
        self.status.as_ref().map(|s| s.online)
    }

    fn last_push(&self) -> String {
        match &self.report {
            None => "-".into(),
            Some(r) => {
                let v = r.version.map_or("?".into(), |v| v.to_string());
                match (&r.applied, &r.error) {
                    (true, _) => format!("applied v{v}"),
                    (false, Some(e)) => format!("rejected v{v}: {e}"),
                    (false, None) => format!("rejected v{v}"),
                }
            }
        }
    }

    /// The row as JSON for `list --json`.
    pub fn to_json(&self) -> Value {
        let s = self.status.as_ref();
        json!({
            "device_id": self.device,
            "online": self.online(),
            "firmware": s.and_then(|s| s.firmware.clone()),
            "config_version": self.config_version(),
            "call": s.and_then(|s| s.call.clone()),
            "stream": s.and_then(|s| s.stream.clone()),
            "last_push": self.report.as_ref().map(|r| json!({
                "version": r.version,
                "state": if r.applied { "applied" } else { "rejected" },
                "error": r.error,
            })),
        })
    }
}

/// The `list` table (rows sorted by the caller) and its summary line.
pub fn render_table(rows: &[BoxRow]) -> String {
    const HEADER: [&str; 7] = [
        "DEVICE",
        "ONLINE",
        "FIRMWARE",
        "CONFIG",
        "CALL",
        "STREAM",
        "LAST PUSH",
    ];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let s = r.status.as_ref();
            let online = match r.online() {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "?".into(),
            };
            // An offline box's status is its Last Will: call/stream are unknown.
            let live = |f: fn(&Status) -> Option<String>| {
                s.filter(|s| s.online).and_then(f).unwrap_or_else(dash)
            };
            [
                r.device.clone(),
                online,
                live(|s| s.firmware.clone()),
                r.config_version().map_or_else(dash, |v| v.to_string()),
                live(|s| s.call.clone()),
                live(|s| s.stream.clone()),
                r.last_push(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |row: &[String]| {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&HEADER.map(str::to_owned));
    for row in &cells {
        push_row(row);
    }
    let online = rows.iter().filter(|r| r.online() == Some(true)).count();
    let _ = writeln!(out, "{} boxes, {online} online", rows.len());
    out
}

/// Seconds for messages: `10`, `0.5`.
pub fn fmt_secs(secs: f64) -> String {
    format!("{secs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const CONFIG: &str = r#"{"hub":{"host":"203.0.113.10"},"srtp":{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},"video":{"bitrate_kbps":1500}}"#;

    #[test]
    fn device_ids_follow_the_box_rules() {
        assert!(check_device_id("lang-son-01").is_ok());
        assert!(check_device_id("a_b").is_ok());
        assert!(check_device_id("").unwrap_err().contains("1 to 64"));
        assert!(check_device_id(&"a".repeat(65))
            .unwrap_err()
            .contains("1 to 64"));
        assert!(check_device_id("Lang").unwrap_err().contains("'L'"));
        assert!(check_device_id("a/b").unwrap_err().contains("'/'"));
        assert!(check_device_id("+").is_err());
    }

    #[test]
    fn topic_roots_are_checked_and_topics_split() {
        assert!(check_topic_root("bridgepoint/v1").is_ok());
        for bad in ["", "/a", "a/", "a/+", "a/#"] {
            assert!(check_topic_root(bad).is_err(), "{bad}");
        }
        assert_eq!(
            topic("bridgepoint/v1", "x", "config/desired"),
            "bridgepoint/v1/x/config/desired"
        );
        assert_eq!(
            split_topic("bridgepoint/v1", "bridgepoint/v1/x/config/reported"),
            Some(("x", "config/reported"))
        );
        assert_eq!(
            split_topic("bridgepoint/v1", "bridgepoint/v1/x/status"),
            Some(("x", "status"))
        );
        assert_eq!(
            split_topic("bridgepoint/v1", "bridgepoint/v10/x/status"),
            None
        );
        assert_eq!(split_topic("bridgepoint/v1", "bridgepoint/v1/x"), None);
        assert_eq!(split_topic("bridgepoint/v1", "other/x/status"), None);
    }

    #[test]
    fn push_targets_come_before_the_config_file() {
        assert_eq!(
            split_push_targets(false, &strings(&["a", "cfg.json"])).unwrap(),
            (strings(&["a"]), "cfg.json".into())
        );
        assert_eq!(
            split_push_targets(false, &strings(&["a", "b", "cfg.json"])).unwrap(),
            (strings(&["a", "b"]), "cfg.json".into())
        );
        assert_eq!(
            split_push_targets(true, &strings(&["cfg.json"])).unwrap(),
            (vec![], "cfg.json".into())
        );
        assert!(split_push_targets(false, &strings(&["cfg.json"]))
            .unwrap_err()
            .contains("needs a device id"));
        assert!(split_push_targets(true, &strings(&["a", "cfg.json"]))
            .unwrap_err()
            .contains("--all"));
        assert!(split_push_targets(false, &strings(&["Bad!", "cfg.json"]))
            .unwrap_err()
            .contains("device id"));
        assert!(split_push_targets(false, &strings(&["a", "a", "c"]))
            .unwrap_err()
            .contains("twice"));
        assert!(split_push_targets(false, &[]).is_err());
    }

    #[test]
    fn push_files_in_both_forms() {
        let bare = parse_push_file(CONFIG).unwrap();
        assert_eq!((bare.version, bare.device_id.as_deref()), (None, None));
        assert!(bare.config.contains_key("hub"));

        let wrapped = parse_push_file(&format!(
            r#"{{"version":17,"device_id":"lang-son-01","config":{CONFIG}}}"#
        ))
        .unwrap();
        assert_eq!(wrapped.version, Some(17));
        assert_eq!(wrapped.device_id.as_deref(), Some("lang-son-01"));
        assert_eq!(wrapped.config, bare.config);

        let no_version = parse_push_file(&format!(r#"{{"config":{CONFIG}}}"#)).unwrap();
        assert_eq!(no_version.version, None);
    }

    #[test]
    fn bad_push_files_say_what_is_wrong() {
        let e = |s: &str| parse_push_file(s).unwrap_err();
        assert!(e("{oops").starts_with("not valid JSON"), "{}", e("{oops"));
        assert!(e("[1]").contains("got an array"));
        assert!(e(r#"{"hub":{"host":"h"}}"#).starts_with("srtp: missing"));
        assert!(e(r#"{"srtp":{"key":"k"}}"#).starts_with("hub: missing"));
        assert!(e(r#"{"hub":{},"srtp":{},"vidoe":{}}"#).starts_with("vidoe: unknown key"));
        assert!(e(r#"{"hub":"h","srtp":{}}"#).starts_with("hub: expected an object"));
        assert!(e(r#"{"hub":{},"srtp":{},"telemetry_interval_s":"60"}"#)
            .starts_with("telemetry_interval_s"));
        assert!(e(r#"{"version":0,"config":{"hub":{},"srtp":{}}}"#).starts_with("version: must be"));
        assert!(
            e(r#"{"version":-3,"config":{"hub":{},"srtp":{}}}"#).starts_with("version: must be")
        );
        assert!(e(r#"{"version":1,"config":{"hub":{}}}"#).starts_with("config.srtp: missing"));
        assert!(e(r#"{"version":1,"config":[]}"#).starts_with("config: expected an object"));
        assert!(e(r#"{"version":1,"config":{},"extra":1}"#).starts_with("extra: unknown key"));
        assert!(e(r#"{"device_id":"A","config":{"hub":{},"srtp":{}}}"#).starts_with("device_id:"));
    }

    #[test]
    fn version_choice() {
        assert_eq!(choose_version(Some(17), Some(3), 1_000), Ok(17));
        assert_eq!(choose_version(None, Some(3), 1_000), Ok(3));
        assert_eq!(
            choose_version(None, None, 1_700_000_000_123),
            Ok(1_700_000_000_123)
        );
        assert!(choose_version(Some(0), None, 5)
            .unwrap_err()
            .contains("--version"));
        assert!(choose_version(None, None, 0).is_err());
    }

    #[test]
    fn the_push_payload_binds_version_and_device() {
        let cfg = parse_push_file(CONFIG).unwrap().config;
        let p: Value = serde_json::from_str(&push_payload(17, "lang-son-01", &cfg)).unwrap();
        assert_eq!(p["version"], 17);
        assert_eq!(p["device_id"], "lang-son-01");
        assert_eq!(p["config"]["hub"]["host"], "203.0.113.10");
        assert_eq!(p.as_object().unwrap().len(), 3);
    }

    #[test]
    fn statuses_and_wills_parse() {
        let s = parse_status(
            br#"{"online":true,"device_id":"x","firmware":"0.1.0","config_version":3,"call":"idle","stream":"streaming"}"#,
        )
        .unwrap();
        assert!(s.online);
        assert_eq!(s.config_version, Some(3));
        assert_eq!(s.stream.as_deref(), Some("streaming"));
        let will = parse_status(br#"{"online":false,"device_id":"x"}"#).unwrap();
        assert_eq!(will, Status::default());
        assert!(parse_status(b"nope").is_err());
        assert!(parse_status(br#"{"device_id":"x"}"#)
            .unwrap_err()
            .contains("online"));
    }

    #[test]
    fn reports_parse_and_match_the_push() {
        let applied =
            parse_report(br#"{"version":17,"state":"applied","error":null,"applied_version":17}"#)
                .unwrap();
        assert_eq!(report_outcome(&applied, 17), Some(Ok(())));
        assert_eq!(report_outcome(&applied, 18), None);
        let rejected =
            parse_report(br#"{"version":18,"state":"rejected","error":"config.video.width: must be even","applied_version":17}"#)
                .unwrap();
        assert_eq!(rejected.applied_version, Some(17));
        assert_eq!(
            report_outcome(&rejected, 18),
            Some(Err("config.video.width: must be even".into()))
        );
        assert_eq!(report_outcome(&rejected, 17), None);
        let unreadable =
            parse_report(br#"{"version":null,"state":"rejected","error":"signature: no trusted key verifies it","applied_version":3}"#)
                .unwrap();
        assert_eq!(
            report_outcome(&unreadable, 18),
            Some(Err("signature: no trusted key verifies it".into()))
        );
        assert!(parse_report(br#"{"version":1,"state":"maybe"}"#)
            .unwrap_err()
            .contains("state"));
        assert!(parse_report(br#"{"version":"1","state":"applied"}"#)
            .unwrap_err()
            .contains("version"));
    }

    #[test]
    fn outcome_lines_and_summary() {
        assert_eq!(
            outcome_line("a", 17, &Outcome::Applied, "10"),
            "a: applied (version 17)"
        );
        assert_eq!(
            outcome_line("a", 17, &Outcome::Rejected("x: bad".into()), "10"),
            "a: rejected (version 17): x: bad"
        );
        assert_eq!(
            outcome_line("a", 17, &Outcome::Silent(Some(true)), "10"),
            "a: no report within 10 s"
        );
        assert!(outcome_line("a", 17, &Outcome::Silent(Some(false)), "10")
            .starts_with("a: no report within 10 s (offline"));
        let all = [
            Outcome::Applied,
            Outcome::Applied,
            Outcome::Rejected("r".into()),
            Outcome::Silent(None),
        ];
        assert_eq!(push_summary(&all), "2 applied, 1 rejected, 1 silent");
        assert_eq!(fmt_secs(10.0), "10");
        assert_eq!(fmt_secs(0.5), "0.5");
    }

    #[test]
    fn command_payloads() {
        let p = |c: Command| serde_json::from_str::<Value>(&c.payload("t1")).unwrap();
        assert_eq!(
            p(Command::SessionEnd),
            json!({"id":"t1","cmd":"session.end","args":{}})
        );
        assert_eq!(p(Command::Keyframe)["cmd"], "keyframe");
        assert_eq!(p(Command::Reboot)["cmd"], "reboot");
        assert_eq!(
            p(Command::Update {
                url: "https://fw.example/bp-1.2.raucb".into()
            }),
            json!({"id":"t1","cmd":"update","args":{"url":"https://fw.example/bp-1.2.raucb"}})
        );
        assert_eq!(
            p(Command::Identify { seconds: Some(30) })["args"],
            json!({"seconds":30})
        );
        assert_eq!(p(Command::Identify { seconds: None })["args"], json!({}));
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
        assert_eq!(
            p(Command::SessionStart {
                srtp_key: Some(key.into())
            }),
            json!({"id":"t1","cmd":"session.start","args":{"srtp_key":key}})
        );
    }

    #[test]
    fn command_arguments_are_checked() {
        let key = |k: &str| {
            Command::SessionStart {
                srtp_key: Some(k.into()),
            }
            .check()
        };
        assert!(key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd").is_ok()); // 30 bytes
        assert!(key("!!").unwrap_err().contains("not valid base64"));
        assert!(key("AAEC").unwrap_err().contains("got 3 bytes"));
        assert!(
            key(&base64::engine::general_purpose::STANDARD.encode([7u8; 30]))
                .unwrap_err()
                .contains("constant")
        );
        assert!(Command::Identify { seconds: Some(0) }
            .check()
            .unwrap_err()
            .contains("1 to 600"));
        assert!(Command::Identify { seconds: Some(601) }.check().is_err());
        assert!(Command::Identify { seconds: Some(600) }.check().is_ok());
        assert!(Command::SessionStart { srtp_key: None }.check().is_ok());
        let update = |u: &str| Command::Update { url: u.into() }.check();
        assert!(update("https://fw.example/bp-1.2.raucb?token=x").is_ok());
        assert!(update("file:///tmp/x.raucb")
            .unwrap_err()
            .contains("http(s)"));
        assert!(update("https://fw.example/x.tar")
            .unwrap_err()
            .contains(".raucb"));
    }

    #[test]
    fn command_results_parse() {
        let r = parse_command_result(br#"{"id":"t1","ok":false,"error":"not streaming"}"#).unwrap();
        assert_eq!(
            r,
            CommandResult {
                id: Some("t1".into()),
                ok: false,
                error: Some("not streaming".into())
            }
        );
        let r = parse_command_result(br#"{"id":null,"ok":false,"error":"id: missing"}"#).unwrap();
        assert_eq!(r.id, None);
        assert!(parse_command_result(br#"{"id":"t1"}"#)
            .unwrap_err()
            .contains("ok"));
    }

    #[test]
    fn watch_lines() {
        let e = watch_line(
            "lang-son-01",
            "event",
            br#"{"id":"u1","seq":4,"at":"2026-11-23T18:30:05.123Z","type":"call.request"}"#,
            false,
        );
        assert_eq!(
            e.line,
            "2026-11-23T18:30:05.123Z lang-son-01 event call.request seq=4"
        );
        assert_eq!(e.event_id.as_deref(), Some("u1"));
        let t = watch_line(
            "lang-son-01",
            "telemetry",
            br#"{"at":"2026-11-23T18:30:05.123Z","uptime_s":60,"call":"idle","stream":"streaming","packets_sent":10,"bytes_sent":9000,"bitrate_kbps":1980,"rtcp":{"rtt_ms":12,"fraction_lost":null},"cpu_temp_c":null}"#,
            false,
        );
        assert_eq!(
            t.line,
            "2026-11-23T18:30:05.123Z lang-son-01 telemetry call=idle stream=streaming bitrate=1980kbps packets_sent=10 bytes_sent=9000 uptime_s=60 rtt=12ms lost=- cpu_temp=-"
        );
        let j = watch_line("b", "event", br#"{"id":"u2","type":"error"}"#, true);
        let v: Value = serde_json::from_str(&j.line).unwrap();
        assert_eq!(
            v,
            json!({"device_id":"b","topic":"event","message":{"id":"u2","type":"error"}})
        );
        assert_eq!(j.event_id.as_deref(), Some("u2"));
        let junk = watch_line("b", "telemetry", b"\xffjunk", false);
        assert!(junk.line.starts_with("b telemetry (not a JSON object)"));
    }

    #[test]
    fn list_table() {
        let rows = vec![
            BoxRow {
                device: "hue-02".into(),
                status: Some(Status::default()),
                report: Some(Report {
                    version: Some(5),
                    applied: true,
                    error: None,
                    applied_version: Some(5),
                }),
            },
            BoxRow {
                device: "lang-son-01".into(),
                status: Some(Status {
                    online: true,
                    firmware: Some("0.1.0".into()),
                    config_version: Some(3),
                    call: Some("idle".into()),
                    stream: Some("streaming".into()),
                }),
                report: None,
            },
        ];
        let table = render_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "DEVICE       ONLINE  FIRMWARE  CONFIG  CALL  STREAM     LAST PUSH"
        );
        assert_eq!(
            lines[1],
            "hue-02       no      -         5       -     -          applied v5"
        );
        assert_eq!(
            lines[2],
            "lang-son-01  yes     0.1.0     3       idle  streaming  -"
        );
        assert_eq!(lines[3], "2 boxes, 1 online");
        assert_eq!(rows[0].to_json()["online"], false);
        assert_eq!(rows[0].to_json()["config_version"], 5);
        assert_eq!(render_table(&[]).lines().last(), Some("0 boxes, 0 online"));
    }
}
