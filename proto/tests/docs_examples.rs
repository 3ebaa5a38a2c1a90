//! docs/provisioning.md is the protocol's reference: every JSON example in
//! its "Payloads" part parses into the type of its topic and serializes
//! back to the same value, every topic has at least one example, and the
//! example tokens verify with the example key and carry the example payload.

use std::collections::BTreeMap;

use base64::Engine as _;
use bridgepoint_proto::{
    CommandRequest, CommandResult, ConfigReported, Event, Leaf, PushPayload, Status, Telemetry,
};
use bridgepoint_signing::{verify_compact, PublicKey};
use serde_json::Value;

const DOC: &str = include_str!("../../docs/provisioning.md");

/// The public half of the documented example key (no box trusts it;
/// docs/examples/example.key.jwk is its private half).
const EXAMPLE_PUBLIC_KEY: &str = "MzvkeEzoqdb2NB7ctgnNUrebqsUjA7oB49FfrRXZr7A=";

/// A fenced block: its language and text, and the line it starts on.
struct Block {
    lang: String,
    text: String,
    line: usize,
}

/// The fenced blocks under each `### \`leaf\`` heading of "## Payloads".
fn blocks_by_leaf() -> BTreeMap<Leaf, Vec<Block>> {
    let mut out: BTreeMap<Leaf, Vec<Block>> = BTreeMap::new();
    let mut in_payloads = false;
    let mut leaf: Option<Leaf> = None;
    let mut open: Option<Block> = None;
    for (n, line) in DOC.lines().enumerate() {
        if let Some(block) = open.as_mut() {
            if line.starts_with("```") {
                let block = open.take().unwrap();
                if let Some(l) = leaf {
                    out.entry(l).or_default().push(block);
                }
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            in_payloads = heading.trim() == "Payloads";
            leaf = None;
        } else if let Some(heading) = line.strip_prefix("### ") {
            leaf = in_payloads
                .then(|| Leaf::parse(heading.trim().trim_matches('`')))
                .flatten();
        } else if let Some(lang) = line.strip_prefix("```") {
            open = Some(Block {
                lang: lang.trim().to_owned(),
                text: String::new(),
                line: n + 1,
            });
        }
    }
    out
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("the example is JSON")
}

/// Parses `text` with the type of `leaf` and serializes it again.
fn round_trip(leaf: Leaf, text: &str) -> Result<String, String> {
    let raw = text.trim().as_bytes();
    match leaf {
        Leaf::Status => Status::parse(raw).map(|s| s.to_json()),
        Leaf::ConfigDesired => PushPayload::parse(raw)
            .map(|p| p.to_json())
            .map_err(|e| e.error.to_string()),
        Leaf::ConfigReported => ConfigReported::parse(raw).map(|r| r.to_json()),
        Leaf::Cmd => CommandRequest::parse(raw)
            .map(|c| c.to_json())
            .map_err(|e| e.reason),
        Leaf::CmdResult => CommandResult::parse(raw).map(|r| r.to_json()),
        Leaf::Event => Event::parse(raw).map(|e| e.to_json()),
        Leaf::Telemetry => Telemetry::parse(raw).map(|t| t.to_json()),
    }
}

#[test]
fn every_json_example_round_trips_through_its_type() {
    let blocks = blocks_by_leaf();
    let mut checked = 0;
    for (leaf, blocks) in &blocks {
        for block in blocks.iter().filter(|b| b.lang == "json") {
            let again = round_trip(*leaf, &block.text).unwrap_or_else(|e| {
                panic!(
                    "docs/provisioning.md line {}: the {leaf} example does not parse: {e}\n{}",
                    block.line, block.text
                )
            });
            assert_eq!(
                json(&again),
                json(&block.text),
                "docs/provisioning.md line {}: the {leaf} example does not serialize back to itself",
                block.line
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} examples found: did the doc's headings change?"
    );
}

#[test]
fn every_topic_has_an_example() {
    let blocks = blocks_by_leaf();
    for leaf in Leaf::ALL {
        assert!(
            blocks.get(&leaf).is_some_and(|b| !b.is_empty()),
            "docs/provisioning.md has no example under ### `{leaf}`"
        );
    }
}

#[test]
fn example_tokens_verify_with_the_example_key_and_carry_the_example_payload() {
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(EXAMPLE_PUBLIC_KEY)
        .unwrap();
    let key = PublicKey::from_bytes(&key_bytes.try_into().unwrap()).unwrap();
    let blocks = blocks_by_leaf();
    let mut tokens = 0;
    for leaf in [Leaf::ConfigDesired, Leaf::Cmd] {
        let leaf_blocks = &blocks[&leaf];
        for (i, block) in leaf_blocks.iter().enumerate() {
            if block.lang != "text" || !block.text.trim().starts_with("eyJ") {
                continue;
            }
            let payload = verify_compact(block.text.trim(), &[key]).unwrap_or_else(|e| {
                panic!(
                    "docs/provisioning.md line {}: the example token does not verify: {e}",
                    block.line
                )
            });
            // The next JSON block is the token's payload, shown decoded.
            let shown = leaf_blocks[i + 1..]
                .iter()
                .find(|b| b.lang == "json")
                .expect("the decoded payload follows the token");
            assert_eq!(
                serde_json::from_slice::<Value>(&payload).unwrap(),
                json(&shown.text),
                "docs/provisioning.md line {}: the payload shown is not the token's",
                shown.line
            );
            round_trip(leaf, std::str::from_utf8(&payload).unwrap()).unwrap();
            tokens += 1;
        }
    }
    assert_eq!(
        tokens, 2,
        "one signed config and one signed command are documented"
    );
}
