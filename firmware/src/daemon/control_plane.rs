//! The box's side of the MQTT control plane: what it publishes, through
//! the link task, and whether the link is up.

use bridgepoint_proto::{CommandResult, ConfigReported, Leaf, Status, Telemetry};

use crate::control::{LinkHandle, Publish};

/// Publishing to central IT.
pub struct ControlPlane {
    link: LinkHandle,
    connected: bool,
    last_status: Option<String>,
}

impl ControlPlane {
    /// Publishing through `link`, not connected yet.
    pub fn new(link: LinkHandle) -> ControlPlane {
        ControlPlane {
            link,
            connected: false,
            last_status: None,
        }
    }

    /// Whether the link is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The link came up or went down.
    pub fn set_connected(&mut self, connected: bool) {
        self.connected = connected;
    }

    /// Publishes the retained status when it changed. The link keeps the
    /// latest while offline and publishes it again on every connect.
    pub fn publish_status(&mut self, status: &Status) {
        let json = status.to_json();
        if self.last_status.as_deref() == Some(json.as_str()) {
            return;
        }
        self.link.publish(Publish::new(Leaf::Status, json.clone()));
        self.last_status = Some(json);
    }

    /// Publishes the retained report on a push.
    pub fn report(&self, report: &ConfigReported) {
        self.link
            .publish(Publish::new(Leaf::ConfigReported, report.to_json()));
    }

    /// Answers a command.
    pub fn answer(&self, result: &CommandResult) {
        if self.connected {
            self.link
                .publish(Publish::new(Leaf::CmdResult, result.to_json()));
        }
    }

    /// Publishes an outbox event (QoS 1; the ack removes it from the outbox).
    pub fn publish_event(&self, publish: Publish) {
        if self.connected {
            self.link.publish(publish);
        }
    }

    /// Publishes a telemetry report.
    pub fn publish_telemetry(&self, telemetry: &Telemetry) {
        if self.connected {
            self.link
                .publish(Publish::new(Leaf::Telemetry, telemetry.to_json()));
        }
    }
}
