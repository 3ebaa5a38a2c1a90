//! `bridgepointd check-config` runs every check the daemon runs at start: a
//! file it refuses, the daemon refuses too, with the same message naming the
//! key, a non-zero exit and no panic. Huge files and files full of errors are
//! refused quickly with a bounded report, and the daemon's log written to a
//! file carries no colour codes.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bridgepoint_system_tests::{bin, fixtures};
use bridgepoint_testkit::{wait_for, TempDir};

/// The known boards, as the error lists them (the built-in profiles).
const KNOWN: &str = "(known: sim, rpi4, rpi5, generic-cdev, gpio-sim";

/// A standalone config with test sources that waits for a call (no stream).
fn config(data_dir: &str, board: &str) -> String {
    fixtures::config(Path::new(data_dir), 5004, 5006, "on_call", (320, 240))
        .replace("board = \"sim\"", &format!("board = \"{board}\""))
}

/// What a finished command left.
struct Finished {
    status: ExitStatus,
    stderr: String,
    took: Duration,
}

/// Runs `bridgepointd args` (killed and failed after 30 s: a refused config
/// must never leave a daemon running).
fn run(dir: &Path, args: &[&str]) -> Finished {
    let err_path = dir.join(format!("stderr-{}.txt", args.join("_").replace('/', "_")));
    let err_file = std::fs::File::create(&err_path).expect("stderr file");
    let started = Instant::now();
    let mut child = Command::new(bin("bridgepointd"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .spawn()
        .expect("start bridgepointd");
    let status = wait_for(Duration::from_secs(30), || child.try_wait().ok().flatten());
    let took = started.elapsed();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "bridgepointd {args:?} still running after 30 s; stderr:\n{}",
            std::fs::read_to_string(&err_path).unwrap_or_default()
        );
    };
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "bridgepointd {args:?} panicked:\n{stderr}"
    );
    Finished {
        status,
        stderr,
        took,
    }
}

/// Writes `text` as `dir/box.toml`; asserts that `check-config` and the
/// daemon both refuse it, non-zero, with every `expected` text in stderr.
/// Returns check-config's and the daemon's results.
fn refused_by_both(dir: &Path, text: &[u8], expected: &[&str]) -> (Finished, Finished) {
    let file = dir.join("box.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let check = run(dir, &["check-config", file]);
    let daemon = run(dir, &["--config", file]);
    for (what, f) in [("check-config", &check), ("the daemon", &daemon)] {
        assert!(!f.status.success(), "{what} accepted it:\n{}", f.stderr);
        for e in expected {
            assert!(
                f.stderr.contains(e),
                "{what}: expected {e:?} in:\n{}",
                f.stderr
            );
        }
    }
    (check, daemon)
}

#[test]
fn a_good_file_passes_check_config_and_the_daemon_starts_on_it() {
    let dir = TempDir::new("cc-good");
    let data = dir.path().join("data");
    let file = dir.path().join("box.toml");
    std::fs::write(&file, config(data.to_str().unwrap(), "sim")).unwrap();
    let file = file.to_str().unwrap();
    for args in [
        vec!["check-config", file],
        vec!["check-config", "--on-box", file],
    ] {
        let f = run(dir.path(), &args);
        assert!(f.status.success(), "{args:?}:\n{}", f.stderr);
    }
}

#[test]
fn check_config_refuses_an_unknown_board_listing_the_known_ones() {
    let dir = TempDir::new("cc-board");
    let data = dir.path().join("data");
    let text = config(data.to_str().unwrap(), "no-such-board");
    refused_by_both(
        dir.path(),
        text.as_bytes(),
        &[&format!("  board: unknown board \"no-such-board\" {KNOWN}")],
    );
    assert!(
        !data.exists(),
        "the daemon created data_dir before refusing"
    );
}

#[test]
fn check_config_refuses_a_data_dir_that_is_a_file() {
    let dir = TempDir::new("cc-file");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let text = config(file.to_str().unwrap(), "sim");
    refused_by_both(
        dir.path(),
        text.as_bytes(),
        &[&format!(
            "  data_dir: {} exists and is not a directory",
            file.display()
        )],
    );
}

#[test]
fn check_config_refuses_a_relative_data_dir() {
    let dir = TempDir::new("cc-relative");
    refused_by_both(
        dir.path(),
        config("var/lib/bridgepoint", "sim").as_bytes(),
        &["  data_dir: must be an absolute path"],
    );
}

#[test]
fn check_config_refuses_a_data_dir_under_proc() {
    let dir = TempDir::new("cc-proc");
    refused_by_both(
        dir.path(),
        config("/proc/self", "sim").as_bytes(),
        &["  data_dir: must not be under /proc (a kernel pseudo filesystem), got \"/proc/self\""],
    );
}

#[test]
fn every_key_error_is_listed_in_one_round_before_the_startup_checks() {
    // Parsing errors first (the file must parse before the startup checks run).
    let dir = TempDir::new("cc-several");
    let text = config("data", "no-such-board").replace("width = 320", "width = 0");
    let (check, _) = refused_by_both(
        dir.path(),
        text.as_bytes(),
        &[
            "has 2 error(s):",
            "  data_dir: must be an absolute path",
            "  video.width:",
        ],
    );
    assert!(!check.stderr.contains("board:"), "{}", check.stderr);
}

#[test]
fn check_config_refuses_an_oversized_file_quickly_naming_its_size_and_the_limit() {
    let dir = TempDir::new("cc-huge");
    // 800,000 keys, about 10 MB: what once took check-config 3.75 s and 405 MB.
    let mut text = String::with_capacity(11 << 20);
    for i in 0..800_000 {
        text.push_str(&format!("key_{i:07} = 1\n"));
    }
    let size = text.len();
    let file = dir.path().join("box.toml");
    let (check, daemon) = refused_by_both(
        dir.path(),
        text.as_bytes(),
        &[&format!(
            "error: cannot read config file {}: the file is {size} bytes, over the limit of 262144 bytes (256 KiB) for a config file",
            file.display()
        )],
    );
    for f in [&check, &daemon] {
        assert!(f.took < Duration::from_secs(2), "took {:?}", f.took);
        assert!(f.stderr.lines().count() <= 2, "{}", f.stderr);
    }
}

#[test]
fn check_config_prints_at_most_50_errors_for_a_file_with_thousands_of_bad_keys() {
    let dir = TempDir::new("cc-many");
    let data = dir.path().join("data");
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!("bad_{i} = 1\n"));
    }
    text.push_str(&config(data.to_str().unwrap(), "sim"));
    let (check, daemon) = refused_by_both(
        dir.path(),
        text.as_bytes(),
        &[
            "has 5000 error(s):",
            "  bad_0: unknown key",
            "  ... and 4950 more errors",
        ],
    );
    for f in [&check, &daemon] {
        let listed = f
            .stderr
            .lines()
            .filter(|l| l.contains(": unknown key"))
            .count();
        assert_eq!(listed, 50, "{}", f.stderr);
        assert!(f.stderr.lines().count() <= 53, "{}", f.stderr);
        assert!(f.took < Duration::from_secs(5), "took {:?}", f.took);
    }
}

#[test]
fn missing_mqtt_files_are_warnings_at_the_desk_and_errors_on_the_box() {
    let dir = TempDir::new("cc-mqtt");
    let data = dir.path().join("data");
    let text = config(data.to_str().unwrap(), "sim").replace(
        "[hub]",
        "[mqtt]\nurl = \"mqtts://broker.example\"\nca_file = \"/nonexistent/bp/ca.pem\"\n\n[hub]",
    );
    let file = dir.path().join("box.toml");
    std::fs::write(&file, &text).unwrap();
    let file = file.to_str().unwrap();
    let expected = "mqtt.ca_file: cannot read /nonexistent/bp/ca.pem: No such file or directory";
    // Central IT's desk has none of the box's files: a warning naming the key.
    let desk = run(dir.path(), &["check-config", file]);
    assert!(desk.status.success(), "{}", desk.stderr);
    assert!(
        desk.stderr.contains(&format!("warning: {expected}")),
        "{}",
        desk.stderr
    );
    // On the box, and for the daemon, an error.
    for args in [
        vec!["check-config", "--on-box", file],
        vec!["--config", file],
    ] {
        let f = run(dir.path(), &args);
        assert!(!f.status.success(), "{args:?} accepted it");
        assert!(
            f.stderr.contains(&format!("  {expected}")),
            "{args:?}: {}",
            f.stderr
        );
    }
}

#[test]
fn check_config_refuses_a_trust_key_that_is_not_a_usable_ed25519_key() {
    let dir = TempDir::new("cc-trust");
    let data = dir.path().join("data");
    // The identity point: 32 valid bytes, but a key of small order.
    let weak = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let text = format!(
        "{}\n[trust]\nconfig_keys = [\"{weak}\"]\n",
        config(data.to_str().unwrap(), "sim")
    );
    refused_by_both(
        dir.path(),
        text.as_bytes(),
        &["  trust.config_keys[0]: not a usable Ed25519 public key: public key is a weak (small-order) Ed25519 point"],
    );
}

#[test]
fn a_daemon_log_written_to_a_file_has_no_colour_codes() {
    let dir = TempDir::new("cc-colour");
    let data = dir.path().join("data");
    let file = dir.path().join("box.toml");
    std::fs::write(&file, config(data.to_str().unwrap(), "sim")).unwrap();
    let log = dir.path().join("bridgepointd.log");
    let mut child = Command::new(bin("bridgepointd"))
        .arg("--config")
        .arg(&file)
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start bridgepointd");
    let ready = wait_for(Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("ready").then_some(())
    });
    // SIGTERM: the shutdown lines are logged too.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exited = wait_for(Duration::from_secs(10), || child.try_wait().ok().flatten());
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let bytes = std::fs::read(&log).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(ready.is_some(), "the daemon did not get ready:\n{text}");
    assert!(text.contains("stopped"), "{text}");
    assert!(
        !bytes.windows(2).any(|w| w == b"\x1b["),
        "colour codes in a log file:\n{text:?}"
    );
}

/// The fixture's `[video]` with `encoder`, `width`x`height` at `fps`.
fn with_video(text: &str, encoder: &str, (width, height): (u32, u32), fps: u32) -> String {
    text.replace("encoder = \"x264\"", &format!("encoder = \"{encoder}\""))
        .replace("width = 320", &format!("width = {width}"))
        .replace("height = 240", &format!("height = {height}"))
        .replace("fps = 30", &format!("fps = {fps}"))
}

/// A `[video]` an encoder cannot do, and what the refusal says.
struct Beyond {
    name: &'static str,
    encoder: &'static str,
    size: (u32, u32),
    fps: u32,
    expected: &'static [&'static str],
}

#[test]
fn check_config_refuses_what_the_encoder_cannot_do_naming_each_key() {
    let cases = [
        Beyond {
            name: "4k-hardware",
            encoder: "hardware",
            size: (3840, 240),
            fps: 30,
            expected: &["  video.width: 3840 is wider than the hardware encoder takes (at most 1920)"],
        },
        Beyond {
            name: "gop-1",
            encoder: "x264",
            size: (320, 240),
            fps: 1,
            expected: &["  video.keyframe_interval_s: a keyframe every frame (fps 1 × 1 s) hangs the hardware encoder; at least 2 frames per keyframe"],
        },
        Beyond {
            name: "1080p60-hardware",
            encoder: "hardware",
            size: (1920, 1080),
            fps: 60,
            expected: &["  video.fps: 60 fps at 1920x1080 is more than H.264 level 4 allows (245760 macroblocks/s; at most 30 fps at this size)"],
        },
        Beyond {
            name: "all-at-once",
            encoder: "hardware",
            size: (3840, 240),
            fps: 1,
            expected: &[
                "has 2 error(s):",
                "  video.width: 3840 is wider than the hardware encoder takes (at most 1920)",
                "  video.keyframe_interval_s: a keyframe every frame (fps 1 × 1 s) hangs the hardware encoder",
            ],
        },
    ];
    for case in cases {
        let dir = TempDir::new(&format!("cc-enc-{}", case.name));
        let data = dir.path().join("data");
        let fixture = config(data.to_str().unwrap(), "sim");
        let text = with_video(&fixture, case.encoder, case.size, case.fps);
        refused_by_both(dir.path(), text.as_bytes(), case.expected);
        assert!(
            !data.exists(),
            "{}: the daemon created data_dir before refusing",
            case.name
        );
    }
}

#[test]
fn check_config_at_the_desk_warns_that_a_pi_would_refuse_1080p60_with_encoder_auto() {
    let dir = TempDir::new("cc-enc-auto");
    let data = dir.path().join("data");
    let fixture = config(data.to_str().unwrap(), "sim");
    let text = with_video(&fixture, "auto", (1920, 1080), 60);
    let file = dir.path().join("box.toml");
    std::fs::write(&file, text).unwrap();
    let desk = run(dir.path(), &["check-config", file.to_str().unwrap()]);
    // Software encoders take 1080p60, so the file is valid; a board with the
    // hardware encoder would refuse it.
    assert!(desk.status.success(), "{}", desk.stderr);
    assert!(
        desk.stderr.contains("warning: video.fps: 60 fps at 1920x1080 is more than H.264 level 4 allows (245760 macroblocks/s; at most 30 fps at this size); a board with the hardware encoder (v4l2h264enc, Raspberry Pi 4) uses it for video.encoder = \"auto\" and refuses this file"),
        "{}",
        desk.stderr
    );
}
