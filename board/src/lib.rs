//! Board adapters: the box's call button and status LEDs.
//!
//! A board turns the physical (or simulated) button into [`ButtonEdge`]s
//! stamped with the time they were seen, and shows the LED patterns the core
//! decided, published in a [`BoardView`]. Deciding what an edge means
//! (debounce, short/long press) and which pattern each LED shows is the
//! core's job (`bridgepoint_core::button`, `bridgepoint_core::led`); boards
//! only do IO.
//!
//! Backends:
//! - [`sim`]: the simulated board, a line protocol on a Unix socket, for
//!   development, demos and tests.
//! - [`hardware`]: real GPIO through the `embedded-hal` traits, with the
//!   `cdev` (any `/dev/gpiochipN`) and `rpi` (rppal) backends, picked by a
//!   board [`profile`] (`board = "rpi4"`, `"rpi5"`, `"generic-cdev"`,
//!   `"gpio-sim"`, or a profile file of the installer's own).

pub mod error;
pub mod hardware;
pub mod profile;
pub mod sim;
pub mod view;

use std::path::Path;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

pub use error::BoardError;
pub use view::{BoardView, ReturnView, ScreenState, SendView};

/// The call button's raw level changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonEdge {
    /// Whether the button is now down.
    pub pressed: bool,
    /// When the board saw it.
    pub at: Instant,
}

/// The channels between a board backend and the daemon's core loop.
#[derive(Debug, Clone)]
pub struct BoardLink {
    /// Button edges, board to core.
    pub edges: tokio::sync::mpsc::Sender<ButtonEdge>,
    /// What the LEDs must show and what state the box is in, core to board.
    pub view: tokio::sync::watch::Receiver<BoardView>,
}

/// A board backend that is up and running.
#[derive(Debug)]
pub struct StartedBoard {
    /// The backend's task; it ends when the cancellation token fires.
    pub task: tokio::task::JoinHandle<()>,
    /// Whether the call button was down when the board was opened (a
    /// power-up press, which may become a factory reset).
    pub button_down_at_start: bool,
}

/// Opens the board named in the config and starts serving it.
///
/// `board` is `sim` or the name of a board profile: a file `<board>.toml` in
/// [`profile::search_dirs`] or one of the built-in profiles
/// ([`profile::BUILTIN`]). Opening happens before this returns, so a bad
/// profile, a missing socket directory, GPIO chip or line, or a pin held by
/// another program fails here with an error naming it, before the box claims
/// to be up. Must be called inside a tokio runtime.
pub fn start(
    board: &str,
    data_dir: &Path,
    link: BoardLink,
    cancel: CancellationToken,
) -> Result<StartedBoard, BoardError> {
    match board {
        "sim" => {
            let sim = sim::SimBoard::bind(&data_dir.join("board.sock"), link)?;
            Ok(StartedBoard {
                task: tokio::spawn(sim.run(cancel)),
                button_down_at_start: false,
            })
        }
        other => {
            let profile = profile::load(other, &profile::search_dirs(data_dir))?;
            hardware::start(&profile, link, cancel)
        }
    }
}
