//! The RAUC adapter: installs signed bundles and marks slots good or bad.
//!
//! RAUC does the real work and the real checks: `rauc install` refuses any
//! bundle not signed by a certificate of the box's keyring, writes the other
//! slot and switches the boot order; the bootloader counts boot attempts and
//! falls back to the old slot unless the new one is marked good. This module
//! only runs the `rauc` command line and reports what it says.
//!
//! The program is `rauc` on `PATH`, or `BRIDGEPOINT_RAUC` (used by the tests,
//! which cannot run a real A/B system). The reboot after an install is
//! asked for through [`crate::reboot`].

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

/// What an install reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateEvent {
    /// Progress from RAUC.
    Progress {
        /// Percent done.
        percent: u32,
        /// RAUC's message.
        message: String,
    },
    /// The install ended.
    Finished {
        /// `None` on success, else RAUC's last error lines.
        error: Option<String>,
    },
}

/// The `rauc` command line.
#[derive(Debug, Clone)]
pub struct Rauc {
    program: PathBuf,
}

impl Rauc {
    /// `BRIDGEPOINT_RAUC` or `rauc` from `PATH`; `None` if neither exists.
    pub fn locate() -> Option<Rauc> {
        let program = match std::env::var_os("BRIDGEPOINT_RAUC") {
            Some(p) => PathBuf::from(p),
            None => std::env::var_os("PATH")?
                .to_string_lossy()
                .split(':')
                .map(|dir| PathBuf::from(dir).join("rauc"))
                .find(|p| p.is_file())?,
        };
        program.is_file().then_some(Rauc { program })
    }

    /// The booted slot (`A`, `B`, ...) from `rauc status --output-format=json`.
    pub async fn booted_slot(&self) -> Option<String> {
        let out = Command::new(&self.program)
            .args(["status", "--output-format=json"])
            .stdin(Stdio::null())
            .output()
            .await
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        doc.get("booted")?.as_str().map(str::to_owned)
    }

    /// Runs `rauc status mark-good|mark-bad`.
    pub async fn mark(&self, good: bool) -> Result<(), String> {
        let verb = if good { "mark-good" } else { "mark-bad" };
        let out = Command::new(&self.program)
            .args(["status", verb])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "rauc status {verb}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Starts `rauc install <url>`; progress and the result arrive on `events`.
    pub fn install(&self, url: String, events: mpsc::UnboundedSender<UpdateEvent>) {
        let program = self.program.clone();
        tokio::spawn(async move {
            let error = run_install(&program, &url, &events).await.err();
            let _ = events.send(UpdateEvent::Finished { error });
        });
    }
}

async fn run_install(
    program: &PathBuf,
    url: &str,
    events: &mpsc::UnboundedSender<UpdateEvent>,
) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(["install", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let stderr = child.stderr.take();
    let errors = tokio::spawn(async move {
        let mut lines = Vec::new();
        if let Some(stderr) = stderr {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.push(line);
            }
        }
        lines
    });
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout).lines();
        let mut last = None;
        while let Ok(Some(line)) = reader.next_line().await {
            if let Some((percent, message)) = parse_progress(&line) {
                if last != Some(percent) {
                    last = Some(percent);
                    let _ = events.send(UpdateEvent::Progress { percent, message });
                }
            }
        }
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    let stderr = errors.await.unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        let tail: Vec<String> = stderr
            .into_iter()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Err(format!(
            "rauc install failed ({status}): {}",
            tail.join(" | ")
        ))
    }
}

/// `  20% Checking bundle` → (20, "Checking bundle").
pub fn parse_progress(line: &str) -> Option<(u32, String)> {
    let (number, rest) = line.trim().split_once('%')?;
    let percent: u32 = number.trim().rsplit(' ').next()?.parse().ok()?;
    (percent <= 100).then(|| (percent, rest.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse() {
        assert_eq!(
            parse_progress("  0% Installing"),
            Some((0, "Installing".into()))
        );
        assert_eq!(
            parse_progress(" 40% Checking slot rootfs.1"),
            Some((40, "Checking slot rootfs.1".into()))
        );
        assert_eq!(
            parse_progress("installing: 100% Installing done."),
            Some((100, "Installing done.".into()))
        );
        assert_eq!(parse_progress("no progress here"), None);
        assert_eq!(parse_progress("250% nonsense"), None);
    }
}
