//! Errors of the board adapters.
//!
//! Every error names what it is about: the socket path, the profile file, the
//! key in that file (`buttons.call.line`, `leds.call.rgb.red`), the pin and
//! the GPIO chip, so whoever installs a box can fix it from the log line alone.

use std::path::PathBuf;

/// Something a board backend could not do.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// The simulated board's socket could not be created.
    #[error("cannot listen on the simulated board's socket {path}: {source}")]
    SimSocket {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The board name matches no backend or profile.
    #[error("unknown board {name:?} (known: {known})")]
    UnknownBoard {
        /// What was configured.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// A board profile file exists but cannot be read.
    #[error("cannot read board profile {path}: {source}")]
    ProfileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A board profile is not valid TOML.
    #[error("board profile {file}: not valid TOML: {message}")]
    ProfileSyntax {
        /// The profile file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key of a board profile is unknown, missing, of the wrong type or out of range.
    #[error("board profile {file}: {key}: {message}")]
    ProfileKey {
        /// The profile file.
        file: String,
        /// The key's dotted path, e.g. `leds.call.rgb.red`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two keys of a board profile name the same pin.
    #[error("board profile {file}: {key}: {pin} is already used by {other}")]
    DuplicatePin {
        /// The profile file.
        file: String,
        /// The later key.
        key: String,
        /// The earlier key naming the same pin.
        other: String,
        /// The pin, e.g. `BCM GPIO17` or `line 3 of chip gpiochip0`.
        pin: String,
    },
    /// The profile needs a backend this build left out.
    #[error("board profile {file}: backend = {backend:?} is not in this build (enable the cargo feature {feature:?} of bridgepoint-board)")]
    BackendNotBuilt {
        /// The profile file.
        file: String,
        /// The backend's name.
        backend: &'static str,
        /// The cargo feature that builds it.
        feature: &'static str,
    },
    /// A pin's GPIO chip does not exist.
    #[error("board profile {file}: {key}: GPIO chip {chip:?} not found (chips here: {available})")]
    ChipNotFound {
        /// The profile file.
        file: String,
        /// The pin's key.
        key: String,
        /// The chip as the profile names it.
        chip: String,
        /// The chips that exist, with their labels.
        available: String,
    },
    /// A pin's GPIO chip exists but cannot be opened.
    #[error("board profile {file}: {key}: cannot open GPIO chip {chip:?} ({path}): {message}")]
    ChipOpen {
        /// The profile file.
        file: String,
        /// The pin's key.
        key: String,
        /// The chip as the profile names it.
        chip: String,
        /// The chip's device file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A pin's line number is beyond the chip's lines.
    #[error("board profile {file}: {key}: line {line} does not exist on GPIO chip {chip:?}, which has lines 0 to {last}", last = .num_lines.saturating_sub(1))]
    LineOutOfRange {
        /// The profile file.
        file: String,
        /// The pin's key.
        key: String,
        /// The chip as the profile names it.
        chip: String,
        /// The line asked for.
        line: u32,
        /// How many lines the chip has.
        num_lines: u32,
    },
    /// A pin is already claimed by another program or driver.
    #[error("board profile {file}: {key}: {pin} is in use by {consumer:?}")]
    PinBusy {
        /// The profile file.
        file: String,
        /// The pin's key.
        key: String,
        /// The pin.
        pin: String,
        /// Who holds it, as the kernel reports.
        consumer: String,
    },
    /// Claiming a pin failed.
    #[error("board profile {file}: {key}: cannot claim {pin}: {message}")]
    PinRequest {
        /// The profile file.
        file: String,
        /// The pin's key.
        key: String,
        /// The pin.
        pin: String,
        /// Why.
        message: String,
    },
    /// The Raspberry Pi GPIO could not be opened at all.
    #[error(
        "board profile {file}: backend = \"rpi\": cannot open the Raspberry Pi GPIO: {message}"
    )]
    RpiUnavailable {
        /// The profile file.
        file: String,
        /// Why (rppal's error, with a hint).
        message: String,
    },
    /// Reading or driving a claimed pin failed while running.
    #[error("{key} ({pin}): {message}")]
    Gpio {
        /// The pin's key in the profile.
        key: String,
        /// The pin.
        pin: String,
        /// Why.
        message: String,
    },
}
