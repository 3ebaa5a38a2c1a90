//! Fuzz target: a raw `cmd` message through `command_gate::admit` on a box
//! that trusts keys (signatures checked by the real `verify_compact`).
#![no_main]

use bridgepoint_fuzz::command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = command::gate();
    let verdict = bridgepoint_core::command_gate::admit(data, &ctx);
    command::check_gate(data, &ctx, &verdict);
});
