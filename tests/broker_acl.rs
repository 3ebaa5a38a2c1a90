//! The broker set-up the boxes live with, checked with mosquitto's own
//! clients: a box (client certificate CN = device id) reads and writes only
//! its own `bridgepoint/v1/<device id>/#` subtree, `central` reaches every
//! box, and a client without a certificate from the boxes' CA gets nothing.
//! Also the plain broker, and that `stop`/`restart` really take the broker
//! away and bring it back on the same port.
//!
//! A 3.1.1 broker acknowledges a publish its ACL denies and drops it, so
//! "not delivered" is shown against a control message, sent after it to the
//! same subscriber, that is delivered.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bridgepoint_testkit::broker::{Broker, ClientAuth, Subscriber};
use bridgepoint_testkit::certs::Certs;
use bridgepoint_testkit::{wait_for, TempDir};

const WAIT: Duration = Duration::from_secs(5);

fn certs(dir: &TempDir) -> Certs {
    Certs::generate(
        &dir.path().join("pki"),
        &["lang-son-01", "hue-02", "central"],
    )
}

/// A TLS broker with [`certs`] in a temp dir named after `label`.
fn tls_broker(label: &str) -> (TempDir, Certs, Broker) {
    let dir = TempDir::new(label);
    let certs = certs(&dir);
    let broker = Broker::tls(&certs);
    (dir, certs, broker)
}

/// Publishes and asserts the broker acknowledged it.
fn publish_ok(broker: &Broker, auth: &ClientAuth, topic: &str, payload: &str) {
    broker.assert_acked(&broker.publish(auth, topic, payload), topic);
}

/// Subscribes and waits for the broker's SUBACK.
fn subscribed(broker: &Broker, auth: &ClientAuth, topics: &[&str]) -> Subscriber {
    broker.subscribe_confirmed(auth, topics, WAIT)
}

fn assert_received(broker: &Broker, sub: &Subscriber, topic: &str, payload: &str) {
    assert!(
        sub.wait_message(topic, payload, WAIT),
        "{payload:?} on {topic} not received; subscriber said:\n{}\nbroker log:\n{}",
        sub.output(),
        broker.log_text()
    );
}

/// Asserts that mosquitto_pub with `auth` does not get in and, if `reason`
/// is given, that the broker logged it (OpenSSL's words).
fn assert_refused(broker: &Broker, auth: &ClientAuth, what: &str, reason: Option<&str>) {
    let before = broker.log_text().len();
    let out = broker.publish(
        auth,
        "bridgepoint/v1/lang-son-01/status",
        "should-not-arrive",
    );
    assert!(
        !out.status.success(),
        "{what}: mosquitto_pub was let in; stdout/stderr: {}{}\nbroker log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        broker.log_text()
    );
    if let Some(reason) = reason {
        // The attempt is logged once mosquitto_pub has gone; allow a moment.
        let logged = wait_for(WAIT, || {
            broker
                .log_text()
                .get(before..)?
                .contains(reason)
                .then_some(())
        });
        assert!(
            logged.is_some(),
            "{what}: the broker did not log {reason:?}:\n{}",
            broker.log_text()
        );
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

#[test]
fn plain_broker_round_trips_anonymous_messages() {
    let broker = Broker::plain();
    assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.port()));
    let anon = ClientAuth::anonymous();
    let sub = subscribed(&broker, &anon, &["bridgepoint/v1/test-box/#"]);
    publish_ok(
        &broker,
        &anon,
        "bridgepoint/v1/test-box/status",
        "hello plain",
    );
    assert_received(
        &broker,
        &sub,
        "bridgepoint/v1/test-box/status",
        "hello plain",
    );
}

#[test]
fn stop_takes_the_broker_away_and_restart_brings_it_back_on_the_same_port() {
    let mut broker = Broker::plain();
    let port = broker.port();
    let anon = ClientAuth::anonymous();
    publish_ok(&broker, &anon, "bridgepoint/v1/test-box/status", "before");

    broker.stop();
    assert!(
        !accepts(port),
        "port {port} still accepts connections after stop()"
    );
    let out = broker.publish(&anon, "bridgepoint/v1/test-box/status", "while stopped");
    assert!(
        !out.status.success(),
        "a publish succeeded while the broker was stopped"
    );

    broker.restart();
    assert!(
        accepts(port),
        "port {port} does not accept connections after restart()"
    );
    let sub = subscribed(&broker, &anon, &["bridgepoint/v1/test-box/#"]);
    publish_ok(&broker, &anon, "bridgepoint/v1/test-box/status", "after");
    assert_received(&broker, &sub, "bridgepoint/v1/test-box/status", "after");
    // Both runs logged to the same file.
    let log = broker.log_text();
    let runs = log
        .lines()
        .filter(|l| l.contains("mosquitto version") && l.ends_with(" running"));
    assert_eq!(runs.count(), 2, "{log}");
}

#[test]
fn tls_broker_url_is_mqtts() {
    let dir = TempDir::new("acl-url");
    let broker = Broker::tls(&certs(&dir));
    assert_eq!(broker.url(), format!("mqtts://127.0.0.1:{}", broker.port()));
}

#[test]
fn a_device_round_trips_on_its_own_topics() {
    let (_dir, certs, broker) = tls_broker("acl-own");
    let device = ClientAuth::cert(&certs, "lang-son-01");
    let sub = subscribed(&broker, &device, &["bridgepoint/v1/lang-son-01/#"]);
    publish_ok(
        &broker,
        &device,
        "bridgepoint/v1/lang-son-01/status",
        "online",
    );
    assert_received(&broker, &sub, "bridgepoint/v1/lang-son-01/status", "online");
}

#[test]
fn a_device_cannot_publish_under_another_device() {
    let (_dir, certs, broker) = tls_broker("acl-pub");
    let central = subscribed(
        &broker,
        &ClientAuth::cert(&certs, "central"),
        &["bridgepoint/v1/#"],
    );
    let device = ClientAuth::cert(&certs, "lang-son-01");

    // Acknowledged (3.1.1), but dropped.
    publish_ok(&broker, &device, "bridgepoint/v1/hue-02/cmd", "forged");
    // Sent after it, by the same client, and delivered.
    publish_ok(
        &broker,
        &device,
        "bridgepoint/v1/lang-son-01/status",
        "control",
    );
    assert_received(
        &broker,
        &central,
        "bridgepoint/v1/lang-son-01/status",
        "control",
    );

    let got = central.messages();
    assert!(
        !got.iter().any(|(_, payload)| payload == "forged"),
        "central received a message lang-son-01 published under hue-02: {got:?}"
    );
}

#[test]
fn a_device_cannot_subscribe_to_another_device() {
    let (_dir, certs, broker) = tls_broker("acl-sub");
    let snoop = subscribed(
        &broker,
        &ClientAuth::cert(&certs, "lang-son-01"),
        &["bridgepoint/v1/lang-son-01/#", "bridgepoint/v1/hue-02/#"],
    );
    // hue-02 itself does get its command, so the message really went out.
    let owner = subscribed(
        &broker,
        &ClientAuth::cert(&certs, "hue-02"),
        &["bridgepoint/v1/hue-02/#"],
    );
    let central = ClientAuth::cert(&certs, "central");

    publish_ok(&broker, &central, "bridgepoint/v1/hue-02/cmd", "secret");
    publish_ok(
        &broker,
        &central,
        "bridgepoint/v1/lang-son-01/cmd",
        "control",
    );
    assert_received(&broker, &owner, "bridgepoint/v1/hue-02/cmd", "secret");
    assert_received(&broker, &snoop, "bridgepoint/v1/lang-son-01/cmd", "control");

    let got = snoop.messages();
    assert!(
        !got.iter()
            .any(|(topic, _)| topic.starts_with("bridgepoint/v1/hue-02/")),
        "lang-son-01 received hue-02's messages: {got:?}"
    );
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let (_dir, certs, broker) = tls_broker("acl-nocert");
    // The same command with a certificate gets in.
    publish_ok(
        &broker,
        &ClientAuth::cert(&certs, "lang-son-01"),
        "bridgepoint/v1/lang-son-01/status",
        "ok",
    );
    let no_cert = ClientAuth::no_cert(&certs);
    assert_refused(
        &broker,
        &no_cert,
        "TLS without a client certificate",
        Some("peer did not return a certificate"),
    );
    assert_refused(
        &broker,
        &ClientAuth::anonymous(),
        "plain TCP to the TLS listener",
        None,
    );
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let dir = TempDir::new("acl-otherca");
    let certs = certs(&dir);
    // Same CN, another CA.
    let rogue = Certs::generate(&dir.path().join("rogue"), &["lang-son-01"]);
    let broker = Broker::tls(&certs);
    publish_ok(
        &broker,
        &ClientAuth::cert(&certs, "lang-son-01"),
        "bridgepoint/v1/lang-son-01/status",
        "ok",
    );
    // Trusts the broker's CA, so the broker is the side that says no.
    let auth = ClientAuth {
        cafile: Some(certs.ca_cert().to_owned()),
        cert: Some(rogue.client_cert("lang-son-01").to_owned()),
        key: Some(rogue.client_key("lang-son-01").to_owned()),
    };
    assert_refused(
        &broker,
        &auth,
        "client certificate from another CA",
        Some("certificate verify failed"),
    );
}
