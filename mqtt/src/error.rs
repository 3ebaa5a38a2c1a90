//! Why a client could not be set up.

use std::path::PathBuf;

/// A client setting that cannot be used. The label names the setting as the
/// user wrote it (`mqtt.ca_file` on the box, `--ca-file` for bpctl).
#[derive(Debug, thiserror::Error)]
pub enum MqttSetupError {
    /// A certificate or key file cannot be read.
    #[error("{label} {path}: cannot read it: {source}")]
    Unreadable {
        /// The setting.
        label: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no PEM block of the expected kind.
    #[error("{label} {path}: no PEM {what} in it (expected a -----BEGIN ...----- block)")]
    NotPem {
        /// The setting.
        label: String,
        /// The file.
        path: PathBuf,
        /// What was expected (certificate, private key).
        what: &'static str,
    },
}
