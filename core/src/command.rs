//! Commands from central IT (`cmd` topic) and their parsing.
//!
//! `{"id":"<token>","cmd":"session.start"|"session.end"|"identify"|"keyframe"|"reboot","args":{}}`.
//! A command that cannot be parsed is answered `ok:false` with the reason
//! (and the id, when it could be read); it never reaches the box's state.

use base64::Engine as _;
use serde_json::Value;

/// The largest command the box reads.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;
/// How long `identify` blinks unless `args.seconds` says otherwise.
pub const IDENTIFY_SECONDS: u32 = 10;

/// What central IT asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start a session (accept a pending call, or start one), optionally
    /// with a per-session SRTP master key + salt (SDES-style).
    SessionStart {
        /// The per-session key, raw bytes.
        srtp_key: Option<Vec<u8>>,
    },
    /// End the session.
    SessionEnd,
    /// Blink the LEDs so an installer can find the box.
    Identify {
        /// For how long.
        seconds: u32,
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
}

/// A parsed command with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// The caller's token, echoed in the result.
    pub id: String,
    /// The command.
    pub command: Command,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRejected {
    /// The id, if it could be read.
    pub id: Option<String>,
    /// The reason, naming the field.
    pub reason: String,
}

const KNOWN: &str = "session.start, session.end, identify, keyframe, reboot, update";

/// Parses one command payload.
pub fn parse_command(raw: &[u8]) -> Result<CommandRequest, CommandRejected> {
    let fail = |id: Option<String>, reason: String| CommandRejected { id, reason };
    if raw.len() > MAX_COMMAND_BYTES {
        return Err(fail(
            None,
            format!("command is {} bytes, limit {MAX_COMMAND_BYTES}", raw.len()),
        ));
    }
    let doc: Value =
        serde_json::from_slice(raw).map_err(|e| fail(None, format!("not valid JSON: {e}")))?;
    let Value::Object(map) = doc else {
        return Err(fail(
            None,
            "expected an object {\"id\":..,\"cmd\":..,\"args\":{}}".into(),
        ));
    };
    let id = match map.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => s.clone(),
        Some(other) => {
            return Err(fail(
                None,
                format!("id: expected a string of 1 to 128 characters, got {other}"),
            ))
        }
        None => return Err(fail(None, "id: missing".into())),
    };
    let fail_id = |reason: String| fail(Some(id.clone()), reason);
    if let Some(unknown) = map
        .keys()
        .find(|k| !["id", "cmd", "args"].contains(&k.as_str()))
    {
        return Err(fail_id(format!(
            "{unknown}: unknown key (known keys here: id, cmd, args)"
        )));
    }
    let cmd = match map.get("cmd") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(fail_id(format!("cmd: expected a string, got {other}"))),
        None => return Err(fail_id("cmd: missing".into())),
    };
    let empty = serde_json::Map::new();
    let args = match map.get("args") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(other) => return Err(fail_id(format!("args: expected an object, got {other}"))),
    };
    let allow_args = |allowed: &[&str]| -> Result<(), CommandRejected> {
        match args.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(fail_id(format!("args.{k}: unknown argument for {cmd}"))),
            None => Ok(()),
        }
    };
    let command = match cmd {
        "session.start" => {
            allow_args(&["srtp_key"])?;
            let srtp_key = match args.get("srtp_key") {
                None => None,
                Some(Value::String(k)) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(k.trim())
                        .map_err(|e| fail_id(format!("args.srtp_key: is not valid base64: {e}")))?,
                ),
                Some(other) => {
                    return Err(fail_id(format!(
                        "args.srtp_key: expected a base64 string, got {other}"
                    )))
                }
            };
            Command::SessionStart { srtp_key }
        }
        "session.end" => {
            allow_args(&[])?;
            Command::SessionEnd
        }
        "identify" => {
            allow_args(&["seconds"])?;
            let seconds = match args.get("seconds") {
                None => IDENTIFY_SECONDS,
                Some(v) => v
                    .as_u64()
                    .filter(|s| (1..=600).contains(s))
                    .map(|s| s as u32)
                    .ok_or_else(|| fail_id(format!("args.seconds: must be 1 to 600, got {v}")))?,
            };
            Command::Identify { seconds }
        }
        "keyframe" => {
            allow_args(&[])?;
            Command::Keyframe
        }
        "reboot" => {
            allow_args(&[])?;
            Command::Reboot
        }
        "update" => {
            allow_args(&["url"])?;
            let url = match args.get("url") {
                Some(Value::String(u)) => u.trim().to_owned(),
                Some(other) => {
                    return Err(fail_id(format!("args.url: expected a string, got {other}")))
                }
                None => return Err(fail_id("args.url: missing (the bundle to install)".into())),
            };
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
                return Err(fail_id(format!(
                    "args.url: must be an http(s) URL of a bundle, got {url:?}"
                )));
            }
            if !url
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .ends_with(".raucb")
            {
                return Err(fail_id(format!(
                    "args.url: must name a .raucb bundle, got {url:?}"
                )));
            }
            Command::Update { url }
        }
        other => {
            return Err(fail_id(format!(
                "unknown command {other:?} (known: {KNOWN})"
            )))
        }
    };
    Ok(CommandRequest { id, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        let p = |s: &str| parse_command(s.as_bytes()).unwrap().command;
        assert_eq!(
            p(r#"{"id":"a","cmd":"session.start","args":{}}"#),
            Command::SessionStart { srtp_key: None }
        );
        assert_eq!(
            p(r#"{"id":"a","cmd":"session.start","args":{"srtp_key":"AAEC"}}"#),
            Command::SessionStart {
                srtp_key: Some(vec![0, 1, 2])
            }
        );
        assert_eq!(p(r#"{"id":"a","cmd":"session.end"}"#), Command::SessionEnd);
        assert_eq!(
            p(r#"{"id":"a","cmd":"identify","args":{}}"#),
            Command::Identify { seconds: 10 }
        );
        assert_eq!(
            p(r#"{"id":"a","cmd":"identify","args":{"seconds":3}}"#),
            Command::Identify { seconds: 3 }
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
    }

    #[test]
    fn bad_commands_name_what_is_wrong() {
        let e = |s: &str| parse_command(s.as_bytes()).unwrap_err();
        let r = e(r#"{"id":"t1","cmd":"dance"}"#);
        assert_eq!(r.id.as_deref(), Some("t1"));
        assert!(
            r.reason.starts_with("unknown command \"dance\""),
            "{}",
            r.reason
        );
        assert!(e("{oops").reason.starts_with("not valid JSON"));
        assert_eq!(e(r#"{"cmd":"reboot"}"#).reason, "id: missing");
        assert!(e(r#"{"id":"x","cmd":"identify","args":{"seconds":0}}"#)
            .reason
            .starts_with("args.seconds: must be 1 to 600"));
        assert!(e(r#"{"id":"x","cmd":"reboot","args":{"now":true}}"#)
            .reason
            .starts_with("args.now: unknown argument"));
        assert!(
            e(r#"{"id":"x","cmd":"session.start","args":{"srtp_key":"!!"}}"#)
                .reason
                .starts_with("args.srtp_key: is not valid base64")
        );
        assert!(e(r#"{"id":"x","cmd":5}"#)
            .reason
            .starts_with("cmd: expected a string"));
        assert!(e(r#"{"id":"x","cmd":"update","args":{}}"#)
            .reason
            .starts_with("args.url: missing"));
        assert!(
            e(r#"{"id":"x","cmd":"update","args":{"url":"file:///tmp/x.raucb"}}"#)
                .reason
                .starts_with("args.url: must be an http(s) URL")
        );
        assert!(
            e(r#"{"id":"x","cmd":"update","args":{"url":"https://x/y.tar"}}"#)
                .reason
                .starts_with("args.url: must name a .raucb")
        );
        assert!(e(&format!(
            r#"{{"id":"x","cmd":"reboot","pad":"{}"}}"#,
            "a".repeat(20000)
        ))
        .reason
        .contains("limit 16384"));
    }
}
