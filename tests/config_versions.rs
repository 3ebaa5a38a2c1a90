//! A box's config version stays reachable: a push too far ahead is refused,
//! and a box can be renumbered without a visit by a signed
//! `config.set_version` (bpctl set-version), after which normal pushes apply
//! again. The real daemon, a real mosquitto and the real bpctl.

use std::time::Duration;

use bridgepoint_proto::Leaf;
use bridgepoint_system_tests::control::{
    bpctl_plain, push, pushed_config, start_plain_box, topic, unix_now, wait_json, Central, Keys,
};
use bridgepoint_system_tests::free_ports;
use bridgepoint_testkit::broker::Broker;
use bridgepoint_testkit::TempDir;
use serde_json::{json, Value};

const DEVICE: &str = "lang-son-01";

#[test]
fn a_box_renumbered_by_a_signed_set_version_takes_normal_pushes_again() {
    let dir = TempDir::new("versions");
    let broker = Broker::plain();
    let keys = Keys::generate(dir.path(), "central");
    let central = Central::new(&broker, None);
    let (reported, status) = (
        topic(DEVICE, Leaf::ConfigReported),
        topic(DEVICE, Leaf::Status),
    );
    let sub = central.subscribe(&[&reported, &status]);
    let trust = [keys.public_b64.as_str()];
    let daemon = start_plain_box(dir.path(), DEVICE, &broker, &trust, None, "on_call");
    let (video_port, audio_port) = free_ports();
    let config = pushed_config(video_port, audio_port, 1000);
    let pushed = |version: u64| {
        let before = sub.messages().len();
        central.publish(
            &topic(DEVICE, Leaf::ConfigDesired),
            &push(Some(&keys), DEVICE, version, &config),
            true,
        );
        wait_json(
            &sub,
            &reported,
            before,
            Duration::from_secs(10),
            |v: &Value| v["version"] == version,
        )
        .unwrap_or_else(|| {
            panic!(
                "no report on version {version}; log:\n{}",
                daemon.log_text()
            )
        })
    };

    // A high but legitimate version (bpctl's default is the time in ms).
    assert_eq!(pushed(unix_now() * 1000)["state"], "applied");
    assert_eq!(pushed(17)["state"], "rejected", "an older version");

    // set-version must be signed.
    let out = bpctl_plain(&broker, ["set-version", DEVICE, "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unsigned version change refused"),
        "{err}"
    );

    let key = keys.private_jwk.to_str().unwrap();
    let out = bpctl_plain(&broker, ["set-version", DEVICE, "1", "--key", key]);
    assert!(
        out.status.success(),
        "{}\nlog:\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log_text()
    );
    let renumbered = wait_json(&sub, &status, 0, Duration::from_secs(10), |v| {
        v["config_version"] == 1
    });
    assert!(renumbered.is_some(), "the status does not say version 1");

    // Normal pushes apply again; the config was kept meanwhile.
    let report = pushed(2);
    assert_eq!(
        report,
        json!({"version": 2, "state": "applied", "error": null, "applied_version": 2})
    );
    assert!(!daemon.log_text().contains("panicked"));
}
