//! Whether a remote update may start: one install at a time, and none once
//! an installed update waits for its reboot.

/// Where the box's update stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UpdatePhase {
    /// Nothing going on.
    #[default]
    Idle,
    /// RAUC is installing this bundle.
    Installing {
        /// The bundle's URL.
        url: String,
    },
    /// A bundle is installed in the other slot; the box reboots into it.
    Installed,
}

/// The update decisions of one daemon run.
#[derive(Debug, Clone, Default)]
pub struct UpdateMachine {
    phase: UpdatePhase,
}

impl UpdateMachine {
    /// No update yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Central IT asks for `url`: allowed only when nothing is going on.
    pub fn request(&mut self, url: &str) -> Result<(), String> {
        match &self.phase {
            UpdatePhase::Idle => {
                self.phase = UpdatePhase::Installing {
                    url: url.to_owned(),
                };
                Ok(())
            }
            UpdatePhase::Installing { url: running } => {
                Err(format!("an update is already being installed ({running})"))
            }
            UpdatePhase::Installed => {
                Err("an update is installed and the box is rebooting into it".into())
            }
        }
    }

    /// The install ended.
    pub fn finished(&mut self, ok: bool) {
        if let UpdatePhase::Installing { .. } = self.phase {
            self.phase = if ok {
                UpdatePhase::Installed
            } else {
                UpdatePhase::Idle
            };
        }
    }

    /// Where it stands.
    pub fn phase(&self) -> &UpdatePhase {
        &self.phase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_install_at_a_time_and_a_failure_allows_another() {
        let mut u = UpdateMachine::new();
        assert_eq!(u.request("https://fw/a.raucb"), Ok(()));
        assert_eq!(
            u.request("https://fw/b.raucb").unwrap_err(),
            "an update is already being installed (https://fw/a.raucb)"
        );
        u.finished(false);
        assert_eq!(u.phase(), &UpdatePhase::Idle);
        assert_eq!(u.request("https://fw/b.raucb"), Ok(()));
        u.finished(true);
        assert!(u
            .request("https://fw/c.raucb")
            .unwrap_err()
            .contains("rebooting"));
        u.finished(false);
        assert_eq!(
            u.phase(),
            &UpdatePhase::Installed,
            "a stray end changes nothing"
        );
    }
}
