//! Ed25519 keys: the boxes' trusted public keys and central IT's private
//! signing key.
//!
//! A public key travels as base64 of its raw 32 bytes, the form of the
//! `[trust] config_keys` entries in the box's config (standard alphabet when
//! written, either alphabet and with or without padding when read). A private
//! key is stored as an RFC 8037 `OKP` JWK, the form JOSE libraries such as
//! jwcrypto read and write. Secret bytes are zeroed when dropped.

use std::fmt;
use std::str::FromStr;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ed25519_dalek::{PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::SigningError;

/// Standard alphabet, `=` padding optional (reading public keys).
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe alphabet, `=` padding optional (reading public keys and JWKs).
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe alphabet without padding, as JWK members are written.
const URL_SAFE_NO_PAD: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An Ed25519 public key that a box trusts to sign its config.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses base64 of the raw 32-byte key: standard or url-safe alphabet,
    /// with or without `=` padding, surrounding whitespace ignored. Rejects
    /// bytes that are not a curve point and weak (small-order) points.
    pub fn from_base64(s: &str) -> Result<PublicKey, SigningError> {
        let s = s.trim();
        let engine = if s.contains(['-', '_']) {
            &URL_SAFE_ANY_PAD
        } else {
            &STANDARD_ANY_PAD
        };
        let bytes = engine.decode(s).map_err(SigningError::PublicKeyBase64)?;
        let raw: [u8; PUBLIC_KEY_LENGTH] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SigningError::PublicKeyLength { len: bytes.len() })?;
        PublicKey::from_bytes(&raw)
    }

    /// The key from its raw 32 bytes, with the same checks as
    /// [`PublicKey::from_base64`].
    pub fn from_bytes(raw: &[u8; PUBLIC_KEY_LENGTH]) -> Result<PublicKey, SigningError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(raw)
            .map_err(|_| SigningError::PublicKeyNotOnCurve)?;
        if key.is_weak() {
            return Err(SigningError::PublicKeyWeak);
        }
        Ok(PublicKey(key))
    }

    /// Standard base64 (with padding) of the raw 32 bytes: what goes into
    /// `[trust] config_keys`.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LENGTH] {
        self.0.as_bytes()
    }

    /// The public RFC 8037 JWK: `{"kty":"OKP","crv":"Ed25519","x":".."}`.
    pub fn to_jwk(&self) -> String {
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, self.x())
    }

    /// The JWK `x` member: unpadded base64url of the raw key.
    fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    pub(crate) fn verifying_key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl FromStr for PublicKey {
    type Err = SigningError;

    fn from_str(s: &str) -> Result<PublicKey, SigningError> {
        PublicKey::from_base64(s)
    }
}

/// An Ed25519 private key that signs configs. Its `Debug` shows only the
/// public half; the secret is zeroed on drop.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Reads an RFC 8037 private JWK
    /// `{"kty":"OKP","crv":"Ed25519","d":"..","x":".."}`. `d` and `x` are
    /// base64url (padding tolerated); `x` must be the public key of `d`. An
    /// `alg` member, if present, must be `"EdDSA"`; other members (`kid`,
    /// `use`, ...) are ignored.
    pub fn from_jwk(json: &str) -> Result<SigningKey, SigningError> {
        let jwk: Value =
            serde_json::from_str(json).map_err(|e| SigningError::Jwk(format!("not JSON: {e}")))?;
        let obj = jwk
            .as_object()
            .ok_or_else(|| SigningError::Jwk("not a JSON object".to_string()))?;
        let member = |name: &str| -> Result<&str, SigningError> {
            match obj.get(name) {
                None => Err(SigningError::Jwk(format!("no {name:?} member"))),
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(SigningError::Jwk(format!("{name:?} is not a string"))),
            }
        };
        let kty = member("kty")?;
        if kty != "OKP" {
            return Err(SigningError::Jwk(format!(
                "\"kty\" is {kty:?}, an Ed25519 key has \"OKP\""
            )));
        }
        let crv = member("crv")?;
        if crv != "Ed25519" {
            return Err(SigningError::Jwk(format!(
                "\"crv\" is {crv:?}, expected \"Ed25519\""
            )));
        }
        if obj.contains_key("alg") {
            let alg = member("alg")?;
            if alg != "EdDSA" {
                return Err(SigningError::Jwk(format!(
                    "\"alg\" is {alg:?}, expected \"EdDSA\""
                )));
            }
        }
        let d = member("d").map_err(|_| {
            SigningError::Jwk("no \"d\" string member: this is not a private key".to_string())
        })?;
        let d = Zeroizing::new(
            URL_SAFE_ANY_PAD
                .decode(d)
                .map_err(|e| SigningError::Jwk(format!("\"d\" is not base64url: {e}")))?,
        );
        let seed: Zeroizing<[u8; SECRET_KEY_LENGTH]> =
            Zeroizing::new(d.as_slice().try_into().map_err(|_| {
                SigningError::Jwk(format!("\"d\" is {} bytes, expected 32", d.len()))
            })?);
        let x = URL_SAFE_ANY_PAD
            .decode(member("x")?)
            .map_err(|e| SigningError::Jwk(format!("\"x\" is not base64url: {e}")))?;
        if x.len() != PUBLIC_KEY_LENGTH {
            return Err(SigningError::Jwk(format!(
                "\"x\" is {} bytes, expected 32",
                x.len()
            )));
        }
        let key = SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed));
        if key.public_key().as_bytes().as_slice() != x.as_slice() {
            return Err(SigningError::JwkKeyMismatch);
        }
        Ok(key)
    }

    /// The private RFC 8037 JWK
    /// `{"kty":"OKP","crv":"Ed25519","d":"..","x":".."}`. Keep it secret.
    pub fn to_jwk(&self) -> String {
        let d = Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_bytes()));
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","d":"{}","x":"{}"}}"#,
            d.as_str(),
            self.public_key().x()
        )
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The key from its 32-byte seed (the JWK `d`).
    pub fn from_seed(seed: &[u8; SECRET_KEY_LENGTH]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    pub(crate) fn dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public: {})", self.public_key())
    }
}

/// A fresh private key and its public half.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The private key (for `bpctl push --key`).
    pub signing: SigningKey,
    /// The public key (for the boxes' `[trust] config_keys`).
    pub public: PublicKey,
}

/// Makes a new key pair from the operating system's randomness.
pub fn generate_keypair() -> Result<KeyPair, SigningError> {
    let mut seed = Zeroizing::new([0u8; SECRET_KEY_LENGTH]);
    getrandom::fill(seed.as_mut_slice()).map_err(|e| SigningError::Random(e.to_string()))?;
    let signing = SigningKey::from_seed(&seed);
    let public = signing.public_key();
    Ok(KeyPair { signing, public })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1 private key.
    const RFC_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn rfc8037_key_reads_and_round_trips() {
        let key = SigningKey::from_jwk(RFC_JWK).unwrap();
        // A.2: the public key x.
        assert_eq!(
            key.public_key().to_jwk(),
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
        );
        let again = SigningKey::from_jwk(&key.to_jwk()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(
            key.to_jwk(),
            r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
        );
    }

    #[test]
    fn public_key_base64_forms() {
        let key = SigningKey::from_jwk(RFC_JWK).unwrap().public_key();
        let std = key.to_base64();
        assert_eq!(std, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert_eq!(key.to_string(), std);
        for s in [
            std.as_str(),
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "  11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n",
        ] {
            assert_eq!(PublicKey::from_base64(s).unwrap(), key, "{s}");
        }
        assert_eq!(std.parse::<PublicKey>().unwrap(), key);
    }

    #[test]
    fn public_key_rejections_name_the_problem() {
        let e = PublicKey::from_base64("not base64!").unwrap_err();
        assert!(
            e.to_string().starts_with("public key is not valid base64"),
            "{e}"
        );
        let e = PublicKey::from_base64("AAAA").unwrap_err();
        assert_eq!(
            e.to_string(),
            "public key is 3 bytes, a raw Ed25519 public key is 32"
        );
        // Mixed alphabets: '-' selects url-safe, then '/' is invalid.
        let e = PublicKey::from_base64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR/").unwrap_err();
        assert!(matches!(e, SigningError::PublicKeyBase64(_)), "{e}");
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let e = PublicKey::from_base64(&STANDARD.encode(identity)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "public key is a weak (small-order) Ed25519 point"
        );
        // y = 2 is not on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        let e = PublicKey::from_base64(&STANDARD.encode(off_curve)).unwrap_err();
        assert_eq!(e.to_string(), "public key is not a valid Ed25519 point");
    }

    #[test]
    fn jwk_rejections_name_the_problem() {
        let cases = [
            ("nope", "private key JWK: not JSON"),
            ("[]", "private key JWK: not a JSON object"),
            (r#"{"crv":"Ed25519"}"#, "private key JWK: no \"kty\" member"),
            (
                r#"{"kty":"EC","crv":"P-256"}"#,
                "private key JWK: \"kty\" is \"EC\"",
            ),
            (
                r#"{"kty":"OKP","crv":"X25519"}"#,
                "private key JWK: \"crv\" is \"X25519\"",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
                "private key JWK: no \"d\" string member: this is not a private key",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","d":"AAAA","x":"AAAA"}"#,
                "private key JWK: \"d\" is 3 bytes, expected 32",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
                "private key JWK: no \"x\" member",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","alg":"ES256","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
                "private key JWK: \"alg\" is \"ES256\"",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
                "private key JWK: \"x\" is not the public key of \"d\"",
            ),
        ];
        for (jwk, want) in cases {
            let e = SigningKey::from_jwk(jwk).unwrap_err().to_string();
            assert!(
                e.starts_with(want),
                "{jwk}: got {e:?}, want prefix {want:?}"
            );
        }
    }

    #[test]
    fn generated_keys_differ_and_round_trip() {
        let a = generate_keypair().unwrap();
        let b = generate_keypair().unwrap();
        assert_ne!(a.public, b.public);
        assert_eq!(a.signing.public_key(), a.public);
        let back = SigningKey::from_jwk(&a.signing.to_jwk()).unwrap();
        assert_eq!(back.public_key(), a.public);
        assert_eq!(
            PublicKey::from_base64(&a.public.to_base64()).unwrap(),
            a.public
        );
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let key = SigningKey::from_jwk(RFC_JWK).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("nWGxne"), "{shown}");
        assert!(
            shown.contains("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
            "{shown}"
        );
    }
}
