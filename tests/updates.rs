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

use bridgepoint_system_tests::broker::Broker;
use bridgepoint_system_tests::control::{box_config, topic, wait_json, BoxLink, Central};
use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::{wait_for, TempDir};

const DEVICE: &str = "hue-02";

const FAKE_RAUC: &str = r#"#!/bin/sh
# Stand-in for RAUC's command line (see the test's module docs).
echo "$*" >> "$(dirname "$0")/rauc-calls.log"
case "$1" in
  status)
    case "$2" in
      --output-format=json) echo '{"compatible":"bridgepoint-rpi4","booted":"A","boot_primary":"rootfs.0"}' ;;
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
    let rauc = dir.path().join("rauc");
    std::fs::write(&rauc, FAKE_RAUC).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&rauc)
        .status()
        .unwrap();
    let rebooted = dir.path().join("rebooted");

    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let (status, events, results) = (
        topic(DEVICE, "status"),
        topic(DEVICE, "event"),
        topic(DEVICE, "cmd/result"),
    );
    let sub = central.subscribe(&[&status, &events, &results]);
    let text = box_config(
        &dir.path().join("data"),
        DEVICE,
        &broker,
        BoxLink::Plain,
        &[],
        None,
        "on_call",
    );
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
    let st = wait_json(&sub, &status, 0, Duration::from_secs(10), |v| {
        v["online"] == true
    });
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
        &topic(DEVICE, "cmd"),
        br#"{"id":"u1","cmd":"update","args":{"url":"https://fw.example/unsigned.raucb"}}"#,
        false,
    );
    assert!(
        wait_json(&sub, &results, before, Duration::from_secs(5), |v| v["id"]
            == "u1"
            && v["ok"] == true)
        .is_some()
    );
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
        &topic(DEVICE, "cmd"),
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
