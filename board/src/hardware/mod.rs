//! Real GPIO: the call button and LEDs of a physical board.
//!
//! [`driver`] is the backend-independent part, generic over the
//! `embedded-hal` 1.0 digital traits: it turns a button input into
//! [`ButtonEdge`](crate::ButtonEdge)s for the core and drives LED outputs
//! from the patterns the core publishes. The backends only open pins:
//!
//! - [`cdev`] (cargo feature `cdev`): any board with `/dev/gpiochipN`,
//!   through linux-embedded-hal's `CdevPin`, with kernel line events for the
//!   button.
//! - [`rpi`] (cargo feature `rpi`): Raspberry Pi 4 and 5 through rppal, with
//!   rppal's interrupts for the button.
//!
//! A [`Profile`] says which backend and which pins; [`start`] opens them all
//! (failing with an error naming the pin if one is missing or busy) and
//! starts the driver.

#[cfg(any(feature = "cdev", feature = "rpi"))]
mod clock;
pub mod driver;

#[cfg(feature = "cdev")]
pub mod cdev;
#[cfg(feature = "rpi")]
pub mod rpi;

use tokio_util::sync::CancellationToken;

use crate::profile::{Backend, Profile};
use crate::{BoardError, BoardLink, StartedBoard};

/// Opens the profile's pins with its backend and starts serving them.
/// Must be called inside a tokio runtime.
pub fn start(profile: &Profile, link: BoardLink, cancel: CancellationToken) -> Result<StartedBoard, BoardError> {
    tracing::info!(board = %profile.name, file = %profile.file, backend = profile.backend.name(), "opening board");
    match profile.backend {
        Backend::Cdev => start_cdev(profile, link, cancel),
        Backend::Rpi => start_rpi(profile, link, cancel),
    }
}

#[cfg(feature = "cdev")]
fn start_cdev(profile: &Profile, link: BoardLink, cancel: CancellationToken) -> Result<StartedBoard, BoardError> {
    Ok(driver::spawn(cdev::open(profile)?, link, cancel))
}

#[cfg(not(feature = "cdev"))]
fn start_cdev(profile: &Profile, _link: BoardLink, _cancel: CancellationToken) -> Result<StartedBoard, BoardError> {
    Err(not_built(profile))
}

#[cfg(feature = "rpi")]
fn start_rpi(profile: &Profile, link: BoardLink, cancel: CancellationToken) -> Result<StartedBoard, BoardError> {
    Ok(driver::spawn(rpi::open(profile)?, link, cancel))
}

#[cfg(not(feature = "rpi"))]
fn start_rpi(profile: &Profile, _link: BoardLink, _cancel: CancellationToken) -> Result<StartedBoard, BoardError> {
    Err(not_built(profile))
}

#[cfg(not(all(feature = "cdev", feature = "rpi")))]
fn not_built(profile: &Profile) -> BoardError {
    BoardError::BackendNotBuilt {
        file: profile.file.clone(),
        backend: profile.backend.name(),
        feature: profile.backend.feature(),
    }
}
