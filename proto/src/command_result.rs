//! `cmd/result` (box → central): the answer to a command, with its id.

use serde::{Deserialize, Serialize};

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The id of the command it answers; `null` when the box could not read one.
    pub id: Option<String>,
    /// Whether the command was carried out.
    pub ok: bool,
    /// Why not; `null` when ok.
    pub error: Option<String>,
}

impl CommandResult {
    /// The command `id` was carried out.
    pub fn ok(id: &str) -> CommandResult {
        CommandResult {
            id: Some(id.to_owned()),
            ok: true,
            error: None,
        }
    }

    /// The command was refused (or failed) for `reason`.
    pub fn refused(id: Option<&str>, reason: &str) -> CommandResult {
        CommandResult {
            id: id.map(str::to_owned),
            ok: false,
            error: Some(reason.to_owned()),
        }
    }
}

lenient_payload!(CommandResult, "result");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_have_the_documented_shape_both_ways() {
        assert_eq!(
            CommandResult::refused(Some("t"), "nope").to_json(),
            r#"{"id":"t","ok":false,"error":"nope"}"#
        );
        assert_eq!(
            CommandResult::ok("t").to_json(),
            r#"{"id":"t","ok":true,"error":null}"#
        );
        let r = CommandResult::parse(br#"{"id":null,"ok":false,"error":"id: missing"}"#).unwrap();
        assert_eq!(r.id, None);
        assert!(CommandResult::parse(br#"{"id":"t1"}"#)
            .unwrap_err()
            .contains("ok"));
    }
}
