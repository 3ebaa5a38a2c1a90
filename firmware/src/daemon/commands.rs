//! The door for central IT's commands: the core decides which to obey
//! (`bridgepoint_core::command_gate`); this keeps the counter of the last
//! signed command durably, so a replay is refused after a restart too.

use std::sync::Arc;

use bridgepoint_core::command_gate::{admit, CommandContext, CommandVerdict};
use bridgepoint_store::Store;

use super::trust::Trust;
use crate::DaemonError;

/// The store record holding the last signed command's counter.
const COUNTER_RECORD: &str = "command_counter";

/// Admits commands.
pub struct CommandDesk {
    store: Arc<Store>,
    last_counter: u64,
}

impl CommandDesk {
    /// Reads the last counter from the store.
    pub fn new(store: Arc<Store>) -> Result<CommandDesk, DaemonError> {
        let last_counter = match store.record(COUNTER_RECORD)? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                .map(u64::from_be_bytes)
                .unwrap_or_else(|_| {
                    tracing::error!("the stored command counter is malformed; refusing every signed command older than now");
                    u64::MAX / 2
                }),
            None => 0,
        };
        Ok(CommandDesk {
            store,
            last_counter,
        })
    }

    /// The core's verdict on `raw`; a signed command's counter is stored
    /// (fsynced) before it is obeyed.
    pub fn admit(
        &mut self,
        raw: &[u8],
        device_id: &str,
        trust: &Trust,
        now_unix_s: Option<u64>,
    ) -> CommandVerdict {
        let verdict = trust.with_policy(|signatures| {
            admit(
                raw,
                &CommandContext {
                    device_id,
                    signatures,
                    last_counter: self.last_counter,
                    now_unix_s,
                },
            )
        });
        if let CommandVerdict::Obey {
            request,
            counter: Some(counter),
        } = &verdict
        {
            if let Err(e) = self
                .store
                .save_record(COUNTER_RECORD, &counter.to_be_bytes())
            {
                return CommandVerdict::Refuse {
                    id: Some(request.id.clone()),
                    reason: format!(
                        "cannot store the command counter, so the command is not carried out: {e}"
                    ),
                };
            }
            self.last_counter = *counter;
        }
        verdict
    }
}
