//! Logging set-up: one human-readable line per event, level from `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (info by default). Safe to call once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
