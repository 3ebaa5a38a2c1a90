//! Central IT's commands: `bridgepoint_proto::CommandRequest::parse` (the
//! parser of every `cmd` payload) and `bridgepoint_core::command_gate::admit`
//! (what the box makes of a raw `cmd` message: size, signature, binding).

use bridgepoint_proto::command::MAX_COMMAND_BYTES;
use bridgepoint_proto::validate::{
    check_bundle_url, check_command_id, check_device_id, check_sequence_number, IDENTIFY_SECONDS,
};
use bridgepoint_proto::{Command, CommandRejected, CommandRequest};

use bridgepoint_core::command_gate::{CommandContext, CommandVerdict, MAX_COMMAND_LIFETIME_S};
use bridgepoint_core::signature::SignaturePolicy;

use crate::{fixtures, non_empty, provision};

/// Checks `CommandRequest::parse(raw)`'s answer.
pub fn check(raw: &[u8], result: &Result<CommandRequest, CommandRejected>) {
    match result {
        Err(rejected) => {
            non_empty("command rejection reason", &rejected.reason);
            if let Some(id) = &rejected.id {
                assert_eq!(
                    check_command_id(id),
                    Ok(()),
                    "the rejection echoes a bad id"
                );
            }
        }
        Ok(request) => {
            assert_eq!(
                check_command_id(&request.id),
                Ok(()),
                "a bad id was accepted"
            );
            match &request.command {
                Command::Identify { seconds: Some(s) } => {
                    assert!(IDENTIFY_SECONDS.contains(s), "identify for {s} s")
                }
                Command::Update { url } => {
                    assert_eq!(check_bundle_url(url), Ok(()), "update from {url:?}")
                }
                Command::SetConfigVersion { version } => {
                    assert_eq!(check_sequence_number(*version), Ok(()))
                }
                _ => {}
            }
            if let Some(b) = &request.binding {
                assert_eq!(check_device_id(&b.device_id), Ok(()));
                assert_eq!(check_sequence_number(b.counter), Ok(()));
            }
            // Written back (what bpctl sends) and parsed again, it is the
            // same command, unless writing back made it longer than a box
            // reads (only a huge key or id written with escapes can).
            let again = request.to_json();
            assert!(!again.is_empty(), "{request:?} does not write back");
            if raw.len() <= MAX_COMMAND_BYTES && again.len() <= MAX_COMMAND_BYTES {
                assert_eq!(
                    CommandRequest::parse(again.as_bytes()).as_ref(),
                    Ok(request),
                    "{again} does not parse back"
                );
            }
        }
    }
}

/// The box with trusted keys, as the daemon runs it: the real verifier, the
/// last signed command's counter at 100, the clock at
/// [`fixtures::NOW_UNIX_MS`].
pub fn gate() -> CommandContext<'static> {
    CommandContext {
        device_id: fixtures::DEVICE_ID,
        signatures: SignaturePolicy::Required(&provision::verify),
        last_counter: LAST_COUNTER,
        now_unix_s: Some(fixtures::NOW_UNIX_MS / 1000),
    }
}

/// The counter of the last signed command the fixed box obeyed.
pub const LAST_COUNTER: u64 = 100;

/// Checks `command_gate::admit(raw, ctx)`'s verdict: a command is obeyed
/// only signed, bound to this box, newer and unexpired, or unsigned and
/// harmless.
pub fn check_gate(raw: &[u8], ctx: &CommandContext<'_>, verdict: &CommandVerdict) {
    match verdict {
        CommandVerdict::Refuse { id, reason } => {
            non_empty("command refusal reason", reason);
            if let Some(id) = id {
                assert_eq!(check_command_id(id), Ok(()), "the refusal echoes a bad id");
            }
        }
        CommandVerdict::Obey { request, counter } => {
            assert!(
                raw.len() <= MAX_COMMAND_BYTES,
                "an oversized command was obeyed"
            );
            check(raw, &Ok(request.clone()));
            let text = std::str::from_utf8(raw).expect("an obeyed command is text");
            let signed = provision::verify(text.trim()).is_ok();
            if let Some(b) = &request.binding {
                assert_eq!(
                    b.device_id, ctx.device_id,
                    "obeyed a command for another box"
                );
            }
            match counter {
                Some(c) => {
                    assert!(signed, "a counter from a command that does not verify");
                    let b = request
                        .binding
                        .as_ref()
                        .expect("a signed command's binding");
                    assert_eq!(*c, b.counter);
                    assert!(*c > ctx.last_counter, "counter {c} replayed");
                    let now = ctx.now_unix_s.expect("a clock");
                    assert!(
                        b.expires_at >= now && b.expires_at <= now + MAX_COMMAND_LIFETIME_S,
                        "expires_at {} obeyed at {now}",
                        b.expires_at
                    );
                }
                None => {
                    assert!(!signed, "a signed command obeyed without its counter");
                    if let SignaturePolicy::Required(_) = ctx.signatures {
                        assert!(
                            !request.command.must_be_signed(),
                            "{} obeyed unsigned",
                            request.command.name()
                        );
                    }
                }
            }
        }
    }
}
