//! Helpers shared by the signing crate's integration tests: the RFC 8037
//! Appendix A key and a token builder that signs any header, so tests can
//! make correctly signed tokens the crate's signer would never write.

#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bridgepoint_signing::{PublicKey, SigningKey};
use ed25519_dalek::Signer as _;

/// RFC 8037 A.1: the private key as a JWK.
pub const RFC_JWK: &str = r#"{"kty":"OKP","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

/// RFC 8037 A.1: the 32-byte seed (`d`).
pub fn rfc_seed() -> [u8; 32] {
    URL_SAFE_NO_PAD
        .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        .unwrap()
        .try_into()
        .unwrap()
}

pub fn rfc_key() -> SigningKey {
    SigningKey::from_jwk(RFC_JWK).unwrap()
}

pub fn rfc_public() -> PublicKey {
    rfc_key().public_key()
}

/// A token with any header JSON text, correctly signed by the RFC key.
pub fn signed_with_header(header_json: &str, payload: &[u8]) -> String {
    signed_raw(
        &URL_SAFE_NO_PAD.encode(header_json),
        &URL_SAFE_NO_PAD.encode(payload),
    )
}

/// A token over already-encoded header and payload parts, correctly signed
/// by the RFC key.
pub fn signed_raw(header_b64: &str, payload_b64: &str) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&rfc_seed());
    let input = format!("{header_b64}.{payload_b64}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
