//! `network-bench`: the box on provincial networks, measured (issue 12).
//!
//! A benchmark, not a test: it prints figures next to the targets
//! ("met" / "not met") and never fails on a figure. The real
//! `bridgepointd` sends through the impairment relay
//! (`bridgepoint_testkit::relay`, docs/impairment.md) to a real GStreamer
//! receiver at the hub ([`AvpfReceiver`]: rtpbin that sends receiver
//! reports, NACKs and PLIs, depayloads, waits for a keyframe after a loss
//! and decodes), side by side with "the fixed-bitrate box of today" (the
//! same daemon with `video.min_bitrate_kbps` equal to `bitrate_kbps`, so
//! the rate control cannot move). Each scenario prints as soon as it
//! finishes; a summary against the targets comes at the end. Run by
//! `scripts/bench --only network`; see `--help`.

use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bridgepoint_system_tests::avpf_receiver::AvpfReceiver;
use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::fixtures::{config, key_bytes};
use bridgepoint_system_tests::free_ports;
use bridgepoint_system_tests::relay;
use bridgepoint_system_tests::rtcp_receiver::RtcpReceiver;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::impairment::Direction;
use bridgepoint_testkit::relay::ImpairedRelay;
use bridgepoint_testkit::wait_for;

const USAGE: &str = "\
Usage: network-bench [--scale F] [--only SCENARIO,...] [--boxes BOX,...]
                     [--daemon PATH] [--work DIR] [--seed N] [--help]

The box on provincial networks (issue 12): the real bridgepointd through
the impairment relay (docs/impairment.md) to a GStreamer rtpbin receiver
at the hub that sends receiver reports, NACKs and PLIs and decodes (the
system tests' AvpfReceiver), side by side with the fixed-bitrate box of
today (video.min_bitrate_kbps = bitrate_kbps: the rate control cannot
move). Figures, not checks: nothing fails on a number.

Scenarios (in this order):
  steps     RFC 8867 capacity steps on the way to the hub, 1 -> 2.5 -> 0.6
            -> 1 Mbit/s for 40, 20, 20, 20 s, 50 ms one-way delay, a
            drop-tail queue of 300 ms; 1280x720. Three boxes:
            reports: hub.feedback = none, the hub's rtpbin reports at its
            regular interval (AVP profile) and asks for nothing;
            transport-cc: hub.feedback = avpf, the hub's rtpbin (SAVPF,
            its caps naming the extension) sends transport-cc feedback for
            every frame, NACKs and PLIs;
            transport-cc+ir: the same with video.intra_refresh = true;
            all adaptive with ceiling 2500, floor 300 kbit/s;
            fixed: 1500 kbit/s, hub as for reports.
            Per step: the first 1 s window (from the step's start) in
            which the box's send rate at the relay's input is at or under
            the capacity; the time to settle (that rate, at the relay's
            input, in 1 s windows from the step's start, stays at or under
            the capacity from then to the step's end; \"never\" if the last
            window is over it), the time from which the queuing delay stays
            at or under 100 ms to the step's end, the queuing delay at the
            bottleneck (sampled every 100 ms: median, p95), the box's send
            rate and target over the run, the mean send rate over the step's
            second half, and the picture's freezes at the hub (gaps of more
            than 500 ms between decoded frames). About 7.2 min.
  loss      2 % and 5 % random loss on the way to the hub, 20 s each,
            hub.feedback = none and avpf; 640x360, ceiling 1500 kbit/s:
            frames complete at the receiver, frames decoded (and their
            share of the 30 a second sent), freezes, retransmissions.
            About 2 min.
  blackout  10 s with nothing either way mid-session, feedback none and
            avpf: the time from the path's return to the first decoded
            frame at the hub. About 1 min.

  --scale F        multiply the steps' phases and the loss scenario's
                   measuring time by F (default 1; 0.3 for a quick look;
                   the blackout stays 10 s)
  --only S,...     run only these scenarios (default: all)
  --boxes B,...    the steps' boxes to run (reports, transport-cc,
                   transport-cc+ir, fixed; default: all)
  --daemon PATH    the bridgepointd to run (default: the one next to this
                   binary, i.e. of the same build profile)
  --work DIR       keep each run's config and daemon log under DIR
                   (default: a temporary directory, removed at the end)
  --seed N         the relay's random seed (default 12)

Exit status 0 when every run ran (whatever its figures), 1 when a run
could not be made (the daemon did not start, ...), 2 on bad arguments.
";

/// The RFC 8867 steps: capacity (kbit/s) and length (s).
const STEPS: [(u64, f64); 4] = [(1000, 40.0), (2500, 20.0), (600, 20.0), (1000, 20.0)];
/// One-way delay of the steps' link.
const STEP_DELAY: &str = "delay=50ms";
/// The adaptive box's ceiling and floor, and the fixed box's bitrate.
const ADAPTIVE: (u32, u32) = (2500, 300);
const FIXED_KBPS: u32 = 1500;
/// The loss scenario's ceiling.
const LOSS_CEILING: u32 = 1500;
/// The box's frame rate (fixtures::config).
const FPS: f64 = 30.0;
/// A freeze: no decoded frame for longer than this.
const FREEZE: Duration = Duration::from_millis(500);
/// The relay's queue is sampled this often.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The targets.
const SETTLE_TARGET_S: f64 = 5.0;
const QUEUE_P95_TARGET_MS: f64 = 100.0;
const DECODABLE_TARGET_PCT: f64 = 99.0;
/// Item 5 of the issue: the first decodable frame ≤ 2 s after the path returns.
const BLACKOUT_TARGET_S: f64 = 2.0;

#[derive(Debug, Clone)]
struct Options {
    scale: f64,
    steps: bool,
    loss: bool,
    blackout: bool,
    /// The steps' boxes to run.
    boxes: Vec<StepsBox>,
    daemon: PathBuf,
    work: Option<PathBuf>,
    seed: u64,
}

fn parse_args() -> Result<Options, String> {
    let default_daemon = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("bridgepointd")))
        .unwrap_or_else(|| PathBuf::from("bridgepointd"));
    let mut options = Options {
        scale: 1.0,
        steps: true,
        loss: true,
        blackout: true,
        boxes: StepsBox::ALL.to_vec(),
        daemon: default_daemon,
        work: None,
        seed: 12,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--scale" => {
                let v = value("--scale")?;
                options.scale = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| (0.05..=10.0).contains(s))
                    .ok_or(format!("--scale {v}: a number from 0.05 to 10"))?;
            }
            "--only" => {
                let v = value("--only")?;
                options.steps = false;
                options.loss = false;
                options.blackout = false;
                for name in v.split(',').filter(|n| !n.is_empty()) {
                    match name {
                        "steps" => options.steps = true,
                        "loss" => options.loss = true,
                        "blackout" => options.blackout = true,
                        _ => {
                            return Err(format!(
                                "--only: unknown scenario {name:?} (steps, loss, blackout)"
                            ))
                        }
                    }
                }
            }
            "--boxes" => {
                let v = value("--boxes")?;
                options.boxes = v
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(|name| {
                        StepsBox::ALL
                            .into_iter()
                            .find(|b| b.name() == name)
                            .ok_or(format!(
                                "--boxes: unknown box {name:?} (reports, transport-cc, \
                                 transport-cc+ir, fixed)"
                            ))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--daemon" => options.daemon = PathBuf::from(value("--daemon")?),
            "--work" => options.work = Some(PathBuf::from(value("--work")?)),
            "--seed" => {
                let v = value("--seed")?;
                options.seed = v.parse().map_err(|_| format!("--seed {v}: a number"))?;
            }
            _ => return Err(format!("unknown argument {arg} (see --help)")),
        }
    }
    if !options.daemon.exists() {
        return Err(format!(
            "{} is not built (cargo build --release -p bridgepoint-firmware --bin bridgepointd, \
             or --daemon PATH)",
            options.daemon.display()
        ));
    }
    Ok(options)
}

// ---------------------------------------------------------------------------
// The box: bridgepointd as a child process of this binary.

// ---------------------------------------------------------------------------
// One run: relay, hub receiver, box.

/// What a run's box is configured with.
struct BoxSettings {
    size: (u32, u32),
    ceiling_kbps: u32,
    floor_kbps: u32,
    feedback: &'static str,
    /// The hub's receiver asks (NACK, PLI, SAVPF profile) or only reports.
    hub_asks: bool,
    /// `[video] intra_refresh`: a refresh sweep instead of keyframes.
    intra_refresh: bool,
}

struct Session {
    relay: ImpairedRelay,
    hub: AvpfReceiver,
    _audio: RtcpReceiver,
    daemon: Daemon,
    board: SimBoard,
}

impl Session {
    /// Starts the relay with `script`, the receiver, then the box; returns
    /// once the box streams and the hub has decoded a first frame.
    fn start(
        options: &Options,
        dir: &Path,
        script: &str,
        settings: &BoxSettings,
    ) -> Result<Session, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let key = key_bytes();
        let (hub_video, hub_audio) = free_ports();
        let (relay_video, relay_audio) = free_ports();
        // The relay binds its ports before the receiver picks its own.
        let relay = relay::between_box_and_hub(
            script,
            options.seed,
            (relay_video, relay_audio),
            (hub_video, hub_audio),
        );
        let hub = if settings.hub_asks {
            AvpfReceiver::start(hub_video, &key)
        } else {
            AvpfReceiver::start_reporting_only(hub_video, &key)
        };
        // The hub also reports on the audio: the circuit breaker resumes
        // the video on a clean report of either stream.
        let audio = RtcpReceiver::start_audio_only(hub_audio, &key);
        let text = box_config(&dir.join("data"), relay_video, relay_audio, settings)?;
        let daemon = Daemon::start_binary(&options.daemon, dir, &text);
        // The hub sizes its RTCP by the box's SDP, as an SDP-driven one does.
        let sdp = daemon.sdp();
        if hub.take_bandwidth_from(&sdp).is_none() {
            return Err(format!(
                "the box's SDP gives the video no bandwidth (b=AS): {sdp}"
            ));
        }
        let mut board = SimBoard::connect(&daemon.socket());
        if !board.wait_stream("streaming", Duration::from_secs(15)) {
            return Err(format!(
                "the box did not stream within 15 s; log: {}",
                daemon.log.display()
            ));
        }
        if wait_for(Duration::from_secs(10), || {
            (hub.frames_decoded() > 0).then_some(())
        })
        .is_none()
        {
            // What each part saw, for whoever looks into it.
            let counters = relay.counters();
            return Err(format!(
                "the hub decoded nothing within 10 s of the box streaming \
                 (the relay sent the hub {} packets and the box {}, {} send errors, \
                 {} hub packets before the box spoke; the hub's receiver took {} video \
                 packets and {} retransmissions, {} frames complete, {} incomplete, \
                 {} keyframes; the hub's rtpbin: {}; the box's send state: {}); log: {}",
                counters.sent_to_hub,
                counters.sent_to_box,
                counters.send_errors,
                counters.before_box_spoke,
                hub.video_packets(),
                hub.rtx_packets(),
                hub.frames_complete(),
                hub.frames_incomplete(),
                hub.keyframe_times().len(),
                hub.diagnosis(),
                board.state()["send"],
                daemon.log.display()
            ));
        }
        Ok(Session {
            relay,
            hub,
            _audio: audio,
            daemon,
            board,
        })
    }

    /// The board's `send` object.
    fn send_state(&mut self) -> serde_json::Value {
        self.board.state()["send"].clone()
    }

    fn stop(mut self) -> Result<(), String> {
        let running = self.daemon.is_running();
        let log = self.daemon.log.clone();
        let _ = self.daemon.stop();
        self.relay.stop();
        if running {
            Ok(())
        } else {
            Err(format!(
                "the daemon died during the run; log: {}",
                log.display()
            ))
        }
    }
}

/// The box's config: the system tests' fixture (test sources, 30 fps, the
/// test key) with the run's size, bitrates and feedback, and a keyframe
/// every 2 s (the product's default).
fn box_config(
    data: &Path,
    video_port: u16,
    audio_port: u16,
    s: &BoxSettings,
) -> Result<String, String> {
    let base = config(data, video_port, audio_port, "always", s.size);
    let text = base
        .replace(
            "bitrate_kbps = 1500",
            &format!(
                "bitrate_kbps = {}\nmin_bitrate_kbps = {}",
                s.ceiling_kbps, s.floor_kbps
            ),
        )
        .replace(
            "keyframe_interval_s = 1",
            &format!(
                "keyframe_interval_s = 2\nintra_refresh = {}",
                s.intra_refresh
            ),
        )
        .replace(
            &format!("audio_port = {audio_port}"),
            &format!("audio_port = {audio_port}\nfeedback = \"{}\"", s.feedback),
        );
    for want in [
        format!("min_bitrate_kbps = {}", s.floor_kbps),
        "keyframe_interval_s = 2".to_owned(),
        format!("feedback = \"{}\"", s.feedback),
    ] {
        if !text.contains(&want) {
            return Err(format!(
                "the fixture's config changed: could not set {want}"
            ));
        }
    }
    Ok(text)
}

// ---------------------------------------------------------------------------
// Figures.

/// Nearest-rank percentile of `values` (not necessarily sorted).
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Freezes at the hub between `from` and `to`: the gaps longer than
/// [`FREEZE`] between decoded frames, each as (start, end) in seconds
/// since `from`. A gap open at `from` starts at the last frame before it
/// (or `from`); one open at `to` ends there.
fn freezes(decoded: &[Instant], from: Instant, to: Instant) -> Vec<(f64, f64)> {
    let since = |t: Instant| {
        t.saturating_duration_since(from).as_secs_f64()
            - from.saturating_duration_since(t).as_secs_f64()
    };
    let mut previous = decoded
        .iter()
        .rev()
        .find(|&&t| t <= from)
        .copied()
        .unwrap_or(from);
    let mut out = Vec::new();
    for &t in decoded
        .iter()
        .filter(|&&t| t > from && t <= to)
        .chain([&to])
    {
        if t.duration_since(previous) > FREEZE {
            out.push((since(previous), since(t)));
        }
        previous = t;
    }
    out
}

/// "n (longest x.x s)" for a list of freezes.
fn describe_freezes(list: &[(f64, f64)]) -> String {
    match list.iter().map(|(a, b)| b - a).max_by(f64::total_cmp) {
        None => "0".to_owned(),
        Some(longest) => format!("{} (longest {longest:.1} s)", list.len()),
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn ms(d: f64) -> String {
    format!("{d:.0} ms")
}

// ---------------------------------------------------------------------------
// Scenario a: RFC 8867 capacity steps.

struct StepFigures {
    capacity_kbps: u64,
    /// Seconds from the step's start; None: never within the step.
    settle_s: Option<f64>,
    /// The start of the first 1 s window at or under the capacity.
    first_under_s: Option<f64>,
    /// Seconds from the step's start from which the queuing delay stays
    /// at or under the p95 target (100 ms) to the step's end, in whole
    /// 100 ms samples; None: over it at the step's end.
    queue_settle_s: Option<f64>,
    queue_p50_ms: f64,
    queue_p95_ms: f64,
    second_half_kbps: f64,
    freezes: Vec<(f64, f64)>,
    target_at_end: u64,
}

struct StepsRun {
    label: &'static str,
    steps: Vec<StepFigures>,
    queue_p50_ms: f64,
    queue_p95_ms: f64,
    queue_max_ms: f64,
    dropped_queue_full: u64,
    breaker_trips: u64,
    freezes_total: usize,
    /// RTCP packets from the hub's receiver to the box (reports, NACKs, PLIs).
    rtcp_back: u64,
    /// Packets the box sent again on the hub's NACKs, and keyframes it
    /// sent, over the steps.
    retransmissions: u64,
    keyframes: u64,
    /// The box's target bitrate, once a second from the steps' start
    /// ("-" while the circuit breaker holds the video).
    trajectory: Vec<String>,
    /// What the box sent into the relay (kbit/s), over each second from
    /// the steps' start.
    sent_per_s: Vec<u64>,
}

fn step_script(scale: f64) -> String {
    STEPS
        .iter()
        .map(|&(kbit, secs)| {
            format!(
                "up.rate={kbit}kbit up.queue=300ms up.{STEP_DELAY} down.{STEP_DELAY} for {}ms",
                step_ms(secs, scale)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A step's length in ms, scaled, in whole 100 ms samples (at least 1 s).
fn step_ms(secs: f64, scale: f64) -> u64 {
    (((secs * scale * 10.0).round() as u64).max(10)) * 100
}

/// The boxes the steps compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepsBox {
    /// Rate control on the hub's receiver reports (hub.feedback = none).
    Reports,
    /// Rate control on transport-wide feedback as well (hub.feedback =
    /// avpf; the hub's rtpbin sends transport-cc, NACK and PLI).
    TransportCc,
    /// As `TransportCc`, with `[video] intra_refresh = true`: no keyframe
    /// bursts into the bottleneck's queue.
    TransportCcIntraRefresh,
    /// The fixed-bitrate box of today.
    Fixed,
}

impl StepsBox {
    const ALL: [StepsBox; 4] = [
        StepsBox::Reports,
        StepsBox::TransportCc,
        StepsBox::TransportCcIntraRefresh,
        StepsBox::Fixed,
    ];

    /// Its name on the command line (`--boxes`).
    fn name(self) -> &'static str {
        match self {
            StepsBox::Reports => "reports",
            StepsBox::TransportCc => "transport-cc",
            StepsBox::TransportCcIntraRefresh => "transport-cc+ir",
            StepsBox::Fixed => "fixed",
        }
    }
}

fn run_steps(
    options: &Options,
    dir: &Path,
    label: &'static str,
    which: StepsBox,
) -> Result<StepsRun, String> {
    let fixed = which == StepsBox::Fixed;
    let transport_cc = matches!(
        which,
        StepsBox::TransportCc | StepsBox::TransportCcIntraRefresh
    );
    let settings = BoxSettings {
        size: (1280, 720),
        ceiling_kbps: if fixed { FIXED_KBPS } else { ADAPTIVE.0 },
        floor_kbps: if fixed { FIXED_KBPS } else { ADAPTIVE.1 },
        feedback: if transport_cc { "avpf" } else { "none" },
        hub_asks: transport_cc,
        intra_refresh: which == StepsBox::TransportCcIntraRefresh,
    };
    // Until the box streams: the link's delay, no capacity limit.
    let mut session = Session::start(
        options,
        dir,
        &format!("up.{STEP_DELAY} down.{STEP_DELAY}"),
        &settings,
    )?;
    std::thread::sleep(Duration::from_secs(2));
    let script = step_script(options.scale);
    let lengths: Vec<u64> = STEPS
        .iter()
        .map(|&(_, s)| step_ms(s, options.scale) / 100)
        .collect();
    let total: u64 = lengths.iter().sum();
    session
        .relay
        .replace_script(script.parse().map_err(|e| format!("{script}: {e}"))?);
    let t0 = Instant::now();
    let counters = session.relay.counters();
    let before = counters.box_to_hub;
    let before_back = counters.hub_to_box.packets_in;
    let send_before = session.send_state();
    // Samples every 100 ms: the bytes in, the queue's delay; the target
    // at the end of each step.
    let mut bytes = Vec::with_capacity(total as usize + 1);
    let mut queue_ms = Vec::with_capacity(total as usize + 1);
    let mut targets = Vec::new();
    let mut trajectory = Vec::new();
    // Every sample, for a closer look (samples.csv in the run's directory).
    let mut csv = String::from("t_s,bytes_in,queue_ms,target_kbps\n");
    let ends: Vec<u64> = lengths
        .iter()
        .scan(0, |sum, n| {
            *sum += n;
            Some(*sum)
        })
        .collect();
    for i in 0..=total {
        let due = t0 + SAMPLE_EVERY * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let c = session.relay.counters();
        let up = c.direction(Direction::BoxToHub);
        bytes.push(up.bytes_in);
        queue_ms.push(up.queue_delay.as_secs_f64() * 1000.0);
        let _ = write!(
            csv,
            "{:.1},{},{:.0},",
            i as f64 / 10.0,
            up.bytes_in,
            up.queue_delay.as_secs_f64() * 1000.0
        );
        if i % 10 == 0 || ends.contains(&i) {
            let send = session.send_state();
            let target = send["target_kbps"].as_u64().unwrap_or(0);
            if ends.contains(&i) {
                targets.push(target);
            }
            let _ = write!(csv, "{target}");
            if i % 10 == 0 {
                // "-": the circuit breaker holds the video.
                trajectory.push(if send["video"] == "on" {
                    target.to_string()
                } else {
                    "-".to_owned()
                });
            }
        }
        csv.push('\n');
    }
    let end = t0 + SAMPLE_EVERY * total as u32;
    let _ = std::fs::write(dir.join("samples.csv"), csv);
    let decoded = session.hub.decoded_frame_times();
    let send = session.send_state();
    let counters = session.relay.counters();
    let after = counters.box_to_hub;
    let rtcp_back = counters.hub_to_box.packets_in - before_back;
    session.stop()?;

    let all_freezes = freezes(&decoded, t0, end);
    let mut steps = Vec::new();
    let mut start = 0usize;
    for (j, &(capacity, _)) in STEPS.iter().enumerate() {
        let n = lengths[j] as usize;
        let windows: Vec<f64> = (0..n / 10)
            .map(|k| {
                let a = bytes[start + 10 * k];
                let b = bytes[start + 10 * (k + 1)];
                (b - a) as f64 * 8.0 / 1000.0
            })
            .collect();
        // The first window from which every window to the step's end is
        // at or under the capacity.
        let over = windows.iter().rposition(|&r| r > capacity as f64);
        let settle_s = match over {
            None => Some(0.0),
            Some(k) if k + 1 == windows.len() => None,
            Some(k) => Some((k + 1) as f64),
        };
        let first_under_s = windows
            .iter()
            .position(|&r| r <= capacity as f64)
            .map(|k| k as f64);
        let half = start + n / 2;
        let second_half_kbps =
            (bytes[start + n] - bytes[half]) as f64 * 8.0 / 1000.0 / ((n - n / 2) as f64 / 10.0);
        let q = &queue_ms[start..start + n];
        let queue_settle_s = match q.iter().rposition(|&d| d > QUEUE_P95_TARGET_MS) {
            None => Some(0.0),
            Some(k) if k + 1 == q.len() => None,
            Some(k) => Some((k + 1) as f64 / 10.0),
        };
        let (from_s, to_s) = (start as f64 / 10.0, (start + n) as f64 / 10.0);
        steps.push(StepFigures {
            capacity_kbps: capacity,
            settle_s,
            first_under_s,
            queue_settle_s,
            queue_p50_ms: percentile(q, 50.0).unwrap_or(0.0),
            queue_p95_ms: percentile(q, 95.0).unwrap_or(0.0),
            second_half_kbps,
            freezes: all_freezes
                .iter()
                .copied()
                .filter(|&(a, _)| a >= from_s && a < to_s)
                .collect(),
            target_at_end: targets.get(j).copied().unwrap_or(0),
        });
        start += n;
    }
    let q = &queue_ms[..total as usize];
    Ok(StepsRun {
        label,
        steps,
        queue_p50_ms: percentile(q, 50.0).unwrap_or(0.0),
        queue_p95_ms: percentile(q, 95.0).unwrap_or(0.0),
        queue_max_ms: q.iter().copied().fold(0.0, f64::max),
        dropped_queue_full: after.dropped_queue_full - before.dropped_queue_full,
        breaker_trips: send["breaker_trips"].as_u64().unwrap_or(0),
        freezes_total: all_freezes.len(),
        rtcp_back,
        sent_per_s: bytes
            .windows(11)
            .step_by(10)
            .map(|w| (w[10] - w[0]) * 8 / 1000)
            .collect(),
        retransmissions: count_since(&send, &send_before, "retransmissions"),
        keyframes: count_since(&send, &send_before, "keyframes"),
        trajectory,
    })
}

/// How much a counter of the board's `send` state grew.
fn count_since(now: &serde_json::Value, before: &serde_json::Value, key: &str) -> u64 {
    now[key]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(before[key].as_u64().unwrap_or(0))
}

fn print_steps(run: &StepsRun) {
    println!(
        "  {}: whole run: queuing delay median {}, p95 {}, max {}; {} packets dropped \
         at the full queue; {} freezes > 500 ms; circuit breaker trips {}; {} packets \
         sent again on the hub's NACKs; {} keyframes",
        run.label,
        ms(run.queue_p50_ms),
        ms(run.queue_p95_ms),
        ms(run.queue_max_ms),
        run.dropped_queue_full,
        run.freezes_total,
        run.breaker_trips,
        run.retransmissions,
        run.keyframes
    );
    println!(
        "    {} RTCP packets from the hub's receiver; the box's target, kbit/s, every 2 s (-: video stopped by the circuit breaker): {}",
        run.rtcp_back,
        run.trajectory
            .iter()
            .step_by(2)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "    what the box sent into the link, kbit/s, over every other second: {}",
        run.sent_per_s
            .iter()
            .step_by(2)
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "    {:<11} {:<12} {:<9} {:<14} {:<11} {:<11} {:<14} {:<13} freezes > 500 ms",
        "capacity",
        "first under",
        "settle",
        "queue ≤100 ms",
        "queue p50",
        "queue p95",
        "sent, 2nd half",
        "target, end",
    );
    for s in &run.steps {
        println!(
            "    {:<11} {:<12} {:<9} {:<14} {:<11} {:<11} {:<14} {:<13} {}",
            format!("{} kbit/s", s.capacity_kbps),
            s.first_under_s
                .map_or("never".to_owned(), |v| format!("{v:.0} s")),
            s.settle_s
                .map_or("never".to_owned(), |v| format!("{v:.0} s")),
            s.queue_settle_s
                .map_or("never".to_owned(), |v| format!("{v:.1} s")),
            ms(s.queue_p50_ms),
            ms(s.queue_p95_ms),
            format!("{:.0} kbit/s", s.second_half_kbps),
            format!("{} kbit/s", s.target_at_end),
            describe_freezes(&s.freezes)
        );
    }
}

// ---------------------------------------------------------------------------
// Scenario b: random loss.

struct LossRun {
    loss_pct: u32,
    feedback: &'static str,
    seconds: f64,
    complete: u64,
    incomplete: u64,
    decoded: u64,
    freezes: Vec<(f64, f64)>,
    box_retransmissions: u64,
    hub_retransmissions: u64,
    /// PLIs the hub's rtpbin sent, and keyframe requests the box passed on.
    hub_plis: u64,
    box_keyframe_requests: u64,
    target_at_end: u64,
}

impl LossRun {
    fn complete_pct(&self) -> f64 {
        100.0 * self.complete as f64 / (self.complete + self.incomplete).max(1) as f64
    }
    /// Decoded frames as a share of those the box sent (30 a second).
    fn decodable_pct(&self) -> f64 {
        (100.0 * self.decoded as f64 / (FPS * self.seconds)).min(100.0)
    }
}

fn run_loss(
    options: &Options,
    dir: &Path,
    loss_pct: u32,
    feedback: &'static str,
) -> Result<LossRun, String> {
    let settings = BoxSettings {
        size: (640, 360),
        ceiling_kbps: LOSS_CEILING,
        floor_kbps: ADAPTIVE.1,
        feedback,
        hub_asks: true,
        intra_refresh: false,
    };
    let mut session = Session::start(options, dir, &format!("up.loss={loss_pct}%"), &settings)?;
    // The receiver's jitter buffer fills, the first reports come.
    std::thread::sleep(Duration::from_secs(2));
    let window = Duration::from_secs_f64((20.0 * options.scale).max(2.0));
    let hub = &session.hub;
    let before = (
        hub.frames_complete(),
        hub.frames_incomplete(),
        hub.frames_decoded(),
        hub.retransmissions_received(),
    );
    let send_before = session.send_state();
    let box_count = |send: &serde_json::Value, key: &str| send[key].as_u64().unwrap_or(0);
    let plis_before = session.hub.keyframe_requests_sent();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let end = Instant::now();
    let hub = &session.hub;
    let after = (
        hub.frames_complete(),
        hub.frames_incomplete(),
        hub.frames_decoded(),
        hub.retransmissions_received(),
    );
    let decoded_times = hub.decoded_frame_times();
    let hub_plis = hub.keyframe_requests_sent() - plis_before;
    let send = session.send_state();
    session.stop()?;
    let box_delta = |key: &str| box_count(&send, key).saturating_sub(box_count(&send_before, key));
    Ok(LossRun {
        loss_pct,
        feedback,
        seconds: end.duration_since(t0).as_secs_f64(),
        complete: after.0 - before.0,
        incomplete: after.1 - before.1,
        decoded: after.2 - before.2,
        freezes: freezes(&decoded_times, t0, end),
        box_retransmissions: box_delta("retransmissions"),
        hub_retransmissions: after.3 - before.3,
        hub_plis,
        box_keyframe_requests: box_delta("hub_keyframe_requests"),
        target_at_end: send["target_kbps"].as_u64().unwrap_or(0),
    })
}

fn print_loss(r: &LossRun) {
    println!(
        "  {} % loss, feedback {:<4}: {:.1} s; frames complete {} of {} ({:.1} %); decoded {} \
         ({:.1} % of {:.0} sent); freezes > 500 ms: {}; retransmissions: {} sent by the box, \
         {} taken by the hub; keyframe requests (PLI/FIR): {} sent by the hub, {} passed on \
         to the encoder; target at the end {} kbit/s",
        r.loss_pct,
        r.feedback,
        r.seconds,
        r.complete,
        r.complete + r.incomplete,
        r.complete_pct(),
        r.decoded,
        r.decodable_pct(),
        FPS * r.seconds,
        describe_freezes(&r.freezes),
        r.box_retransmissions,
        r.hub_retransmissions,
        r.hub_plis,
        r.box_keyframe_requests,
        r.target_at_end
    );
}

// ---------------------------------------------------------------------------
// Scenario c: blackout.

struct BlackoutRun {
    feedback: &'static str,
    /// Seconds from the path's return to the first decoded frame.
    first_frame_s: Option<f64>,
    /// ... and to the first keyframe depayloaded.
    first_keyframe_s: Option<f64>,
    box_keyframes: u64,
    hub_requests: u64,
    dropped: u64,
}

fn run_blackout(
    options: &Options,
    dir: &Path,
    feedback: &'static str,
) -> Result<BlackoutRun, String> {
    let settings = BoxSettings {
        size: (640, 360),
        ceiling_kbps: LOSS_CEILING,
        floor_kbps: ADAPTIVE.1,
        feedback,
        hub_asks: true,
        intra_refresh: false,
    };
    let mut session = Session::start(options, dir, "clear", &settings)?;
    std::thread::sleep(Duration::from_secs(4));
    let before = session.send_state();
    session.relay.replace_script(
        "blackout for 10s; clear"
            .parse()
            .map_err(|e| format!("{e}"))?,
    );
    let back = Instant::now() + Duration::from_secs(10);
    std::thread::sleep(Duration::from_secs(10 + 6));
    let decoded = session.hub.decoded_frame_times();
    let keyframes = session.hub.keyframe_times();
    let after = session.send_state();
    let dropped = session.relay.counters().box_to_hub.dropped_blackout;
    session.stop()?;
    let first_after = |times: &[Instant]| {
        times
            .iter()
            .find(|&&t| t > back)
            .map(|t| t.duration_since(back).as_secs_f64())
    };
    let delta = |key: &str| {
        let count = |state: &serde_json::Value| state[key].as_u64().unwrap_or(0);
        count(&after).saturating_sub(count(&before))
    };
    Ok(BlackoutRun {
        feedback,
        first_frame_s: first_after(&decoded),
        first_keyframe_s: first_after(&keyframes),
        box_keyframes: delta("keyframes"),
        hub_requests: delta("hub_keyframe_requests"),
        dropped,
    })
}

fn seconds_or(v: Option<f64>, none: &str) -> String {
    v.map_or(none.to_owned(), |s| format!("{s:.2} s"))
}

fn print_blackout(r: &BlackoutRun) {
    println!(
        "  feedback {:<4}: first decoded frame {} after the path returned (first keyframe {}); \
         keyframes of the box's own accord {}, the hub's keyframe requests passed on {}; \
         {} packets dropped in the blackout",
        r.feedback,
        seconds_or(r.first_frame_s, "none within 6 s"),
        seconds_or(r.first_keyframe_s, "none"),
        r.box_keyframes,
        r.hub_requests,
        r.dropped
    );
}

// ---------------------------------------------------------------------------

/// Runs `f`, turning a panic (a helper's assertion) into an error.
fn attempt<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| format!("{what}: {e}")),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("{what}: {message}"))
        }
    }
}

fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("network-bench: {e}");
            std::process::exit(2);
        }
    };
    let temp;
    let work = match &options.work {
        Some(dir) => dir.clone(),
        None => {
            temp = bridgepoint_testkit::TempDir::new("network-bench");
            temp.path().to_owned()
        }
    };
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut summary = String::new();
    let fail = |failures: &mut Vec<String>, e: String| {
        println!("  FAILED: {e}");
        failures.push(e);
    };

    if options.steps {
        println!(
            "network: RFC 8867 capacity steps (1 -> 2.5 -> 0.6 -> 1 Mbit/s, {}; 300 ms \
             drop-tail queue; 1280x720; receiver: rtpbin, waits for a keyframe after a loss)",
            STEPS
                .iter()
                .map(|&(_, s)| format!("{:.1} s", step_ms(s, options.scale) as f64 / 1000.0))
                .collect::<Vec<_>>()
                .join(" + ")
        );
        let mut runs = Vec::new();
        for (label, which, name) in [
            (
                "reports: adaptive on receiver reports (hub.feedback none; ceiling 2500, floor 300 kbit/s)",
                StepsBox::Reports,
                "steps-reports",
            ),
            (
                "transport-cc: adaptive on transport-wide feedback too (hub.feedback avpf; the hub's \
                 rtpbin sends transport-cc, NACK, PLI; same limits)",
                StepsBox::TransportCc,
                "steps-transport-cc",
            ),
            (
                "transport-cc+ir: the same with video.intra_refresh = true (a refresh sweep, no keyframe bursts)",
                StepsBox::TransportCcIntraRefresh,
                "steps-transport-cc-ir",
            ),
            (
                "fixed (1500 kbit/s, the box of today)",
                StepsBox::Fixed,
                "steps-fixed",
            ),
        ] {
            if !options.boxes.contains(&which) {
                continue;
            }
            let dir = work.join(name);
            match attempt(label, || run_steps(&options, &dir, label, which)) {
                Ok(run) => {
                    print_steps(&run);
                    runs.push(run);
                }
                Err(e) => fail(&mut failures, e),
            }
        }
        for run in &runs {
            let settles: Vec<String> = run
                .steps
                .iter()
                .map(|s| s.settle_s.map_or("never".to_owned(), |v| format!("{v:.0}")))
                .collect();
            let all_settled = run
                .steps
                .iter()
                .all(|s| s.settle_s.is_some_and(|v| v <= SETTLE_TARGET_S));
            let _ = writeln!(
                summary,
                "  {:<52} {:<28} {}",
                format!("settle after each step, {}", short(run.label)),
                format!("{} s", settles.join(" / ")),
                met(all_settled)
            );
            let _ = writeln!(
                summary,
                "  {:<52} {:<28} {}",
                format!("queuing delay p95 (median), {}", short(run.label)),
                format!("{} ({})", ms(run.queue_p95_ms), ms(run.queue_p50_ms)),
                met(run.queue_p95_ms <= QUEUE_P95_TARGET_MS)
            );
            let _ = writeln!(
                summary,
                "  {:<52} {:<28} -",
                format!("freezes > 500 ms over the steps, {}", short(run.label)),
                run.freezes_total,
            );
        }
    }

    if options.loss {
        println!(
            "network: random loss on the way to the hub ({:.0} s each; 640x360, ceiling {LOSS_CEILING} \
             kbit/s; receiver: rtpbin with NACK/RTX, PLI, waits for a keyframe after a loss)",
            (20.0 * options.scale).max(2.0)
        );
        for loss in [2, 5] {
            for feedback in ["none", "avpf"] {
                let dir = work.join(format!("loss-{loss}-{feedback}"));
                let what = format!("{loss} % loss, feedback {feedback}");
                match attempt(&what, || run_loss(&options, &dir, loss, feedback)) {
                    Ok(r) => {
                        print_loss(&r);
                        let freezes_ok = r.freezes.is_empty();
                        let decodable_ok = r.decodable_pct() >= DECODABLE_TARGET_PCT;
                        let judged = loss == 2 && feedback == "avpf";
                        let _ = writeln!(
                            summary,
                            "  {:<52} {:<28} {}",
                            format!("freezes > 500 ms, {loss} % loss, {feedback}"),
                            describe_freezes(&r.freezes),
                            if judged { met(freezes_ok) } else { "-" }
                        );
                        let _ = writeln!(
                            summary,
                            "  {:<52} {:<28} {}",
                            format!("frames decoded, {loss} % loss, {feedback}"),
                            format!(
                                "{:.1} % ({:.1} % complete)",
                                r.decodable_pct(),
                                r.complete_pct()
                            ),
                            if judged { met(decodable_ok) } else { "-" }
                        );
                    }
                    Err(e) => fail(&mut failures, e),
                }
            }
        }
    }

    if options.blackout {
        println!(
            "network: a 10 s blackout mid-session (both ways; 640x360; receiver: rtpbin with \
             NACK/RTX and PLI, waits for a keyframe)"
        );
        for feedback in ["none", "avpf"] {
            let dir = work.join(format!("blackout-{feedback}"));
            let what = format!("blackout, feedback {feedback}");
            match attempt(&what, || run_blackout(&options, &dir, feedback)) {
                Ok(r) => {
                    print_blackout(&r);
                    let _ = writeln!(
                        summary,
                        "  {:<52} {:<28} {}",
                        format!("blackout: path back -> first decoded frame, {feedback}"),
                        seconds_or(r.first_frame_s, "none"),
                        met(r.first_frame_s.is_some_and(|s| s <= BLACKOUT_TARGET_S))
                    );
                }
                Err(e) => fail(&mut failures, e),
            }
        }
    }

    println!(
        "network: summary ({:.0} s in all); targets: settle <= {SETTLE_TARGET_S:.0} s after \
         each step, queuing delay p95 <= {QUEUE_P95_TARGET_MS:.0} ms, no freeze > 500 ms and \
         >= {DECODABLE_TARGET_PCT:.0} % decodable at 2 % loss with avpf, first decoded frame \
         <= {BLACKOUT_TARGET_S:.0} s after a blackout",
        started.elapsed().as_secs_f64()
    );
    println!("  {:<52} {:<28} target", "figure", "value");
    print!("{summary}");
    if !failures.is_empty() {
        println!("  {} run(s) FAILED:", failures.len());
        for f in &failures {
            println!("    {f}");
        }
        std::process::exit(1);
    }
}

/// "adaptive" or "fixed" from a run's label.
fn short(label: &str) -> &str {
    label.split(' ').next().unwrap_or(label)
}
