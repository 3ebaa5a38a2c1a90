//! Fuzz target: a raw push (`config/desired`) through
//! `provision::evaluate` on a box without trusted keys.
#![no_main]

use bridgepoint_fuzz::provision;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = provision::unsigned();
    let decision = bridgepoint_core::provision::evaluate(data, &ctx);
    provision::check(data, &ctx, &decision);
});
