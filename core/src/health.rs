//! The health gate after an update: the booted slot is marked good only
//! once the box is healthy (config loaded, pipeline built, control link up)
//! within a deadline; otherwise it is marked bad so the bootloader falls
//! back to the previous slot.

use std::time::{Duration, Instant};

/// How long a freshly booted slot has to become healthy.
pub const HEALTH_DEADLINE: Duration = Duration::from_secs(300);

/// The verdict on the booted slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotVerdict {
    /// Healthy: keep this slot.
    Good,
    /// Not healthy in time: fall back.
    Bad,
}

/// What health is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthInputs {
    /// The daemon runs on a valid config.
    pub config_loaded: bool,
    /// The configured pipeline builds.
    pub pipeline_built: bool,
    /// The control link is up (or the box has none).
    pub control_link_up: bool,
}

impl HealthInputs {
    fn healthy(&self) -> bool {
        self.config_loaded && self.pipeline_built && self.control_link_up
    }
}

/// Decides once per boot.
#[derive(Debug, Clone)]
pub struct HealthGate {
    deadline: Instant,
    decided: Option<SlotVerdict>,
}

impl HealthGate {
    /// A gate for a boot at `booted`.
    pub fn new(booted: Instant, within: Duration) -> Self {
        HealthGate {
            deadline: booted + within,
            decided: None,
        }
    }

    /// The verdict, the first time one can be given.
    pub fn update(&mut self, inputs: HealthInputs, now: Instant) -> Option<SlotVerdict> {
        if self.decided.is_some() {
            return None;
        }
        let verdict = if inputs.healthy() {
            SlotVerdict::Good
        } else if now >= self.deadline {
            SlotVerdict::Bad
        } else {
            return None;
        };
        self.decided = Some(verdict);
        Some(verdict)
    }

    /// When to look again if nothing changes (the deadline), until decided.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.decided.is_none().then_some(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: HealthInputs = HealthInputs {
        config_loaded: true,
        pipeline_built: true,
        control_link_up: true,
    };

    #[test]
    fn healthy_in_time_is_good_once() {
        let t0 = Instant::now();
        let mut g = HealthGate::new(t0, HEALTH_DEADLINE);
        assert_eq!(
            g.update(
                HealthInputs {
                    control_link_up: false,
                    ..ALL
                },
                t0
            ),
            None
        );
        assert_eq!(
            g.update(ALL, t0 + Duration::from_secs(20)),
            Some(SlotVerdict::Good)
        );
        assert_eq!(
            g.update(ALL, t0 + Duration::from_secs(21)),
            None,
            "decided once"
        );
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn not_healthy_by_the_deadline_is_bad() {
        let t0 = Instant::now();
        let mut g = HealthGate::new(t0, HEALTH_DEADLINE);
        let sick = HealthInputs {
            pipeline_built: false,
            ..ALL
        };
        assert_eq!(g.poll_timeout(), Some(t0 + HEALTH_DEADLINE));
        assert_eq!(
            g.update(sick, t0 + HEALTH_DEADLINE - Duration::from_millis(1)),
            None
        );
        assert_eq!(g.update(sick, t0 + HEALTH_DEADLINE), Some(SlotVerdict::Bad));
        assert_eq!(
            g.update(ALL, t0 + HEALTH_DEADLINE),
            None,
            "too late to be good"
        );
    }
}
