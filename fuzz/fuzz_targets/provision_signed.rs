//! Fuzz target: a raw push (`config/desired`) through
//! `provision::evaluate` on a box that requires signatures, verified by the
//! real `verify_compact` against fixed keys.
#![no_main]

use bridgepoint_fuzz::provision;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = provision::signed();
    let decision = bridgepoint_core::provision::evaluate(data, &ctx);
    provision::check(data, &ctx, &decision);
});
