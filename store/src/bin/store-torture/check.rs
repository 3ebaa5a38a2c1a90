//! The power-cut tests' checker: what a store must hold after a cut, given
//! every line the workload printed before it.
//!
//! Shared by the two power-cut tests, so that both judge a store the same
//! way: `tests/power_cut.rs` (the workload's process is killed; it
//! includes this file with `#[path]`) and `store-torture cut-vm` (the
//! qemu running the workload is killed, see `cut_vm.rs`).
//!
//! A [`Model`] is built from the workload's lines as the host received
//! them — a line counts only once its newline arrived, and the workload
//! prints an `ack` only after the write returned, so a line the cut
//! truncated or swallowed is a write that may or may not be stored. After
//! a cut, what the store holds (a [`State`], read back by the library or
//! reported by the next run's `state` lines) is checked against the model
//! by [`check_state`]:
//! - the provisioned version is the last acked one or the one that was in
//!   flight, never older, and its JSON is exactly what was written;
//! - every acked event whose removal was not started is present with its
//!   exact JSON, events are in seq order, and nothing is there that was
//!   never written (only an event that was being queued may be there
//!   without an ack);
//! - a counter never goes below a value read back before.
//!
//! [`apply_workload`] adds a run's lines to the model and checks that seqs
//! and versions rise (so a new event gets a seq above every seq ever acked
//! or stored).

use std::collections::BTreeSet;

use crate::workload::{config_json, event_json, LOOP_COUNTER};

/// What the checker knows about one store, from the lines of every run on
/// it and from what it read back.
#[derive(Default)]
pub struct Model {
    /// The last config version acked or read back.
    pub config_floor: Option<u64>,
    /// Acked (or read back) events whose removal was never started: must
    /// be present.
    pub live: BTreeSet<u64>,
    /// Events whose removal was started: may or may not be present (a
    /// removal is not fsynced, and may not have run at all).
    pub removing: BTreeSet<u64>,
    /// Events being queued when a cut came: may or may not be present.
    pub in_flight: BTreeSet<u64>,
    /// The highest seq acked or read back.
    pub max_seq: u64,
    /// The counter's last value read back: lazy increments may be lost,
    /// but it never goes below what a restart read.
    pub counter_floor: u64,
}

/// What a restart found in the store.
pub struct State {
    /// The provisioned config: version and JSON.
    pub config: Option<(u64, String)>,
    /// The pending events, seq and JSON, in the order the store gave them.
    pub events: Vec<(u64, String)>,
    /// The value of [`LOOP_COUNTER`].
    pub counter: u64,
}

/// Something wrong with a store after a cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A write that was acknowledged is missing or does not read back as
    /// written.
    LostAcknowledgedWrite(String),
    /// Anything else the store must never show: data that was never
    /// written, events out of order, a counter going back.
    Inconsistent(String),
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::LostAcknowledgedWrite(what) => write!(f, "lost acknowledged write: {what}"),
            Finding::Inconsistent(what) => write!(f, "inconsistent store: {what}"),
        }
    }
}

/// Parses the `opened` and `state ...` lines a run prints before
/// `state end`.
pub fn parse_state(lines: &[String]) -> Result<State, String> {
    let mut state = State {
        config: None,
        events: Vec::new(),
        counter: 0,
    };
    for line in lines {
        let bad = || format!("unexpected report line {line:?}");
        if line == "opened" || line == "state config none" {
            continue;
        }
        let (kind, rest) = line
            .strip_prefix("state ")
            .and_then(|rest| rest.split_once(' '))
            .ok_or_else(bad)?;
        match kind {
            "config" => {
                let (version, json) = rest.split_once(' ').ok_or_else(bad)?;
                state.config = Some((version.parse().map_err(|_| bad())?, json.to_string()));
            }
            "event" => {
                let (seq, json) = rest.split_once(' ').ok_or_else(bad)?;
                state
                    .events
                    .push((seq.parse().map_err(|_| bad())?, json.to_string()));
            }
            "counter" => state.counter = rest.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    Ok(state)
}

/// Checks what a restart found against the model, and brings the model to
/// what the store holds: the unacked writes it found stored must stay from
/// now on, and a loss is reported once, not again at every later check.
/// Returns every finding; none means the store is as it must be.
pub fn check_state(state: &State, model: &mut Model) -> Vec<Finding> {
    let mut findings = Vec::new();
    match (model.config_floor, &state.config) {
        (None, None) => {}
        (Some(floor), None) => {
            findings.push(Finding::LostAcknowledgedWrite(format!(
                "config version {floor} was acked, the store has no config"
            )));
            model.config_floor = None;
        }
        (floor, Some((version, json))) => {
            let floor_or_zero = floor.unwrap_or(0);
            if *version < floor_or_zero {
                findings.push(Finding::LostAcknowledgedWrite(format!(
                    "config version {floor_or_zero} was acked, the store has version {version}"
                )));
            }
            if *version > floor_or_zero + 1 {
                findings.push(Finding::Inconsistent(format!(
                    "the store has config version {version}, but at most {} was written",
                    floor_or_zero + 1
                )));
            }
            if *json != config_json(*version) {
                let message = format!(
                    "config version {version} has the wrong JSON ({} bytes, expected {})",
                    json.len(),
                    config_json(*version).len()
                );
                findings.push(if floor.is_some_and(|floor| *version <= floor) {
                    Finding::LostAcknowledgedWrite(message)
                } else {
                    Finding::Inconsistent(message)
                });
            }
            model.config_floor = Some(*version);
        }
    }

    if let Some(pair) = state.events.windows(2).find(|w| w[0].0 >= w[1].0) {
        findings.push(Finding::Inconsistent(format!(
            "pending events out of order: {} then {}",
            pair[0].0, pair[1].0
        )));
    }
    let present: BTreeSet<u64> = state.events.iter().map(|(seq, _)| *seq).collect();
    let lost: Vec<u64> = model.live.difference(&present).copied().collect();
    for seq in lost {
        findings.push(Finding::LostAcknowledgedWrite(format!(
            "acked event {seq} is missing (the outbox has {} events, the first {:?})",
            present.len(),
            present.iter().take(10).collect::<Vec<_>>()
        )));
        model.live.remove(&seq);
    }
    for (seq, json) in &state.events {
        if *json != event_json(*seq) {
            let message = format!("event {seq} has the wrong JSON: {json}");
            findings.push(if model.live.contains(seq) {
                Finding::LostAcknowledgedWrite(message)
            } else {
                Finding::Inconsistent(message)
            });
        }
        if !model.live.contains(seq) && !model.removing.contains(seq) {
            if !model.in_flight.contains(seq) {
                findings.push(Finding::Inconsistent(format!(
                    "event {seq} is in the store but was never acked nor in flight"
                )));
            }
            // Stored after all: from now on it must stay until removed.
            model.in_flight.remove(seq);
            model.live.insert(*seq);
        }
        model.max_seq = model.max_seq.max(*seq);
    }

    if state.counter < model.counter_floor {
        findings.push(Finding::Inconsistent(format!(
            "counter {LOOP_COUNTER} went back from {} to {}",
            model.counter_floor, state.counter
        )));
    }
    model.counter_floor = state.counter;
    findings
}

/// Updates the model from one run's workload lines (after `state end`),
/// checking that its seqs and versions rise. Returns the number of acks
/// and what was wrong; a wrong line is noted and the model still follows
/// it, so that one fault is not reported again for every later line.
pub fn apply_workload(lines: &[String], model: &mut Model) -> (u64, Vec<Finding>) {
    let mut acks = 0;
    let mut findings = Vec::new();
    for line in lines {
        let Some((what, number)) = line
            .rsplit_once(' ')
            .and_then(|(what, number)| Some((what, number.parse::<u64>().ok()?)))
        else {
            findings.push(Finding::Inconsistent(format!("unexpected line {line:?}")));
            continue;
        };
        match what {
            "ack config" => {
                if model.config_floor.is_some_and(|floor| number <= floor) {
                    findings.push(Finding::Inconsistent(format!(
                        "config version {number} acked after version {:?}",
                        model.config_floor
                    )));
                }
                model.config_floor = Some(number);
                acks += 1;
            }
            "ack event" => {
                if number <= model.max_seq {
                    findings.push(Finding::Inconsistent(format!(
                        "event seq {number} acked, but seq {} was acked or stored before",
                        model.max_seq
                    )));
                }
                model.max_seq = model.max_seq.max(number);
                model.in_flight.remove(&number);
                model.removing.remove(&number);
                model.live.insert(number);
                acks += 1;
            }
            "removing" => {
                if !model.live.remove(&number) && !model.removing.contains(&number) {
                    findings.push(Finding::Inconsistent(format!(
                        "removing seq {number}, which was never acked"
                    )));
                }
                model.removing.insert(number);
            }
            "removed" => {}
            _ => findings.push(Finding::Inconsistent(format!("unexpected line {line:?}"))),
        }
    }
    // The cut may have come while the next event was being queued: its
    // seq is one above every seq that may be stored.
    let highest = model
        .in_flight
        .last()
        .copied()
        .unwrap_or(0)
        .max(model.max_seq);
    model.in_flight.insert(highest + 1);
    (acks, findings)
}

/// The findings as one message (empty when there are none).
#[allow(dead_code)] // used by tests/power_cut.rs, not by the binary
pub fn describe(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(Finding::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
