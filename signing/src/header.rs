//! The JWS protected header: parsed strictly and checked before any
//! signature work.
//!
//! Accepted: a JSON object without repeated parameter names, whose `alg` is
//! exactly `"EdDSA"` and that has no `crit`. Other parameters (`kid`, `typ`,
//! ...) are ignored: in particular no key is ever taken from the header
//! (`jwk`, `jku`, `x5c`, ...), only from the box's trusted list.

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
    for (i, (name, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(earlier, _)| earlier == name) {
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
