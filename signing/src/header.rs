//! The JWS protected header: parsed strictly and checked before any
//! signature work.
//!
//! Accepted: a JSON object without repeated parameter names, whose `alg` is
//! exactly `"EdDSA"` and that has no `crit`. Other parameters (`kid`, `typ`,
//! ...) are ignored: in particular no key is ever taken from the header
//! (`jwk`, `jku`, `x5c`, ...), only from the box's trusted list.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::SigningError;

/// The only `alg` accepted (RFC 8037 §3.1).
pub(crate) const ALG_EDDSA: &str = "EdDSA";

/// Longest rendering of a header value quoted back in an error message.
const MAX_QUOTED_CHARS: usize = 64;

/// Checks a decoded protected header.
pub(crate) fn check(bytes: &[u8]) -> Result<(), SigningError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| SigningError::HeaderNotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(SigningError::HeaderNotObject);
    }
    // serde_json keeps the last of repeated names; RFC 7515 §4 lets a
    // verifier reject them instead, which is what we do: two `alg`s could be
    // read differently by two parsers.
    let Members(members) =
        serde_json::from_slice(bytes).map_err(|e| SigningError::HeaderNotJson(e.to_string()))?;
    // One pass with a set: comparing each name with every earlier one made a
    // 60 KB header of 5,600 parameters cost seconds (found while fuzzing).
    let mut seen = HashSet::with_capacity(members.len());
    for (name, _) in &members {
        if !seen.insert(name.as_str()) {
            return Err(SigningError::DuplicateHeaderParameter(shorten(name)));
        }
    }
    match value.get("alg") {
        None => return Err(SigningError::MissingAlg),
        Some(Value::String(alg)) if alg == ALG_EDDSA => {}
        Some(other) => return Err(SigningError::UnsupportedAlg(shorten(&other.to_string()))),
    }
    if let Some(crit) = value.get("crit") {
        return Err(SigningError::CriticalHeader(shorten(&crit.to_string())));
    }
    Ok(())
}

/// `s` cut to [`MAX_QUOTED_CHARS`] characters, marked with `...` if cut.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}...", &s[..cut]),
    }
}

/// A JSON object's members in order, repeats kept.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Members, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, Value>()? {
            members.push(member);
        }
        Ok(Members(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(header: &str) -> String {
        check(header.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn accepts_eddsa_and_ignores_other_parameters() {
        check(br#"{"alg":"EdDSA"}"#).unwrap();
        check(br#" { "alg" : "EdDSA", "kid":"abc", "typ":"JWT" } "#).unwrap();
    }

    #[test]
    fn rejects_other_algs() {
        assert_eq!(
            err(r#"{"alg":"none"}"#),
            "alg \"none\" is not accepted (only EdDSA)"
        );
        assert_eq!(
            err(r#"{"alg":"HS256"}"#),
            "alg \"HS256\" is not accepted (only EdDSA)"
        );
        assert_eq!(
            err(r#"{"alg":"eddsa"}"#),
            "alg \"eddsa\" is not accepted (only EdDSA)"
        );
        assert_eq!(
            err(r#"{"alg":null}"#),
            "alg null is not accepted (only EdDSA)"
        );
        assert_eq!(
            err(r#"{"alg":["EdDSA"]}"#),
            "alg [\"EdDSA\"] is not accepted (only EdDSA)"
        );
        assert_eq!(err(r#"{"typ":"JWT"}"#), "header has no \"alg\"");
    }

    #[test]
    fn rejects_crit() {
        assert_eq!(
            err(r#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#),
            "header has \"crit\" ([\"b64\"]); no critical header extensions are supported"
        );
        assert!(err(r#"{"alg":"EdDSA","crit":[]}"#).starts_with("header has \"crit\""));
    }

    #[test]
    fn rejects_repeated_parameters() {
        assert_eq!(
            err(r#"{"alg":"none","alg":"EdDSA"}"#),
            "header has the parameter \"alg\" more than once"
        );
    }

    #[test]
    fn rejects_non_json_and_non_objects() {
        assert!(err("alg=EdDSA").starts_with("header is not JSON: "));
        assert!(err(r#"{"alg":"EdDSA""#).starts_with("header is not JSON: "));
        assert!(check(&[0xff, 0xfe])
            .unwrap_err()
            .to_string()
            .starts_with("header is not JSON"));
        assert_eq!(err(r#""EdDSA""#), "header is JSON but not an object");
        assert_eq!(err("[]"), "header is JSON but not an object");
        // Deep nesting hits serde_json's recursion limit: an error, no stack overflow.
        let deep = format!(
            "{{\"alg\":\"EdDSA\",\"x\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(err(&deep).starts_with("header is not JSON: "));
    }

    #[test]
    fn a_jws_header_with_thousands_of_parameters_is_checked_in_linear_time() {
        // 5,600 distinct parameters fill a token up to the 64 KB limit. The
        // old check compared every name with every earlier one: ~16 million
        // comparisons, seconds per token. Now it is one pass; the bound
        // leaves a wide margin for a slow, busy machine.
        let names: Vec<String> = (0..5600).map(|i| format!("\"p{i:x}\":0")).collect();
        let header = format!("{{\"alg\":\"EdDSA\",{}}}", names.join(","));
        let start = std::time::Instant::now();
        check(header.as_bytes()).unwrap();
        let with_repeat = format!("{{\"alg\":\"EdDSA\",{},\"p15df\":1}}", names.join(","));
        assert_eq!(
            err(&with_repeat),
            "header has the parameter \"p15df\" more than once"
        );
        let took = start.elapsed();
        assert!(
            took < std::time::Duration::from_millis(500),
            "took {took:?}"
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "A".repeat(1000);
        let msg = err(&format!(r#"{{"alg":"{long}"}}"#));
        assert!(msg.len() < 120, "{msg}");
        assert!(msg.contains("..."), "{msg}");
        // Multi-byte characters are cut on a character boundary.
        let msg = err(&format!(r#"{{"alg":"{}"}}"#, "é".repeat(200)));
        assert!(msg.contains("..."), "{msg}");
    }
}
