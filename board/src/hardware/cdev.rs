//! The `cdev` backend: any board with a GPIO character device (`/dev/gpiochipN`).
//!
//! LEDs are linux-embedded-hal [`CdevPin`]s (`embedded_hal::digital::OutputPin`)
//! driven by the generic [`Leds`]. The button is requested with kernel line
//! events on both edges, so a press is seen when it happens, stamped with
//! the kernel's time of the edge; if the chip cannot give events for that line
//! (no interrupt), it falls back to sampling a `CdevPin` input with
//! [`PolledButton`]. Active-low is applied here, not by the kernel, and the
//! button's pull resistor is requested with the line (kernel 5.5+).
//!
//! Before anything is claimed every pin is checked: its chip must exist
//! (named by path, `gpiochipN` or label), its line must be on that chip, no
//! two keys may resolve to the same line, and no other program may hold it.
//! Each failure is a [`BoardError`] naming the profile key and the pin.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use linux_embedded_hal::gpio_cdev::{
    Chip, EventRequestFlags, EventType, Line, LineEventHandle, LineRequestFlags,
};
use linux_embedded_hal::CdevPin;

use super::clock;
use super::driver::{ButtonInput, EdgeTracker, Leds, OpenedBoard, PolledButton};
use crate::profile::{Bias, ButtonSpec, Pin, Profile};
use crate::{BoardError, ButtonEdge};

/// The consumer name the kernel shows for lines this backend holds.
pub const CONSUMER: &str = "bridgepoint";

/// `GPIOHANDLE_REQUEST_BIAS_PULL_UP` (v1 ABI, kernel 5.5+); gpio-cdev 0.6 has no constant for it.
const BIAS_PULL_UP: u32 = 1 << 5;
/// `GPIOHANDLE_REQUEST_BIAS_PULL_DOWN`.
const BIAS_PULL_DOWN: u32 = 1 << 6;

/// Events the kernel queues per line (v1 ABI); reading this many at once
/// means some may have been dropped, so the level is read back.
const KERNEL_QUEUE: usize = 16;

/// How the button is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonMode {
    /// Kernel edge events, falling back to sampling if the line has none.
    Events,
    /// Always sample (for tests of the fallback).
    Polling,
}

/// The button of a cdev board.
pub enum CdevButton {
    /// Read with kernel edge events.
    Events(EventButton),
    /// Read by sampling a `CdevPin`.
    Polled(PolledButton<CdevPin>),
}

impl ButtonInput for CdevButton {
    fn pressed(&self) -> bool {
        match self {
            CdevButton::Events(b) => b.tracker.pressed(),
            CdevButton::Polled(b) => b.pressed(),
        }
    }

    fn wait_edges(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ButtonEdge>,
    ) -> Result<(), BoardError> {
        match self {
            CdevButton::Events(b) => b.wait_edges(timeout, out),
            CdevButton::Polled(b) => b.wait_edges(timeout, out),
        }
    }

    fn uses_edge_events(&self) -> bool {
        matches!(self, CdevButton::Events(_))
    }
}

/// A button line requested with edge events.
pub struct EventButton {
    handle: LineEventHandle,
    active_low: bool,
    key: String,
    pin: String,
    tracker: EdgeTracker,
}

impl EventButton {
    fn err(&self, what: &str, e: impl std::fmt::Display) -> BoardError {
        BoardError::Gpio {
            key: self.key.clone(),
            pin: self.pin.clone(),
            message: format!("{what}: {e}"),
        }
    }

    fn level(&self) -> Result<bool, BoardError> {
        let value = self
            .handle
            .get_value()
            .map_err(|e| self.err("cannot read the button", e))?;
        Ok((value != 0) != self.active_low)
    }

    fn wait_edges(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ButtonEdge>,
    ) -> Result<(), BoardError> {
        if !poll_readable(&self.handle, timeout)
            .map_err(|e| self.err("waiting for button events failed", e))?
        {
            return Ok(());
        }
        let mut read = 0;
        loop {
            let event = self
                .handle
                .get_event()
                .map_err(|e| self.err("cannot read a button event", e))?;
            read += 1;
            let high = event.event_type() == EventType::RisingEdge;
            let at = clock::instant_of(Duration::from_nanos(event.timestamp()));
            self.tracker.see(high != self.active_low, at, out);
            if !poll_readable(&self.handle, Duration::ZERO)
                .map_err(|e| self.err("waiting for button events failed", e))?
            {
                break;
            }
        }
        if read >= KERNEL_QUEUE {
            // The kernel's queue may have overflowed and dropped the last edge.
            let pressed = self.level()?;
            self.tracker.see(pressed, Instant::now(), out);
        }
        Ok(())
    }
}

/// Waits up to `timeout` for the event file to be readable.
fn poll_readable(handle: &LineEventHandle, timeout: Duration) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: handle.file().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for a file descriptor we own, for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0 && pfd.revents & libc::POLLIN != 0)
}

/// Opens a cdev profile's pins: the button with edge events where the line has them.
pub fn open(profile: &Profile) -> Result<OpenedBoard<CdevButton, CdevPin>, BoardError> {
    open_with(profile, ButtonMode::Events)
}

/// Opens a cdev profile's pins, reading the button as `mode` says.
pub fn open_with(
    profile: &Profile,
    mode: ButtonMode,
) -> Result<OpenedBoard<CdevButton, CdevPin>, BoardError> {
    let mut chips = Chips::default();
    // Check every pin before claiming any.
    let mut lines: Vec<(String, PathBuf, u32, Line)> = Vec::new();
    for (key, pin) in profile.pins() {
        let (path, line) = chips.line(profile, key, pin)?;
        if let Some((other, ..)) = lines
            .iter()
            .find(|(_, p, l, _)| *p == path && *l == line.offset())
        {
            return Err(BoardError::DuplicatePin {
                file: profile.file.clone(),
                key: key.to_owned(),
                other: other.clone(),
                pin: format!("{pin} ({} line {})", path.display(), line.offset()),
            });
        }
        let info = line
            .info()
            .map_err(|e| request_error(profile, key, pin, e))?;
        if info.is_kernel() {
            // GPIOLINE_FLAG_KERNEL: requested by a program or driver (is_used() means "any flag").
            let consumer = match info.consumer() {
                Some(c) if !c.is_empty() => c.to_owned(),
                _ => "the kernel".to_owned(),
            };
            return Err(BoardError::PinBusy {
                file: profile.file.clone(),
                key: key.to_owned(),
                pin: pin.to_string(),
                consumer,
            });
        }
        lines.push((key.to_owned(), path, line.offset(), line));
    }

    let mut lines = lines.into_iter().map(|(_, _, _, line)| line);
    let button_line = lines.next().ok_or_else(|| BoardError::ProfileKey {
        file: profile.file.clone(),
        key: profile.button.pin_key.clone(),
        message: "no button pin".into(),
    })?;
    let button = open_button(profile, &profile.button, &button_line, mode)?;

    let mut leds = Leds::new();
    for led in &profile.leds {
        let mut pins = Vec::new();
        for channel in &led.channels {
            let line = lines.next().ok_or_else(|| BoardError::ProfileKey {
                file: profile.file.clone(),
                key: channel.key.clone(),
                message: "no pin".into(),
            })?;
            // Claimed dark: the off level is high for an active-low LED.
            let handle = line
                .request(LineRequestFlags::OUTPUT, u8::from(led.active_low), CONSUMER)
                .map_err(|e| request_error(profile, &channel.key, &channel.pin, e))?;
            pins.push(
                CdevPin::new(handle)
                    .map_err(|e| request_error(profile, &channel.key, &channel.pin, e))?,
            );
        }
        leds.add(led, pins);
    }
    Ok(OpenedBoard { button, leds })
}

fn open_button(
    profile: &Profile,
    spec: &ButtonSpec,
    line: &Line,
    mode: ButtonMode,
) -> Result<CdevButton, BoardError> {
    let bias = match spec.bias {
        Bias::None => 0,
        Bias::PullUp => BIAS_PULL_UP,
        Bias::PullDown => BIAS_PULL_DOWN,
    };
    let flags = LineRequestFlags::from_bits_retain(LineRequestFlags::INPUT.bits() | bias);
    if mode == ButtonMode::Events {
        match line.events(flags.clone(), EventRequestFlags::BOTH_EDGES, CONSUMER) {
            Ok(handle) => {
                let mut button = EventButton {
                    handle,
                    active_low: spec.active_low,
                    key: spec.pin_key.clone(),
                    pin: spec.pin.to_string(),
                    tracker: EdgeTracker::new(false),
                };
                let pressed = button.level()?;
                button.tracker = EdgeTracker::new(pressed);
                return Ok(CdevButton::Events(button));
            }
            Err(e) => tracing::warn!(
                key = %spec.pin_key,
                pin = %spec.pin,
                error = %e,
                "no edge events for the call button; sampling it every {} ms",
                super::driver::POLL_INTERVAL.as_millis()
            ),
        }
    }
    let handle = line
        .request(flags, 0, CONSUMER)
        .map_err(|e| request_error(profile, &spec.pin_key, &spec.pin, e))?;
    let pin =
        CdevPin::new(handle).map_err(|e| request_error(profile, &spec.pin_key, &spec.pin, e))?;
    Ok(CdevButton::Polled(PolledButton::new(pin, spec)?))
}

fn request_error(profile: &Profile, key: &str, pin: &Pin, e: impl std::fmt::Display) -> BoardError {
    BoardError::PinRequest {
        file: profile.file.clone(),
        key: key.to_owned(),
        pin: pin.to_string(),
        message: e.to_string(),
    }
}

/// The chips opened so far, by the name the profile uses.
#[derive(Default)]
struct Chips {
    open: Vec<(String, PathBuf, Chip)>,
}

impl Chips {
    /// The line `pin` names, checked against its chip.
    fn line(
        &mut self,
        profile: &Profile,
        key: &str,
        pin: &Pin,
    ) -> Result<(PathBuf, Line), BoardError> {
        let Pin::Line { chip: name, line } = pin else {
            return Err(BoardError::ProfileKey {
                file: profile.file.clone(),
                key: key.to_owned(),
                message: format!("{pin} is not a chip line (backend = \"cdev\" needs `line`)"),
            });
        };
        let idx = match self.open.iter().position(|(n, ..)| n == name) {
            Some(i) => i,
            None => {
                // Canonical, so a udev symlink and the device it names are one chip.
                let path = resolve_chip(name)
                    .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
                    .ok_or_else(|| BoardError::ChipNotFound {
                        file: profile.file.clone(),
                        key: key.to_owned(),
                        chip: name.clone(),
                        available: available_chips(),
                    })?;
                let chip = Chip::new(&path).map_err(|e| BoardError::ChipOpen {
                    file: profile.file.clone(),
                    key: key.to_owned(),
                    chip: name.clone(),
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                self.open.push((name.clone(), path, chip));
                self.open.len() - 1
            }
        };
        let (_, path, chip) = &mut self.open[idx];
        if *line >= chip.num_lines() {
            return Err(BoardError::LineOutOfRange {
                file: profile.file.clone(),
                key: key.to_owned(),
                chip: name.clone(),
                line: *line,
                num_lines: chip.num_lines(),
            });
        }
        let l = chip
            .get_line(*line)
            .map_err(|e| request_error(profile, key, pin, e))?;
        Ok((path.clone(), l))
    }
}

/// The device file of the chip a profile names: a path, `gpiochipN`, or a label.
pub fn resolve_chip(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let path = PathBuf::from(name);
        return path.exists().then_some(path);
    }
    let dev = Path::new("/dev").join(name);
    if name.starts_with("gpiochip") && dev.exists() {
        return Some(dev);
    }
    list_chips()
        .into_iter()
        .find(|(_, label)| label == name)
        .map(|(path, _)| path)
}

/// Every `/dev/gpiochipN` with its label, in number order.
pub fn list_chips() -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    let mut chips: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("gpiochip")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    chips.sort();
    chips
        .into_iter()
        .map(|(_, path)| {
            let label = Chip::new(&path)
                .map(|c| c.label().to_owned())
                .unwrap_or_else(|_| "?".to_owned());
            (path, label)
        })
        .collect()
}

fn available_chips() -> String {
    let chips = list_chips();
    if chips.is_empty() {
        return "none, no /dev/gpiochip* exists".to_owned();
    }
    chips
        .iter()
        .map(|(path, label)| format!("{} [{label}]", path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(chip: &str) -> Profile {
        let text = format!(
            "backend = \"cdev\"\nchip = \"{chip}\"\n[buttons.call]\nline = 0\n[leds.status]\nline = 1\n[leds.call]\nline = 2\n"
        );
        Profile::parse("t", "t.toml", &text).unwrap()
    }

    #[test]
    fn a_missing_chip_names_the_key_and_the_chip() {
        for chip in ["no-such-label", "gpiochip99", "/dev/gpiochip99"] {
            let e = open(&profile(chip))
                .err()
                .expect("no such chip")
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "board profile t.toml: buttons.call.line: GPIO chip \"{chip}\" not found (chips here: "
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn chips_resolve_by_path_name_or_label() {
        assert_eq!(resolve_chip("/dev/gpiochip99"), None);
        assert_eq!(resolve_chip("gpiochip99"), None);
        // Whatever chips this machine has resolve by label and by name.
        for (path, label) in list_chips() {
            if label != "?" {
                assert!(resolve_chip(&label).is_some(), "{label}");
            }
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert_eq!(resolve_chip(&name), Some(path));
        }
    }

    #[test]
    fn bias_bits_reach_the_request_flags() {
        let flags =
            LineRequestFlags::from_bits_retain(LineRequestFlags::INPUT.bits() | BIAS_PULL_UP);
        assert_eq!(flags.bits(), 0b10_0001);
    }
}
