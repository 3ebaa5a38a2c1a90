//! The room's echo, cancelled: the hub speaks (Vietnamese, espeak-ng) over
//! the return stream, the box plays it on its speaker, the room carries it
//! back into the box's microphone 60 ms later and 10 dB quieter, and then a
//! citizen speaks in the room. ffmpeg records what the box sends, as the
//! hub does; the same session runs with the echo canceller off and on
//! (`support/echo_session.rs`).
//!
//! The room is PulseAudio on the host (`support/pulse_room.rs`: user-space
//! null sinks and a loopback, reached through ALSA's pulse plugin), not
//! the kernel's snd-aloop: the emulated guest that has snd-aloop cannot keep
//! real time for the box and a room together.
//!
//! - ERLE: the official's echo, RMS with the canceller off minus on, from
//!   3 s after the echo starts (the canceller's convergence) to its end;
//! - near-end change: the citizen's speech, RMS on minus off.
//!
//! The floors: ERLE ≥ 15 dB and near-end loss ≤ 6 dB at 60 ms,
//! with `audio.echo_delay_ms` set to the room's delay as an installer
//! would (docs/configuration.md).

use bridgepoint_system_tests::echo_session::{session, voices, Levels};
use bridgepoint_system_tests::pulse_room::PulseRoom;
use bridgepoint_testkit::TempDir;

const ROOM_DELAY_MS: u32 = 60;
const ROOM_GAIN_DB: f64 = -10.0;

#[test]
fn the_canceller_takes_15_db_of_the_rooms_echo_off_and_keeps_the_citizens_voice() {
    let dir = TempDir::new("echo-room");
    let (far, near) = voices(&dir.path().join("voices"));
    let room = PulseRoom::start(&dir.path().join("room"), ROOM_DELAY_MS, ROOM_GAIN_DB);
    let mut figures = Vec::new();
    for on in [false, true] {
        let run_dir = dir.path().join(if on { "on" } else { "off" });
        std::fs::create_dir_all(&run_dir).unwrap();
        let s = session(&room, &run_dir, on, ROOM_DELAY_MS, &far, &near);
        let l = Levels::of(&s)
            .unwrap_or_else(|| panic!("no citizen's speech recorded (canceller on: {on})"));
        eprintln!(
            "echo cancellation {}: citizen from {:.1} s; echo {:.1} dB, citizen {:.1} dB",
            if on { "on" } else { "off" },
            l.citizen_onset_s,
            l.echo_db,
            l.citizen_db
        );
        figures.push((l.echo_db, l.citizen_db));
    }
    let ((echo_off, near_off), (echo_on, near_on)) = (figures[0], figures[1]);
    assert!(
        echo_off > -40.0,
        "without the canceller the hub must hear its voice back ({echo_off:.1} dB)"
    );
    let erle = echo_off - echo_on;
    let near_change = near_on - near_off;
    eprintln!("ERLE {erle:.1} dB, the citizen's voice {near_change:+.1} dB");
    assert!(
        erle >= 15.0,
        "ERLE {erle:.1} dB (echo {echo_off:.1} dB off, {echo_on:.1} dB on)"
    );
    assert!(
        near_change >= -6.0,
        "the citizen lost {:.1} dB ({near_off:.1} dB off, {near_on:.1} dB on)",
        -near_change
    );
}
