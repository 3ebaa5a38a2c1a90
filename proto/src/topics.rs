//! Topic names: `<topic_root>/<device_id>/<leaf>`, built in one place.

use std::fmt;

/// The topic root when none is configured.
pub const DEFAULT_TOPIC_ROOT: &str = "bridgepoint/v1";

/// The last part of a topic: what the messages on it are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leaf {
    /// Retained presence and state (box → central; the Will says offline).
    Status,
    /// Retained desired config (central → box).
    ConfigDesired,
    /// Retained report of the last push (box → central).
    ConfigReported,
    /// Commands (central → box).
    Cmd,
    /// Command results (box → central).
    CmdResult,
    /// Events through the box's durable outbox (box → central).
    Event,
    /// Periodic telemetry (box → central).
    Telemetry,
}

impl Leaf {
    /// Every leaf, in the order docs/provisioning.md lists them.
    pub const ALL: [Leaf; 7] = [
        Leaf::Status,
        Leaf::ConfigDesired,
        Leaf::ConfigReported,
        Leaf::Cmd,
        Leaf::CmdResult,
        Leaf::Event,
        Leaf::Telemetry,
    ];

    /// The leaf as it appears in topics.
    pub fn as_str(self) -> &'static str {
        match self {
            Leaf::Status => "status",
            Leaf::ConfigDesired => "config/desired",
            Leaf::ConfigReported => "config/reported",
            Leaf::Cmd => "cmd",
            Leaf::CmdResult => "cmd/result",
            Leaf::Event => "event",
            Leaf::Telemetry => "telemetry",
        }
    }

    /// The leaf named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Leaf> {
        Leaf::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Whether messages on it are published retained.
    pub fn retained(self) -> bool {
        matches!(
            self,
            Leaf::Status | Leaf::ConfigDesired | Leaf::ConfigReported
        )
    }
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The topics of one box (or, with [`Topics::every_device`], of all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    base: String,
}

impl Topics {
    /// The topics under `<root>/<device_id>/`.
    pub fn new(root: &str, device_id: &str) -> Topics {
        Topics {
            base: format!("{root}/{device_id}"),
        }
    }

    /// Subscription filters for every box under `root` (`<root>/+/<leaf>`).
    pub fn every_device(root: &str) -> Topics {
        Topics::new(root, "+")
    }

    /// The full topic of `leaf`.
    pub fn topic(&self, leaf: Leaf) -> String {
        format!("{}/{}", self.base, leaf.as_str())
    }
}

/// Splits `<root>/<device>/<leaf>` into the device and the leaf; `None` for
/// a topic outside `root` or with a leaf this protocol does not have.
pub fn split<'a>(root: &str, topic: &'a str) -> Option<(&'a str, Leaf)> {
    let rest = topic.strip_prefix(root)?.strip_prefix('/')?;
    let (device, leaf) = rest.split_once('/')?;
    if device.is_empty() {
        return None;
    }
    Some((device, Leaf::parse(leaf)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_live_under_root_and_device() {
        let t = Topics::new("bridgepoint/v1", "lang-son-01");
        let all: Vec<String> = Leaf::ALL.iter().map(|l| t.topic(*l)).collect();
        assert_eq!(
            all,
            [
                "bridgepoint/v1/lang-son-01/status",
                "bridgepoint/v1/lang-son-01/config/desired",
                "bridgepoint/v1/lang-son-01/config/reported",
                "bridgepoint/v1/lang-son-01/cmd",
                "bridgepoint/v1/lang-son-01/cmd/result",
                "bridgepoint/v1/lang-son-01/event",
                "bridgepoint/v1/lang-son-01/telemetry",
            ]
        );
        assert_eq!(Topics::every_device("r").topic(Leaf::Status), "r/+/status");
        assert!(Leaf::Status.retained() && !Leaf::Event.retained());
    }

    #[test]
    fn topics_split_back_into_device_and_leaf() {
        let root = "bridgepoint/v1";
        assert_eq!(
            split(root, "bridgepoint/v1/x/config/reported"),
            Some(("x", Leaf::ConfigReported))
        );
        assert_eq!(
            split(root, "bridgepoint/v1/x/status"),
            Some(("x", Leaf::Status))
        );
        assert_eq!(split(root, "bridgepoint/v10/x/status"), None);
        assert_eq!(split(root, "bridgepoint/v1/x"), None);
        assert_eq!(split(root, "bridgepoint/v1//status"), None);
        assert_eq!(split(root, "bridgepoint/v1/x/colour"), None);
        assert_eq!(split(root, "other/x/status"), None);
        for leaf in Leaf::ALL {
            assert_eq!(Leaf::parse(leaf.as_str()), Some(leaf));
        }
    }
}
