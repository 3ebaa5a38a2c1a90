//! Errors of the board adapters.

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
}
