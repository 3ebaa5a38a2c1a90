//! Fixed keys and box state the targets parse against.
//!
//! - The signing key is RFC 8037 Appendix A.1's (public, like every key
//!   here): seeds signed with it verify, so mutations of them reach the
//!   signature check and, past it, the push's payload.
//! - The second trusted key is the example key of docs/provisioning.md, so
//!   the real token printed there verifies too.
//! - The box is `lang-son-01` running version [`APPLIED_VERSION`] of the
//!   settings in [`CURRENT_CONFIG`] (the docs' example push).

use std::sync::OnceLock;

use bridgepoint_core::config::{parse_pushed_settings, Settings};
use bridgepoint_signing::{PublicKey, SigningKey};

/// RFC 8037 A.1's private key.
pub const RFC_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

/// RFC 8037 A.1's seed (the JWK's `d`).
pub const RFC_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";

/// The public key of docs/provisioning.md's example token.
pub const DOCS_PUBLIC_KEY: &str = "/YljLST6mJRV9+lS6WQJjJ6jmFopuXMltrL+HXKM89w=";

/// The box the pushes are evaluated on.
pub const DEVICE_ID: &str = "lang-son-01";

/// The version the box runs.
pub const APPLIED_VERSION: u64 = 5;

/// The box's clock, Unix milliseconds (2026-11-23 08:30:05 UTC).
pub const NOW_UNIX_MS: u64 = 1_795_422_605_123;

/// The `config` object the box runs (docs/provisioning.md's example).
pub const CURRENT_CONFIG: &str = r#"{"audio":{"bitrate_kbps":32,"source":"auto"},"hub":{"audio_port":5006,"host":"hub.tiepdan.example","video_port":5004},"session":{"call_timeout_s":60,"mode":"on_call"},"srtp":{"key":"3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZ","suite":"AES_CM_128_HMAC_SHA1_80"},"telemetry_interval_s":60,"video":{"bitrate_kbps":1500,"encoder":"auto","fps":25,"height":720,"keyframe_interval_s":2,"source":"auto","width":1280}}"#;

/// The key the seeds are signed with.
pub fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_jwk(RFC_JWK).expect("RFC 8037 key"))
}

/// The keys the box trusts: the RFC key and the docs' example key.
pub fn trusted() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        vec![
            signing_key().public_key(),
            PublicKey::from_base64(DOCS_PUBLIC_KEY).expect("docs key"),
        ]
    })
}

/// The settings the box runs.
pub fn current() -> &'static Settings {
    static CURRENT: OnceLock<Settings> = OnceLock::new();
    CURRENT.get_or_init(|| {
        let value = serde_json::from_str(CURRENT_CONFIG).expect("JSON");
        parse_pushed_settings(&value).expect("the docs' example config parses")
    })
}
