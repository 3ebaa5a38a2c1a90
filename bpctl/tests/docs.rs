//! The examples in docs/provisioning.md are real: the example token verifies
//! with the example public key and carries what the text says, and every
//! JSON example parses.

use bridgepoint_signing::{verify_compact, PublicKey};
use serde_json::Value;

const DOC: &str = include_str!("../../docs/provisioning.md");
const EXAMPLE_PUBLIC_KEY: &str = "/YljLST6mJRV9+lS6WQJjJ6jmFopuXMltrL+HXKM89w=";

#[test]
fn the_example_token_verifies_and_is_bound_to_its_box() {
    assert!(DOC.contains(EXAMPLE_PUBLIC_KEY));
    let token = DOC
        .lines()
        .find(|l| l.starts_with("eyJhbGciOiJFZERTQSJ9."))
        .expect("an example token in the doc");
    let key = PublicKey::from_base64(EXAMPLE_PUBLIC_KEY).unwrap();
    let payload: Value =
        serde_json::from_slice(&verify_compact(token, &[key]).expect("the example token verifies"))
            .unwrap();
    assert_eq!(payload["device_id"], "lang-son-01");
    assert_eq!(payload["version"], 17);
    let shown = DOC
        .lines()
        .find(|l| l.starts_with("{\"config\":"))
        .expect("the decoded payload in the doc");
    assert_eq!(serde_json::from_str::<Value>(shown).unwrap(), payload);
}

#[test]
fn every_json_example_parses() {
    let mut in_json = false;
    let mut count = 0;
    for line in DOC.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            text if in_json && !text.is_empty() => {
                serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{e}: {text}"));
                count += 1;
            }
            _ => {}
        }
    }
    assert!(count >= 20, "only {count} JSON examples");
}
