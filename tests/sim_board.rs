//! The simulated board drives the real daemon: presses start and stop the
//! stream (real GStreamer), the LEDs tell the truth at each step, and bad
//! commands get a one-line error.

use std::time::Duration;

use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::TempDir;

#[test]
fn press_starts_streaming_hold_stops_it_and_leds_follow() {
    let dir = TempDir::new("sim");
    let daemon = Daemon::start_on_free_ports(dir.path(), "on_call", (640, 360));
    let mut board = SimBoard::connect(&daemon.socket());

    // Idle: nothing on air, box alive.
    assert_eq!(board.state()["call"], "idle");
    assert_eq!(board.state()["stream"], "stopped");
    assert_eq!(board.led("call"), "off");
    assert_eq!(board.led("status"), "heartbeat");

    assert_eq!(board.cmd("press call"), "ok");
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    assert_eq!(board.state()["call"], "in_session");
    assert_eq!(board.led("call"), "on");

    // A short press during a session does not end it.
    assert_eq!(board.cmd("press call"), "ok");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(board.state()["stream"], "streaming");

    // Held for 2.5 s: the session ends and the call LED goes dark.
    assert_eq!(board.cmd("hold call 2500"), "ok");
    board.assert_stream("stopped", Duration::from_secs(5), &daemon);
    assert_eq!(board.state()["call"], "idle");
    assert_eq!(board.led("call"), "off");
    assert_eq!(board.led("status"), "heartbeat");

    let log = daemon.log_text();
    assert!(
        log.contains("press=Short") && log.contains("press=Long"),
        "log:\n{log}"
    );
    assert!(daemon.stop(), "daemon did not exit cleanly");
}

#[test]
fn always_mode_streams_from_start_without_a_press() {
    let dir = TempDir::new("always");
    let daemon = Daemon::start_on_free_ports(dir.path(), "always", (640, 360));
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    assert_eq!(board.led("call"), "on");
}

#[test]
fn bad_commands_get_a_one_line_error_and_the_box_carries_on() {
    let dir = TempDir::new("simbad");
    let daemon = Daemon::start_on_free_ports(dir.path(), "on_call", (640, 360));
    let mut board = SimBoard::connect(&daemon.socket());
    for (command, expected) in [
        ("dance", "error: unknown command \"dance\""),
        ("press door", "error: unknown button \"door\""),
        (
            "hold call soon",
            "error: hold needs a duration in milliseconds, got \"soon\"",
        ),
        (
            "hold call 0",
            "error: hold duration must be 1 to 60000 ms, got 0",
        ),
        ("hold call", "error: usage: press call | hold call <ms>"),
        ("", "error: empty command"),
    ] {
        let answer = board.cmd(command);
        assert!(answer.starts_with(expected), "{command:?} → {answer:?}");
    }
    assert!(board.cmd("help").starts_with("commands:"));
    // Still serving, still idle.
    assert_eq!(board.state()["call"], "idle");
    assert_eq!(board.cmd("press call"), "ok");
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    assert!(!daemon.log_text().contains("panicked"));
}
