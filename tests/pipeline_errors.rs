//! Pipeline failures on real GStreamer: the error names the element (or the
//! missing plugin), the supervisor restarts with growing backoff, and the
//! state and LEDs say so.

use std::time::Duration;

use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::fixtures::config_on_free_ports;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::{wait_for, TempDir};

#[test]
fn a_camera_that_is_not_there_is_named_and_retried_with_backoff() {
    let dir = TempDir::new("nocam");
    let text = config_on_free_ports(dir.path(), "always", (640, 360)).replace(
        "source = \"test\"\nencoder",
        "source = \"v4l2:/dev/video-absent\"\nencoder",
    );
    assert!(text.contains("/dev/video-absent"));
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());

    // Backoff 0.5 s, 1 s, 2 s: three failures within ~4 s.
    let restarts = wait_for(Duration::from_secs(15), || {
        let log = daemon.log_text();
        (log.matches("stream error; restarting after backoff")
            .count()
            >= 3)
            .then_some(log)
    });
    let log =
        restarts.unwrap_or_else(|| panic!("no repeated restarts; log:\n{}", daemon.log_text()));
    assert!(
        log.contains("video.source: /dev/video-absent: not a camera"),
        "error does not name the device:\n{log}"
    );
    assert!(
        log.contains("failures=1") && log.contains("failures=2") && log.contains("failures=3"),
        "{log}"
    );
    assert_eq!(board.state()["stream"], "error");
    assert_eq!(board.led("status"), "blink-fast");
    assert_eq!(board.led("call"), "blink-fast");
}

#[test]
fn hardware_encoder_missing_is_reported_by_name() {
    // This machine has no V4L2 M2M encoder, so GStreamer registers no
    // v4l2h264enc: exactly the situation of a board without one.
    let dir = TempDir::new("nohw");
    let text = config_on_free_ports(dir.path(), "always", (640, 360))
        .replace("encoder = \"x264\"", "encoder = \"hardware\"");
    let daemon = Daemon::start(dir.path(), &text);
    let log = wait_for(Duration::from_secs(10), || {
        let log = daemon.log_text();
        log.contains("stream error").then_some(log)
    })
    .unwrap_or_else(|| panic!("no stream error; log:\n{}", daemon.log_text()));
    assert!(log.contains("v4l2h264enc is missing"), "{log}");
    let mut board = SimBoard::connect(&daemon.socket());
    assert_eq!(board.state()["stream"], "error");
}

#[test]
fn auto_encoder_falls_back_to_software_and_says_so() {
    let dir = TempDir::new("auto");
    let text = config_on_free_ports(dir.path(), "always", (640, 360))
        .replace("encoder = \"x264\"", "encoder = \"auto\"");
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    let log = daemon.log_text();
    assert!(
        log.contains(
            "x264enc: this board has no hardware H.264 encoder (v4l2h264enc missing), so software"
        ),
        "{log}"
    );
}

/// This machine has no camera at all (no /dev/video*): `video.source =
/// "auto"` says "no camera", keeps retrying, and the box keeps running and
/// answering.
#[test]
fn with_no_camera_at_all_the_error_says_no_camera_and_the_box_keeps_running() {
    let dir = TempDir::new("nocam-auto");
    let text = config_on_free_ports(dir.path(), "always", (640, 360))
        .replace("source = \"test\"\nencoder", "source = \"auto\"\nencoder");
    let daemon = Daemon::start(dir.path(), &text);
    let log = wait_for(Duration::from_secs(10), || {
        let log = daemon.log_text();
        log.contains("stream error").then_some(log)
    })
    .unwrap_or_else(|| panic!("no stream error; log:\n{}", daemon.log_text()));
    assert!(
        log.contains("video.source: no camera: no video capture device found"),
        "{log}"
    );
    let mut board = SimBoard::connect(&daemon.socket());
    assert_eq!(board.state()["stream"], "error");
    assert!(!board.cmd("leds").is_empty(), "the board still answers");
    assert!(!log.contains("panicked"));
}

#[test]
fn a_hub_host_that_does_not_resolve_is_named_nothing_counts_as_sent_and_it_is_tried_again() {
    // `.invalid` never resolves (RFC 6761): a typo in hub.host, or a
    // province whose DNS is down. Before, udpsink dropped every packet
    // silently while the counters, the LEDs and the state said "streaming".
    let dir = TempDir::new("nodns");
    let text = config_on_free_ports(dir.path(), "always", (320, 180))
        .replace("host = \"127.0.0.1\"", "host = \"hub-typo.invalid\"");
    assert!(text.contains("hub-typo.invalid"));
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());

    // Each start resolves the name again, after the supervisor's backoff.
    let log = wait_for(Duration::from_secs(30), || {
        let log = daemon.log_text();
        (log.matches("stream error; restarting after backoff")
            .count()
            >= 2)
            .then_some(log)
    })
    .unwrap_or_else(|| panic!("no repeated restarts; log:\n{}", daemon.log_text()));
    assert!(
        log.contains("hub.host \"hub-typo.invalid\" does not resolve"),
        "the error does not name the host:\n{log}"
    );
    let state = board.state();
    assert_eq!(state["stream"], "error", "{state}");
    assert_eq!(state["send"]["video_packets"], 0, "{state}");
    assert_eq!(state["send"]["audio_packets"], 0, "{state}");
    assert_eq!(board.led("status"), "blink-fast");
}

#[test]
fn what_the_sockets_send_is_counted_in_the_state() {
    // The same counters are not stuck at zero: with a host that resolves
    // (nobody listens there; UDP leaves the box all the same), they rise.
    // `localhost` resolves to ::1 first here: the box takes its IPv4
    // address (its sockets are IPv4; udpsink given the name failed).
    let dir = TempDir::new("sent");
    let text = config_on_free_ports(dir.path(), "always", (320, 180))
        .replace("host = \"127.0.0.1\"", "host = \"localhost\"");
    let daemon = Daemon::start(dir.path(), &text);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(15), &daemon);
    let sent = wait_for(Duration::from_secs(10), || {
        let state = board.state();
        let video = state["send"]["video_packets"].as_u64().unwrap_or(0);
        let audio = state["send"]["audio_packets"].as_u64().unwrap_or(0);
        (video > 10 && audio > 10).then_some((video, audio))
    });
    assert!(
        sent.is_some(),
        "no packets counted as sent: {}",
        board.state()
    );
    assert!(!daemon.log_text().contains("does not resolve"));
}
