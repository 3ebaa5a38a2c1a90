//! Fuzz target: a JWS token (`config/desired`) through `verify_compact`
//! against the box's trusted keys.
#![no_main]

use bridgepoint_fuzz::{fixtures, jws};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(token) = jws::token(data) else {
        return;
    };
    let result = bridgepoint_signing::verify_compact(token, fixtures::trusted());
    jws::check_verify(token, &result);
});
