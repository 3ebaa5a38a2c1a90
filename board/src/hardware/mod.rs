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
pub fn start(
    profile: &Profile,
    link: BoardLink,
    cancel: CancellationToken,
) -> Result<StartedBoard, BoardError> {
    tracing::info!(board = %profile.name, file = %profile.file, backend = profile.backend.name(), "opening board");
    match profile.backend {
        Backend::Cdev => start_cdev(profile, link, cancel),
        Backend::Rpi => start_rpi(profile, link, cancel),
    }
}

#[cfg(feature = "cdev")]
fn start_cdev(
    profile: &Profile,
    link: BoardLink,
    cancel: CancellationToken,
) -> Result<StartedBoard, BoardError> {
    Ok(driver::spawn(cdev::open(profile)?, link, cancel))
}

#[cfg(not(feature = "cdev"))]
fn start_cdev(
    profile: &Profile,
    _link: BoardLink,
    _cancel: CancellationToken,
) -> Result<StartedBoard, BoardError> {
    Err(not_built(profile))
}

#[cfg(feature = "rpi")]
fn start_rpi(
    profile: &Profile,
    link: BoardLink,
    cancel: CancellationToken,
) -> Result<StartedBoard, BoardError> {
    Ok(driver::spawn(rpi::open(profile)?, link, cancel))
}

#[cfg(not(feature = "rpi"))]
fn start_rpi(
    profile: &Profile,
    _link: BoardLink,
    _cancel: CancellationToken,
) -> Result<StartedBoard, BoardError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoardView;

    fn link() -> BoardLink {
        let (edges, _) = tokio::sync::mpsc::channel(1);
        let (_, view) = tokio::sync::watch::channel(BoardView::default());
        BoardLink { edges, view }
    }

    #[cfg(feature = "cdev")]
    #[tokio::test]
    async fn start_names_the_pin_whose_chip_is_missing() {
        // This machine has no chip labelled bridgepoint-sim (scripts/gpio-sim-test makes one in qemu).
        let dir = std::env::temp_dir();
        let e = crate::start("gpio-sim", &dir, link(), CancellationToken::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "board profile board/profiles/gpio-sim.toml (built in): buttons.call.line: GPIO chip \"bridgepoint-sim\" not found"
            ),
            "{e}"
        );
    }

    #[cfg(not(feature = "cdev"))]
    #[tokio::test]
    async fn start_says_which_feature_a_profile_needs() {
        let dir = std::env::temp_dir();
        let e = crate::start("generic-cdev", &dir, link(), CancellationToken::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("enable the cargo feature \"cdev\" of bridgepoint-board)"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn start_rejects_an_unknown_board_listing_the_known_ones() {
        let dir = std::env::temp_dir();
        let e = crate::start("rpi3", &dir, link(), CancellationToken::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("unknown board \"rpi3\" (known: sim, rpi4, rpi5, generic-cdev, gpio-sim"),
            "{e}"
        );
    }
}
