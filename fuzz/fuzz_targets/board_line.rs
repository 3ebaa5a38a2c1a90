//! Fuzz target: one line of the simulated board's socket protocol through
//! `sim::parse_command` (the socket reader hands it UTF-8 lines).
#![no_main]

use bridgepoint_fuzz::board;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let result = bridgepoint_board::sim::parse_command(line);
    board::check_line(&result);
});
