//! The settings the box runs on, and pushed configs: decide (in the core),
//! store, apply, report.
//!
//! The order is what makes a push safe: the whole push is validated first;
//! an accepted config is written to the store and fsynced before it is
//! applied and before `applied` is reported; a rejected one changes nothing
//! and the box keeps running on its last good config.

use std::sync::Arc;

use bridgepoint_core::config::{parse_pushed_settings, Config, MediaConfig, Settings};
use bridgepoint_core::provision::{check_renumber, evaluate, Change, Decision, PushContext};
use bridgepoint_proto::ConfigReported;
use bridgepoint_store::{Store, StoreError};

use super::trust::Trust;

/// What a push did.
pub struct PushResult {
    /// The report to publish.
    pub report: ConfigReported,
    /// When applied: how much it changes, and the settings it replaced.
    pub applied: Option<(Change, Settings)>,
}

/// The settings in force and where they came from.
pub struct Provisioning {
    device_id: String,
    store: Arc<Store>,
    /// The settings from the local file (what a factory reset returns to).
    file_settings: Settings,
    settings: Settings,
    /// The provisioned version in force (0 = the local file).
    applied_version: u64,
    /// A per-session SRTP key from `session.start`, until the session ends.
    session_key: Option<Vec<u8>>,
    /// A per-session key of what the hub sends back, likewise.
    session_receive_key: Option<Vec<u8>>,
}

impl Provisioning {
    /// The stored provisioned config if there is a valid one, else the file's.
    pub fn load(config: &Config, store: Arc<Store>) -> Result<Provisioning, StoreError> {
        let (settings, applied_version) = match store.provisioned()? {
            Some(stored) => match serde_json::from_str(&stored.config_json)
                .map_err(|e| e.to_string())
                .and_then(|v| parse_pushed_settings(&v).map_err(|e| e.to_string()))
            {
                Ok(settings) => {
                    tracing::info!(
                        version = stored.version,
                        "running on the stored provisioned config"
                    );
                    (settings, stored.version)
                }
                Err(e) => {
                    tracing::error!(version = stored.version, error = %e, "stored config no longer valid; running on the local file");
                    (config.settings.clone(), 0)
                }
            },
            None => (config.settings.clone(), 0),
        };
        Ok(Provisioning {
            device_id: config.device_id.clone(),
            store,
            file_settings: config.settings.clone(),
            settings,
            applied_version,
            session_key: None,
            session_receive_key: None,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The provisioned version in force (0 = the local file).
    pub fn applied_version(&self) -> u64 {
        self.applied_version
    }

    /// What pipelines are built from now (with the session key, if any);
    /// `None` until the box has a hub and a key.
    pub fn media(&self) -> Option<MediaConfig> {
        let mut media = self.settings.media()?;
        if let Some(key) = &self.session_key {
            media.srtp.key = key.clone();
        }
        if let Some(key) = &self.session_receive_key {
            media.srtp.receive_key = Some(key.clone());
        }
        Some(media)
    }

    /// A message on `config/desired`.
    pub fn on_push(&mut self, raw: &[u8], trust: &Trust, now_unix_ms: Option<u64>) -> PushResult {
        let decision = trust.with_policy(|signatures| {
            evaluate(
                raw,
                &PushContext {
                    device_id: &self.device_id,
                    applied_version: self.applied_version,
                    current: &self.settings,
                    signatures,
                    now_unix_ms,
                },
            )
        });
        let rejected = |version, reason: String, applied| PushResult {
            report: ConfigReported::rejected(version, reason, applied),
            applied: None,
        };
        match decision {
            Decision::Apply {
                version,
                settings,
                change,
                config_json,
            } => {
                if let Err(e) = self.store.save_provisioned(version, &config_json) {
                    let reason = format!("cannot store the config: {e}");
                    tracing::error!(version, %reason, "config rejected");
                    return rejected(Some(version), reason, self.applied_version);
                }
                let previous = std::mem::replace(&mut self.settings, *settings);
                self.applied_version = version;
                tracing::info!(version, ?change, "config applied");
                PushResult {
                    report: ConfigReported::applied(version),
                    applied: Some((change, previous)),
                }
            }
            Decision::AlreadyApplied { version } => {
                tracing::debug!(
                    version,
                    "the applied config was sent again (retained); confirming"
                );
                PushResult {
                    report: ConfigReported::applied(version),
                    applied: None,
                }
            }
            Decision::Reject { version, reason } => {
                tracing::warn!(?version, %reason, applied_version = self.applied_version, "config rejected; running on the last good config");
                rejected(version, reason, self.applied_version)
            }
        }
    }

    /// Per-session keys from `session.start` (what the box sends, what
    /// the hub sends back), checked like configured keys, the two never the
    /// same; returns whether the keys in use changed.
    pub fn start_session_keys(
        &mut self,
        send: Option<Vec<u8>>,
        receive: Option<Vec<u8>>,
    ) -> Result<bool, String> {
        let Some(srtp) = &self.settings.srtp else {
            return Err("no hub or SRTP key provisioned yet".to_owned());
        };
        let check = |name: &str, key: &Option<Vec<u8>>| match key {
            Some(k) => bridgepoint_core::srtp::check_key(srtp.suite, k)
                .map_err(|e| format!("args.{name}: {e}")),
            None => Ok(()),
        };
        check("srtp_key", &send)?;
        check("receive_key", &receive)?;
        let send_in_use = send.as_ref().unwrap_or(&srtp.key);
        let receive_in_use = receive.as_ref().or(srtp.receive_key.as_ref());
        if receive_in_use == Some(send_in_use) {
            return Err(
                "args.receive_key: must differ from the key the box sends with: each direction has its own key"
                    .to_owned(),
            );
        }
        let mut changed = false;
        if send.is_some() {
            changed |= self.session_key != send;
            self.session_key = send;
        }
        if receive.is_some() {
            changed |= self.session_receive_key != receive;
            self.session_receive_key = receive;
        }
        Ok(changed)
    }

    /// The session ended: its keys with it. Returns whether there was one.
    pub fn end_session_key(&mut self) -> bool {
        let send = self.session_key.take().is_some();
        let receive = self.session_receive_key.take().is_some();
        send || receive
    }

    /// Forgets the provisioned config (factory reset), keeping the identity.
    pub fn factory_reset(&mut self) -> Result<(), StoreError> {
        self.store.clear_provisioned()?;
        self.settings = self.file_settings.clone();
        self.applied_version = 0;
        self.session_key = None;
        self.session_receive_key = None;
        Ok(())
    }

    /// `config.set_version`: the config in force, renumbered.
    pub fn set_version(&mut self, version: u64) -> Result<(), String> {
        check_renumber(self.applied_version, version)?;
        let stored = self
            .store
            .provisioned()
            .map_err(|e| format!("cannot read the stored config: {e}"))?
            .ok_or("no provisioned config is stored: nothing to renumber")?;
        self.store
            .save_provisioned(version, &stored.config_json)
            .map_err(|e| format!("cannot store the new version: {e}"))?;
        tracing::warn!(
            from = self.applied_version,
            to = version,
            "config version set by central IT"
        );
        self.applied_version = version;
        Ok(())
    }
}
