//! What arrives on a box's `config/desired` or `cmd` before it is read:
//! within the size limit, UTF-8, and either a JWS compact token (signed) or
//! plain JSON.

use crate::ProtoError;

/// A received payload, checked for size and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope<'a> {
    /// A JWS compact serialization (`eyJ...` with two dots), to verify.
    Signed(&'a str),
    /// Plain JSON.
    Plain(&'a str),
}

impl<'a> Envelope<'a> {
    /// Checks size and encoding; `what` names the payload in errors.
    pub fn open(
        raw: &'a [u8],
        what: &'static str,
        limit: usize,
    ) -> Result<Envelope<'a>, ProtoError> {
        if raw.len() > limit {
            return Err(ProtoError::TooLarge {
                what,
                size: raw.len(),
                limit,
            });
        }
        let text = std::str::from_utf8(raw).map_err(|_| ProtoError::NotUtf8 { what })?;
        let trimmed = text.trim();
        Ok(if looks_like_jws(trimmed) {
            Envelope::Signed(trimmed)
        } else {
            Envelope::Plain(text)
        })
    }
}

/// Whether `text` looks like a JWS compact serialization rather than JSON:
/// a base64url header starting `{"` and three dot-separated parts.
pub fn looks_like_jws(text: &str) -> bool {
    text.starts_with("eyJ") && text.matches('.').count() == 2
}

/// The payload of a JWS compact token, decoded but NOT verified: only for
/// saying which command a refused token was (its id), never for acting on it.
pub fn unverified_payload(token: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_json_are_told_apart() {
        assert_eq!(
            Envelope::open(b" eyJh.eyJi.c \n", "payload", 100),
            Ok(Envelope::Signed("eyJh.eyJi.c"))
        );
        assert_eq!(
            Envelope::open(b"{\"a\":1}", "payload", 100),
            Ok(Envelope::Plain("{\"a\":1}"))
        );
        assert_eq!(
            Envelope::open(&[b' '; 101], "command", 100),
            Err(ProtoError::TooLarge {
                what: "command",
                size: 101,
                limit: 100
            })
        );
        assert_eq!(
            Envelope::open(&[0xff, 0xfe], "payload", 100)
                .unwrap_err()
                .to_string(),
            "payload is not UTF-8 text"
        );
    }

    #[test]
    fn an_unverified_payload_can_be_peeked_at() {
        assert_eq!(
            unverified_payload("eyJhbGciOiJFZERTQSJ9.eyJpZCI6IngifQ.sig").as_deref(),
            Some(&br#"{"id":"x"}"#[..])
        );
        assert_eq!(unverified_payload("nodots"), None);
    }
}
