//! Logging set-up: one human-readable line per event, level from `RUST_LOG`.
//!
//! Under systemd (`JOURNAL_STREAM` set) stderr is the journal, which adds
//! its own timestamps: lines then carry no timestamp and no colour.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (info by default). Safe to call once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let no_colour = journal || std::env::var_os("NO_COLOR").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(!no_colour)
        .with_writer(std::io::stderr);
    let _ = if journal {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}
