//! Bad config files: each gives a clear error naming the key, a non-zero
//! exit, and no panic — from `check-config`, `sdp` and the daemon itself.

use bridgepoint_system_tests::daemon::run_cli;
use bridgepoint_system_tests::fixtures::config;
use bridgepoint_testkit::TempDir;

fn good(dir: &TempDir) -> String {
    config(&dir.path().join("data"), 5004, 5006, "on_call", (1280, 720))
}

/// Runs check-config on `text`; returns (exit success, stderr).
fn check(dir: &TempDir, text: &str) -> (bool, String) {
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = run_cli(&["check-config", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "check-config panicked:\n{stderr}"
    );
    (out.status.success(), stderr)
}

fn assert_rejected(text: &str, expected: &str) {
    let dir = TempDir::new("badcfg");
    let (ok, stderr) = check(&dir, text);
    assert!(!ok, "accepted a bad config; expected {expected:?}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
    // The daemon refuses to start on it, with the same message.
    let file = dir.path().join("bad.toml");
    let out = run_cli(&["--config", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "daemon started on a bad config");
    assert!(
        stderr.contains(expected) && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn a_good_file_passes_check_config() {
    let dir = TempDir::new("goodcfg");
    let file = dir.path().join("good.toml");
    std::fs::write(&file, good(&dir)).unwrap();
    let out = run_cli(&["check-config", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
}

#[test]
fn unknown_key() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace("fps = 30", "fps = 30\nframes = 30"),
        "video.frames: unknown key",
    );
}

#[test]
fn wrong_type() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace("bitrate_kbps = 1500", "bitrate_kbps = \"fast\""),
        "video.bitrate_kbps: expected an integer, got a string",
    );
}

#[test]
fn key_of_the_wrong_length() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace(
            bridgepoint_system_tests::fixtures::KEY,
            "AAECAwQFBgcICQoLDA0ODw==",
        ),
        "srtp.key: must be 30 bytes (master key + salt) for AES_CM_128_HMAC_SHA1_80, got 16 bytes",
    );
}

#[test]
fn width_zero() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace("width = 1280", "width = 0"),
        "video.width: must be between 16 and 3840, got 0",
    );
}

#[test]
fn port_over_65535() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace("video_port = 5004", "video_port = 70000"),
        "hub.video_port: must be between 1 and 65534, got 70000",
    );
}

#[test]
fn receive_key_equal_to_the_send_key() {
    let dir = TempDir::new("k");
    let key = bridgepoint_system_tests::fixtures::KEY;
    assert_rejected(
        &good(&dir).replace(
            &format!("key = \"{key}\""),
            &format!("key = \"{key}\"\nreceive_key = \"{key}\""),
        ),
        "srtp.receive_key: must differ from srtp.key: each direction has its own key",
    );
}

#[test]
fn local_port_below_1024() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace(
            "video_port = 5004",
            "video_port = 5004\nlocal_video_port = 80",
        ),
        "hub.local_video_port: must be between 1024 and 65534, got 80",
    );
}

#[test]
fn hub_feedback_not_none_or_avpf() {
    for (value, expected) in [
        (
            "\"nack\"",
            "hub.feedback: must be \"none\" or \"avpf\", got \"nack\"",
        ),
        (
            "\"AVPF\"",
            "hub.feedback: must be \"none\" or \"avpf\", got \"AVPF\"",
        ),
        ("1", "hub.feedback: expected a string, got an integer"),
    ] {
        let dir = TempDir::new("k");
        assert_rejected(
            &good(&dir).replace(
                "audio_port = 5006",
                &format!("audio_port = 5006\nfeedback = {value}"),
            ),
            expected,
        );
    }
}

#[test]
fn intra_refresh_not_a_boolean_or_on_an_encoder_without_it() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace(
            "bitrate_kbps = 1500",
            "bitrate_kbps = 1500\nintra_refresh = \"yes\"",
        ),
        "video.intra_refresh: expected true or false, got a string",
    );
    let openh264 = good(&dir)
        .replace(
            "bitrate_kbps = 1500",
            "bitrate_kbps = 1500\nintra_refresh = true",
        )
        .replace("encoder = \"x264\"", "encoder = \"openh264\"");
    assert!(openh264.contains("encoder = \"openh264\""), "{openh264}");
    assert_rejected(
        &openh264,
        "video.intra_refresh: only x264 does periodic intra refresh",
    );
}

#[test]
fn return_latency_out_of_range() {
    let dir = TempDir::new("k");
    assert_rejected(
        &format!("{}\n[return]\nlatency_ms = -5\n", good(&dir)),
        "return.latency_ms: must be between 0 and 5000, got -5",
    );
}

#[test]
fn unknown_srtp_suite() {
    let dir = TempDir::new("k");
    assert_rejected(
        &good(&dir).replace("AES_CM_128_HMAC_SHA1_80", "AES_CM_192_HMAC_SHA1_80"),
        "srtp.suite: unknown SRTP suite \"AES_CM_192_HMAC_SHA1_80\"",
    );
}

#[test]
fn missing_file() {
    for args in [
        vec!["check-config", "/nonexistent/box.toml"],
        vec!["--config", "/nonexistent/box.toml"],
        vec!["sdp", "--config", "/nonexistent/box.toml"],
    ] {
        let out = run_cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains("cannot read config file /nonexistent/box.toml")
                && stderr.contains("No such file"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn several_errors_are_all_listed() {
    let dir = TempDir::new("k");
    let text = good(&dir)
        .replace("width = 1280", "width = 0")
        .replace("mode = \"on_call\"", "mode = \"sometimes\"")
        .replace("host = \"127.0.0.1\"", "host = 12");
    let (ok, stderr) = check(&dir, &text);
    assert!(!ok);
    assert!(stderr.contains("has 3 error(s)"), "{stderr}");
    for key in ["video.width:", "session.mode:", "hub.host:"] {
        assert!(stderr.contains(key), "{key} missing in:\n{stderr}");
    }
}

#[test]
fn not_toml_at_all() {
    let (ok, stderr) = check(&TempDir::new("k"), "this is [not toml\n");
    assert!(!ok);
    assert!(
        stderr.contains("(file): not valid TOML (line 1)"),
        "{stderr}"
    );
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["check-config", "--help"],
        vec!["sdp", "--help"],
    ] {
        let out = run_cli(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    let out = run_cli(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no config given"));
}

#[test]
fn playback_and_screen_keys() {
    let dir = TempDir::new("k");
    let long_name = "x".repeat(61);
    for (section, expected) in [
        (
            "[speaker]\nsink = \"hdmi\"",
            "speaker.sink: must be \"auto\", \"fake\" or \"alsa:<device>\", got \"hdmi\"",
        ),
        (
            "[speaker]\nsink = \"alsa:\"",
            "speaker.sink: must be \"auto\", \"fake\" or \"alsa:<device>\", got \"alsa:\"",
        ),
        ("[speaker]\nvolume = 3", "speaker.volume: unknown key"),
        (
            "[display]\nsink = \"hdmi\"",
            "display.sink: must be \"auto\", \"kms\" or \"fake\", got \"hdmi\"",
        ),
        (
            "[display]\nlanguage = \"fr\"",
            "display.language: must be \"vi\" or \"en\", got \"fr\"",
        ),
        (
            "[display]\nself_view = \"yes\"",
            "display.self_view: expected true or false, got a string",
        ),
        (
            "[display]\nname = \"  \"",
            "display.name: must be 1 to 60 characters (not only spaces), got 2 characters",
        ),
        (
            &format!("[display]\nname = \"{long_name}\""),
            "display.name: must be 1 to 60 characters (not only spaces), got 61 characters",
        ),
        (
            "[display]\nname = \"Hà\\nGiang\"",
            "display.name: must not contain control characters",
        ),
        (
            "[display]\nname = 7",
            "display.name: expected a string, got an integer",
        ),
        ("[display]\ncolour = \"red\"", "display.colour: unknown key"),
        ("[audio]\nechoes = true", "audio.echoes: unknown key"),
        (
            "[audio]\necho_delay_ms = 501",
            "audio.echo_delay_ms: must be between 0 and 500, got 501",
        ),
        (
            "[audio]\necho_delay_ms = -20",
            "audio.echo_delay_ms: must be between 0 and 500, got -20",
        ),
        (
            "[audio]\necho_delay_ms = \"60ms\"",
            "audio.echo_delay_ms: expected an integer, got a string",
        ),
    ] {
        let text = if section.starts_with("[audio]") {
            good(&dir).replace("[audio]\n", &format!("{section}\n"))
        } else {
            format!("{}\n{section}\n", good(&dir))
        };
        assert_rejected(&text, expected);
    }
    for key in ["echo_cancellation", "noise_suppression", "gain_control"] {
        assert_rejected(
            &good(&dir).replace("[audio]\n", &format!("[audio]\n{key} = 1\n")),
            &format!("audio.{key}: expected true or false, got an integer"),
        );
    }
}

#[test]
fn the_video_bitrate_floor_is_checked_against_its_range_and_the_ceiling() {
    let dir = TempDir::new("badcfg-floor");
    // The fixture's ceiling is bitrate_kbps = 1500.
    for (line, expected) in [
        (
            "min_bitrate_kbps = 3000",
            "video.min_bitrate_kbps: must not be above video.bitrate_kbps (1500), got 3000",
        ),
        (
            "min_bitrate_kbps = 50",
            "video.min_bitrate_kbps: must be between 100 and 20000, got 50",
        ),
        (
            "min_bitrate_kbps = \"low\"",
            "video.min_bitrate_kbps: expected an integer, got a string",
        ),
    ] {
        assert_rejected(
            &good(&dir).replace("fps = 30", &format!("fps = 30\n{line}")),
            expected,
        );
    }
    // A default floor above a low ceiling is the ceiling, not an error.
    let low = good(&dir).replace("bitrate_kbps = 1500", "bitrate_kbps = 200");
    let (ok, stderr) = check(&dir, &low);
    assert!(ok, "{stderr}");
}
