//! The PKI made with rcgen works with a real mosquitto and its clients
//! (OpenSSL on both sides): the server certificate verifies for 127.0.0.1
//! and for localhost, client certificates get in with their CN as user
//! name, and the broker takes them back after a restart.

use std::process::{Command, Stdio};
use std::time::Duration;

use bridgepoint_testkit::broker::{Broker, ClientAuth};
use bridgepoint_testkit::certs::Certs;
use bridgepoint_testkit::{assert_success, TempDir};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn the_server_certificate_verifies_by_ip_and_by_name_and_clients_get_in() {
    let dir = TempDir::new("testkit-tls");
    let certs = Certs::generate(&dir.path().join("pki"), &["lang-son-01", "central"]);
    let mut broker = Broker::tls(&certs);
    let central = broker.subscribe_confirmed(
        &ClientAuth::cert(&certs, "central"),
        &["bridgepoint/v1/#"],
        WAIT,
    );
    let device = ClientAuth::cert(&certs, "lang-son-01");
    let topic = "bridgepoint/v1/lang-son-01/status";
    broker.assert_acked(&broker.publish(&device, topic, "by ip"), topic);
    assert!(
        central.wait_message(topic, "by ip", WAIT),
        "{}",
        central.output()
    );

    // mosquitto_pub checks the host name against the certificate.
    let out = Command::new("timeout")
        .args(["10", "mosquitto_pub", "-h", "localhost", "-p"])
        .arg(broker.port().to_string())
        .args(device.args())
        .args(["-q", "1", "-t", topic, "-m", "by name"])
        .stdin(Stdio::null())
        .output()
        .expect("run mosquitto_pub");
    assert_success(&out, "mosquitto_pub -h localhost");
    assert!(
        central.wait_message(topic, "by name", WAIT),
        "{}",
        central.output()
    );

    broker.restart();
    let out = broker.publish_retained(&device, topic, b"after restart");
    broker.assert_acked(&out, topic);
    let late = broker.subscribe_confirmed(&device, &[topic], WAIT);
    assert!(
        late.wait_message(topic, "after restart", WAIT),
        "a retained message reaches a later subscriber: {}",
        late.output()
    );
}
