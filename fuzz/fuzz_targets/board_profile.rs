//! Fuzz target: a board profile file (TOML) through `Profile::parse`.
#![no_main]

use bridgepoint_fuzz::{board, config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = config::text(data) else {
        return;
    };
    let result = bridgepoint_board::profile::Profile::parse("fuzz", "fuzz.toml", text);
    board::check_profile(&result);
});
