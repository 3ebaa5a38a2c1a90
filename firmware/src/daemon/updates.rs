//! Remote updates and the post-update health gate.
//!
//! `update` installs a signed bundle with RAUC (progress as events), then
//! reboots into the new slot. On a boot of a slot not yet proven, the health
//! gate (in the core) is the one owner of the slot's verdict: good once the
//! box streamed or held its control link for the configured hold, bad if
//! that does not happen by the deadline after boot, so the bootloader falls
//! back. What the box remembers about its slots is a store record, so the
//! verdict is given once per boot and a proven slot is never judged again.

use std::sync::Arc;
use std::time::Instant;

use bridgepoint_core::health::{
    gate_start, record_verdict, GateStart, HealthGate, HealthInputs, HealthPolicy, SlotRecord,
    SlotVerdict,
};
use bridgepoint_core::update::UpdateMachine;
use bridgepoint_proto::EventKind;
use bridgepoint_store::Store;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::boot::Boot;
use crate::update::{Rauc, UpdateEvent};

/// The store record of the slots.
const SLOTS_RECORD: &str = "slots";

/// The update machinery of a box with RAUC.
pub struct Updates {
    rauc: Rauc,
    slot: String,
    boot: Boot,
    machine: UpdateMachine,
    gate: Option<HealthGate>,
    record: SlotRecord,
    store: Arc<Store>,
    events: mpsc::UnboundedSender<UpdateEvent>,
    /// A verdict given at start (the factory slot), for the outbox.
    announcement: Option<EventKind>,
}

impl Updates {
    /// Updates through `rauc`, booted into `slot`; decides how the health
    /// gate starts from the stored slot record.
    pub fn new(
        rauc: Rauc,
        slot: String,
        boot: Boot,
        policy: HealthPolicy,
        store: Arc<Store>,
        events: mpsc::UnboundedSender<UpdateEvent>,
    ) -> Updates {
        let record = read_record(&store);
        let mut updates = Updates {
            rauc,
            slot,
            gate: None,
            machine: UpdateMachine::new(),
            record,
            store,
            events,
            boot,
            announcement: None,
        };
        match gate_start(&updates.record, &updates.slot, &updates.boot.id) {
            GateStart::AlreadyDecided(verdict) => {
                tracing::info!(slot = %updates.slot, ?verdict, "the health gate already decided in this boot")
            }
            GateStart::Proven => {
                tracing::info!(slot = %updates.slot, "slot proven on an earlier boot: no health gate")
            }
            GateStart::Factory => {
                tracing::info!(slot = %updates.slot, "first boot with no slot record (the slot flashed at the factory): marking it good");
                updates.conclude(SlotVerdict::Good);
                updates.announcement = Some(updates.health_event(SlotVerdict::Good));
            }
            GateStart::Watch => {
                let deadline_in =
                    (updates.boot.at + policy.deadline).saturating_duration_since(Instant::now());
                tracing::info!(
                    slot = %updates.slot,
                    hold_s = policy.hold.as_secs(),
                    deadline_in_s = deadline_in.as_secs(),
                    "a slot not proven yet: health gate armed"
                );
                updates.gate = Some(HealthGate::new(updates.boot.at, policy));
            }
        }
        updates
    }

    /// The event of a verdict given at start, once.
    pub fn take_announcement(&mut self) -> Option<EventKind> {
        self.announcement.take()
    }

    fn health_event(&self, verdict: SlotVerdict) -> EventKind {
        EventKind::UpdateHealth {
            slot: self.slot.clone(),
            verdict: match verdict {
                SlotVerdict::Good => bridgepoint_proto::SlotVerdict::Good,
                SlotVerdict::Bad => bridgepoint_proto::SlotVerdict::Bad,
            },
        }
    }

    /// The booted slot.
    pub fn slot(&self) -> &str {
        &self.slot
    }

    /// When the gate next needs a look, until decided.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.gate.as_ref().and_then(HealthGate::poll_timeout)
    }

    /// `update` from central IT: starts RAUC if nothing else is going on.
    pub fn start(&mut self, url: &str) -> Result<EventKind, String> {
        self.machine.request(url)?;
        tracing::info!(%url, "installing update");
        self.rauc.install(url.to_owned(), self.events.clone());
        Ok(EventKind::UpdateStarted {
            url: url.to_owned(),
        })
    }

    /// Progress or the end of an install; the events to emit.
    pub fn on_event(&mut self, event: UpdateEvent) -> EventKind {
        match event {
            UpdateEvent::Progress { percent, message } => {
                tracing::info!(percent, %message, "update progress");
                EventKind::UpdateProgress { percent, message }
            }
            UpdateEvent::Finished { error: Some(error) } => {
                self.machine.finished(false);
                tracing::error!(%error, "update failed; still running the current slot");
                EventKind::UpdateFailed { error }
            }
            UpdateEvent::Finished { error: None } => {
                self.machine.finished(true);
                tracing::warn!("update installed; rebooting into the new slot");
                tokio::spawn(async {
                    // Let the outbox reach the broker first.
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    if let Err(e) = crate::reboot::request("update installed: booting the new slot")
                    {
                        tracing::error!(error = %e, "cannot reboot into the new slot");
                    }
                });
                EventKind::UpdateInstalled
            }
        }
    }

    /// Feeds the health gate; on a verdict, marks the slot, records it, and
    /// returns the event to emit.
    pub fn check_health(&mut self, inputs: HealthInputs, now: Instant) -> Option<EventKind> {
        let verdict = self.gate.as_mut()?.update(inputs, now)?;
        match verdict {
            SlotVerdict::Good => {
                tracing::info!(slot = %self.slot, "healthy for the whole hold: marking the booted slot good")
            }
            SlotVerdict::Bad => {
                tracing::error!(slot = %self.slot, ?inputs, "not healthy in time: marking the booted slot bad and rebooting")
            }
        }
        self.conclude(verdict);
        Some(self.health_event(verdict))
    }

    /// Records the verdict, then marks the slot (and reboots on bad).
    fn conclude(&mut self, verdict: SlotVerdict) {
        self.record = record_verdict(&self.record, &self.slot, &self.boot.id, verdict);
        write_record(&self.store, &self.record);
        let rauc = self.rauc.clone();
        tokio::spawn(async move {
            match rauc.mark(verdict == SlotVerdict::Good).await {
                Ok(()) if verdict == SlotVerdict::Bad => {
                    if let Err(e) = crate::reboot::request(
                        "the booted slot was not healthy in time and is marked bad: falling back",
                    ) {
                        tracing::error!(error = %e, "cannot reboot to fall back");
                    }
                }
                Ok(()) => {}
                Err(e) => tracing::error!(error = %e, "cannot mark the booted slot"),
            }
        });
    }
}

fn read_record(store: &Store) -> SlotRecord {
    let bytes = match store.record(SLOTS_RECORD) {
        Ok(Some(b)) => b,
        Ok(None) => return SlotRecord::default(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the slot record; treating this slot as not proven");
            return SlotRecord {
                last_good_slot: Some(String::new()),
                decided_in_boot: None,
            };
        }
    };
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let verdict = |v: &Value| match v.as_str() {
        Some("good") => Some(SlotVerdict::Good),
        Some("bad") => Some(SlotVerdict::Bad),
        _ => None,
    };
    SlotRecord {
        last_good_slot: doc["last_good_slot"].as_str().map(str::to_owned),
        decided_in_boot: doc["decided_in_boot"]["boot_id"]
            .as_str()
            .zip(verdict(&doc["decided_in_boot"]["verdict"]))
            .map(|(b, v)| (b.to_owned(), v)),
    }
}

fn write_record(store: &Store, record: &SlotRecord) {
    let doc = json!({
        "last_good_slot": record.last_good_slot,
        "decided_in_boot": record.decided_in_boot.as_ref().map(|(boot, v)| json!({
            "boot_id": boot,
            "verdict": if *v == SlotVerdict::Good { "good" } else { "bad" },
        })),
    });
    if let Err(e) = store.save_record(SLOTS_RECORD, doc.to_string().as_bytes()) {
        tracing::error!(error = %e, "cannot store the slot record");
    }
}
