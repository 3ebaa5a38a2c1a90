//! What waits to be published, and what may be dropped: the link task's
//! queue, apart from the client so its rules are tested on their own.
//!
//! - **Retained** state (`status`, `config/reported`): the latest payload per
//!   topic is remembered, also while offline, and queued again on every
//!   connect; an older one still queued is replaced by a newer one.
//! - **Events** (outbox entries): queued while online and never dropped;
//!   while offline they stay in the daemon's outbox, which sends them again
//!   on connect.
//! - **Plain** messages (telemetry, command results): dropped while offline,
//!   and the oldest of them when more than [`MAX_QUEUED_PLAIN`] wait.

use std::collections::{BTreeMap, VecDeque};

use bridgepoint_proto::Leaf;

/// Above this many queued plain messages, the oldest are dropped.
pub const MAX_QUEUED_PLAIN: usize = 256;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Where (under this box's topics); retained or not follows from it.
    pub leaf: Leaf,
    /// The payload.
    pub payload: Vec<u8>,
    /// The outbox entry it carries, if any (QoS 1, ack reported).
    pub outbox_seq: Option<u64>,
}

/// The queue of one link.
#[derive(Debug, Default)]
pub struct PublishQueue {
    connected: bool,
    queue: VecDeque<Publish>,
    retained: BTreeMap<Leaf, Publish>,
}

impl Publish {
    /// A message that is not an outbox event.
    pub fn new(leaf: Leaf, payload: impl Into<Vec<u8>>) -> Publish {
        Publish {
            leaf,
            payload: payload.into(),
            outbox_seq: None,
        }
    }

    /// Events and retained state are never dropped, only delayed.
    pub fn must_not_be_dropped(&self) -> bool {
        self.outbox_seq.is_some() || self.leaf.retained()
    }
}

impl PublishQueue {
    /// An empty queue of a link not yet connected.
    pub fn new() -> PublishQueue {
        PublishQueue::default()
    }

    /// A publish from the daemon. Returns a plain message it had to drop.
    pub fn accept(&mut self, p: Publish) -> Option<Publish> {
        if p.leaf.retained() {
            self.retained.insert(p.leaf, p.clone());
        }
        if !self.connected {
            return None;
        }
        if p.leaf.retained() {
            self.queue.retain(|q| q.leaf != p.leaf);
        }
        self.queue.push_back(p);
        let plain = self
            .queue
            .iter()
            .filter(|q| !q.must_not_be_dropped())
            .count();
        if plain > MAX_QUEUED_PLAIN {
            let oldest = self.queue.iter().position(|q| !q.must_not_be_dropped())?;
            return self.queue.remove(oldest);
        }
        None
    }

    /// The link came up: the retained state goes first.
    pub fn on_connected(&mut self) {
        self.connected = true;
        self.queue = self.retained.values().cloned().collect();
    }

    /// The link went down: nothing is in flight any more.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
        self.queue.clear();
    }

    /// Hands queued publishes to `send` in order while it takes them
    /// (`false`: no room now; they stay, in order, for the next drain).
    /// Returns the outbox tags of those handed over, in order.
    pub fn drain(&mut self, mut send: impl FnMut(&Publish) -> bool) -> Vec<Option<u64>> {
        let mut sent = Vec::new();
        if !self.connected {
            return sent;
        }
        while let Some(p) = self.queue.front() {
            if !send(p) {
                break;
            }
            sent.push(p.outbox_seq);
            self.queue.pop_front();
        }
        sent
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Publish {
        Publish {
            leaf: Leaf::Event,
            payload: format!("e{seq}").into_bytes(),
            outbox_seq: Some(seq),
        }
    }

    fn plain(n: u32) -> Publish {
        Publish::new(Leaf::Telemetry, format!("t{n}"))
    }

    #[test]
    fn events_wait_in_order_while_the_client_is_full_and_none_is_lost() {
        let mut q = PublishQueue::new();
        q.on_connected();
        for seq in 1..=2000 {
            q.accept(event(seq));
        }
        // The client takes 512 at first, then nothing, then everything.
        let mut room = 512;
        let mut sent: Vec<Option<u64>> = q.drain(|_| {
            room -= 1;
            room >= 0
        });
        assert_eq!(sent.len(), 512);
        assert!(
            q.drain(|_| false).is_empty(),
            "full: nothing goes, nothing is dropped"
        );
        assert_eq!(q.len(), 1488);
        sent.extend(q.drain(|_| true));
        let expected: Vec<Option<u64>> = (1..=2000).map(Some).collect();
        assert_eq!(sent, expected);
    }

    #[test]
    fn a_flood_of_plain_messages_drops_only_plain_ones() {
        let mut q = PublishQueue::new();
        q.on_connected();
        q.accept(event(1));
        q.accept(Publish::new(Leaf::ConfigReported, "r1"));
        let mut dropped = 0;
        for n in 0..1000 {
            if q.accept(plain(n)).is_some() {
                dropped += 1;
            }
        }
        q.accept(event(2));
        assert_eq!(dropped, 1000 - MAX_QUEUED_PLAIN);
        let all: Vec<Publish> = {
            let mut v = Vec::new();
            q.drain(|p| {
                v.push(p.clone());
                true
            });
            v
        };
        assert_eq!(all.iter().filter(|p| p.outbox_seq.is_some()).count(), 2);
        assert_eq!(
            all.iter()
                .filter(|p| p.leaf == Leaf::ConfigReported)
                .count(),
            1
        );
        assert_eq!(all.last().map(|p| p.payload.clone()), Some(b"e2".to_vec()));
        assert_eq!(
            all[2].payload,
            format!("t{}", 1000 - MAX_QUEUED_PLAIN).into_bytes(),
            "the oldest plain ones went"
        );
    }

    #[test]
    fn retained_state_is_remembered_offline_and_sent_first_on_connect() {
        let mut q = PublishQueue::new();
        q.accept(Publish::new(Leaf::Status, "s1"));
        q.accept(Publish::new(Leaf::ConfigReported, "r1"));
        q.accept(Publish::new(Leaf::Status, "s2"));
        assert!(q.accept(plain(1)).is_none());
        q.accept(event(7));
        assert!(q.is_empty(), "offline: nothing queued");
        q.on_connected();
        let mut got = Vec::new();
        q.drain(|p| {
            got.push(String::from_utf8(p.payload.clone()).unwrap());
            true
        });
        assert_eq!(
            got,
            ["s2", "r1"],
            "only the latest status; no stale telemetry or event"
        );
    }

    #[test]
    fn a_newer_retained_payload_replaces_one_still_queued() {
        let mut q = PublishQueue::new();
        q.on_connected();
        q.accept(Publish::new(Leaf::Status, "s1"));
        q.accept(event(1));
        q.accept(Publish::new(Leaf::Status, "s2"));
        let mut got = Vec::new();
        q.drain(|p| {
            got.push(String::from_utf8(p.payload.clone()).unwrap());
            true
        });
        assert_eq!(got, ["e1", "s2"]);
        q.on_disconnected();
        assert!(q.drain(|_| true).is_empty());
    }
}
