//! The `rpi` backend: Raspberry Pi 4 and 5 through rppal.
//!
//! Pins are BCM GPIO numbers; rppal finds the right GPIO block (BCM2711 on
//! the Pi 4, RP1 on the Pi 5). LEDs are rppal `OutputPin`s, which implement
//! `embedded_hal::digital::OutputPin` and are driven by the generic
//! [`Leds`]. The button is an rppal `InputPin` with its pull resistor and a
//! synchronous interrupt on both edges, whose events carry the kernel's time
//! of the edge; if interrupts cannot be set up it is sampled through
//! `embedded_hal::digital::InputPin` by [`PolledButton`].
//!
//! rppal only works at run time on a Raspberry Pi: elsewhere [`open`] fails
//! with [`BoardError::RpiUnavailable`]. The unit tests below cover what can
//! be checked without the hardware (the error path and event decoding);
//! the pin handling is the generic driver's, tested with mock pins.

use std::time::Duration;

use rppal::gpio::{Event, Gpio, InputPin, OutputPin, Trigger};

use super::clock;
use super::driver::{ButtonInput, EdgeTracker, Leds, OpenedBoard, PolledButton};
use crate::profile::{Bias, Pin, Profile};
use crate::{BoardError, ButtonEdge};

/// Events drained per wake-up at most (rppal caches the rest).
const MAX_EVENTS_PER_WAKE: usize = 64;

/// The button of a Raspberry Pi board.
pub enum RpiButton {
    /// Read with rppal's interrupt events.
    Events(InterruptButton),
    /// Read by sampling.
    Polled(PolledButton<InputPin>),
}

/// A button input with a synchronous interrupt on both edges.
pub struct InterruptButton {
    pin: InputPin,
    active_low: bool,
    key: String,
    pin_name: String,
    tracker: EdgeTracker,
}

/// Whether the button is down after `event`, or `None` for an event that is not an edge.
pub fn pressed_after(event: &Event, active_low: bool) -> Option<bool> {
    match event.trigger {
        Trigger::RisingEdge => Some(!active_low),
        Trigger::FallingEdge => Some(active_low),
        Trigger::Disabled | Trigger::Both => None,
    }
}

impl InterruptButton {
    fn wait_edges(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ButtonEdge>,
    ) -> Result<(), BoardError> {
        let mut wait = Some(timeout);
        for _ in 0..MAX_EVENTS_PER_WAKE {
            let event = self
                .pin
                .poll_interrupt(false, wait)
                .map_err(|e| BoardError::Gpio {
                    key: self.key.clone(),
                    pin: self.pin_name.clone(),
                    message: format!("waiting for button interrupts failed: {e}"),
                })?;
            let Some(event) = event else { break };
            if let Some(pressed) = pressed_after(&event, self.active_low) {
                self.tracker
                    .see(pressed, clock::instant_of(event.timestamp), out);
            }
            // Drain what is already queued without waiting again.
            wait = Some(Duration::ZERO);
        }
        Ok(())
    }
}

impl ButtonInput for RpiButton {
    fn pressed(&self) -> bool {
        match self {
            RpiButton::Events(b) => b.tracker.pressed(),
            RpiButton::Polled(b) => b.pressed(),
        }
    }

    fn wait_edges(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ButtonEdge>,
    ) -> Result<(), BoardError> {
        match self {
            RpiButton::Events(b) => b.wait_edges(timeout, out),
            RpiButton::Polled(b) => b.wait_edges(timeout, out),
        }
    }

    fn uses_edge_events(&self) -> bool {
        matches!(self, RpiButton::Events(_))
    }
}

/// Opens an rpi profile's pins.
pub fn open(profile: &Profile) -> Result<OpenedBoard<RpiButton, OutputPin>, BoardError> {
    let gpio = Gpio::new().map_err(|e| BoardError::RpiUnavailable {
        file: profile.file.clone(),
        message: format!(
            "{e} (is this a Raspberry Pi 4 or 5, and may this user open /dev/gpiomem or /dev/gpiochip0? \
             On other boards use a backend = \"cdev\" profile)"
        ),
    })?;
    let get = |key: &str, pin: &Pin| -> Result<rppal::gpio::Pin, BoardError> {
        let Pin::Bcm(bcm) = pin else {
            return Err(BoardError::ProfileKey {
                file: profile.file.clone(),
                key: key.to_owned(),
                message: format!("{pin} is not a BCM GPIO number (backend = \"rpi\" needs `bcm`)"),
            });
        };
        gpio.get(*bcm).map_err(|e| match e {
            rppal::gpio::Error::PinUsed(_) => BoardError::PinBusy {
                file: profile.file.clone(),
                key: key.to_owned(),
                pin: pin.to_string(),
                consumer: "another pin of this profile or program".into(),
            },
            other => BoardError::PinRequest {
                file: profile.file.clone(),
                key: key.to_owned(),
                pin: pin.to_string(),
                message: other.to_string(),
            },
        })
    };

    let spec = &profile.button;
    let raw = get(&spec.pin_key, &spec.pin)?;
    let mut input = match spec.bias {
        Bias::None => raw.into_input(),
        Bias::PullUp => raw.into_input_pullup(),
        Bias::PullDown => raw.into_input_pulldown(),
    };
    let button = match input.set_interrupt(Trigger::Both, None) {
        Ok(()) => {
            let pressed = input.is_high() != spec.active_low;
            RpiButton::Events(InterruptButton {
                pin: input,
                active_low: spec.active_low,
                key: spec.pin_key.clone(),
                pin_name: spec.pin.to_string(),
                tracker: EdgeTracker::new(pressed),
            })
        }
        Err(e) => {
            tracing::warn!(key = %spec.pin_key, pin = %spec.pin, error = %e, "no interrupts for the call button; sampling it");
            RpiButton::Polled(PolledButton::new(input, spec)?)
        }
    };

    let mut leds = Leds::new();
    for led in &profile.leds {
        let mut pins = Vec::new();
        for channel in &led.channels {
            let pin = get(&channel.key, &channel.pin)?;
            // Claimed dark: the off level is high for an active-low LED.
            pins.push(if led.active_low {
                pin.into_output_high()
            } else {
                pin.into_output_low()
            });
        }
        leds.add(led, pins);
    }
    Ok(OpenedBoard { button, leds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_without_a_pi_is_a_clear_error_not_a_panic() {
        // On a Raspberry Pi this would claim the pins; everywhere else
        // (build machines, qemu-user) rppal cannot find the GPIO.
        let profile = crate::profile::builtin("rpi4").unwrap().unwrap();
        if let Err(e) = open(&profile) {
            let e = e.to_string();
            assert!(e.starts_with("board profile board/profiles/rpi4.toml (built in): backend = \"rpi\": cannot open the Raspberry Pi GPIO"), "{e}");
        }
    }

    #[test]
    fn events_decode_with_active_low() {
        let event = |trigger| Event {
            timestamp: Duration::from_secs(1),
            seqno: 1,
            trigger,
        };
        assert_eq!(
            pressed_after(&event(Trigger::FallingEdge), true),
            Some(true)
        );
        assert_eq!(
            pressed_after(&event(Trigger::RisingEdge), true),
            Some(false)
        );
        assert_eq!(
            pressed_after(&event(Trigger::RisingEdge), false),
            Some(true)
        );
        assert_eq!(pressed_after(&event(Trigger::Both), false), None);
    }
}
