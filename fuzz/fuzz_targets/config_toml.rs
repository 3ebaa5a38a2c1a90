//! Fuzz target: the box's config file (TOML) through `config::parse_toml`.
#![no_main]

use bridgepoint_fuzz::config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = config::text(data) else {
        return;
    };
    let result = bridgepoint_core::config::parse_toml(text);
    config::check_toml(&result);
});
