//! Commands from central IT, each answered on `cmd/result`.

use std::time::{Duration, Instant};

use bridgepoint_core::command::{parse_command, Command};
use bridgepoint_core::controller::Input;

use super::runtime::BoxRuntime;
use crate::control::messages;

impl BoxRuntime {
    /// A message on `cmd`.
    pub fn on_command(&mut self, payload: &[u8]) {
        let request = match parse_command(payload) {
            Ok(r) => r,
            Err(rejected) => {
                tracing::warn!(id = ?rejected.id, reason = %rejected.reason, "command refused");
                self.answer(rejected.id.as_deref(), Some(&rejected.reason));
                return;
            }
        };
        tracing::info!(id = %request.id, command = ?request.command, "command");
        let now = Instant::now();
        let result: Result<(), String> = match request.command {
            Command::SessionStart { srtp_key } => self.session_start(srtp_key, now),
            Command::SessionEnd => {
                self.core.handle_input(Input::HubEnd, now);
                Ok(())
            }
            Command::Identify { seconds } => {
                self.core.handle_input(
                    Input::Identify(Duration::from_secs(u64::from(seconds))),
                    now,
                );
                Ok(())
            }
            Command::Keyframe => {
                if self.runner.force_keyframe() {
                    Ok(())
                } else {
                    Err("not streaming".to_owned())
                }
            }
            Command::Update { url } => self.start_update(url),
            Command::Reboot => {
                self.answer(Some(&request.id), None);
                tracing::warn!("restart requested by central IT");
                self.request_restart();
                return;
            }
        };
        self.answer(Some(&request.id), result.err().as_deref());
    }

    fn session_start(&mut self, srtp_key: Option<Vec<u8>>, now: Instant) -> Result<(), String> {
        let Some(media) = self.settings.media() else {
            return Err("no hub or SRTP key provisioned yet".to_owned());
        };
        if let Some(key) = &srtp_key {
            let need = media.srtp.suite.key_len();
            if key.len() != need {
                return Err(format!(
                    "args.srtp_key: must be {need} bytes for {}, got {}",
                    media.srtp.suite,
                    key.len()
                ));
            }
        }
        let key_changed = srtp_key.is_some() && srtp_key != self.session_key;
        if srtp_key.is_some() {
            self.session_key = srtp_key;
        }
        self.runner.set_media(self.effective_media());
        if key_changed {
            // Already streaming (always mode, or a session in progress): rebuild with the new key.
            self.core.handle_input(Input::RebuildStream, now);
        }
        self.core.handle_input(Input::HubStart, now);
        Ok(())
    }

    fn answer(&self, id: Option<&str>, error: Option<&str>) {
        let Some(control) = &self.control else { return };
        control.link.publish(
            control.topics.cmd_result(),
            messages::command_result(id, error),
            false,
            None,
        );
    }
}
