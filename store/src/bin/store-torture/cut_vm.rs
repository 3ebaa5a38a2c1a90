//! `store-torture cut-vm`: the host side of the VM power-cut test that
//! `scripts/store-powercut` runs.
//!
//! The script builds a guest (a Debian kernel and a busybox initramfs
//! holding this binary and e2fsck) and an ext4 disk image, and hands the
//! qemu command line to this driver, which boots it again and again on the
//! same disk. The guest and the host talk over a virtio console port,
//! which is qemu's stdin and stdout here. The guest's `/init` loads its
//! modules, except the disk's driver, says `boot ready` and waits for a
//! line from the host: `cut:SEED` or `final:SEED`. It then loads the disk
//! driver, checks the file system (`e2fsck -p`, as systemd-fsck does on
//! the box), mounts it with the box's options, and runs the workload
//! (`store-torture DIR SEED`) on `/data/bridgepoint/store`; the workload's
//! lines and the init's `boot ...` progress lines come back on the port.
//!
//! With `--snapshot FILE`, the first boot is stopped at `boot ready` and
//! saved to FILE (a migration of the VM to a file), and every boot after
//! that resumes it (`-incoming`) instead of booting the kernel, which under
//! TCG takes most of a boot's time. The guest had not loaded the disk
//! driver when it was saved, so it has never read the disk: a resumed
//! guest meets the disk as after a power-on.
//!
//! The driver reads those lines as they arrive (a line counts only once
//! its newline is in), and cuts the power by SIGKILLing qemu at a moment
//! drawn from a seeded PRNG: some time into the boot (while the guest
//! checks, mounts, replays the journal or opens the store), some time into
//! the workload, or right after a given workload line. It then boots the
//! same disk again. The next boot's report of what the store holds is
//! checked against everything acknowledged so far with `check.rs`, the
//! checker of the process-kill test. Every `--cuts-per-store` cuts the
//! guest is told `cut:SEED:new`: it checks the store once more (a run
//! without workload), moves it aside and syncs, says `boot store moved
//! aside`, and the workload makes a new store, so that cuts also land
//! while a store is created. After the last cut a final boot runs one loop
//! of the workload and shuts down cleanly, so the last cut is checked too.
//!
//! Prints one line per boot and a summary line
//! `store power cuts: N cuts, L lost acknowledged writes, U unopenable
//! stores, V other violations`; exits 1 if any of those is not 0, 3 on a
//! harness failure (a guest that hangs, qemu that does not start).

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::check::{apply_workload, check_state, parse_state, Finding, Model};
use crate::workload::Rng;

const USAGE: &str = "\
usage: store-torture cut-vm [--cuts N] [--seed S] [--cuts-per-store N]
                            [--boot-timeout SECS] [--snapshot FILE] -- QEMU-COMMAND...

Boots QEMU-COMMAND N times on the same disk, tells the guest's /init over
qemu's stdin what the boot is (`cut:SEED`, `final:SEED`) once it says `boot
ready`, SIGKILLs qemu at a random moment of each boot, and checks at the
next boot that every write the guest's workload acknowledged on qemu's
stdout is in the store and that the store opens. A final boot shuts down
cleanly. Every --cuts-per-store cuts, the guest is asked (`cut:SEED:new`)
to check the store once more, move it aside, and let the workload make a
new one, so that cuts also land while a store is created. Used by
scripts/store-powercut, which builds the guest.

  --cuts N             power cuts (default 20)
  --seed S             seed of the cut moments and workloads (default 1)
  --cuts-per-store N   a new store every N cuts (default 25, 0: never)
  --boot-timeout SECS  a boot that neither reaches its cut nor ends in this
                       time is a harness failure (default 180)
  --snapshot FILE      save the first boot at `boot ready` to FILE and
                       resume it at every boot instead of booting the kernel";

/// What the guest's `/init` says when it waits for the boot's name.
const READY_LINE: &str = "boot ready";
/// What it says once the store was moved aside (and synced) for a new one.
const MOVED_ASIDE_LINE: &str = "boot store moved aside";
/// Longest time from the guest's first line to a cut planned during boot.
const STARTUP_CUT_WINDOW_MS: u64 = 2_500;
/// Longest time from the start of the workload to a cut planned by time.
const WORKLOAD_CUT_WINDOW_MS: u64 = 3_000;
/// Most workload lines before a cut planned by lines.
const WORKLOAD_CUT_MAX_LINES: u64 = 150;

/// The driver's command line.
struct CutVmArgs {
    cuts: u64,
    seed: u64,
    /// A new store every this many cuts (0: never).
    cuts_per_store: u64,
    boot_timeout: Duration,
    /// Where the guest saved at `boot ready` is kept, if boots resume it.
    snapshot: Option<PathBuf>,
    qemu: Vec<String>,
}

impl CutVmArgs {
    fn parse(args: &[String]) -> Result<CutVmArgs, String> {
        let mut parsed = CutVmArgs {
            cuts: 20,
            seed: 1,
            cuts_per_store: 25,
            boot_timeout: Duration::from_secs(180),
            snapshot: None,
            qemu: Vec::new(),
        };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                rest.next()
                    .and_then(|value| value.parse().ok())
                    .ok_or_else(|| format!("{name} needs a number"))
            };
            match arg.as_str() {
                "--cuts" => parsed.cuts = number("--cuts")?,
                "--seed" => parsed.seed = number("--seed")?,
                "--cuts-per-store" => parsed.cuts_per_store = number("--cuts-per-store")?,
                "--boot-timeout" => {
                    parsed.boot_timeout = Duration::from_secs(number("--boot-timeout")?)
                }
                "--snapshot" => {
                    let path = rest.next().ok_or("--snapshot needs a file")?;
                    parsed.snapshot = Some(PathBuf::from(path));
                }
                "--" => {
                    parsed.qemu = rest.cloned().collect();
                    break;
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if parsed.qemu.is_empty() {
            return Err("no qemu command after --".to_string());
        }
        Ok(parsed)
    }
}

/// When a boot's power is cut.
#[derive(Debug, Clone, Copy)]
enum CutPlan {
    /// This long after the guest's first line: while it checks and mounts
    /// the disk, opens the store and reads it back (or early in the
    /// workload, if that was quicker).
    DuringStartup(Duration),
    /// This long after the workload started (`state end`).
    WorkloadTime(Duration),
    /// Right after this many workload lines arrived.
    WorkloadLines(u64),
    /// No cut: the final boot, which ends by itself.
    None,
}

impl CutPlan {
    fn draw(rng: &mut Rng) -> CutPlan {
        match rng.below(5) {
            0 => {
                CutPlan::DuringStartup(Duration::from_millis(rng.below(STARTUP_CUT_WINDOW_MS + 1)))
            }
            1 | 2 => {
                CutPlan::WorkloadTime(Duration::from_millis(rng.below(WORKLOAD_CUT_WINDOW_MS + 1)))
            }
            _ => CutPlan::WorkloadLines(1 + rng.below(WORKLOAD_CUT_MAX_LINES)),
        }
    }
}

/// A line from the guest and when it arrived.
struct Arrival {
    line: String,
    at: Instant,
}

/// What one boot produced.
struct BootRun {
    /// Every complete line, in order.
    lines: Vec<String>,
    /// Where the cut landed, for the progress line; `None` if the guest
    /// ended by itself.
    cut: Option<String>,
    /// A line that came without its newline before qemu died (a cut line:
    /// never counted).
    cut_line: Option<String>,
    /// Whether the guest was asked to move the store aside and start a new
    /// one.
    new_store: bool,
    /// How long the workload ran (from `state end` to the cut or to its
    /// last line).
    workload: Duration,
    elapsed: Duration,
}

/// The counts of the summary line and the figures.
#[derive(Default)]
struct Tallies {
    cuts: u64,
    lost_acknowledged_writes: u64,
    unopenable_stores: u64,
    other_violations: u64,
    acknowledged_writes: u64,
    reboots_checked: u64,
    cuts_during_startup: u64,
    journal_recoveries: u64,
    new_logs_left_behind: u64,
    stores: u64,
    workload_seconds: f64,
}

/// Runs the test; see the module's documentation.
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match CutVmArgs::parse(args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("store-torture cut-vm: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(tallies) => {
            let failed = tallies.lost_acknowledged_writes
                + tallies.unopenable_stores
                + tallies.other_violations
                > 0;
            ExitCode::from(if failed { 1 } else { 0 })
        }
        Err(error) => {
            println!("not ok - harness: {error}");
            println!("store power cuts: harness failed, see above");
            ExitCode::from(3)
        }
    }
}

fn run(args: &CutVmArgs) -> Result<Tallies, String> {
    let started = Instant::now();
    let mut tallies = Tallies::default();
    let mut model = Model::default();
    let mut rng = Rng::new(args.seed.wrapping_mul(0x9e37_79b9).wrapping_add(11));
    if let Some(snapshot) = &args.snapshot {
        let took = make_snapshot(args, snapshot)?;
        println!(
            "guest booted and saved at {READY_LINE:?} in {:.1} s; every boot resumes it",
            took.as_secs_f64()
        );
    }
    let mut wants_new_store = false;
    for boot in 0..=args.cuts {
        let last = boot == args.cuts;
        let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(boot);
        let (what, plan) = if last {
            (format!("final:{seed}"), CutPlan::None)
        } else {
            (format!("cut:{seed}"), CutPlan::draw(&mut rng))
        };
        let new_store = boot > 0
            && (wants_new_store
                || (!last && args.cuts_per_store > 0 && boot % args.cuts_per_store == 0));
        let run = boot_once(args, &what, new_store, plan)?;
        // Asked again until the guest has said it did it.
        wants_new_store = new_store && !run.lines.iter().any(|line| line == MOVED_ASIDE_LINE);
        if boot == 0 || (new_store && !wants_new_store) {
            tallies.stores += 1;
        }
        let label = if last {
            "final boot".to_string()
        } else {
            format!("cut {}/{}", boot + 1, args.cuts)
        };
        let outcome = judge_boot(&run, last, boot == 0, &mut model, &mut tallies)?;
        let cut = match &run.cut {
            Some(cut) => {
                tallies.cuts += 1;
                format!("; power cut {cut}")
            }
            None => "; shut down cleanly".to_string(),
        };
        println!(
            "{label}: {outcome}{cut} [{:.1} s]",
            run.elapsed.as_secs_f64()
        );
        if last && run.cut.is_some() {
            return Err("the final boot did not end by itself".to_string());
        }
        if tallies.unopenable_stores > 0 {
            println!("stopping: the store no longer opens, later boots would only repeat that");
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "figures: {} acknowledged writes ({:.0} per second of workload) on {} stores, {} \
         reboots checked, {} cuts during startup (fsck, mount, open), {} journal recoveries by \
         e2fsck, {} cuts left a store.log.new behind (during a compaction or a creation), {:.1} \
         s per cut ({:.0} s in all)",
        tallies.acknowledged_writes,
        tallies.acknowledged_writes as f64 / tallies.workload_seconds.max(0.001),
        tallies.stores,
        tallies.reboots_checked,
        tallies.cuts_during_startup,
        tallies.journal_recoveries,
        tallies.new_logs_left_behind,
        elapsed / (tallies.cuts.max(1)) as f64,
        elapsed,
    );
    println!(
        "store power cuts: {} cuts, {} lost acknowledged writes, {} unopenable stores, {} other \
         violations",
        tallies.cuts,
        tallies.lost_acknowledged_writes,
        tallies.unopenable_stores,
        tallies.other_violations
    );
    Ok(tallies)
}

/// A running qemu, its stdin (the port to the guest) and the lines from
/// its stdout. Killed if dropped, so that no guest is left running.
struct Qemu {
    child: Child,
    /// Kept open: at its end of file qemu would close the port.
    to_guest: ChildStdin,
    lines: mpsc::Receiver<Arrival>,
    reader: Option<JoinHandle<Option<String>>>,
}

impl Qemu {
    /// Starts `command` with its stdin and stdout piped.
    fn start(command: &[String]) -> Result<Qemu, String> {
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", command[0]))?;
        let (Some(stdout), Some(to_guest)) = (child.stdout.take(), child.stdin.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("qemu's stdin or stdout is not piped".to_string());
        };
        let (lines_tx, lines) = mpsc::channel::<Arrival>();
        let reader = spawn_line_reader(stdout, lines_tx);
        Ok(Qemu {
            child,
            to_guest,
            lines,
            reader: Some(reader),
        })
    }

    /// Sends one line to the guest.
    fn tell(&mut self, line: &str) -> Result<(), String> {
        self.to_guest
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.to_guest.flush())
            .map_err(|e| format!("cannot write to qemu's stdin: {e}"))
    }

    /// Waits for qemu's end (after a kill or the guest's power-off);
    /// returns its status, the lines not yet received, and a last line
    /// that came without its newline.
    fn finish(
        &mut self,
    ) -> Result<(std::process::ExitStatus, Vec<String>, Option<String>), String> {
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for qemu: {e}"))?;
        let cut_line = self
            .reader
            .take()
            .and_then(|reader| reader.join().ok())
            .flatten();
        let rest = self.lines.try_iter().map(|arrival| arrival.line).collect();
        Ok((status, rest, cut_line))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The qemu command line of one boot: the given one, resuming the
/// snapshot if there is one.
fn qemu_command(args: &CutVmArgs) -> Vec<String> {
    let mut command = args.qemu.clone();
    if let Some(snapshot) = &args.snapshot {
        command.push("-incoming".to_string());
        command.push(format!(
            "exec:cat {}",
            shell_quote(&snapshot.to_string_lossy())
        ));
    }
    command
}

/// `text` as one word for /bin/sh.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Boots the guest up to `boot ready` and saves it to the snapshot file
/// with a migration through QMP, then ends that qemu.
fn make_snapshot(args: &CutVmArgs, snapshot: &Path) -> Result<Duration, String> {
    let started = Instant::now();
    let socket = snapshot.with_extension("qmp");
    let _ = std::fs::remove_file(&socket);
    let mut command = args.qemu.clone();
    command.push("-qmp".to_string());
    command.push(format!("unix:{},server=on,wait=off", socket.display()));
    let mut qemu = Qemu::start(&command)?;
    let deadline = started + args.boot_timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match qemu.lines.recv_timeout(left) {
            Ok(arrival) if arrival.line == READY_LINE => break,
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "the guest did not say {READY_LINE:?} within {} s",
                    args.boot_timeout.as_secs()
                ))
            }
        }
    }
    let mut qmp = Qmp::connect(&socket)?;
    let uri = format!("exec:cat > {}", shell_quote(&snapshot.to_string_lossy()));
    qmp.execute("migrate", &format!(r#"{{"uri":{}}}"#, json_string(&uri)))?;
    loop {
        if Instant::now() > deadline {
            return Err("saving the guest took too long".to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
        let status = qmp.execute("query-migrate", "{}")?;
        if status.contains(r#""status": "completed""#) {
            break;
        }
        if status.contains(r#""status": "failed""#) {
            return Err(format!("saving the guest failed: {status}"));
        }
    }
    drop(qmp);
    let _ = qemu.child.kill();
    let _ = qemu.finish();
    let _ = std::fs::remove_file(&socket);
    Ok(started.elapsed())
}

/// A QMP connection (qemu's JSON monitor protocol), just enough to
/// migrate: commands are sent one at a time and their `return` or `error`
/// line is read back; event lines in between are skipped.
struct Qmp {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Qmp {
    fn connect(socket: &Path) -> Result<Qmp, String> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            format!(
                "cannot connect to qemu's QMP socket {}: {e}",
                socket.display()
            )
        })?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut qmp = Qmp {
            writer: stream,
            reader,
        };
        qmp.read_reply("greeting", "QMP")?;
        qmp.execute("qmp_capabilities", "{}")?;
        Ok(qmp)
    }

    /// Runs `command` with `arguments` (a JSON object); returns the reply.
    fn execute(&mut self, command: &str, arguments: &str) -> Result<String, String> {
        let request = format!(r#"{{"execute":"{command}","arguments":{arguments}}}"#);
        self.writer
            .write_all(format!("{request}\n").as_bytes())
            .map_err(|e| format!("QMP {command}: {e}"))?;
        let reply = self.read_reply(command, "\"return\"")?;
        Ok(reply)
    }

    /// The next line holding `wanted`, or an error at an `error` reply.
    fn read_reply(&mut self, what: &str, wanted: &str) -> Result<String, String> {
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return Err(format!("QMP {what}: qemu closed the socket")),
                Ok(_) if line.contains("\"error\"") => {
                    return Err(format!("QMP {what}: {}", line.trim()))
                }
                Ok(_) if line.contains(wanted) => return Ok(line),
                Ok(_) => {}
                Err(e) => return Err(format!("QMP {what}: {e}")),
            }
        }
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut json = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            c if (c as u32) < 0x20 => json.push_str(&format!("\\u{:04x}", c as u32)),
            c => json.push(c),
        }
    }
    json.push('"');
    json
}

/// Boots (or resumes) the guest once, tells it what the boot is, and cuts
/// its power as `plan` says.
fn boot_once(
    args: &CutVmArgs,
    what: &str,
    new_store: bool,
    plan: CutPlan,
) -> Result<BootRun, String> {
    let started = Instant::now();
    let mut qemu = Qemu::start(&qemu_command(args))?;
    let boot_line = format!("boot {what}");
    let request = if new_store {
        format!("{what}:new")
    } else {
        what.to_string()
    };
    if args.snapshot.is_some() {
        // The resumed guest is waiting for this line; qemu holds it until
        // the port is back.
        qemu.tell(&request)?;
    }

    let mut lines = Vec::new();
    let mut cut_at: Option<Instant> = None;
    let mut workload_started: Option<Instant> = None;
    let mut workload_lines = 0u64;
    let mut acks = 0u64;
    let mut cut = None;
    let mut last_arrival = started;
    let hard_deadline = started + args.boot_timeout;
    loop {
        let now = Instant::now();
        let wake = cut_at.map_or(hard_deadline, |at| at.min(hard_deadline));
        if now >= wake {
            if cut_at.is_some_and(|at| at <= now) {
                cut = Some(describe_cut(plan, &lines, workload_started, acks, now));
                break;
            }
            return Err(format!(
                "boot {what} did not reach its cut or end within {} s (last lines: {:?})",
                args.boot_timeout.as_secs(),
                lines.iter().rev().take(3).collect::<Vec<_>>()
            ));
        }
        let arrival = match qemu.lines.recv_timeout(wake - now) {
            Ok(arrival) => arrival,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // qemu closed its stdout: it exited (the guest powered off).
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let line = arrival.line;
        last_arrival = arrival.at;
        if line == READY_LINE {
            if args.snapshot.is_none() {
                qemu.tell(&request)?;
            }
            continue;
        }
        let is_boot_line = line.starts_with("boot ");
        if workload_started.is_some() && !is_boot_line {
            workload_lines += 1;
            if line.starts_with("ack ") {
                acks += 1;
            }
        }
        if line == "state end" {
            workload_started = Some(arrival.at);
        }
        match plan {
            CutPlan::DuringStartup(delay) if line.starts_with(&boot_line) => {
                cut_at = Some(arrival.at + delay);
            }
            CutPlan::WorkloadTime(delay) if line == "state end" => {
                cut_at = Some(arrival.at + delay);
            }
            _ => {}
        }
        let ending = line.starts_with("boot torture exit=") || line.starts_with("boot failed");
        lines.push(line);
        if let CutPlan::WorkloadLines(wanted) = plan {
            if workload_lines >= wanted && !is_boot_line {
                cut = Some(describe_cut(
                    plan,
                    &lines,
                    workload_started,
                    acks,
                    Instant::now(),
                ));
                break;
            }
        }
        if ending {
            // The guest is ending by itself: no cut, let it power off.
            cut_at = None;
        }
    }
    let workload_end = if cut.is_some() {
        let now = Instant::now();
        // The power cut: SIGKILL, so qemu can write out nothing more.
        qemu.child
            .kill()
            .map_err(|e| format!("cannot kill qemu: {e}"))?;
        now
    } else {
        last_arrival
    };
    let workload = workload_started.map_or(Duration::ZERO, |at| {
        workload_end.saturating_duration_since(at)
    });
    let (status, rest, cut_line) = qemu.finish()?;
    lines.extend(rest.into_iter().filter(|line| line != READY_LINE));
    if cut.is_none() && !status.success() {
        return Err(format!(
            "qemu exited with {status} at boot {what} (last lines: {:?})",
            lines.iter().rev().take(3).collect::<Vec<_>>()
        ));
    }
    Ok(BootRun {
        lines,
        cut,
        cut_line,
        new_store,
        workload,
        elapsed: started.elapsed(),
    })
}

/// Reads qemu's stdout, sending each complete line (without `\r\n`) as it
/// arrives. Returns a last line cut short by qemu's death, if any.
fn spawn_line_reader(
    stdout: impl Read + Send + 'static,
    lines_tx: mpsc::Sender<Arrival>,
) -> JoinHandle<Option<String>> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut bytes = Vec::new();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => return None,
                Ok(_) if bytes.last() != Some(&b'\n') => {
                    // No newline: the power went before the line was out.
                    return Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                Ok(_) => {
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                    let arrival = Arrival {
                        line: String::from_utf8_lossy(&bytes).into_owned(),
                        at: Instant::now(),
                    };
                    if lines_tx.send(arrival).is_err() {
                        return None;
                    }
                }
            }
        }
    })
}

/// Where a cut landed, for the progress line.
fn describe_cut(
    plan: CutPlan,
    lines: &[String],
    workload_started: Option<Instant>,
    acks: u64,
    now: Instant,
) -> String {
    let last: String = lines
        .last()
        .map_or("(nothing yet)", String::as_str)
        .chars()
        .take(40)
        .collect();
    let planned = match plan {
        CutPlan::DuringStartup(delay) => {
            format!("{} ms after the guest's first line", delay.as_millis())
        }
        CutPlan::WorkloadTime(delay) => {
            format!("{} ms into the workload", delay.as_millis())
        }
        CutPlan::WorkloadLines(count) => format!("at workload line {count}"),
        CutPlan::None => "unplanned".to_string(),
    };
    match workload_started {
        Some(at) => format!(
            "{planned}: {:.2} s into the workload, after {acks} acks (last line {last:?})",
            (now - at).as_secs_f64()
        ),
        None => format!("{planned}: before the workload (last line {last:?})"),
    }
}

/// Checks one boot's reports against the model, updates the tallies, and
/// returns what it found, for the progress line. `Err` is a harness
/// failure (lines that make no sense).
fn judge_boot(
    run: &BootRun,
    last: bool,
    new_disk: bool,
    model: &mut Model,
    tallies: &mut Tallies,
) -> Result<String, String> {
    let lines = &run.lines[..];
    if let Some(failed) = value_of(lines, "boot failed ") {
        // The guest could not check or mount the file system: the box would
        // not get to its store either.
        tallies.unopenable_stores += 1;
        return Ok(format!("THE DATA PARTITION FAILED: {failed}"));
    }
    let mut parts = vec![format!(
        "fsck {}",
        value_of(lines, "boot fsck ").unwrap_or("not reached")
    )];
    if value_of(lines, "boot journal ").is_some() {
        tallies.journal_recoveries += 1;
    }
    if value_of(lines, "boot found ").is_some() {
        tallies.new_logs_left_behind += 1;
        parts.push("store.log.new left behind".to_string());
    }
    let cut = run.cut.is_some();
    let (workload_lines, workload_exit) = match lines.iter().position(|l| l == MOVED_ASIDE_LINE) {
        Some(at) => {
            // The old store's last check, then a new store from here on.
            let (old, _) = judge_run(&lines[..at], "boot check exit=", false, model, tallies)?;
            parts.push(format!("old store {old}, moved aside"));
            *model = Model::default();
            (&lines[at + 1..], "boot torture exit=")
        }
        None if run.new_store => (lines, "boot check exit="),
        None => (lines, "boot torture exit="),
    };
    let (summary, reached) = judge_run(workload_lines, workload_exit, cut, model, tallies)?;
    if new_disk {
        parts.insert(0, "new disk".to_string());
    }
    parts.push(summary);
    if reached && !new_disk {
        tallies.reboots_checked += 1;
    }
    if !reached {
        tallies.cuts_during_startup += 1;
        let stage = lines
            .iter()
            .rev()
            .find(|line| line.starts_with("boot ") || line.as_str() == "opened")
            .map_or("(no line yet)", String::as_str);
        parts.push(format!("after {stage:?}"));
    }
    let ended_by_itself = value_of(workload_lines, workload_exit) == Some("0");
    if workload_exit == "boot torture exit=" && !last && !cut && reached && ended_by_itself {
        return Err("the workload ended by itself before its cut".to_string());
    }
    tallies.workload_seconds += run.workload.as_secs_f64();
    if let Some(partial) = &run.cut_line {
        parts.push(format!(
            "a line cut short by the power cut, not counted: {:?}",
            partial.chars().take(30).collect::<String>()
        ));
    }
    Ok(parts.join(", "))
}

/// The rest of the first line starting with `prefix`.
fn value_of<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|line| line.strip_prefix(prefix))
}

/// Checks one run of `store-torture` on a store (its report, then its
/// workload lines), whose end the guest announces with `exit_prefix`.
/// Returns a summary and whether the run got to its report.
fn judge_run(
    lines: &[String],
    exit_prefix: &str,
    cut: bool,
    model: &mut Model,
    tallies: &mut Tallies,
) -> Result<(String, bool), String> {
    let stderr: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("boot stderr "))
        .collect();
    let torture: Vec<String> = lines
        .iter()
        .filter(|line| !line.starts_with("boot "))
        .cloned()
        .collect();
    let exit = value_of(lines, exit_prefix);
    let Some(end) = torture.iter().position(|line| line == "state end") else {
        if exit.is_some() && !torture.iter().any(|line| line == "opened") {
            tallies.unopenable_stores += 1;
            return Ok((
                format!("THE STORE DOES NOT OPEN: {}", stderr.join(" | ")),
                true,
            ));
        }
        if exit.is_some() {
            tallies.other_violations += 1;
            println!(
                "not ok - the store could not be read back: {}",
                stderr.join(" | ")
            );
            return Ok(("THE STORE COULD NOT BE READ BACK".to_string(), true));
        }
        if !cut {
            return Err("the guest ended without reporting the store".to_string());
        }
        return Ok(("cut during startup".to_string(), false));
    };
    let state = parse_state(&torture[..end])?;
    let mut findings = check_state(&state, model);
    let (acks, workload_findings) = apply_workload(&torture[end + 1..], model);
    tallies.acknowledged_writes += acks;
    findings.extend(workload_findings);
    if let Some(exit) = exit.filter(|exit| *exit != "0") {
        findings.push(Finding::Inconsistent(format!(
            "store-torture failed (exit {exit}): {}",
            stderr.join(" | ")
        )));
    }
    let mut summary = format!(
        "config {}, {} pending events, counter {}",
        state
            .config
            .as_ref()
            .map_or("none".to_string(), |(version, _)| version.to_string()),
        state.events.len(),
        state.counter,
    );
    if findings.is_empty() {
        summary.push_str(": ok");
    } else {
        for finding in &findings {
            match finding {
                Finding::LostAcknowledgedWrite(_) => tallies.lost_acknowledged_writes += 1,
                Finding::Inconsistent(_) => tallies.other_violations += 1,
            }
            println!("not ok - {finding}");
        }
        summary.push_str(&format!(": {} FINDINGS", findings.len()));
    }
    Ok((summary, true))
}
