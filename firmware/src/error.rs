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
    /// The config fails a check the daemon makes at start (each names its key).
    #[error("the config fails {} startup check(s): {errors}", errors.0.len())]
    StartupChecks {
        /// Every failed check.
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
    /// The MQTT client cannot be set up (a file named in `[mqtt]`).
    #[error(transparent)]
    Mqtt(bridgepoint_mqtt::MqttSetupError),
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
