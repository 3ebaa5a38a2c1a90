//! `cmd` (central → box): a command with a caller-chosen id, answered on
//! `cmd/result`.
//!
//! ```json
//! {"id":"<token>","cmd":"session.start","args":{"srtp_key":"<base64>"},
//!  "device_id":"lang-son-01","counter":1795459805123,"expires_at":1795460105}
//! ```
//!
//! `device_id`, `counter` and `expires_at` are the **binding** of a signed
//! command (JWS, like configs): the box it is for, a number that must grow
//! from one signed command to the next (replay protection; bpctl uses the
//! Unix time in milliseconds), and the Unix time in seconds after which the
//! box refuses it. The box decides whether a command must be signed and
//! whether its binding holds (`bridgepoint_core::command_gate`); this module
//! only reads and writes the shape.

use base64::Engine as _;
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::validate::{
    check_bundle_url, check_command_id, check_device_id, check_identify_seconds,
    check_sequence_number,
};
use crate::{strict_json, ProtoError};

/// The largest command a box reads.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The members of a command.
const COMMAND_KEYS: &[&str] = &["id", "cmd", "args", "device_id", "counter", "expires_at"];

/// Every command name, for messages.
pub const COMMAND_NAMES: &[&str] = &[
    "session.start",
    "session.end",
    "identify",
    "keyframe",
    "reboot",
    "update",
    "config.set_version",
];

/// What central IT asks a box to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start a session (answer a pending call, or start one), optionally
    /// with a per-session SRTP master key + salt (SDES-style).
    SessionStart {
        /// The per-session key of what the box sends, raw bytes.
        srtp_key: Option<Vec<u8>>,
        /// The per-session key of what the hub sends back, raw bytes.
        receive_key: Option<Vec<u8>>,
    },
    /// End the session.
    SessionEnd,
    /// Blink the LEDs so an installer can find the box.
    Identify {
        /// For how long; the box's default when absent.
        seconds: Option<u32>,
    },
    /// Send a keyframe now.
    Keyframe,
    /// Restart the box.
    Reboot,
    /// Install a signed RAUC bundle from this URL into the other slot.
    Update {
        /// `https://…` (or `http://…` on a closed network) of a `.raucb` bundle.
        url: String,
    },
    /// Set the config version the box considers applied, so that pushes
    /// newer than it apply again (recovers a box that took a bad version).
    SetConfigVersion {
        /// The version, 1 to 2^53 − 1.
        version: u64,
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
            Command::SetConfigVersion { .. } => "config.set_version",
        }
    }

    /// Whether a box with trusted keys takes it only signed: everything that
    /// changes what or where it sends or what it runs. `identify`,
    /// `keyframe`, `session.end` and a `session.start` without a key only
    /// act on what the box is already configured to do.
    pub fn must_be_signed(&self) -> bool {
        match self {
            Command::SessionStart {
                srtp_key,
                receive_key,
            } => srtp_key.is_some() || receive_key.is_some(),
            Command::Update { .. } | Command::Reboot | Command::SetConfigVersion { .. } => true,
            Command::SessionEnd | Command::Identify { .. } | Command::Keyframe => false,
        }
    }

    fn args(&self) -> Value {
        match self {
            Command::SessionStart {
                srtp_key,
                receive_key,
            } if srtp_key.is_some() || receive_key.is_some() => {
                let b64 = |k: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(k);
                let mut args = serde_json::Map::new();
                if let Some(k) = srtp_key {
                    args.insert("srtp_key".into(), b64(k).into());
                }
                if let Some(k) = receive_key {
                    args.insert("receive_key".into(), b64(k).into());
                }
                Value::Object(args)
            }
            Command::Identify { seconds: Some(s) } => json!({ "seconds": s }),
            Command::Update { url } => json!({ "url": url }),
            Command::SetConfigVersion { version } => json!({ "version": version }),
            _ => json!({}),
        }
    }
}

/// What binds a signed command to one box and one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandBinding {
    /// The box it is for.
    pub device_id: String,
    /// Must be greater than the counter of the last signed command the box
    /// accepted; 1 to 2^53 − 1.
    pub counter: u64,
    /// Unix time (seconds) after which the box refuses it.
    pub expires_at: u64,
}

/// A command with its id (and binding, when it is signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// The caller's token, echoed in the result.
    pub id: String,
    /// The command.
    pub command: Command,
    /// The binding (present in every command bpctl signs).
    pub binding: Option<CommandBinding>,
}

/// A command that could not be read, with its id when that could be read
/// (the answer on `cmd/result` carries it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRejected {
    /// The id, if it could be read.
    pub id: Option<String>,
    /// The reason, naming the member.
    pub reason: String,
}

impl CommandRequest {
    /// Reads a command's JSON (already verified, when it was signed).
    pub fn parse(json: &[u8]) -> Result<CommandRequest, CommandRejected> {
        let refuse = |id: Option<&str>, e: ProtoError| CommandRejected {
            id: id.map(str::to_owned),
            reason: e.to_string(),
        };
        let doc = strict_json::parse(json, "command").map_err(|e| refuse(None, e))?;
        let Value::Object(map) = doc else {
            return Err(refuse(
                None,
                ProtoError::Shape("expected an object {\"id\":..,\"cmd\":..,\"args\":{}}".into()),
            ));
        };
        let id = match map.get("id") {
            Some(Value::String(s)) => {
                check_command_id(s).map_err(|m| refuse(None, ProtoError::member("id", m)))?;
                s.clone()
            }
            Some(other) => {
                return Err(refuse(
                    None,
                    ProtoError::member("id", format!("expected a string, got {other}")),
                ))
            }
            None => return Err(refuse(None, ProtoError::member("id", "missing"))),
        };
        let with_id = |e| refuse(Some(&id), e);
        read_request(&id, &map).map_err(with_id)
    }

    /// Best effort: the id of a command that cannot be read or trusted, so
    /// that the refusal can still be matched by its sender.
    pub fn id_of(json: &[u8]) -> Option<String> {
        let doc: Value = serde_json::from_slice(json).ok()?;
        let id = doc.get("id")?.as_str()?;
        check_command_id(id).ok()?;
        Some(id.to_owned())
    }

    /// The payload (what bpctl signs, or publishes as is when unsigned).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for CommandRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        // The members in the documented order: id, cmd, args, then the binding.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("cmd", self.command.name())?;
        map.serialize_entry("args", &self.command.args())?;
        if let Some(b) = &self.binding {
            map.serialize_entry("device_id", &b.device_id)?;
            map.serialize_entry("counter", &b.counter)?;
            map.serialize_entry("expires_at", &b.expires_at)?;
        }
        map.end()
    }
}

fn read_request(id: &str, map: &Map<String, Value>) -> Result<CommandRequest, ProtoError> {
    if let Some(unknown) = map.keys().find(|k| !COMMAND_KEYS.contains(&k.as_str())) {
        return Err(ProtoError::member(
            unknown.as_str(),
            format!("unknown key (known keys here: {})", COMMAND_KEYS.join(", ")),
        ));
    }
    let cmd = match map.get("cmd") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(ProtoError::member(
                "cmd",
                format!("expected a string, got {other}"),
            ))
        }
        None => return Err(ProtoError::member("cmd", "missing")),
    };
    let empty = Map::new();
    let args = match map.get("args") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(other) => {
            return Err(ProtoError::member(
                "args",
                format!("expected an object, got {other}"),
            ))
        }
    };
    let command = read_command(cmd, args)?;
    let binding = read_binding(map)?;
    Ok(CommandRequest {
        id: id.to_owned(),
        command,
        binding,
    })
}

fn read_command(cmd: &str, args: &Map<String, Value>) -> Result<Command, ProtoError> {
    let allow = |allowed: &[&str]| match args.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ProtoError::member(
            format!("args.{k}"),
            format!("unknown argument for {cmd}"),
        )),
        None => Ok(()),
    };
    Ok(match cmd {
        "session.start" => {
            allow(&["srtp_key", "receive_key"])?;
            let key = |name: &str| match args.get(name) {
                None => Ok(None),
                Some(Value::String(k)) => base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .map(Some)
                    .map_err(|e| {
                        ProtoError::member(
                            format!("args.{name}"),
                            format!("is not valid base64: {e}"),
                        )
                    }),
                Some(other) => Err(ProtoError::member(
                    format!("args.{name}"),
                    format!("expected a base64 string, got {other}"),
                )),
            };
            Command::SessionStart {
                srtp_key: key("srtp_key")?,
                receive_key: key("receive_key")?,
            }
        }
        "session.end" | "keyframe" | "reboot" => {
            allow(&[])?;
            match cmd {
                "session.end" => Command::SessionEnd,
                "keyframe" => Command::Keyframe,
                _ => Command::Reboot,
            }
        }
        "identify" => {
            allow(&["seconds"])?;
            let seconds = match args.get("seconds") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| format!("must be 1 to 600, got {v}"))
                        .and_then(check_identify_seconds)
                        .map_err(|m| ProtoError::member("args.seconds", m))?,
                ),
            };
            Command::Identify { seconds }
        }
        "update" => {
            allow(&["url"])?;
            let url = match args.get("url") {
                Some(Value::String(u)) => u.trim().to_owned(),
                Some(other) => {
                    return Err(ProtoError::member(
                        "args.url",
                        format!("expected a string, got {other}"),
                    ))
                }
                None => {
                    return Err(ProtoError::member(
                        "args.url",
                        "missing (the bundle to install)",
                    ))
                }
            };
            check_bundle_url(&url).map_err(|m| ProtoError::member("args.url", m))?;
            Command::Update { url }
        }
        "config.set_version" => {
            allow(&["version"])?;
            let version = match args.get("version") {
                None => return Err(ProtoError::member("args.version", "missing")),
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| format!("must be an integer of at least 1, got {v}"))
                    .and_then(|n| check_sequence_number(n).map(|()| n))
                    .map_err(|m| ProtoError::member("args.version", m))?,
            };
            Command::SetConfigVersion { version }
        }
        other => {
            return Err(ProtoError::Shape(format!(
                "unknown command {other:?} (known: {})",
                COMMAND_NAMES.join(", ")
            )))
        }
    })
}

fn read_binding(map: &Map<String, Value>) -> Result<Option<CommandBinding>, ProtoError> {
    let present = ["device_id", "counter", "expires_at"].map(|k| map.contains_key(k));
    if present == [false; 3] {
        return Ok(None);
    }
    if present != [true; 3] {
        let missing: Vec<&str> = ["device_id", "counter", "expires_at"]
            .into_iter()
            .zip(present)
            .filter(|(_, p)| !p)
            .map(|(k, _)| k)
            .collect();
        return Err(ProtoError::member(
            missing[0],
            "missing: device_id, counter and expires_at go together (every signed command carries all three)",
        ));
    }
    let device_id = match &map["device_id"] {
        Value::String(id) => {
            check_device_id(id).map_err(|m| ProtoError::member("device_id", m))?;
            id.clone()
        }
        other => {
            return Err(ProtoError::member(
                "device_id",
                format!("expected a string, got {other}"),
            ))
        }
    };
    let counter = map["counter"]
        .as_u64()
        .ok_or_else(|| format!("must be an integer of at least 1, got {}", map["counter"]))
        .and_then(|n| check_sequence_number(n).map(|()| n))
        .map_err(|m| ProtoError::member("counter", m))?;
    let expires_at = map["expires_at"].as_u64().ok_or_else(|| {
        ProtoError::member(
            "expires_at",
            format!("must be a Unix time in seconds, got {}", map["expires_at"]),
        )
    })?;
    Ok(Some(CommandBinding {
        device_id,
        counter,
        expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Command {
        CommandRequest::parse(s.as_bytes()).unwrap().command
    }

    fn e(s: &str) -> CommandRejected {
        CommandRequest::parse(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(
            p(r#"{"id":"a","cmd":"session.start","args":{}}"#),
            Command::SessionStart {
                srtp_key: None,
                receive_key: None,
            }
        );
        assert_eq!(
            p(r#"{"id":"a","cmd":"session.start","args":{"srtp_key":"AAEC"}}"#),
            Command::SessionStart {
                srtp_key: Some(vec![0, 1, 2]),
                receive_key: None,
            }
        );
        assert_eq!(
            p(
                r#"{"id":"a","cmd":"session.start","args":{"srtp_key":"AAEC","receive_key":"AwQF"}}"#
            ),
            Command::SessionStart {
                srtp_key: Some(vec![0, 1, 2]),
                receive_key: Some(vec![3, 4, 5]),
            }
        );
        assert_eq!(p(r#"{"id":"a","cmd":"session.end"}"#), Command::SessionEnd);
        assert_eq!(
            p(r#"{"id":"a","cmd":"identify","args":{}}"#),
            Command::Identify { seconds: None }
        );
        assert_eq!(
            p(r#"{"id":"a","cmd":"identify","args":{"seconds":3}}"#),
            Command::Identify { seconds: Some(3) }
        );
        assert_eq!(p(r#"{"id":"a","cmd":"keyframe"}"#), Command::Keyframe);
        assert_eq!(
            p(r#"{"id":"a","cmd":"reboot","args":null}"#),
            Command::Reboot
        );
        assert_eq!(
            p(r#"{"id":"a","cmd":"update","args":{"url":"https://fw.example/bp-1.2.raucb"}}"#),
            Command::Update {
                url: "https://fw.example/bp-1.2.raucb".into()
            }
        );
        assert_eq!(
            p(r#"{"id":"a","cmd":"config.set_version","args":{"version":1795459805123}}"#),
            Command::SetConfigVersion {
                version: 1_795_459_805_123
            }
        );
    }

    #[test]
    fn a_signed_command_carries_its_binding_and_round_trips() {
        let text = r#"{"id":"x","cmd":"reboot","args":{},"device_id":"lang-son-01","counter":17,"expires_at":1795460105}"#;
        let r = CommandRequest::parse(text.as_bytes()).unwrap();
        assert_eq!(
            r.binding,
            Some(CommandBinding {
                device_id: "lang-son-01".into(),
                counter: 17,
                expires_at: 1_795_460_105
            })
        );
        assert_eq!(
            serde_json::from_str::<Value>(&r.to_json()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        let key = CommandRequest {
            id: "k".into(),
            command: Command::SessionStart {
                srtp_key: Some(vec![7; 30]),
                receive_key: Some(vec![9; 30]),
            },
            binding: None,
        };
        assert_eq!(
            CommandRequest::parse(key.to_json().as_bytes()).unwrap(),
            key
        );
    }

    #[test]
    fn bad_commands_name_what_is_wrong() {
        let r = e(r#"{"id":"t1","cmd":"dance"}"#);
        assert_eq!(r.id.as_deref(), Some("t1"));
        assert!(
            r.reason.starts_with("unknown command \"dance\""),
            "{}",
            r.reason
        );
        assert!(e("{oops").reason.starts_with("command is not valid JSON"));
        assert_eq!(e(r#"{"cmd":"reboot"}"#).reason, "id: missing");
        let cases = [
            (
                r#"{"id":"","cmd":"reboot"}"#,
                "id: expected a string of 1 to 128",
            ),
            (
                r#"{"id":"x","cmd":"identify","args":{"seconds":0}}"#,
                "args.seconds: must be 1 to 600",
            ),
            (
                r#"{"id":"x","cmd":"identify","args":{"seconds":-1}}"#,
                "args.seconds: must be 1 to 600",
            ),
            (
                r#"{"id":"x","cmd":"reboot","args":{"now":true}}"#,
                "args.now: unknown argument",
            ),
            (
                r#"{"id":"x","cmd":"session.start","args":{"srtp_key":"!!"}}"#,
                "args.srtp_key: is not valid base64",
            ),
            (
                r#"{"id":"x","cmd":"session.start","args":{"receive_key":"!!"}}"#,
                "args.receive_key: is not valid base64",
            ),
            (
                r#"{"id":"x","cmd":"session.start","args":{"receive_key":7}}"#,
                "args.receive_key: expected a base64 string, got 7",
            ),
            (r#"{"id":"x","cmd":5}"#, "cmd: expected a string"),
            (
                r#"{"id":"x","cmd":"update","args":{}}"#,
                "args.url: missing",
            ),
            (
                r#"{"id":"x","cmd":"update","args":{"url":"file:///tmp/x.raucb"}}"#,
                "args.url: must be an http(s) URL",
            ),
            (
                r#"{"id":"x","cmd":"update","args":{"url":"https://x/y.tar"}}"#,
                "args.url: must name a .raucb",
            ),
            (
                r#"{"id":"x","cmd":"config.set_version","args":{"version":0}}"#,
                "args.version: must be an integer",
            ),
            (
                r#"{"id":"x","cmd":"reboot","extra":1}"#,
                "extra: unknown key",
            ),
            (
                r#"{"id":"x","cmd":"reboot","device_id":"b"}"#,
                "counter: missing: device_id, counter and expires_at go together",
            ),
            (
                r#"{"id":"x","cmd":"reboot","device_id":"b","counter":1,"expires_at":"soon"}"#,
                "expires_at: must be a Unix time",
            ),
            (
                r#"{"id":"x","cmd":"reboot","device_id":"b","counter":18446744073709551615,"expires_at":1}"#,
                "counter: must be an integer from 1 to",
            ),
        ];
        for (raw, expected) in cases {
            let reason = e(raw).reason;
            assert!(reason.starts_with(expected), "{raw}: {reason}");
        }
        let dup = e(r#"{"id":"x","cmd":"reboot","cmd":"keyframe"}"#);
        assert!(
            dup.reason.contains("cmd (it appears twice)"),
            "{}",
            dup.reason
        );
        assert_eq!(
            CommandRequest::id_of(br#"{"id":"q","cmd":7}"#).as_deref(),
            Some("q")
        );
    }

    #[test]
    fn what_must_be_signed() {
        assert!(Command::Reboot.must_be_signed());
        assert!(Command::Update { url: String::new() }.must_be_signed());
        assert!(Command::SetConfigVersion { version: 1 }.must_be_signed());
        assert!(Command::SessionStart {
            srtp_key: Some(vec![1]),
            receive_key: None,
        }
        .must_be_signed());
        assert!(Command::SessionStart {
            srtp_key: None,
            receive_key: Some(vec![1]),
        }
        .must_be_signed());
        assert!(!Command::SessionStart {
            srtp_key: None,
            receive_key: None,
        }
        .must_be_signed());
        assert!(!Command::Identify { seconds: None }.must_be_signed());
        assert!(!Command::Keyframe.must_be_signed());
        assert!(!Command::SessionEnd.must_be_signed());
    }
}
