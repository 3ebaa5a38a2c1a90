//! Fuzz target: a command payload (`cmd` topic) through
//! `CommandRequest::parse` (bridgepoint-proto).
#![no_main]

use bridgepoint_fuzz::command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = bridgepoint_proto::CommandRequest::parse(data);
    command::check(data, &result);
});
