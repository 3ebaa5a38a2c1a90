//! `config/reported` (retained, box → central): the verdict on the last push.

use serde::{Deserialize, Serialize};

/// Applied or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// The box runs the pushed config.
    Applied,
    /// The box refused it and runs its last good config.
    Rejected,
}

/// A box's report on a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReported {
    /// The version of the push it answers; `null` when the box could not read
    /// one (a token that did not verify, a payload that is not JSON).
    pub version: Option<u64>,
    /// What the box did.
    pub state: PushState,
    /// Why it was rejected, naming the key or check; `null` when applied.
    pub error: Option<String>,
    /// The version the box runs after the push.
    pub applied_version: u64,
}

impl ConfigReported {
    /// The push of `version` is applied.
    pub fn applied(version: u64) -> ConfigReported {
        ConfigReported {
            version: Some(version),
            state: PushState::Applied,
            error: None,
            applied_version: version,
        }
    }

    /// A push was refused; the box still runs `applied_version`.
    pub fn rejected(version: Option<u64>, error: String, applied_version: u64) -> ConfigReported {
        ConfigReported {
            version,
            state: PushState::Rejected,
            error: Some(error),
            applied_version,
        }
    }

    /// What this report says about the push of `pushed`: `Some(Ok(()))`
    /// applied, `Some(Err(reason))` rejected, `None` not about it. A
    /// rejection without a version answers the push too: the box could not
    /// read the version because the payload did not verify or parse.
    pub fn outcome_for(&self, pushed: u64) -> Option<Result<(), String>> {
        let reason = || {
            self.error
                .clone()
                .unwrap_or_else(|| "no reason given".into())
        };
        match (self.version, self.state) {
            (Some(v), PushState::Applied) if v == pushed => Some(Ok(())),
            (Some(v), PushState::Rejected) if v == pushed => Some(Err(reason())),
            (None, PushState::Rejected) => Some(Err(reason())),
            _ => None,
        }
    }
}

lenient_payload!(ConfigReported, "report");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn reports_have_the_documented_shape() {
        let v: Value = serde_json::from_str(
            &ConfigReported::rejected(Some(4), "config.video.width: bad".into(), 3).to_json(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"version":4,"state":"rejected","error":"config.video.width: bad","applied_version":3})
        );
        assert_eq!(
            ConfigReported::applied(5).to_json(),
            r#"{"version":5,"state":"applied","error":null,"applied_version":5}"#
        );
    }

    #[test]
    fn reports_answer_the_push_they_are_about() {
        let applied = ConfigReported::parse(
            br#"{"version":17,"state":"applied","error":null,"applied_version":17}"#,
        )
        .unwrap();
        assert_eq!(applied.outcome_for(17), Some(Ok(())));
        assert_eq!(applied.outcome_for(18), None);
        let rejected = ConfigReported::rejected(Some(18), "x: bad".into(), 17);
        assert_eq!(rejected.outcome_for(18), Some(Err("x: bad".into())));
        assert_eq!(rejected.outcome_for(17), None);
        let unreadable = ConfigReported::rejected(None, "signature: no".into(), 3);
        assert_eq!(
            unreadable.outcome_for(99),
            Some(Err("signature: no".into()))
        );
        assert!(ConfigReported::parse(
            br#"{"version":1,"state":"maybe","error":null,"applied_version":1}"#
        )
        .unwrap_err()
        .contains("unknown variant `maybe`"));
        assert!(
            ConfigReported::parse(br#"{"version":"1","state":"applied","applied_version":1}"#)
                .is_err()
        );
    }
}
