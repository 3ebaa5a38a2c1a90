//! `store-torture`: the workload of the store's power-cut tests, and the
//! host side of the VM one. Not part of the box's firmware.
//!
//! `store-torture DIR SEED [--steps N]` is the workload. The process-kill
//! test (`tests/power_cut.rs`) SIGKILLs it at random points; the VM test
//! (`scripts/store-powercut`) runs it inside qemu on an ext4 disk and
//! SIGKILLs qemu. It opens the store in DIR, reports what it found there
//! as the box would see it after the power came back:
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
//!   the two leaves the removal undecided); at every loop once more than
//!   [`MAX_PENDING`] are pending, so that the outbox stays short, as the
//!   daemon keeps it, however many runs a store sees;
//! - now and then it increments a counter (not acknowledged).
//!
//! When stdout is a terminal (the VM's console port), each line is also
//! drained (`tcdrain`) before the next step, so that a line is with the
//! host before the step after it begins.
//!
//! SEED makes its choices reproducible. It stops after N loops with
//! `--steps N`, else by itself after [`MAX_SECONDS`] in case nobody kills
//! it. Any store error goes to stderr and exits with status 1.
//!
//! `store-torture cut-vm ...` is the host side of the VM test: see
//! `cut_vm.rs`. Both tests judge the store with `check.rs`.

mod check;
mod cut_vm;
mod workload;

use std::io::{IsTerminal as _, Write as _};
use std::os::unix::io::AsRawFd as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bridgepoint_store::Store;
use workload::{config_json, event_json, Rng, LOOP_COUNTER};

/// How long it runs if it is not killed and has no `--steps`.
const MAX_SECONDS: u64 = 30;
/// Above this many pending events, one is removed at every loop.
const MAX_PENDING: usize = 32;

const USAGE: &str = "usage: store-torture DIR SEED [--steps N]\n       \
store-torture cut-vm --help\n\n\
Opens the store in DIR, reports what it holds, then writes configs and events\n\
(and removes old events) for up to 30 s or N loops, printing `ack ...` after\n\
each durable write. Driven and killed by store/tests/power_cut.rs (kill -9)\n\
and by scripts/store-powercut (power cuts of a qemu VM, through `cut-vm`);\n\
SEED makes the workload reproducible.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("cut-vm") {
        return cut_vm::main(&args[1..]);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(workload) = WorkloadArgs::parse(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&workload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("store-torture: {error}");
            ExitCode::from(1)
        }
    }
}

/// The workload's command line.
struct WorkloadArgs {
    dir: PathBuf,
    seed: u64,
    /// Stop after this many loops (else after [`MAX_SECONDS`]).
    steps: Option<u64>,
}

impl WorkloadArgs {
    fn parse(args: &[String]) -> Option<WorkloadArgs> {
        let mut positional = Vec::new();
        let mut steps = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--steps" {
                steps = Some(rest.next()?.parse().ok()?);
            } else {
                positional.push(arg);
            }
        }
        let [dir, seed] = positional.as_slice() else {
            return None;
        };
        Some(WorkloadArgs {
            dir: PathBuf::from(dir),
            seed: seed.parse().ok()?,
            steps,
        })
    }
}

fn run(args: &WorkloadArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng::new(args.seed);
    let store = Store::open(&args.dir)?;
    say("opened")?;
    let config = store.provisioned()?;
    match &config {
        Some(config) => say(&format!(
            "state config {} {}",
            config.version, config.config_json
        ))?,
        None => say("state config none")?,
    }
    let mut pending = 0;
    for entry in store.pending_events(usize::MAX)? {
        say(&format!("state event {} {}", entry.seq, entry.json))?;
        pending += 1;
    }
    say(&format!("state counter {}", store.counter(LOOP_COUNTER)?))?;
    say("state end")?;

    let mut version = config.map_or(1, |config| config.version + 1);
    let deadline = Instant::now() + Duration::from_secs(MAX_SECONDS);
    let mut loops = 0u64;
    while args
        .steps
        .map_or(Instant::now() < deadline, |steps| loops < steps)
    {
        loops += 1;
        store.save_provisioned(version, &config_json(version))?;
        say(&format!("ack config {version}"))?;
        version += 1;

        let entry = store.enqueue_event(event_json)?;
        say(&format!("ack event {}", entry.seq))?;
        pending += 1;

        if pending > MAX_PENDING || rng.below(4) != 0 {
            // Acks may come back in any order: take one of the oldest few.
            let oldest = store.pending_events(4)?;
            if !oldest.is_empty() {
                let seq = oldest[rng.below(oldest.len() as u64) as usize].seq;
                say(&format!("removing {seq}"))?;
                store.remove_event(seq)?;
                say(&format!("removed {seq}"))?;
                pending -= 1;
            }
        }
        if rng.below(4) == 0 {
            store.increment_counter(LOOP_COUNTER)?;
        }
    }
    Ok(())
}

/// Prints one whole line on stdout with a single write and flushes it; on
/// a terminal, also waits until the terminal has sent it on (`tcdrain`).
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{line}\n").as_bytes())?;
    out.flush()?;
    if out.is_terminal() {
        // SAFETY: tcdrain on stdout's file descriptor, which `out` keeps
        // open for the call.
        if unsafe { libc::tcdrain(out.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
