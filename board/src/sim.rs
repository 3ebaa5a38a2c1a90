//! The simulated board: a line protocol on a Unix socket.
//!
//! With `board = "sim"` the daemon listens on `<data_dir>/board.sock`. Each
//! line is one command and gets exactly one line back:
//!
//! | command            | effect                                           | answer |
//! |--------------------|--------------------------------------------------|--------|
//! | `press call`       | a short press (down, 120 ms, up)                 | `ok` once released |
//! | `hold call <ms>`   | a press held `<ms>` milliseconds (1..=60000)      | `ok` once released |
//! | `leds`             | —                                                | `{"call":{"pattern":"on"},"status":{"pattern":"heartbeat"}}` |
//! | `state`            | —                                                | `{"call":"in_session","stream":"streaming"}` |
//! | `help`             | —                                                | the command list |
//!
//! Anything else is answered with `error: <reason>`. The edges go through the
//! same debounce and press logic as a real button's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::{BoardError, BoardLink, ButtonEdge};

/// How long `press call` holds the button.
pub const SHORT_PRESS: Duration = Duration::from_millis(120);
/// The longest hold the simulator accepts.
pub const MAX_HOLD_MS: u64 = 60_000;

const HELP: &str = "commands: press call | hold call <ms> | leds | state | help";

/// One parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCommand {
    /// Press and release the call button, holding it this long.
    Hold(Duration),
    /// Report the LEDs.
    Leds,
    /// Report the box state.
    State,
    /// List the commands.
    Help,
}

/// Parses one line of the protocol; the error is the reason sent back.
pub fn parse_command(line: &str) -> Result<SimCommand, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["press", button] => check_button(button).map(|()| SimCommand::Hold(SHORT_PRESS)),
        ["hold", button, ms] => {
            check_button(button)?;
            let ms: u64 = ms
                .parse()
                .map_err(|_| format!("hold needs a duration in milliseconds, got {ms:?}"))?;
            if ms == 0 || ms > MAX_HOLD_MS {
                return Err(format!(
                    "hold duration must be 1 to {MAX_HOLD_MS} ms, got {ms}"
                ));
            }
            Ok(SimCommand::Hold(Duration::from_millis(ms)))
        }
        ["press" | "hold", ..] => Err(format!(
            "usage: press call | hold call <ms>; got {:?}",
            line.trim()
        )),
        ["leds"] => Ok(SimCommand::Leds),
        ["state"] => Ok(SimCommand::State),
        ["help"] => Ok(SimCommand::Help),
        [] => Err(format!("empty command ({HELP})")),
        _ => Err(format!("unknown command {:?} ({HELP})", line.trim())),
    }
}

fn check_button(name: &str) -> Result<(), String> {
    if name == "call" {
        Ok(())
    } else {
        Err(format!("unknown button {name:?} (buttons: call)"))
    }
}

/// The simulated board, bound to its socket.
#[derive(Debug)]
pub struct SimBoard {
    listener: UnixListener,
    path: PathBuf,
    link: BoardLink,
}

impl SimBoard {
    /// Binds the socket at `path`, replacing a stale one from an earlier run.
    pub fn bind(path: &Path, link: BoardLink) -> Result<Self, BoardError> {
        let err = |source| BoardError::SimSocket {
            path: path.to_owned(),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let listener = UnixListener::bind(path).map_err(err)?;
        Ok(SimBoard {
            listener,
            path: path.to_owned(),
            link,
        })
    }

    /// Serves connections until `cancel` fires, then removes the socket.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(socket = %self.path.display(), "simulated board listening");
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(serve(stream, self.link.clone(), cancel.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "simulated board: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(stream: UnixStream, link: BoardLink, cancel: CancellationToken) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    loop {
        let line = tokio::select! {
            _ = cancel.cancelled() => return,
            line = lines.next_line() => match line {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => return,
            },
        };
        let answer = match parse_command(&line) {
            Ok(cmd) => execute(cmd, &link, &cancel).await,
            Err(reason) => format!("error: {reason}"),
        };
        tracing::debug!(command = %line.trim(), answer = %answer, "simulated board");
        if write
            .write_all(format!("{answer}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn execute(cmd: SimCommand, link: &BoardLink, cancel: &CancellationToken) -> String {
    match cmd {
        SimCommand::Hold(duration) => {
            if send_edge(link, true).await.is_err() {
                return "error: the box is shutting down".into();
            }
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(duration) => {}
            }
            match send_edge(link, false).await {
                Ok(()) => "ok".into(),
                Err(()) => "error: the box is shutting down".into(),
            }
        }
        SimCommand::Leds => link.view.borrow().leds_json(),
        SimCommand::State => link.view.borrow().state_json(),
        SimCommand::Help => HELP.into(),
    }
}

async fn send_edge(link: &BoardLink, pressed: bool) -> Result<(), ()> {
    link.edges
        .send(ButtonEdge {
            pressed,
            at: Instant::now(),
        })
        .await
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse_command("press call"),
            Ok(SimCommand::Hold(SHORT_PRESS))
        );
        assert_eq!(
            parse_command("  hold call 2500 "),
            Ok(SimCommand::Hold(Duration::from_millis(2500)))
        );
        assert_eq!(parse_command("leds"), Ok(SimCommand::Leds));
        assert_eq!(parse_command("state"), Ok(SimCommand::State));
        assert_eq!(parse_command("help"), Ok(SimCommand::Help));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let err = |l: &str| parse_command(l).unwrap_err();
        assert!(err("dance").starts_with("unknown command \"dance\""));
        assert!(err("press door").contains("unknown button \"door\""));
        assert!(err("hold call soon").contains("milliseconds, got \"soon\""));
        assert!(err("hold call 0").contains("1 to 60000 ms, got 0"));
        assert!(err("hold call 999999").contains("got 999999"));
        assert!(err("hold call").starts_with("usage:"));
        assert!(err("").starts_with("empty command"));
    }
}
