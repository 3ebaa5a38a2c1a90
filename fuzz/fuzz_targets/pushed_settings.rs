//! Fuzz target: any JSON value as the `config` object of a push, through
//! `config::parse_pushed_settings`.
#![no_main]

use bridgepoint_fuzz::config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let result = bridgepoint_core::config::parse_pushed_settings(&value);
    config::check_pushed(&value, &result);
});
