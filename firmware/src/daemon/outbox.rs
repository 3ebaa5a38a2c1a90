//! Events through the durable outbox.
//!
//! An event is written to the store (fsynced) before it is published, and
//! removed only when the broker acknowledges it. After a reconnect or a
//! restart every pending event is sent again, oldest first; consumers
//! dedupe by the event's `id`. Sequence numbers never go backwards, so
//! order is visible to consumers too.
//!
//! When the store refuses a write (the data partition is full or failing),
//! the event is not dropped: it waits in memory, in order, later events
//! wait behind it, writing is retried every few seconds, and the box says
//! so in its status ([`Outbox::problem`]) until the events are stored.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bridgepoint_proto::time::rfc3339;
use bridgepoint_proto::{Event, EventKind, Leaf};
use bridgepoint_store::Store;

use crate::control::Publish;

/// How many pending events are sent in one go after a reconnect.
const FLUSH_BATCH: usize = 1000;

/// How often storing waiting events is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// An event the store could not take yet.
struct Unstored {
    id: String,
    at: SystemTime,
    kind: EventKind,
}

/// The outbox.
pub struct Outbox {
    store: Arc<Store>,
    unstored: VecDeque<Unstored>,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

impl Outbox {
    /// The outbox in `store`.
    pub fn new(store: Arc<Store>) -> Outbox {
        Outbox {
            store,
            unstored: VecDeque::new(),
            retry_at: None,
            last_error: None,
        }
    }

    /// Stores an event; returns it for publishing once it is on disk.
    pub fn emit(&mut self, kind: EventKind, at: SystemTime, now: Instant) -> Option<Publish> {
        let event = Unstored {
            id: uuid::Uuid::new_v4().to_string(),
            at,
            kind,
        };
        if !self.unstored.is_empty() {
            // Keep the order: it waits behind the events not stored yet.
            tracing::warn!(
                event = event.kind.name(),
                waiting = self.unstored.len() + 1,
                "event kept in memory behind events the store could not take yet"
            );
            self.unstored.push_back(event);
            return None;
        }
        match self.store_one(&event) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(event = event.kind.name(), error = %e, "cannot store the event; keeping it in memory and retrying");
                self.last_error = Some(e);
                self.unstored.push_back(event);
                self.retry_at = Some(now + RETRY_EVERY);
                None
            }
        }
    }

    /// Tries again to store the events waiting in memory, in order; returns
    /// those now stored, for publishing.
    pub fn retry(&mut self, now: Instant) -> Vec<Publish> {
        if self.retry_at.is_none_or(|at| now < at) {
            return Vec::new();
        }
        let mut stored = Vec::new();
        while let Some(event) = self.unstored.front() {
            match self.store_one(event) {
                Ok(p) => {
                    stored.push(p);
                    self.unstored.pop_front();
                }
                Err(e) => {
                    self.last_error = Some(e);
                    self.retry_at = Some(now + RETRY_EVERY);
                    return stored;
                }
            }
        }
        if !stored.is_empty() {
            tracing::info!(count = stored.len(), "events stored after all");
        }
        self.retry_at = None;
        self.last_error = None;
        stored
    }

    fn store_one(&self, event: &Unstored) -> Result<Publish, String> {
        let entry = self
            .store
            .enqueue_event(|seq| {
                Event {
                    id: event.id.clone(),
                    seq,
                    at: rfc3339(event.at),
                    kind: event.kind.clone(),
                }
                .to_json()
            })
            .map_err(|e| e.to_string())?;
        tracing::info!(event = event.kind.name(), seq = entry.seq, "event queued");
        Ok(Publish {
            leaf: Leaf::Event,
            payload: entry.json.into_bytes(),
            outbox_seq: Some(entry.seq),
        })
    }

    /// Every stored event not yet acknowledged, oldest first (after a connect).
    pub fn pending(&self) -> Vec<Publish> {
        match self.store.pending_events(FLUSH_BATCH) {
            Ok(pending) => {
                if !pending.is_empty() {
                    tracing::info!(count = pending.len(), "resending pending events");
                }
                pending
                    .into_iter()
                    .map(|entry| Publish {
                        leaf: Leaf::Event,
                        payload: entry.json.into_bytes(),
                        outbox_seq: Some(entry.seq),
                    })
                    .collect()
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                Vec::new()
            }
        }
    }

    /// The broker has the event: drop it from the outbox.
    pub fn acked(&self, seq: u64) {
        if let Err(e) = self.store.remove_event(seq) {
            tracing::error!(seq, error = %e, "cannot remove an acknowledged event (it will be sent again)");
        }
    }

    /// What central IT must know, while events wait in memory.
    pub fn problem(&self) -> Option<String> {
        let n = self.unstored.len();
        (n > 0).then(|| {
            format!(
                "{n} event(s) kept in memory only, not yet stored: the data partition refuses writes ({})",
                self.last_error.as_deref().unwrap_or("unknown error")
            )
        })
    }

    /// When to retry storing.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retry_at
    }
}
