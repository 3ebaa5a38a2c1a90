//! Fuzz target: key text (a `trust.config_keys` entry, a JWK file) through
//! `PublicKey::from_base64` and `SigningKey::from_jwk`.
#![no_main]

use bridgepoint_fuzz::jws;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = jws::token(data) else { return };
    jws::check_public_key(text, &bridgepoint_signing::PublicKey::from_base64(text));
    jws::check_private_key(&bridgepoint_signing::SigningKey::from_jwk(text));
});
