//! `echo-room-bench`: the echo canceller in simulated rooms of several
//! delays, for `scripts/bench --only echo` (figures, not checks).
//!
//! Each room ([`PulseRoom`] on the host: the box's speaker back into its
//! microphone after the room's delay, −10 dB) runs the echo test's session
//! (`support/echo_session.rs`) once with the canceller off, then on with
//! `audio.echo_delay_ms` 0 and equal to the room's delay. One line per
//! run with the canceller on:
//! `echo-bench delay_ms=D echo_delay_ms=T erle_db=E near_end_change_db=N`.

use std::process::ExitCode;

use bridgepoint_system_tests::echo_session::{session, voices, Levels};
use bridgepoint_system_tests::pulse_room::PulseRoom;
use bridgepoint_testkit::TempDir;

const USAGE: &str = "Usage: echo-room-bench [--delays MS,MS,...] [--help]

Measures the box's echo canceller in rooms simulated on the host
(PulseAudio null sinks and a loopback; the daemon, ffmpeg, gst-launch-1.0,
espeak-ng, sox, pulseaudio and paplay must be installed, as scripts/test
does). Per room: the session with the canceller off, then on with
audio.echo_delay_ms = 0 and = the room's delay; about 31 s each.

  --delays MS,...   the rooms' delays (default 30,60,120; 10 to 400 ms)

Prints one line per run with the canceller on:
  echo-bench delay_ms=D echo_delay_ms=T erle_db=E near_end_change_db=N
(nan where a recording held no figure). Exit status 2 on bad arguments.";

fn parse(args: &[String]) -> Result<Vec<u32>, String> {
    match args {
        [] => Ok(vec![30, 60, 120]),
        [flag, list] if flag == "--delays" => list
            .split(',')
            .map(|d| match d.trim().parse::<u32>() {
                Ok(ms) if (10..=400).contains(&ms) => Ok(ms),
                _ => Err(format!(
                    "--delays takes milliseconds from 10 to 400, comma-separated, got {d:?}"
                )),
            })
            .collect(),
        other => Err(format!("unknown arguments {other:?} (see --help)")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let delays = match parse(&args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = TempDir::new("echo-room-bench");
    let (far, near) = voices(&dir.path().join("voices"));
    for delay in delays {
        let room = PulseRoom::start(&dir.path().join(format!("room-{delay}")), delay, -10.0);
        let measure = |name: &str, on: bool, told: u32| {
            let run = dir.path().join(format!("{name}-{delay}"));
            std::fs::create_dir_all(&run).expect("run dir");
            Levels::of(&session(&room, &run, on, told, &far, &near))
        };
        let off = measure("off", false, 0);
        for told in [0, delay] {
            let on = measure(&format!("on-{told}"), true, told);
            let (erle, near_change) = match (off, on) {
                (Some(off), Some(on)) => (
                    format!("{:.1}", off.echo_db - on.echo_db),
                    format!("{:.1}", on.citizen_db - off.citizen_db),
                ),
                _ => ("nan".into(), "nan".into()),
            };
            println!(
                "echo-bench delay_ms={delay} echo_delay_ms={told} erle_db={erle} near_end_change_db={near_change}"
            );
        }
    }
    ExitCode::SUCCESS
}
