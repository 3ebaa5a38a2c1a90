//! Which commands from central IT a box obeys.
//!
//! A command arrives on `cmd` as plain JSON or as a JWS token
//! ([`bridgepoint_proto::Envelope`]). When the box trusts keys
//! (`trust.config_keys`), commands that change what or where it sends or
//! what it runs (`session.start` with a key, `update`, `reboot`,
//! `config.set_version`: [`Command::must_be_signed`]) are obeyed only
//! signed, and every signed command — of any kind — only if its binding
//! holds: it names this box, its counter is greater than the last signed
//! command's (a replay or an out-of-order command is refused), and it has
//! not expired by the box's clock (nor expires implausibly far ahead).
//! Read-only commands (`identify`, `keyframe`) and `session.end` may come
//! unsigned. A box without trusted keys (development only) obeys plain
//! commands and refuses tokens it cannot check.
//!
//! Verification is passed in as a function and the time as a number: no
//! crypto, clock or IO here.

use bridgepoint_proto::command::MAX_COMMAND_BYTES;
use bridgepoint_proto::envelope::unverified_payload;
use bridgepoint_proto::{Command, CommandRequest, Envelope};

use crate::signature::SignaturePolicy;

/// The longest a signed command may stay valid, by the box's clock: bpctl
/// signs for two minutes; an hour allows for clocks a little off.
pub const MAX_COMMAND_LIFETIME_S: u64 = 3600;

/// What the box knows when a command arrives.
pub struct CommandContext<'a> {
    /// This box's id.
    pub device_id: &'a str,
    /// Signature policy (the same keys as for configs).
    pub signatures: SignaturePolicy<'a>,
    /// The counter of the last signed command obeyed (0: none yet). The box
    /// keeps it durably, so a replay after a restart is refused too.
    pub last_counter: u64,
    /// The box's wall clock in Unix seconds, when it is plausible
    /// ([`crate::wall_clock::plausible`]); `None` for a clock not yet set.
    pub now_unix_s: Option<u64>,
}

/// The verdict on one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandVerdict {
    /// Carry it out.
    Obey {
        /// The command.
        request: CommandRequest,
        /// For a signed command, its counter: store it as the new
        /// `last_counter` before carrying the command out.
        counter: Option<u64>,
    },
    /// Refuse it with this reason (answered on `cmd/result`).
    Refuse {
        /// The command's id, when it could be read (also from a token that
        /// did not verify: only to answer, never to act).
        id: Option<String>,
        /// Why, naming the member or check.
        reason: String,
    },
}

fn refuse(id: Option<String>, reason: impl Into<String>) -> CommandVerdict {
    CommandVerdict::Refuse {
        id,
        reason: reason.into(),
    }
}

/// Decides on a raw command.
pub fn admit(raw: &[u8], ctx: &CommandContext<'_>) -> CommandVerdict {
    let envelope = match Envelope::open(raw, "command", MAX_COMMAND_BYTES) {
        Ok(e) => e,
        Err(e) => return refuse(None, e.to_string()),
    };
    match (&ctx.signatures, envelope) {
        (SignaturePolicy::Required(verify), Envelope::Signed(token)) => {
            let peeked_id = || unverified_payload(token).and_then(|p| CommandRequest::id_of(&p));
            match verify(token) {
                Ok(payload) => admit_signed(&payload, ctx),
                Err(e) => refuse(peeked_id(), format!("signature: {e}")),
            }
        }
        (SignaturePolicy::Unsigned, Envelope::Signed(token)) => refuse(
            unverified_payload(token).and_then(|p| CommandRequest::id_of(&p)),
            "signed command but this box has no trust.config_keys to verify it with",
        ),
        (policy, Envelope::Plain(text)) => admit_plain(text.as_bytes(), policy, ctx),
    }
}

fn admit_plain(
    json: &[u8],
    policy: &SignaturePolicy<'_>,
    ctx: &CommandContext<'_>,
) -> CommandVerdict {
    let request = match CommandRequest::parse(json) {
        Ok(r) => r,
        Err(rejected) => return refuse(rejected.id, rejected.reason),
    };
    let id = Some(request.id.clone());
    if let SignaturePolicy::Required(_) = policy {
        if request.command.must_be_signed() {
            return refuse(
                id,
                format!(
                    "unsigned {} refused: this box has trust.config_keys, so {} must be signed (JWS, EdDSA; bpctl signs with --key)",
                    what(&request.command),
                    request.command.name()
                ),
            );
        }
    }
    if let Some(binding) = &request.binding {
        if binding.device_id != ctx.device_id {
            return refuse(id, other_box(&binding.device_id, ctx.device_id));
        }
    }
    CommandVerdict::Obey {
        request,
        counter: None,
    }
}

fn admit_signed(json: &[u8], ctx: &CommandContext<'_>) -> CommandVerdict {
    let request = match CommandRequest::parse(json) {
        Ok(r) => r,
        Err(rejected) => return refuse(rejected.id, rejected.reason),
    };
    let id = Some(request.id.clone());
    let Some(binding) = &request.binding else {
        return refuse(
            id,
            "device_id: missing: a signed command must carry device_id, counter and expires_at",
        );
    };
    if binding.device_id != ctx.device_id {
        return refuse(id, other_box(&binding.device_id, ctx.device_id));
    }
    if binding.counter <= ctx.last_counter {
        return refuse(
            id,
            format!(
                "counter: {} is not newer than the last signed command's {} (replayed or out-of-order command)",
                binding.counter, ctx.last_counter
            ),
        );
    }
    let Some(now) = ctx.now_unix_s else {
        return refuse(
            id,
            "expires_at: this box's clock is not set yet (no NTP answer), so it cannot tell whether the command has expired; try again once it is",
        );
    };
    if binding.expires_at < now {
        return refuse(
            id,
            format!(
                "expires_at: the command expired {} s ago by this box's clock",
                now - binding.expires_at
            ),
        );
    }
    if binding.expires_at > now.saturating_add(MAX_COMMAND_LIFETIME_S) {
        return refuse(
            id,
            format!(
                "expires_at: {} s ahead of this box's clock, more than the {MAX_COMMAND_LIFETIME_S} s a command may live (is either clock wrong?)",
                binding.expires_at - now
            ),
        );
    }
    let counter = Some(binding.counter);
    CommandVerdict::Obey { request, counter }
}

fn other_box(named: &str, me: &str) -> String {
    format!("device_id: command is for {named:?}, this box is {me:?}")
}

fn what(command: &Command) -> &'static str {
    match command {
        Command::SessionStart { .. } => "session key",
        Command::Update { .. } => "update",
        Command::Reboot => "reboot",
        Command::SetConfigVersion { .. } => "version change",
        _ => "command",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use bridgepoint_proto::CommandBinding;

    const NOW: u64 = 1_795_459_805;

    fn request(command: Command, binding: Option<CommandBinding>) -> CommandRequest {
        CommandRequest {
            id: "c1".into(),
            command,
            binding,
        }
    }

    fn bound(counter: u64, expires_at: u64) -> Option<CommandBinding> {
        Some(CommandBinding {
            device_id: "box-1".into(),
            counter,
            expires_at,
        })
    }

    /// A stand-in for JWS verification: a "token" is
    /// `eyJ.<base64url of the JSON>.good` (valid) or `....forged`. The real
    /// verification is tested in the signing crate and against the real
    /// daemon.
    fn fake_verify(token: &str) -> Result<Vec<u8>, String> {
        let parts: Vec<&str> = token.split('.').collect();
        match parts.as_slice() {
            [_, payload, "good"] => URL_SAFE_NO_PAD.decode(payload).map_err(|e| e.to_string()),
            _ => Err("does not verify with any of the 1 trusted keys".into()),
        }
    }

    fn signed(r: &CommandRequest, sig: &str) -> Vec<u8> {
        format!("eyJ.{}.{sig}", URL_SAFE_NO_PAD.encode(r.to_json())).into_bytes()
    }

    fn ctx<'a>(policy: SignaturePolicy<'a>, last: u64) -> CommandContext<'a> {
        CommandContext {
            device_id: "box-1",
            signatures: policy,
            last_counter: last,
            now_unix_s: Some(NOW),
        }
    }

    fn reason(v: CommandVerdict) -> String {
        match v {
            CommandVerdict::Refuse { reason, .. } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_signed_reboot_for_this_box_is_obeyed_and_its_counter_kept() {
        let verify = fake_verify;
        let c = ctx(SignaturePolicy::Required(&verify), 10);
        let r = request(Command::Reboot, bound(11, NOW + 120));
        assert_eq!(
            admit(&signed(&r, "good"), &c),
            CommandVerdict::Obey {
                request: r,
                counter: Some(11)
            }
        );
    }

    #[test]
    fn unsigned_expired_replayed_forged_and_other_box_commands_are_refused() {
        let verify = fake_verify;
        let c = ctx(SignaturePolicy::Required(&verify), 10);
        let plain = request(Command::Reboot, None).to_json();
        assert!(reason(admit(plain.as_bytes(), &c)).starts_with("unsigned reboot refused"));
        let update = request(
            Command::Update {
                url: "https://fw/x.raucb".into(),
            },
            None,
        );
        assert!(
            reason(admit(update.to_json().as_bytes(), &c)).starts_with("unsigned update refused")
        );
        let receive = request(
            Command::SessionStart {
                srtp_key: None,
                receive_key: Some((0..30).collect()),
            },
            None,
        );
        assert!(reason(admit(receive.to_json().as_bytes(), &c))
            .starts_with("unsigned session key refused"));
        let key = request(
            Command::SessionStart {
                srtp_key: Some((0..30).collect()),
                receive_key: None,
            },
            None,
        );
        assert!(
            reason(admit(key.to_json().as_bytes(), &c)).starts_with("unsigned session key refused")
        );

        let expired = request(Command::Reboot, bound(11, NOW - 5));
        assert_eq!(
            reason(admit(&signed(&expired, "good"), &c)),
            "expires_at: the command expired 5 s ago by this box's clock"
        );
        let far = request(Command::Reboot, bound(11, NOW + 2 * MAX_COMMAND_LIFETIME_S));
        assert!(reason(admit(&signed(&far, "good"), &c)).starts_with("expires_at: 7200 s ahead"));
        let replayed = request(Command::Reboot, bound(10, NOW + 60));
        assert!(reason(admit(&signed(&replayed, "good"), &c))
            .starts_with("counter: 10 is not newer than the last signed command's 10"));
        let forged = request(Command::Reboot, bound(11, NOW + 60));
        match admit(&signed(&forged, "forged"), &c) {
            CommandVerdict::Refuse { id, reason } => {
                assert_eq!(id.as_deref(), Some("c1"), "answered with its id");
                assert!(reason.starts_with("signature: "), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut other = request(Command::Reboot, bound(11, NOW + 60));
        if let Some(b) = other.binding.as_mut() {
            b.device_id = "box-2".into();
        }
        assert_eq!(
            reason(admit(&signed(&other, "good"), &c)),
            "device_id: command is for \"box-2\", this box is \"box-1\""
        );
        let unbound = request(Command::Reboot, None);
        assert!(reason(admit(&signed(&unbound, "good"), &c))
            .contains("must carry device_id, counter and expires_at"));
    }

    #[test]
    fn read_only_commands_may_come_unsigned_but_a_signed_one_is_checked() {
        let verify = fake_verify;
        let c = ctx(SignaturePolicy::Required(&verify), 10);
        for command in [
            Command::Identify { seconds: None },
            Command::Keyframe,
            Command::SessionEnd,
            Command::SessionStart {
                srtp_key: None,
                receive_key: None,
            },
        ] {
            let r = request(command, None);
            assert!(
                matches!(
                    admit(r.to_json().as_bytes(), &c),
                    CommandVerdict::Obey { counter: None, .. }
                ),
                "{r:?}"
            );
        }
        let replayed_identify = request(Command::Keyframe, bound(3, NOW + 60));
        assert!(reason(admit(&signed(&replayed_identify, "good"), &c)).starts_with("counter:"));
    }

    #[test]
    fn without_a_set_clock_signed_commands_wait() {
        let verify = fake_verify;
        let c = CommandContext {
            now_unix_s: None,
            ..ctx(SignaturePolicy::Required(&verify), 0)
        };
        let r = request(Command::Reboot, bound(1, NOW + 60));
        assert!(reason(admit(&signed(&r, "good"), &c)).contains("clock is not set"));
    }

    #[test]
    fn a_box_without_keys_obeys_plain_commands_and_refuses_tokens() {
        let c = ctx(SignaturePolicy::Unsigned, 0);
        let plain = request(Command::Reboot, None);
        assert!(matches!(
            admit(plain.to_json().as_bytes(), &c),
            CommandVerdict::Obey { .. }
        ));
        let token = signed(&request(Command::Reboot, bound(1, NOW)), "good");
        match admit(&token, &c) {
            CommandVerdict::Refuse { id, reason } => {
                assert_eq!(id.as_deref(), Some("c1"));
                assert!(reason.starts_with("signed command but this box has no trust.config_keys"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_and_malformed_commands_are_refused_with_a_reason() {
        let c = ctx(SignaturePolicy::Unsigned, 0);
        let big = format!(
            r#"{{"id":"x","cmd":"reboot","pad":"{}"}}"#,
            "a".repeat(20_000)
        );
        assert!(reason(admit(big.as_bytes(), &c)).contains("limit 16384"));
        assert_eq!(reason(admit(&[0xff], &c)), "command is not UTF-8 text");
        match admit(br#"{"id":"t","cmd":"dance"}"#, &c) {
            CommandVerdict::Refuse { id, reason } => {
                assert_eq!(id.as_deref(), Some("t"));
                assert!(reason.starts_with("unknown command"));
            }
            other => panic!("{other:?}"),
        }
    }
}
