//! The Bridgepoint box daemon, as a library the thin binaries call.
//!
//! - [`config_file`]: reads the local TOML config from disk.
//! - [`startup_checks`]: the daemon's checks at start, shared with `check-config`.
//! - [`media`]: the GStreamer adapter: builds the SRTP pipeline, runs it,
//!   turns bus messages into typed errors naming the element.
//! - [`daemon`]: the main loop that feeds the sans-IO core
//!   (`bridgepoint_core::controller::BoxCore`) with board, pipeline and timer
//!   events and carries out what it decides.
//! - [`control`]: the MQTT link to central IT.
//! - [`logging`]: `tracing` set-up.
//! - [`service`]: the systemd notify protocol (READY, WATCHDOG, STATUS).
//! - [`update`]: the RAUC adapter (install bundles, mark slots good/bad).
//! - [`error`]: the crate's error type.

pub mod config_file;
pub mod control;
pub mod daemon;
pub mod error;
pub mod logging;
pub mod media;
pub mod reboot;
pub mod service;
pub mod startup_checks;
pub mod update;

pub use error::DaemonError;
