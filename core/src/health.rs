//! The health gate after an update: the one owner of "this slot is good".
//!
//! On a RAUC system the bootloader counts boot attempts of a slot until it
//! is marked good and falls back to the previous slot when they run out.
//! Only this gate marks a slot good, and only once the box **proved** itself
//! on it: it streamed, or held its control link (or, on a box without one,
//! built its pipeline), **continuously for `hold`**, within `deadline` of
//! the boot. A slot that does not manage that by the deadline is marked bad
//! and the box reboots into the previous one. The deadline counts from the
//! boot, not from the daemon's start, so a daemon that reaches READY and
//! then crashes every few minutes never completes the hold and falls back
//! at the deadline.
//!
//! What the box remembers across boots ([`SlotRecord`]) decides whether the
//! gate runs at all ([`gate_start`]): not again in a boot that already
//! decided (a daemon restarted after its verdict), not on a slot already
//! proven on an earlier boot (a network outage after a power cut must not
//! make a good slot fall back), and not on the slot flashed at the factory
//! (the first boot with no record: there is nothing to fall back to).
//!
//! Sans-IO: the boot instant, the inputs and the time are passed in.

use std::time::{Duration, Instant};

/// How long the box must be healthy, and by when after boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Healthy continuously this long marks the slot good.
    pub hold: Duration,
    /// Not good this long after boot marks it bad.
    pub deadline: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            hold: Duration::from_secs(300),
            deadline: Duration::from_secs(900),
        }
    }
}

/// The verdict on the booted slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotVerdict {
    /// Healthy: keep this slot.
    Good,
    /// Not healthy in time: fall back.
    Bad,
}

/// What health is made of, as the box sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthInputs {
    /// Packets are leaving the box.
    pub streaming: bool,
    /// The box has a control link configured.
    pub has_control_link: bool,
    /// The control link is up.
    pub control_link_up: bool,
    /// The configured pipeline builds (or the box is not provisioned yet).
    pub pipeline_builds: bool,
}

impl HealthInputs {
    /// Healthy now: streaming, or the control link up; a box without a
    /// control link that is not streaming counts as healthy when its
    /// pipeline builds (it may be waiting for a call).
    pub fn healthy(&self) -> bool {
        self.streaming
            || (self.has_control_link && self.control_link_up)
            || (!self.has_control_link && self.pipeline_builds)
    }
}

/// The hold and the deadline of one boot.
#[derive(Debug, Clone)]
pub struct HealthGate {
    policy: HealthPolicy,
    deadline: Instant,
    healthy_since: Option<Instant>,
    decided: Option<SlotVerdict>,
}

impl HealthGate {
    /// A gate for a boot at `booted`.
    pub fn new(booted: Instant, policy: HealthPolicy) -> Self {
        HealthGate {
            policy,
            deadline: booted + policy.deadline,
            healthy_since: None,
            decided: None,
        }
    }

    /// The verdict, the first time one can be given.
    pub fn update(&mut self, inputs: HealthInputs, now: Instant) -> Option<SlotVerdict> {
        if self.decided.is_some() {
            return None;
        }
        if inputs.healthy() {
            let since = *self.healthy_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= self.policy.hold {
                self.decided = Some(SlotVerdict::Good);
                return self.decided;
            }
        } else {
            self.healthy_since = None;
        }
        if now >= self.deadline {
            self.decided = Some(SlotVerdict::Bad);
            return self.decided;
        }
        None
    }

    /// When to look again if nothing changes: the end of the hold or the
    /// deadline, until decided.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.decided.is_some() {
            return None;
        }
        let hold_ends = self.healthy_since.map(|s| s + self.policy.hold);
        Some(hold_ends.map_or(self.deadline, |h| h.min(self.deadline)))
    }

    /// The verdict once given.
    pub fn verdict(&self) -> Option<SlotVerdict> {
        self.decided
    }
}

/// What the box remembers about its slots (kept on the data partition).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotRecord {
    /// The last slot the gate (or the factory) marked good.
    pub last_good_slot: Option<String>,
    /// The boot (kernel boot id) a verdict was given in, and the verdict.
    pub decided_in_boot: Option<(String, SlotVerdict)>,
}

/// How the gate starts in this boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateStart {
    /// A verdict was already given in this boot (the daemon restarted).
    AlreadyDecided(SlotVerdict),
    /// The booted slot was proven on an earlier boot: nothing to decide.
    Proven,
    /// No record at all: the slot flashed at the factory. Mark it good and
    /// record it, without a gate.
    Factory,
    /// A slot not proven yet (the first boots after an update): run the gate.
    Watch,
}

/// Decides how the gate starts from what the box remembers.
pub fn gate_start(record: &SlotRecord, booted_slot: &str, boot_id: &str) -> GateStart {
    if let Some((boot, verdict)) = &record.decided_in_boot {
        if boot == boot_id {
            return GateStart::AlreadyDecided(*verdict);
        }
    }
    match &record.last_good_slot {
        Some(slot) if slot == booted_slot => GateStart::Proven,
        Some(_) => GateStart::Watch,
        None => GateStart::Factory,
    }
}

/// The record after a verdict on `booted_slot` in `boot_id`.
pub fn record_verdict(
    record: &SlotRecord,
    booted_slot: &str,
    boot_id: &str,
    verdict: SlotVerdict,
) -> SlotRecord {
    SlotRecord {
        last_good_slot: match verdict {
            SlotVerdict::Good => Some(booted_slot.to_owned()),
            SlotVerdict::Bad => record.last_good_slot.clone(),
        },
        decided_in_boot: Some((boot_id.to_owned(), verdict)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: HealthInputs = HealthInputs {
        streaming: false,
        has_control_link: true,
        control_link_up: true,
        pipeline_builds: true,
    };
    const DOWN: HealthInputs = HealthInputs {
        control_link_up: false,
        ..UP
    };

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn healthy_for_the_whole_hold_is_good_once() {
        let t0 = Instant::now();
        let mut g = HealthGate::new(t0, HealthPolicy::default());
        assert_eq!(g.update(DOWN, t0), None);
        assert_eq!(g.update(UP, t0 + s(20)), None, "the hold starts");
        assert_eq!(g.poll_timeout(), Some(t0 + s(320)));
        assert_eq!(g.update(UP, t0 + s(319)), None);
        assert_eq!(g.update(UP, t0 + s(320)), Some(SlotVerdict::Good));
        assert_eq!(g.update(UP, t0 + s(321)), None, "decided once");
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn a_break_in_health_restarts_the_hold() {
        let t0 = Instant::now();
        let mut g = HealthGate::new(t0, HealthPolicy::default());
        g.update(UP, t0);
        g.update(DOWN, t0 + s(299));
        g.update(UP, t0 + s(300));
        assert_eq!(g.update(UP, t0 + s(599)), None);
        assert_eq!(g.update(UP, t0 + s(600)), Some(SlotVerdict::Good));
    }

    #[test]
    fn a_daemon_that_crashes_every_few_minutes_is_bad_at_the_deadline_from_boot() {
        let boot = Instant::now();
        let policy = HealthPolicy::default();
        // Each daemon instance starts a fresh gate with the same boot time,
        // is healthy for 4 minutes, then crashes (and its gate with it).
        let mut start = boot + s(10);
        let mut verdict = None;
        while verdict.is_none() {
            let mut g = HealthGate::new(boot, policy);
            let mut now = start;
            while now < start + s(240) && verdict.is_none() {
                verdict = g.update(UP, now);
                now += s(1);
            }
            start = now + s(2); // systemd restarts it
        }
        assert_eq!(verdict, Some(SlotVerdict::Bad));
        assert!(start >= boot + policy.deadline);
    }

    #[test]
    fn never_healthy_is_bad_at_the_deadline_not_before() {
        let t0 = Instant::now();
        let mut g = HealthGate::new(t0, HealthPolicy::default());
        assert_eq!(g.poll_timeout(), Some(t0 + s(900)));
        assert_eq!(g.update(DOWN, t0 + s(899)), None);
        assert_eq!(g.update(DOWN, t0 + s(900)), Some(SlotVerdict::Bad));
        assert_eq!(g.update(UP, t0 + s(901)), None, "too late to be good");
    }

    #[test]
    fn what_counts_as_healthy() {
        let streaming = HealthInputs {
            streaming: true,
            ..DOWN
        };
        assert!(streaming.healthy(), "streaming without the broker");
        assert!(UP.healthy());
        assert!(!DOWN.healthy());
        let standalone = HealthInputs {
            has_control_link: false,
            control_link_up: false,
            ..UP
        };
        assert!(standalone.healthy());
        assert!(!HealthInputs {
            pipeline_builds: false,
            ..standalone
        }
        .healthy());
    }

    #[test]
    fn the_gate_runs_only_on_a_slot_not_yet_proven() {
        let none = SlotRecord::default();
        let a_good = record_verdict(&none, "A", "boot-1", SlotVerdict::Good);
        let b_bad = record_verdict(&a_good, "B", "boot-3", SlotVerdict::Bad);
        assert_eq!(b_bad.last_good_slot.as_deref(), Some("A"));
        let cases = [
            (
                &none,
                "A",
                "boot-1",
                GateStart::Factory,
                "no record: the factory slot",
            ),
            (
                &a_good,
                "A",
                "boot-1",
                GateStart::AlreadyDecided(SlotVerdict::Good),
                "same boot",
            ),
            (
                &a_good,
                "A",
                "boot-2",
                GateStart::Proven,
                "a later boot of a proven slot",
            ),
            (&a_good, "B", "boot-3", GateStart::Watch, "after an update"),
            (
                &b_bad,
                "B",
                "boot-3",
                GateStart::AlreadyDecided(SlotVerdict::Bad),
                "same boot",
            ),
            (
                &b_bad,
                "A",
                "boot-4",
                GateStart::Proven,
                "fell back to the proven slot",
            ),
        ];
        for (record, slot, boot, want, why) in cases {
            assert_eq!(gate_start(record, slot, boot), want, "{why}");
        }
    }
}
