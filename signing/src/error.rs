//! The one error type of this crate.
//!
//! Every variant's `Display` says what is wrong with the input in words an
//! operator can act on ("signature does not verify with any of the 2 trusted
//! keys", "token is 1048600 bytes, limit 65536"). Nothing in this crate
//! panics on bad input: every rejection is one of these.

use std::fmt;

/// The three parts of a JWS compact serialization, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The base64url-encoded protected header (first part).
    Header,
    /// The base64url-encoded payload (second part).
    Payload,
    /// The base64url-encoded signature (third part).
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a key could not be parsed or made, or why a token was rejected.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The token is longer than [`crate::MAX_TOKEN_BYTES`].
    #[error("token is {len} bytes, limit {limit}")]
    TokenTooLarge {
        /// Length of the token as received.
        len: usize,
        /// The limit it exceeds.
        limit: usize,
    },

    /// The token is empty (or only whitespace).
    #[error("token is empty")]
    EmptyToken,

    /// The token does not have exactly three `.`-separated parts.
    #[error(
        "token has {parts} part(s) separated by '.', a JWS compact serialization has 3 \
         (header.payload.signature)"
    )]
    WrongPartCount {
        /// How many parts the token has.
        parts: usize,
    },

    /// A part carries `=` padding, which RFC 7515 base64url encoding omits.
    #[error("{part} has '=' padding, which the JWS compact serialization does not allow")]
    Padding {
        /// The padded part.
        part: Part,
    },

    /// A part is not valid unpadded base64url.
    #[error("{part} is not valid base64url: {source}")]
    Base64 {
        /// The part that does not decode.
        part: Part,
        /// What the decoder found.
        #[source]
        source: base64::DecodeError,
    },

    /// The protected header is not JSON (or not UTF-8).
    #[error("header is not JSON: {0}")]
    HeaderNotJson(String),

    /// The protected header is JSON but not a JSON object.
    #[error("header is JSON but not an object")]
    HeaderNotObject,

    /// The protected header names one parameter twice (RFC 7515 §4).
    #[error("header has the parameter {0:?} more than once")]
    DuplicateHeaderParameter(String),

    /// The protected header has no `alg`.
    #[error("header has no \"alg\"")]
    MissingAlg,

    /// The header's `alg` is anything but `"EdDSA"` (`"none"` included).
    /// Holds the `alg` value as JSON text, shortened if long.
    #[error("alg {0} is not accepted (only EdDSA)")]
    UnsupportedAlg(String),

    /// The header has a `crit` parameter; no extension is understood, so
    /// RFC 7515 §4.1.11 requires rejecting the token.
    #[error("header has \"crit\" ({0}); no critical header extensions are supported")]
    CriticalHeader(String),

    /// The signature does not decode to 64 bytes.
    #[error("signature is {len} bytes, an Ed25519 signature is 64")]
    SignatureLength {
        /// Decoded length of the signature part.
        len: usize,
    },

    /// [`crate::verify_compact`] was called with no trusted keys.
    #[error("no trusted keys to verify the signature with")]
    NoTrustedKeys,

    /// No trusted key verifies the signature: the token was signed by an
    /// unknown key, or its header or payload was altered.
    #[error("signature does not verify with {}", trusted_keys_phrase(*.trusted))]
    BadSignature {
        /// How many trusted keys were tried.
        trusted: usize,
    },

    /// The payload verified but is not JSON.
    #[error("payload is not JSON: {0}")]
    PayloadNotJson(String),

    /// A public key is not base64 (standard or url-safe).
    #[error("public key is not valid base64: {0}")]
    PublicKeyBase64(#[source] base64::DecodeError),

    /// A public key does not decode to 32 bytes.
    #[error("public key is {len} bytes, a raw Ed25519 public key is 32")]
    PublicKeyLength {
        /// Decoded length.
        len: usize,
    },

    /// 32 bytes that are not an Ed25519 curve point.
    #[error("public key is not a valid Ed25519 point")]
    PublicKeyNotOnCurve,

    /// A small-order point: such a key would accept forged signatures.
    #[error("public key is a weak (small-order) Ed25519 point")]
    PublicKeyWeak,

    /// A private key JWK that is not an RFC 8037 Ed25519 `OKP` key.
    #[error("private key JWK: {0}")]
    Jwk(String),

    /// The JWK's `x` is not the public key of its `d`.
    #[error("private key JWK: \"x\" is not the public key of \"d\"")]
    JwkKeyMismatch,

    /// The operating system could not supply randomness.
    #[error("could not get randomness from the operating system: {0}")]
    Random(String),
}

fn trusted_keys_phrase(trusted: usize) -> String {
    match trusted {
        1 => "the trusted key".to_string(),
        n => format!("any of the {n} trusted keys"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_signature_message_counts_keys() {
        assert_eq!(
            SigningError::BadSignature { trusted: 2 }.to_string(),
            "signature does not verify with any of the 2 trusted keys"
        );
        assert_eq!(
            SigningError::BadSignature { trusted: 1 }.to_string(),
            "signature does not verify with the trusted key"
        );
    }

    #[test]
    fn size_message() {
        let e = SigningError::TokenTooLarge {
            len: 1_048_600,
            limit: 65_536,
        };
        assert_eq!(e.to_string(), "token is 1048600 bytes, limit 65536");
    }

    #[test]
    fn alg_message() {
        let e = SigningError::UnsupportedAlg("\"none\"".into());
        assert_eq!(e.to_string(), "alg \"none\" is not accepted (only EdDSA)");
    }
}
