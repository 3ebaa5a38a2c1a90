//! Remote updates through the daemon: `update` runs RAUC, progress arrives
//! as events, a good install reboots, a refused bundle is reported, and the
//! booted slot is marked good once the box is healthy.
//!
//! A real A/B system with a bootloader cannot run on this machine, so a
//! stand-in `rauc` script (BRIDGEPOINT_RAUC) plays RAUC's command line: it
//! records its calls, prints RAUC's progress lines, and refuses a bundle
//! the way RAUC refuses one that is not signed by the keyring. RAUC's real
//! signing and verification are tested with Debian's rauc in
//! scripts/check-yocto.

use std::time::Duration;

use bridgepoint_proto::Leaf;
use bridgepoint_system_tests::control::{
    plain_box_config, topic, wait_json, wait_ok_result, wait_online, Central,
};
use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_testkit::broker::Broker;
use bridgepoint_testkit::{wait_for, TempDir};

const DEVICE: &str = "hue-02";

const FAKE_RAUC: &str = r#"#!/bin/sh
# Stand-in for RAUC's command line (see the test's module docs).
echo "$*" >> "$(dirname "$0")/rauc-calls.log"
case "$1" in
  status)
    case "$2" in
      --output-format=json)
        booted="$(cat "$(dirname "$0")/booted-slot" 2>/dev/null || echo A)"
        echo "{\"compatible\":\"bridgepoint-rpi4\",\"booted\":\"$booted\",\"boot_primary\":\"rootfs.0\"}" ;;
      mark-good|mark-bad) echo "marked slot rootfs.0 as ${2#mark-}" ;;
    esac ;;
  install)
    case "$2" in
      *unsigned*) echo "  0% Installing"; echo "LastError: Failed verifying bundle: signature verification failed: unable to get local issuer certificate" >&2; exit 1 ;;
      *) for p in 0 20 40 80 100; do echo " $p% Installing"; sleep 0.1; done; echo "idle"; echo "Installing \`$2\` succeeded" ;;
    esac ;;
esac
"#;

#[test]
fn update_progress_reboot_refusal_and_health() {
    let dir = TempDir::new("updates");
    let rauc = fake_rauc(dir.path());
    let rebooted = dir.path().join("rebooted");

    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let (status, events, results) = (
        topic(DEVICE, Leaf::Status),
        topic(DEVICE, Leaf::Event),
        topic(DEVICE, Leaf::CmdResult),
    );
    let sub = central.subscribe(&[&status, &events, &results]);
    let text = plain_box_config(dir.path(), DEVICE, &broker);
    let reboot_cmd = format!("touch {}", rebooted.display());
    let daemon = Daemon::start_with_env(
        dir.path(),
        &text,
        &[
            ("BRIDGEPOINT_RAUC", rauc.to_str().unwrap()),
            ("BRIDGEPOINT_REBOOT", &reboot_cmd),
        ],
    );

    // Status names the booted slot; once connected the box is healthy and marks it good.
    let st = wait_online(&sub, &status, Duration::from_secs(10));
    assert_eq!(
        st.unwrap_or_default()["slot"],
        "A",
        "log:\n{}",
        daemon.log_text()
    );
    let calls = dir.path().join("rauc-calls.log");
    let marked = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&calls)
            .ok()
            .filter(|c| c.contains("status mark-good"))
    });
    assert!(
        marked.is_some(),
        "slot never marked good; log:\n{}",
        daemon.log_text()
    );
    assert!(
        wait_json(&sub, &events, 0, Duration::from_secs(5), |v| v["type"]
            == "update.health"
            && v["verdict"] == "good")
        .is_some()
    );

    // A bundle RAUC refuses: reported, no reboot.
    let before = sub.messages().len();
    central.publish(
        &topic(DEVICE, Leaf::Cmd),
        br#"{"id":"u1","cmd":"update","args":{"url":"https://fw.example/unsigned.raucb"}}"#,
        false,
    );
    assert!(wait_ok_result(&sub, &results, before, Duration::from_secs(5), "u1").is_some());
    let failed = wait_json(&sub, &events, before, Duration::from_secs(10), |v| {
        v["type"] == "update.failed"
    });
    let failed = failed.unwrap_or_else(|| panic!("no update.failed; log:\n{}", daemon.log_text()));
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or_default()
            .contains("signature verification failed"),
        "{failed}"
    );
    assert!(!rebooted.exists(), "rebooted after a refused bundle");

    // A good bundle: progress events, installed, reboot.
    let before = sub.messages().len();
    central.publish(
        &topic(DEVICE, Leaf::Cmd),
        br#"{"id":"u2","cmd":"update","args":{"url":"https://fw.example/bridgepoint-1.1.raucb"}}"#,
        false,
    );
    let installed = wait_json(&sub, &events, before, Duration::from_secs(10), |v| {
        v["type"] == "update.installed"
    });
    assert!(installed.is_some(), "log:\n{}", daemon.log_text());
    let progress: Vec<u64> = sub
        .messages()
        .into_iter()
        .skip(before)
        .filter(|(t, _)| *t == events)
        .filter_map(|(_, p)| serde_json::from_str::<serde_json::Value>(&p).ok())
        .filter(|v| v["type"] == "update.progress")
        .filter_map(|v| v["percent"].as_u64())
        .collect();
    assert_eq!(progress, vec![0, 20, 40, 80, 100]);
    assert!(
        wait_for(Duration::from_secs(10), || rebooted.exists().then_some(())).is_some(),
        "no reboot after install"
    );
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.contains("install https://fw.example/bridgepoint-1.1.raucb"),
        "{calls}"
    );
}

/// A managed box's config with the health gate's hold and deadline.
fn config_with_gate(
    dir: &std::path::Path,
    broker: &Broker,
    hold_s: u32,
    deadline_s: u32,
) -> String {
    format!(
        "{}\n[updates]\nhealth_hold_s = {hold_s}\nhealth_deadline_s = {deadline_s}\n",
        plain_box_config(dir, DEVICE, broker)
    )
}

/// The time of a boot happening now, for `BRIDGEPOINT_SIM_BOOT`.
fn new_boot() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

/// Boots the factory slot A once (the first boot: marked good, recorded),
/// stops the daemon, clears the call log and books slot B for the next
/// boot, as an installed update does.
fn boot_factory_slot_then_update_to_b(dir: &std::path::Path, text: &str, env: &[(&str, &str)]) {
    let calls = dir.join("rauc-calls.log");
    let daemon = Daemon::start_with_env(dir, text, env);
    let marked = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&calls)
            .ok()
            .filter(|c| c.contains("status mark-good"))
    });
    assert!(marked.is_some(), "log:\n{}", daemon.log_text());
    assert!(daemon.stop());
    std::fs::write(&calls, "").unwrap();
    std::fs::write(dir.join("booted-slot"), "B").unwrap();
}

/// Writes the stand-in `rauc` into `dir` and returns its path.
fn fake_rauc(dir: &std::path::Path) -> std::path::PathBuf {
    let rauc = dir.join("rauc");
    std::fs::write(&rauc, FAKE_RAUC).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&rauc)
        .status()
        .unwrap();
    rauc
}

/// A new slot whose daemon reaches READY and then crashes every few seconds
/// (as systemd restarts it) is never marked good, and is marked bad at the
/// deadline counted from the boot, not from any daemon's start; a later
/// daemon in the same boot does not judge again.
#[test]
fn a_new_slot_whose_daemon_crashes_after_ready_is_marked_bad_at_the_deadline_never_good() {
    let dir = TempDir::new("updates-crash");
    let rauc = fake_rauc(dir.path());
    let calls = dir.path().join("rauc-calls.log");
    let rebooted = dir.path().join("rebooted");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let events = topic(DEVICE, Leaf::Event);
    let sub = central.subscribe(&[&events]);
    // Hold 5 s, deadline 30 s after boot.
    let text = config_with_gate(dir.path(), &broker, 5, 30);
    let reboot_cmd = format!("touch {}", rebooted.display());
    let rauc_env = rauc.to_str().unwrap().to_owned();

    // The factory slot A, booted once: proven, recorded good. Then an
    // update boots slot B; its daemon crashes 3 s after each start, before
    // the 5 s hold. systemd's Restart=always is played by the loop.
    boot_factory_slot_then_update_to_b(
        dir.path(),
        &text,
        &[
            ("BRIDGEPOINT_RAUC", &rauc_env),
            ("BRIDGEPOINT_REBOOT", &reboot_cmd),
        ],
    );
    let boot = new_boot();
    let started = std::time::Instant::now();
    let mut starts = 0;
    while !rebooted.exists() && started.elapsed() < Duration::from_secs(50) {
        let mut daemon = Daemon::start_with_env(
            dir.path(),
            &text,
            &[
                ("BRIDGEPOINT_RAUC", &rauc_env),
                ("BRIDGEPOINT_REBOOT", &reboot_cmd),
                ("BRIDGEPOINT_SIM_BOOT", &boot),
                ("BRIDGEPOINT_SIM_FAULT", "crash-after=3"),
            ],
        );
        starts += 1;
        let ended = wait_for(Duration::from_secs(10), || {
            (!daemon.is_running() || rebooted.exists()).then_some(())
        });
        assert!(
            ended.is_some(),
            "the daemon neither crashed nor rebooted; log:\n{}",
            daemon.log_text()
        );
        let log = daemon.kill9();
        assert!(log.contains("ready"), "it reached READY first:\n{log}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let elapsed = started.elapsed();
    let calls_text = std::fs::read_to_string(&calls).unwrap_or_default();
    assert!(
        !calls_text.contains("mark-good"),
        "a crashing slot was marked good: {calls_text}"
    );
    assert!(
        calls_text.contains("status mark-bad"),
        "not marked bad: {calls_text}"
    );
    assert!(rebooted.exists(), "no reboot to fall back");
    assert!(
        starts >= 5,
        "it crashed and restarted many times first: {starts}"
    );
    assert!(
        elapsed >= Duration::from_secs(28),
        "bad only at the deadline (30 s after boot), not after {elapsed:?}"
    );
    // A later daemon in the same boot does not judge again, and reports the verdict.
    let _ = std::fs::remove_file(&rebooted);
    let daemon = Daemon::start_with_env(
        dir.path(),
        &text,
        &[
            ("BRIDGEPOINT_RAUC", &rauc_env),
            ("BRIDGEPOINT_REBOOT", &reboot_cmd),
            ("BRIDGEPOINT_SIM_BOOT", &boot),
        ],
    );
    let verdict = wait_json(&sub, &events, 0, Duration::from_secs(10), |v| {
        v["type"] == "update.health" && v["verdict"] == "bad" && v["slot"] == "B"
    });
    assert!(verdict.is_some(), "log:\n{}", daemon.log_text());
    std::thread::sleep(Duration::from_secs(6));
    let calls_text = std::fs::read_to_string(&calls).unwrap_or_default();
    assert_eq!(
        calls_text.matches("mark-").count(),
        1,
        "judged twice: {calls_text}"
    );
    assert!(!rebooted.exists(), "rebooted again");
    assert!(daemon.log_text().contains("already decided in this boot"));
}

/// A new slot that stays healthy for the whole hold is marked good, once,
/// and not before the hold is over.
#[test]
fn a_new_slot_healthy_for_the_hold_is_marked_good_once_and_not_before() {
    let dir = TempDir::new("updates-hold");
    let rauc = fake_rauc(dir.path());
    let calls = dir.path().join("rauc-calls.log");
    let broker = Broker::plain();
    let text = config_with_gate(dir.path(), &broker, 5, 60);
    let rauc_env = rauc.to_str().unwrap().to_owned();
    let env = [
        ("BRIDGEPOINT_RAUC", rauc_env.as_str()),
        ("BRIDGEPOINT_REBOOT", "true"),
    ];
    boot_factory_slot_then_update_to_b(dir.path(), &text, &env);

    // Slot B comes up in a new boot (the update rebooted the box).
    let boot = new_boot();
    let env = [
        ("BRIDGEPOINT_RAUC", rauc_env.as_str()),
        ("BRIDGEPOINT_REBOOT", "true"),
        ("BRIDGEPOINT_SIM_BOOT", boot.as_str()),
    ];
    let started = std::time::Instant::now();
    let daemon = Daemon::start_with_env(dir.path(), &text, &env);
    let marked = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&calls)
            .ok()
            .filter(|c| c.contains("mark-good"))
    });
    assert!(marked.is_some(), "log:\n{}", daemon.log_text());
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "marked before the hold: {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        std::fs::read_to_string(&calls)
            .unwrap()
            .matches("mark-")
            .count(),
        1
    );
}
