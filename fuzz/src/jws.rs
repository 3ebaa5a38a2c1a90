//! JWS tokens and keys (bridgepoint-signing): what `verify_compact`,
//! `PublicKey::from_base64` and `SigningKey::from_jwk` promise.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bridgepoint_signing::{
    verify_compact_json, PublicKey, SigningError, SigningKey, MAX_TOKEN_BYTES,
};

use crate::{fixtures, non_empty};

/// The token as the box would get it: UTF-8 text (the MQTT payload is
/// checked for UTF-8 before it reaches the verifier).
pub fn token(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Checks `verify_compact(token, fixtures::trusted())`'s answer.
pub fn check_verify(token: &str, result: &Result<Vec<u8>, SigningError>) {
    match result {
        Err(e) => check_error(e),
        Ok(payload) => {
            assert!(
                token.len() <= MAX_TOKEN_BYTES,
                "an oversized token verified"
            );
            let parts: Vec<&str> = token.trim().split('.').collect();
            assert_eq!(parts.len(), 3, "a token without 3 parts verified");
            // Canonical base64url: the payload part is exactly the encoding
            // of what was returned, so no two texts verify to one payload
            // through different encodings.
            assert_eq!(
                URL_SAFE_NO_PAD.encode(payload),
                parts[1],
                "the payload part is not the canonical encoding of the payload"
            );
            // The JSON variant agrees with parsing the payload ourselves.
            let json = verify_compact_json(token, fixtures::trusted());
            let direct = serde_json::from_slice::<serde_json::Value>(payload);
            match (json, direct) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(SigningError::PayloadNotJson(m)), Err(_)) => non_empty("payload error", &m),
                (a, b) => panic!("verify_compact_json {a:?} disagrees with the payload {b:?}"),
            }
        }
    }
}

/// A rejection names what is wrong.
pub fn check_error(e: &SigningError) {
    non_empty("signing error", &e.to_string());
    match e {
        SigningError::HeaderNotJson(m)
        | SigningError::DuplicateHeaderParameter(m)
        | SigningError::UnsupportedAlg(m)
        | SigningError::CriticalHeader(m)
        | SigningError::PayloadNotJson(m)
        | SigningError::Jwk(m)
        | SigningError::Random(m) => non_empty("signing error detail", m),
        _ => {}
    }
}

/// Checks `PublicKey::from_base64(text)`: an accepted key writes back to
/// base64 that reads as the same key, and is exactly the decoded bytes.
pub fn check_public_key(text: &str, result: &Result<PublicKey, SigningError>) {
    match result {
        Err(e) => check_error(e),
        Ok(key) => {
            let again = PublicKey::from_base64(&key.to_base64())
                .unwrap_or_else(|e| panic!("{key:?} written back does not read: {e}"));
            assert_eq!(&again, key);
            let again = PublicKey::from_bytes(key.as_bytes())
                .unwrap_or_else(|e| panic!("{key:?} from its bytes: {e}"));
            assert_eq!(&again, key);
            assert!(!text.trim().is_empty(), "an empty text gave a key");
        }
    }
}

/// Checks `SigningKey::from_jwk(text)`: an accepted key writes back to a JWK
/// that reads as the same key.
pub fn check_private_key(result: &Result<SigningKey, SigningError>) {
    match result {
        Err(e) => check_error(e),
        Ok(key) => {
            let again = SigningKey::from_jwk(&key.to_jwk())
                .unwrap_or_else(|e| panic!("{key:?} written back does not read: {e}"));
            assert_eq!(again.public_key(), key.public_key());
            assert_eq!(again.to_jwk(), key.to_jwk());
        }
    }
}

/// Both key parsers on one text (the `keys` target).
pub fn keys(text: &str) {
    check_public_key(text, &PublicKey::from_base64(text));
    check_private_key(&SigningKey::from_jwk(text));
}
