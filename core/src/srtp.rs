//! SRTP protection suites (RFC 4568 / RFC 7714 names) and what each needs.
//!
//! The names are the SDES crypto-suite names that appear in SDP `a=crypto`
//! lines, so the same string configures the box and the receiver.

use std::fmt;
use std::str::FromStr;

/// An SRTP protection suite the box can send with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (the default).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit tag.
    AesCm128HmacSha1_32,
    /// AES-128 GCM (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 GCM (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpSuite {
    /// Every suite, in the order they are documented.
    pub const ALL: [SrtpSuite; 4] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AeadAes256Gcm,
    ];

    /// The SDES name, as written in config files and SDP.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Length in bytes of the master key followed by the master salt.
    pub fn key_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_32 => 16 + 14,
            SrtpSuite::AeadAes128Gcm => 16 + 12,
            SrtpSuite::AeadAes256Gcm => 32 + 12,
        }
    }

    /// The `srtpenc` cipher nick for this suite.
    pub fn gst_cipher(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_32 => "aes-128-icm",
            SrtpSuite::AeadAes128Gcm => "aes-128-gcm",
            SrtpSuite::AeadAes256Gcm => "aes-256-gcm",
        }
    }

    /// Bytes the suite adds to each SRTP packet: its authentication tag
    /// (RFC 3711 for HMAC-SHA1, RFC 7714 for GCM's 16-byte tag).
    pub fn tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 16,
        }
    }

    /// The `srtpenc` authentication nick for this suite (GCM authenticates itself).
    pub fn gst_auth(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "hmac-sha1-80",
            SrtpSuite::AesCm128HmacSha1_32 => "hmac-sha1-32",
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => "null",
        }
    }
}

/// Checks key material for `suite`: master key + salt of the suite's
/// length, and not a constant byte pattern (an all-zero key is a mistake or
/// an attack, never a key). Configured keys and per-session keys from
/// `session.start` get the same check.
pub fn check_key(suite: SrtpSuite, key: &[u8]) -> Result<(), String> {
    if key.len() != suite.key_len() {
        return Err(format!(
            "must be {} bytes (master key + salt) for {}, got {} bytes",
            suite.key_len(),
            suite,
            key.len()
        ));
    }
    if key.iter().all(|b| *b == key[0]) {
        return Err(
            "is a constant byte pattern; generate a random key (e.g. `head -c 30 /dev/urandom | base64`)"
                .into(),
        );
    }
    Ok(())
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given was not a suite the box knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SRTP suite {given:?} (known: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM)")]
pub struct UnknownSuite {
    /// What was given.
    pub given: String,
}

impl FromStr for SrtpSuite {
    type Err = UnknownSuite;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SrtpSuite::ALL
            .into_iter()
            .find(|suite| suite.name() == s)
            .ok_or_else(|| UnknownSuite {
                given: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for suite in SrtpSuite::ALL {
            assert_eq!(suite.name().parse::<SrtpSuite>().unwrap(), suite);
        }
    }

    #[test]
    fn unknown_suite_is_named() {
        let err = "AES_CM_256_NOPE".parse::<SrtpSuite>().unwrap_err();
        assert!(err.to_string().contains("AES_CM_256_NOPE"), "{err}");
    }

    #[test]
    fn keys_of_the_wrong_length_or_constant_are_refused() {
        let suite = SrtpSuite::AesCm128HmacSha1_80;
        let good: Vec<u8> = (0..30).collect();
        assert_eq!(check_key(suite, &good), Ok(()));
        assert_eq!(
            check_key(suite, &good[..16]).unwrap_err(),
            "must be 30 bytes (master key + salt) for AES_CM_128_HMAC_SHA1_80, got 16 bytes"
        );
        assert!(check_key(suite, &[0; 30])
            .unwrap_err()
            .starts_with("is a constant byte pattern"));
        assert!(check_key(SrtpSuite::AeadAes256Gcm, &good).is_err());
    }

    #[test]
    fn key_lengths_follow_the_rfcs() {
        assert_eq!(SrtpSuite::AesCm128HmacSha1_80.key_len(), 30);
        assert_eq!(SrtpSuite::AeadAes128Gcm.key_len(), 28);
        assert_eq!(SrtpSuite::AeadAes256Gcm.key_len(), 44);
    }
}
