//! `store-torture DIR SEED`: the workload of the store's power-cut test
//! (`tests/power_cut.rs`), which kills this process with SIGKILL at random
//! points and then checks the store. Not part of the box's firmware.
//!
//! It opens the store in DIR, reports what it found there as the box would
//! see it after the power came back:
//! - `opened` once the store is open;
//! - `state config V JSON` (or `state config none`);
//! - `state event SEQ JSON` for each pending event, oldest first;
//! - `state counter N`, then `state end`;
//!
//! and then loops, printing one line per step on stdout, each written and
//! flushed only after the step returned:
//! - `ack config V` after `save_provisioned(V, config_json(V))`, V counting
//!   up from the stored version + 1;
//! - `ack event SEQ` after `enqueue_event(event_json)`;
//! - now and then `removing SEQ` before and `removed SEQ` after
//!   `remove_event(SEQ)` of one of the oldest pending events (a kill between
//!   the two leaves the removal undecided);
//! - now and then it increments a counter (not acknowledged).
//!
//! SEED makes its choices reproducible. It stops by itself after
//! [`MAX_SECONDS`] in case nobody kills it. Any store error goes to stderr
//! and exits with status 1.

mod workload;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bridgepoint_store::Store;
use workload::{config_json, event_json, Rng, LOOP_COUNTER};

/// How long it runs if it is not killed.
const MAX_SECONDS: u64 = 30;

const USAGE: &str = "usage: store-torture DIR SEED\n\n\
Opens the store in DIR, reports what it holds, then writes configs and events\n\
(and removes old events) for up to 30 s, printing `ack ...` after each\n\
durable write. Driven and killed by store/tests/power_cut.rs; SEED makes the\n\
workload reproducible.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (Some(dir), Some(seed)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(dir), seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("store-torture: {error}");
            ExitCode::from(1)
        }
    }
}

fn run(dir: PathBuf, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng::new(seed);
    let store = Store::open(&dir)?;
    say("opened")?;
    let config = store.provisioned()?;
    match &config {
        Some(config) => say(&format!(
            "state config {} {}",
            config.version, config.config_json
        ))?,
        None => say("state config none")?,
    }
    for entry in store.pending_events(usize::MAX)? {
        say(&format!("state event {} {}", entry.seq, entry.json))?;
    }
    say(&format!("state counter {}", store.counter(LOOP_COUNTER)?))?;
    say("state end")?;

    let mut version = config.map_or(1, |config| config.version + 1);
    let deadline = Instant::now() + Duration::from_secs(MAX_SECONDS);
    while Instant::now() < deadline {
        store.save_provisioned(version, &config_json(version))?;
        say(&format!("ack config {version}"))?;
        version += 1;

        let entry = store.enqueue_event(event_json)?;
        say(&format!("ack event {}", entry.seq))?;

        if rng.below(4) != 0 {
            // Acks may come back in any order: take one of the oldest few.
            let pending = store.pending_events(4)?;
            if !pending.is_empty() {
                let seq = pending[rng.below(pending.len() as u64) as usize].seq;
                say(&format!("removing {seq}"))?;
                store.remove_event(seq)?;
                say(&format!("removed {seq}"))?;
            }
        }
        if rng.below(4) == 0 {
            store.increment_counter(LOOP_COUNTER)?;
        }
    }
    Ok(())
}

/// Prints one whole line on stdout with a single write and flushes it.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{line}\n").as_bytes())?;
    out.flush()
}
