//! Topic names of one box: `<topic_root>/<device_id>/<leaf>`.

/// The topics of one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    base: String,
}

impl Topics {
    /// Topics under `<root>/<device_id>/`.
    pub fn new(root: &str, device_id: &str) -> Self {
        Topics {
            base: format!("{root}/{device_id}"),
        }
    }

    fn leaf(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.base)
    }

    /// Retained presence and state (box → central; the Will says offline).
    pub fn status(&self) -> String {
        self.leaf("status")
    }
    /// Retained desired config (central → box).
    pub fn desired(&self) -> String {
        self.leaf("config/desired")
    }
    /// Retained report of the last push (box → central).
    pub fn reported(&self) -> String {
        self.leaf("config/reported")
    }
    /// Commands (central → box).
    pub fn cmd(&self) -> String {
        self.leaf("cmd")
    }
    /// Command results (box → central).
    pub fn cmd_result(&self) -> String {
        self.leaf("cmd/result")
    }
    /// Events through the durable outbox (box → central, QoS 1).
    pub fn event(&self) -> String {
        self.leaf("event")
    }
    /// Periodic telemetry (box → central).
    pub fn telemetry(&self) -> String {
        self.leaf("telemetry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_live_under_root_and_device() {
        let t = Topics::new("bridgepoint/v1", "lang-son-01");
        assert_eq!(t.status(), "bridgepoint/v1/lang-son-01/status");
        assert_eq!(t.desired(), "bridgepoint/v1/lang-son-01/config/desired");
        assert_eq!(t.reported(), "bridgepoint/v1/lang-son-01/config/reported");
        assert_eq!(t.cmd(), "bridgepoint/v1/lang-son-01/cmd");
        assert_eq!(t.cmd_result(), "bridgepoint/v1/lang-son-01/cmd/result");
        assert_eq!(t.event(), "bridgepoint/v1/lang-son-01/event");
        assert_eq!(t.telemetry(), "bridgepoint/v1/lang-son-01/telemetry");
    }
}
