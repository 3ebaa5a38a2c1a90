//! Pushed configs: decide (in the core), store, apply, report.
//!
//! The order is what makes a push safe: the whole push is validated first;
//! an accepted config is written to the store and fsynced before it is
//! applied and before `applied` is reported; a rejected one changes nothing
//! and the box keeps running on its last good config.

use std::time::{Duration, Instant};

use bridgepoint_core::controller::Input;
use bridgepoint_core::provision::{evaluate, Change, Decision, PushContext, SignaturePolicy};
use bridgepoint_signing::verify_compact;

use super::runtime::BoxRuntime;
use crate::control::messages;

impl BoxRuntime {
    /// A message on `config/desired`.
    pub fn on_desired(&mut self, payload: &[u8]) {
        let Some(control) = &self.control else { return };
        if payload.is_empty() {
            return; // the retained push was cleared
        }
        let trusted = control.trusted.clone();
        let verify = |token: &str| verify_compact(token, &trusted).map_err(|e| e.to_string());
        let ctx = PushContext {
            device_id: &self.device_id,
            applied_version: self.applied_version,
            current: &self.settings,
            signatures: if trusted.is_empty() {
                SignaturePolicy::Unsigned
            } else {
                SignaturePolicy::Required(&verify)
            },
        };
        match evaluate(payload, &ctx) {
            Decision::Apply {
                version,
                settings,
                change,
                config_json,
            } => {
                if let Err(e) = self.store.save_provisioned(version, &config_json) {
                    let reason = format!("cannot store the config: {e}");
                    tracing::error!(version, %reason, "config rejected");
                    self.report(Some(version), Some(&reason));
                    return;
                }
                let previous = std::mem::replace(&mut self.settings, settings);
                self.applied_version = version;
                let now = Instant::now();
                self.core.set_session(
                    self.settings.session.mode,
                    Duration::from_secs(u64::from(self.settings.session.call_timeout_s)),
                    now,
                );
                match change {
                    Change::Nothing => {}
                    Change::Live => {
                        let (v, a) = (
                            self.settings.video.bitrate_kbps,
                            self.settings.audio.bitrate_kbps,
                        );
                        if (v, a) != (previous.video.bitrate_kbps, previous.audio.bitrate_kbps) {
                            self.runner.set_bitrates(v, a);
                        }
                    }
                    Change::Restart => {
                        self.runner.set_media(self.effective_media());
                        self.core.handle_input(Input::RebuildStream, now);
                    }
                }
                tracing::info!(version, ?change, "config applied");
                self.report(Some(version), None);
                self.publish_status(true);
            }
            Decision::AlreadyApplied { version } => {
                tracing::debug!(
                    version,
                    "the applied config was sent again (retained); confirming"
                );
                self.report(Some(version), None);
            }
            Decision::Reject { version, reason } => {
                tracing::warn!(?version, %reason, applied_version = self.applied_version, "config rejected; running on the last good config");
                self.report(version, Some(&reason));
            }
        }
    }

    fn report(&self, version: Option<u64>, error: Option<&str>) {
        let Some(control) = &self.control else { return };
        control.link.publish(
            control.topics.reported(),
            messages::reported(version, error, self.applied_version),
            true,
            None,
        );
    }
}
