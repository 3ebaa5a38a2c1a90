//! JWS compact serialization (RFC 7515 §7.1) with EdDSA over Ed25519
//! (RFC 8037): signing a config and verifying one against the box's trusted
//! keys.
//!
//! The signer always writes the protected header `{"alg":"EdDSA"}` and no
//! `kid`, so a token from [`sign_compact`] is byte for byte what RFC 8037
//! Appendix A.4 shows for the same key and payload. The verifier checks, in
//! this order: size, shape (three parts), base64url of each part (no `=`
//! padding, canonical), the header (see the `header` module), signature
//! length, then the signature with `verify_strict` against each trusted key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SIGNATURE_LENGTH};

use crate::error::Part;
use crate::header;
use crate::{PublicKey, SigningError, SigningKey};

/// Largest token [`verify_compact`] looks at, whitespace included.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// base64url of `{"alg":"EdDSA"}`.
const HEADER_B64: &str = "eyJhbGciOiJFZERTQSJ9";

/// Signs `payload` into a JWS compact serialization
/// `BASE64URL({"alg":"EdDSA"}).BASE64URL(payload).BASE64URL(signature)`.
///
/// Ed25519 signatures are deterministic: the same key and payload always
/// give the same token. The result is not checked against
/// [`MAX_TOKEN_BYTES`]; callers that publish it should.
pub fn sign_compact(payload: &[u8], key: &SigningKey) -> String {
    let mut token =
        String::with_capacity(HEADER_B64.len() + 2 + payload.len().div_ceil(3) * 4 + 86);
    token.push_str(HEADER_B64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.dalek().sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    token
}

/// Verifies a JWS compact serialization against `trusted` and returns its
/// payload bytes. Surrounding whitespace (a trailing newline) is ignored.
///
/// The payload is not interpreted; see [`verify_compact_json`].
pub fn verify_compact(token: &str, trusted: &[PublicKey]) -> Result<Vec<u8>, SigningError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(SigningError::TokenTooLarge {
            len: token.len(),
            limit: MAX_TOKEN_BYTES,
        });
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(SigningError::EmptyToken);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else {
        return Err(SigningError::WrongPartCount { parts: parts.len() });
    };

    header::check(&decode_part(header_b64, Part::Header)?)?;
    let payload = decode_part(payload_b64, Part::Payload)?;
    let signature = decode_part(signature_b64, Part::Signature)?;
    let signature: [u8; SIGNATURE_LENGTH] =
        signature
            .as_slice()
            .try_into()
            .map_err(|_| SigningError::SignatureLength {
                len: signature.len(),
            })?;
    let signature = Signature::from_bytes(&signature);

    if trusted.is_empty() {
        return Err(SigningError::NoTrustedKeys);
    }
    // The signing input is the ASCII of the first two parts as received.
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let verified = trusted.iter().any(|key| {
        key.verifying_key()
            .verify_strict(signing_input, &signature)
            .is_ok()
    });
    if verified {
        Ok(payload)
    } else {
        Err(SigningError::BadSignature {
            trusted: trusted.len(),
        })
    }
}

/// [`verify_compact`], then parses the payload as JSON (after the
/// signature has verified).
pub fn verify_compact_json(
    token: &str,
    trusted: &[PublicKey],
) -> Result<serde_json::Value, SigningError> {
    let payload = verify_compact(token, trusted)?;
    serde_json::from_slice(&payload).map_err(|e| SigningError::PayloadNotJson(e.to_string()))
}

/// Cheap test telling a compact JWS from plain JSON config: the trimmed text
/// starts with `eyJ` (base64url of `{"`) and has exactly two dots. It does
/// not validate anything; [`verify_compact`] does.
pub fn looks_like_compact_jws(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("eyJ") && text.bytes().filter(|&b| b == b'.').count() == 2
}

/// Decodes one part: unpadded, canonical base64url.
fn decode_part(encoded: &str, part: Part) -> Result<Vec<u8>, SigningError> {
    if encoded.contains('=') {
        return Err(SigningError::Padding { part });
    }
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|source| SigningError::Base64 { part, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constant_is_the_eddsa_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(HEADER_B64).unwrap(),
            br#"{"alg":"EdDSA"}"#
        );
    }

    #[test]
    fn looks_like() {
        assert!(looks_like_compact_jws("eyJhbGciOiJFZERTQSJ9.e30.c2ln"));
        assert!(looks_like_compact_jws("  eyJhbGciOiJFZERTQSJ9.e30.c2ln\n"));
        assert!(!looks_like_compact_jws(r#"{"version":1,"config":{}}"#));
        assert!(!looks_like_compact_jws("eyJhbGciOiJFZERTQSJ9.e30"));
        assert!(!looks_like_compact_jws("eyJ.a.b.c"));
        assert!(!looks_like_compact_jws("abc.def.ghi"));
        assert!(!looks_like_compact_jws(""));
    }
}
