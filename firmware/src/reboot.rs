//! Asking for a reboot of the box.
//!
//! Blocking, and brief: a small file write (or the test's command).
//!
//! The daemon runs without capabilities, and the image's systemd has no
//! polkit, so neither `reboot(2)` nor `systemctl reboot` works from it.
//! Instead it writes a request file, `reboot`, with the reason inside, into
//! its runtime directory (`$RUNTIME_DIRECTORY`: systemd creates
//! `/run/bridgepoint` for it, `RuntimeDirectory=bridgepoint`); the
//! root-owned `bridgepoint-reboot.path` unit sees the file appear and starts
//! `bridgepoint-reboot.service`, which logs the reason and runs `systemctl
//! reboot`. `/run` is a tmpfs, so the request does not outlive the boot.
//!
//! `BRIDGEPOINT_REBOOT` (a command line) replaces the request file where
//! there is no such unit: the tests, a development machine.

use std::path::{Path, PathBuf};

use std::process::Command;

/// The request file's name in the runtime directory (the path unit's
/// `PathExists=/run/bridgepoint/reboot`).
pub const REQUEST_FILE: &str = "reboot";

/// How this daemon asks for a reboot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebootRequest {
    /// Run this command (`BRIDGEPOINT_REBOOT`).
    Command(String),
    /// Write the request file into this directory (`RUNTIME_DIRECTORY`).
    File(PathBuf),
}

impl RebootRequest {
    /// From the environment: `BRIDGEPOINT_REBOOT` first, then
    /// `RUNTIME_DIRECTORY`; `None` when neither is set.
    pub fn from_env() -> Option<RebootRequest> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(cmd) = var("BRIDGEPOINT_REBOOT") {
            return Some(RebootRequest::Command(cmd));
        }
        // systemd may list several directories, separated by colons.
        var("RUNTIME_DIRECTORY")
            .and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
            .map(RebootRequest::File)
    }

    /// Asks for the reboot, saying `reason`.
    pub fn send(&self, reason: &str) -> Result<(), String> {
        match self {
            RebootRequest::Command(cmd) => run(cmd),
            RebootRequest::File(dir) => write_request(dir, reason),
        }
    }
}

/// Asks for a reboot the way the environment says ([`RebootRequest::from_env`]).
pub fn request(reason: &str) -> Result<(), String> {
    match RebootRequest::from_env() {
        Some(how) => {
            tracing::warn!(%reason, "asking for a reboot");
            how.send(reason)
        }
        None => Err("cannot reboot: not started by systemd with RuntimeDirectory= (RUNTIME_DIRECTORY is not set; the bridgepoint-reboot.path unit watches /run/bridgepoint/reboot), and BRIDGEPOINT_REBOOT is not set".into()),
    }
}

/// Writes `dir/reboot` atomically (a temporary file renamed), so the path
/// unit never sees half a file.
fn write_request(dir: &Path, reason: &str) -> Result<(), String> {
    let tmp = dir.join(format!(".{REQUEST_FILE}.tmp"));
    let path = dir.join(REQUEST_FILE);
    std::fs::write(&tmp, format!("{reason}\n"))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("cannot write the reboot request {}: {e}", path.display()))
}

fn run(cmd: &str) -> Result<(), String> {
    let mut words = cmd.split_whitespace();
    let program = words.next().unwrap_or_default();
    let status = Command::new(program)
        .args(words)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_file_holds_the_reason_and_a_bad_directory_is_named() {
        let dir = bridgepoint_testkit::TempDir::new("reboot");
        RebootRequest::File(dir.path().to_owned())
            .send("update installed")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("reboot")).unwrap(),
            "update installed\n"
        );
        let missing = dir.path().join("missing");
        let e = RebootRequest::File(missing.clone()).send("x").unwrap_err();
        assert!(
            e.contains(&missing.join("reboot").display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_command_that_fails_is_reported() {
        let e = RebootRequest::Command("false".into())
            .send("x")
            .unwrap_err();
        assert!(e.starts_with("false exited with"), "{e}");
        RebootRequest::Command("true".into()).send("x").unwrap();
    }
}
