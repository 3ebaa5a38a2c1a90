//! Reads the local config file.

use std::path::Path;

use bridgepoint_core::config::{parse_toml, Config};

use crate::DaemonError;

/// Reads and validates the TOML config at `path`.
pub fn load(path: &Path) -> Result<Config, DaemonError> {
    let text = std::fs::read_to_string(path).map_err(|source| DaemonError::ReadConfig {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text).map_err(|errors| DaemonError::InvalidConfig {
        path: path.to_owned(),
        errors,
    })
}
