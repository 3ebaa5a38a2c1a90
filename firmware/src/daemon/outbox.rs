//! Events through the durable outbox.
//!
//! An event is written to the store (fsynced) before it is published, and
//! removed only when the broker acknowledges it. After a reconnect or a
//! restart every pending event is sent again, oldest first; consumers
//! dedupe by the event's `id`. Sequence numbers never go backwards, so
//! order is visible to consumers too.

use std::time::SystemTime;

use bridgepoint_core::call::{CallEvent, EndReason};
use serde_json::{json, Value};

use super::runtime::BoxRuntime;
use crate::control::messages;

/// How many pending events are sent in one go after a reconnect.
const FLUSH_BATCH: usize = 1000;

impl BoxRuntime {
    /// Turns a call event into an outbox event.
    pub(super) fn on_call_event(&mut self, event: CallEvent) {
        let (kind, fields) = match event {
            CallEvent::Requested => ("call.request", json!({})),
            CallEvent::Cancelled => ("call.cancelled", json!({})),
            CallEvent::TimedOut => ("call.timeout", json!({})),
            CallEvent::SessionStarted => ("session.started", json!({})),
            CallEvent::SessionEnded(reason) => {
                // A per-session key ends with its session.
                if self.session_key.take().is_some() {
                    self.runner.set_media(self.effective_media());
                }
                let reason = match reason {
                    EndReason::LongPress => "long_press",
                    EndReason::Hub => "hub",
                };
                ("session.ended", json!({ "reason": reason }))
            }
        };
        self.emit_event(kind, fields);
    }

    /// Stores an event durably, then publishes it if the link is up.
    pub(super) fn emit_event(&mut self, kind: &str, fields: Value) {
        if self.control.is_none() {
            return; // standalone box: nobody to tell
        }
        let at = SystemTime::now();
        let entry = match self
            .store
            .enqueue_event(|seq| messages::event(seq, kind, at, fields))
        {
            Ok(entry) => entry,
            Err(e) => {
                tracing::error!(event = kind, error = %e, "cannot store event in the outbox");
                return;
            }
        };
        tracing::info!(event = kind, seq = entry.seq, "event queued");
        if let Some(control) = self.control.as_ref().filter(|c| c.connected) {
            control
                .link
                .publish(control.topics.event(), entry.json, false, Some(entry.seq));
        }
    }

    /// Sends every pending event, oldest first.
    pub(super) fn flush_outbox(&mut self) {
        let Some(control) = self.control.as_ref().filter(|c| c.connected) else {
            return;
        };
        match self.store.pending_events(FLUSH_BATCH) {
            Ok(pending) => {
                if !pending.is_empty() {
                    tracing::info!(count = pending.len(), "resending pending events");
                }
                for entry in pending {
                    control.link.publish(
                        control.topics.event(),
                        entry.json,
                        false,
                        Some(entry.seq),
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
        }
    }

    /// The broker has the event: drop it from the outbox.
    pub fn on_acked(&mut self, seq: u64) {
        if let Err(e) = self.store.remove_event(seq) {
            tracing::error!(seq, error = %e, "cannot remove an acknowledged event (it will be sent again)");
        }
    }
}
