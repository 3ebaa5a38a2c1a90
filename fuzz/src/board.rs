//! The board crate's parsers: one line of the simulated board's socket
//! protocol, and board profiles (TOML).

use std::time::Duration;

use bridgepoint_board::profile::{Backend, Pin, Profile, BCM_MAX, LINE_MAX};
use bridgepoint_board::sim::{parse_command, SimCommand, MAX_HOLD_MS, SHORT_PRESS};
use bridgepoint_board::BoardError;

use crate::non_empty;

/// A simulated-board command written back as a line.
pub fn render_line(cmd: SimCommand) -> String {
    match cmd {
        SimCommand::Hold(d) if d == SHORT_PRESS => "press call".into(),
        SimCommand::Hold(d) => format!("hold call {}", d.as_millis()),
        SimCommand::Leds => "leds".into(),
        SimCommand::State => "state".into(),
        SimCommand::Help => "help".into(),
    }
}

/// Checks `sim::parse_command(line)`'s answer.
pub fn check_line(result: &Result<SimCommand, String>) {
    match result {
        Err(reason) => non_empty("board line rejection", reason),
        Ok(cmd) => {
            if let SimCommand::Hold(d) = cmd {
                assert!(
                    *d >= Duration::from_millis(1) && *d <= Duration::from_millis(MAX_HOLD_MS),
                    "a hold of {d:?} was accepted"
                );
            }
            assert_eq!(parse_command(&render_line(*cmd)).as_ref(), Ok(cmd));
        }
    }
}

/// Checks `Profile::parse(..)`'s answer: a profile that parses is one the
/// backends can open without surprises.
pub fn check_profile(result: &Result<Profile, BoardError>) {
    match result {
        Err(e) => {
            non_empty("profile error", &e.to_string());
            match e {
                BoardError::ProfileSyntax { message, .. } => non_empty("syntax message", message),
                BoardError::ProfileKey { key, message, .. } => {
                    non_empty("profile error key", key);
                    non_empty("profile error message", message);
                }
                BoardError::DuplicatePin { key, other, .. } => {
                    non_empty("duplicate pin key", key);
                    non_empty("duplicate pin other key", other);
                }
                _ => {}
            }
        }
        Ok(p) => {
            assert_eq!(
                p.leds.iter().map(|l| l.name).collect::<Vec<_>>(),
                bridgepoint_core::led::LED_NAMES,
                "LEDs missing or out of order"
            );
            let pins = p.pins();
            for (i, (key, pin)) in pins.iter().enumerate() {
                non_empty("pin key", key);
                match (p.backend, pin) {
                    (Backend::Rpi, Pin::Bcm(n)) => assert!(*n <= BCM_MAX, "{key}: BCM {n}"),
                    (Backend::Cdev, Pin::Line { chip, line }) => {
                        assert!(*line <= LINE_MAX, "{key}: line {line}");
                        non_empty("chip", chip);
                    }
                    (backend, pin) => panic!("{key}: {pin} on a {backend:?} board"),
                }
                if let Some((other, _)) = pins[..i].iter().find(|(_, q)| q.same_as(pin)) {
                    panic!("{key} and {other} share {pin}");
                }
            }
            for led in &p.leds {
                let n = led.channels.len();
                assert!(
                    (led.rgb && n == 3) || (!led.rgb && n == 1),
                    "{}: rgb {} with {n} channels",
                    led.key,
                    led.rgb
                );
            }
        }
    }
}
