//! Remote updates and the post-update health gate.
//!
//! `update` installs a signed bundle with RAUC (progress as events), then
//! reboots into the new slot. On every boot of a RAUC system the health
//! gate (in the core) decides the booted slot: good once the box runs on a
//! config, its pipeline builds and its control link is up; bad if that does
//! not happen within the deadline, so the bootloader falls back.

use std::time::Instant;

use bridgepoint_core::health::{HealthGate, HealthInputs, SlotVerdict, HEALTH_DEADLINE};
use serde_json::json;
use tokio::sync::mpsc;

use super::runtime::BoxRuntime;
use crate::update::{Rauc, UpdateEvent};

/// The update machinery of a box with RAUC.
pub struct Updates {
    pub(super) rauc: Rauc,
    pub(super) slot: Option<String>,
    gate: HealthGate,
    installing: bool,
    events: mpsc::UnboundedSender<UpdateEvent>,
}

impl Updates {
    /// Updates through `rauc`, booted into `slot`, with a health gate from `booted`.
    pub fn new(
        rauc: Rauc,
        slot: Option<String>,
        booted: Instant,
        events: mpsc::UnboundedSender<UpdateEvent>,
    ) -> Self {
        Updates {
            rauc,
            slot,
            gate: HealthGate::new(booted, HEALTH_DEADLINE),
            installing: false,
            events,
        }
    }

    /// When the health gate's deadline passes, until it has decided.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.gate.poll_timeout()
    }
}

impl BoxRuntime {
    /// `update` from central IT.
    pub(super) fn start_update(&mut self, url: String) -> Result<(), String> {
        let Some(updates) = self.updates.as_mut() else {
            return Err("this box has no RAUC: updates are not available".to_owned());
        };
        if updates.installing {
            return Err("an update is already being installed".to_owned());
        }
        updates.installing = true;
        tracing::info!(%url, "installing update");
        updates.rauc.install(url.clone(), updates.events.clone());
        self.emit_event("update.started", json!({ "url": url }));
        Ok(())
    }

    /// Progress or the end of an install.
    pub fn on_update_event(&mut self, event: UpdateEvent) {
        match event {
            UpdateEvent::Progress { percent, message } => {
                tracing::info!(percent, %message, "update progress");
                self.emit_event(
                    "update.progress",
                    json!({ "percent": percent, "message": message }),
                );
            }
            UpdateEvent::Finished { error: Some(error) } => {
                if let Some(u) = self.updates.as_mut() {
                    u.installing = false;
                }
                tracing::error!(%error, "update failed; still running the current slot");
                self.emit_event("update.failed", json!({ "error": error }));
            }
            UpdateEvent::Finished { error: None } => {
                tracing::warn!("update installed; rebooting into the new slot");
                self.emit_event("update.installed", json!({}));
                tokio::spawn(async {
                    // Let the outbox reach the broker first.
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    if let Err(e) = crate::update::reboot().await {
                        tracing::error!(error = %e, "cannot reboot into the new slot");
                    }
                });
            }
        }
    }

    /// Feeds the health gate; marks the slot when it decides.
    pub fn check_health(&mut self, now: Instant) {
        let inputs = HealthInputs {
            config_loaded: true,
            pipeline_built: self.pipeline_builds || self.settings.media().is_none(),
            control_link_up: self.control.as_ref().is_none_or(|c| c.connected),
        };
        let Some(updates) = self.updates.as_mut() else {
            return;
        };
        let Some(verdict) = updates.gate.update(inputs, now) else {
            return;
        };
        let rauc = updates.rauc.clone();
        let slot = updates.slot.clone().unwrap_or_else(|| "?".to_owned());
        match verdict {
            SlotVerdict::Good => tracing::info!(%slot, "healthy: marking the booted slot good"),
            SlotVerdict::Bad => {
                tracing::error!(%slot, ?inputs, "not healthy in time: marking the booted slot bad and rebooting")
            }
        }
        self.emit_event(
            "update.health",
            json!({ "slot": slot, "verdict": if verdict == SlotVerdict::Good { "good" } else { "bad" } }),
        );
        tokio::spawn(async move {
            match rauc.mark(verdict == SlotVerdict::Good).await {
                Ok(()) if verdict == SlotVerdict::Bad => {
                    if let Err(e) = crate::update::reboot().await {
                        tracing::error!(error = %e, "cannot reboot to fall back");
                    }
                }
                Ok(()) => {}
                Err(e) => tracing::error!(error = %e, "cannot mark the booted slot"),
            }
        });
    }
}
