//! Errors of the daemon library.

use std::path::PathBuf;

use bridgepoint_core::config::ConfigErrors;

use crate::media::PipelineError;

/// Why the daemon could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file has errors (each names its key).
    #[error("config file {path} has {} error(s): {errors}", errors.0.len())]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// Every error.
        errors: ConfigErrors,
    },
    /// The data directory could not be created.
    #[error("cannot create data_dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file named in `[mqtt]` could not be read.
    #[error("{key}: cannot read {path}: {source}")]
    MqttFile {
        /// The config key, e.g. `mqtt.ca_file`.
        key: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The durable store could not be opened or written.
    #[error(transparent)]
    Store(#[from] bridgepoint_store::StoreError),
    /// The board could not be opened.
    #[error(transparent)]
    Board(#[from] bridgepoint_board::BoardError),
    /// GStreamer could not be initialised.
    #[error(transparent)]
    Media(#[from] PipelineError),
}
