//! `impair-relay`: the network impairment relay (`bridgepoint_testkit::relay`)
//! on the command line, for benchmarks and for trying a box against a bad
//! link by hand. Thin: reads the arguments, starts the relay, prints its
//! counters every `--report-every` and a summary when it stops (SIGINT,
//! SIGTERM, or the end of the script with `--exit-after-script`).
//!
//! Exit codes: 0 after a clean stop, 1 when the relay cannot start (a port
//! taken), 2 for bad arguments (the message names the argument).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bridgepoint_testkit::impairment::{parse_duration, Direction, DirectionCounters, Script};
use bridgepoint_testkit::relay::{ImpairedRelay, RelayConfig, RelayCounters, Route};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

/// A UDP relay between a Bridgepoint box and its hub that impairs the link
/// like a provincial DSL or 4G line: loss and loss bursts, delay and
/// jitter, a rate limit with a drop-tail queue, blackouts, and phases of
/// these over time. Both directions; the hub's packets go back to the
/// port the box sends from (symmetric RTP).
#[derive(Debug, Parser)]
#[command(name = "impair-relay", version)]
#[command(after_help = "\
Script examples (see docs/impairment.md):
  \"loss=5%\"                                   5 % random loss, both ways, until stopped
  \"burst=1%/30% delay=40ms jitter=10ms\"        loss in bursts of ~3 packets, 30-50 ms delay
  \"up.rate=800kbit up.queue=64kB down.rate=8mbit\"  an ADSL line
  \"rate=1000kbit delay=50ms for 40s; rate=2500kbit delay=50ms for 20s; \\
   rate=600kbit delay=50ms for 20s; rate=1000kbit delay=50ms for 20s\"
                                              RFC 8867's capacity steps
  \"for 30s; blackout for 5s; repeat\"           a 5 s outage every 35 s

Example: impair-relay --listen 127.0.0.1:6004 --to 127.0.0.1:5004 \\
           --listen 127.0.0.1:6005 --to 127.0.0.1:5005 --script \"loss=5% for 10s; blackout for 5s\"")]
struct Cli {
    /// Where the box sends: one per route (video RTP, video RTCP, audio RTP,
    /// audio RTCP...). Port 0 picks a free port (printed at start).
    #[arg(long, value_name = "ADDR", required = true)]
    listen: Vec<SocketAddr>,

    /// Where the box's packets go (the hub): one per --listen, in order.
    #[arg(long, value_name = "ADDR", required = true)]
    to: Vec<SocketAddr>,

    /// Where the hub sends back to (the relay's hub-side socket): none, or
    /// one per --listen, in order [default: a free port, printed at start].
    #[arg(long, value_name = "ADDR")]
    hub_side: Vec<SocketAddr>,

    /// The impairments over time [default: a clear link].
    #[arg(long, value_name = "SCRIPT", value_parser = parse_script)]
    script: Option<Script>,

    /// Seed of the random draws (loss, jitter): the same seed and packets
    /// give the same decisions.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,

    /// How often to print the counters (0s: never).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    report_every: Duration,

    /// Stop when the script has run out (and the packets still waiting
    /// have left).
    #[arg(long)]
    exit_after_script: bool,
}

fn parse_script(text: &str) -> Result<Script, String> {
    Script::parse(text).map_err(|e| e.to_string())
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| "a duration such as 1s or 500ms (0s: no reports)".to_owned())
}

/// Set by SIGINT and SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Has SIGINT and SIGTERM set [`STOP`]; false if it could not.
fn catch_stop_signals() -> bool {
    let handler = on_stop_signal as extern "C" fn(libc::c_int);
    [libc::SIGINT, libc::SIGTERM].into_iter().all(|signal| {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; `signal` installs it with restarting (BSD)
        // semantics on glibc.
        let previous = unsafe { libc::signal(signal, handler as libc::sighandler_t) };
        previous != libc::SIG_ERR
    })
}

/// Checks what clap cannot: the routes pair up, and a script that never
/// ends is not waited for. Exits with code 2 naming the argument.
fn check_arguments(cli: &Cli) {
    let mismatch = |argument: &str, count: usize| {
        Cli::command()
            .error(
                ErrorKind::WrongNumberOfValues,
                format!(
                    "{argument} is given {count} time(s) but --listen {} time(s): each --listen \
                     needs its {argument}, in the same order",
                    cli.listen.len()
                ),
            )
            .exit()
    };
    if cli.to.len() != cli.listen.len() {
        mismatch("--to", cli.to.len());
    }
    if !cli.hub_side.is_empty() && cli.hub_side.len() != cli.listen.len() {
        mismatch("--hub-side", cli.hub_side.len());
    }
    let never_ends = cli
        .script
        .as_ref()
        .is_some_and(|script| script.repeats() || script.duration().is_none());
    if cli.exit_after_script && never_ends {
        Cli::command()
            .error(
                ErrorKind::ArgumentConflict,
                "--exit-after-script: the --script never ends (its last phase has no `for`, or \
                 it repeats)",
            )
            .exit();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    check_arguments(&cli);

    let script = cli.script.clone().unwrap_or_else(Script::clear);
    let mut config = RelayConfig::new(script.clone(), cli.seed);
    for (index, (&listen, &to)) in cli.listen.iter().zip(&cli.to).enumerate() {
        let route = Route::new(listen, to);
        config = config.with_route(match cli.hub_side.get(index) {
            Some(&hub_side) => route.with_hub_side(hub_side),
            None => route,
        });
    }
    if !catch_stop_signals() {
        eprintln!(
            "impair-relay: cannot catch SIGINT/SIGTERM: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    let mut relay = match ImpairedRelay::start(config) {
        Ok(relay) => relay,
        Err(e) => {
            eprintln!("impair-relay: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    for (index, route) in relay.routes().iter().enumerate() {
        println!(
            "route {}: box -> {} -> [impaired] -> from {} -> hub {}",
            index + 1,
            route.listen,
            route.hub_side,
            route.to
        );
    }
    println!("script: {script} (seed {})", cli.seed);

    let reason = run(&relay, &cli, started);
    relay.stop();
    print_summary(&relay.counters(), started.elapsed(), reason);
    ExitCode::SUCCESS
}

/// Reports until told to stop; returns why it stopped.
fn run(relay: &ImpairedRelay, cli: &Cli, started: Instant) -> &'static str {
    let total_phases = relay.script().phases().len();
    // `None` until the first phase is printed.
    let mut printed_position = None;
    let mut last_counters = relay.counters();
    let mut last_report = started;
    let mut script_ended_at: Option<Instant> = None;
    loop {
        let position = relay.position().map(|p| (p.index, p.cycle));
        if printed_position != Some(position) {
            let phases = relay.script();
            match position {
                Some((index, _)) => println!(
                    "[{}] phase {}/{}: {}",
                    Elapsed(started.elapsed()),
                    index + 1,
                    total_phases,
                    phases.phases()[index]
                ),
                None => println!(
                    "[{}] clear link (no phase in force)",
                    Elapsed(started.elapsed())
                ),
            }
            printed_position = Some(position);
        }
        if STOP.load(Ordering::SeqCst) {
            return "signal";
        }
        let now = Instant::now();
        if cli.exit_after_script && relay.script_finished() {
            // Let the packets already delivered leave, for at most 2 s.
            let ended = *script_ended_at.get_or_insert(now);
            if relay.counters().waiting == 0 || now - ended > Duration::from_secs(2) {
                return "end of script";
            }
        }
        if !cli.report_every.is_zero() && now - last_report >= cli.report_every {
            let counters = relay.counters();
            println!(
                "[{}] {}",
                Elapsed(now - started),
                report_line(&counters, &last_counters, now - last_report)
            );
            last_counters = counters;
            last_report = now;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn report_line(now: &RelayCounters, before: &RelayCounters, interval: Duration) -> String {
    Direction::BOTH
        .iter()
        .map(|&direction| {
            let (c, b) = (now.direction(direction), before.direction(direction));
            let bits = (c.bytes_delivered - b.bytes_delivered) as f64 * 8.0;
            format!(
                "{}: in {} accepted {} lost {} queue-full {} blackout {} | {:.0} kbit/s accepted | queue {} ms (max {} ms)",
                direction.short_name(),
                c.packets_in - b.packets_in,
                c.delivered - b.delivered,
                c.dropped_loss - b.dropped_loss,
                c.dropped_queue_full - b.dropped_queue_full,
                c.dropped_blackout - b.dropped_blackout,
                bits / interval.as_secs_f64().max(1e-3) / 1000.0,
                c.queue_delay.as_millis(),
                c.max_queue_delay.as_millis(),
            )
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

fn direction_summary(name: &str, c: &DirectionCounters) -> String {
    format!(
        "{name}: in {} ({} bytes), delivered {} ({} bytes), dropped {} (loss {}, queue full {}, \
         blackout {}), max queue delay {} ms",
        c.packets_in,
        c.bytes_in,
        c.delivered,
        c.bytes_delivered,
        c.dropped(),
        c.dropped_loss,
        c.dropped_queue_full,
        c.dropped_blackout,
        c.max_queue_delay.as_millis()
    )
}

fn print_summary(counters: &RelayCounters, elapsed: Duration, reason: &str) {
    println!("summary after {:.1} s ({reason}):", elapsed.as_secs_f64());
    println!(
        "  {}",
        direction_summary("up (box -> hub)", &counters.box_to_hub)
    );
    println!(
        "  {}",
        direction_summary("down (hub -> box)", &counters.hub_to_box)
    );
    println!(
        "  sent to hub {}, sent to box {}, discarded at stop {}, hub packets before the box \
         spoke {}, send errors {}, receive errors {}",
        counters.sent_to_hub,
        counters.sent_to_box,
        counters.waiting,
        counters.before_box_spoke,
        counters.send_errors,
        counters.receive_errors
    );
}

/// Seconds since start, for report lines (padded, so they line up).
struct Elapsed(Duration);

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:7.1} s", self.0.as_secs_f64())
    }
}
