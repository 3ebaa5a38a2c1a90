//! Logging set-up: one human-readable line per event, level from `RUST_LOG`.
//!
//! Colour (ANSI escape codes) only when stderr is a terminal and `NO_COLOR`
//! is not set (<https://no-color.org>: any non-empty value): a log written
//! to a file or a pipe is plain text. Under systemd (`JOURNAL_STREAM` set)
//! stderr is the journal, which adds its own timestamps: lines then carry no
//! timestamp and no colour.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (info by default). Safe to call once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let colour = colour_wanted(
        std::io::stderr().is_terminal(),
        journal,
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = if journal {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}

/// Whether log lines get colour: on a terminal, not the journal, and
/// `NO_COLOR` unset or empty.
fn colour_wanted(terminal: bool, journal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && !journal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour_wanted;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_outside_the_journal_without_no_color() {
        assert!(colour_wanted(true, false, None));
        assert!(colour_wanted(true, false, Some(OsStr::new(""))));
        assert!(!colour_wanted(false, false, None), "file or pipe");
        assert!(!colour_wanted(true, true, None), "journal");
        assert!(
            !colour_wanted(true, false, Some(OsStr::new("1"))),
            "NO_COLOR"
        );
    }
}
