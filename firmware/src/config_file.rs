//! Reads the local config file.
//!
//! A config file is a few kilobytes; anything over [`MAX_CONFIG_BYTES`] is
//! refused before it is parsed (and is never read into memory whole: the read
//! stops one byte past the limit), so a runaway file cannot take the box's
//! memory or time. Errors are printed at most [`MAX_REPORTED_ERRORS`] at a
//! time ([`report_lines`]).

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use bridgepoint_core::config::{parse_toml, Config, ConfigError};

use crate::DaemonError;

/// The largest config file read: 256 KiB, a hundred times the size of a
/// fully commented config, and small enough to parse in milliseconds.
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// How many errors are printed for one file; the rest are counted.
pub const MAX_REPORTED_ERRORS: usize = 50;

/// Reads and validates the TOML config at `path`.
pub fn load(path: &Path) -> Result<Config, DaemonError> {
    let text = read_bounded(path, MAX_CONFIG_BYTES).map_err(|source| DaemonError::ReadConfig {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text).map_err(|errors| DaemonError::InvalidConfig {
        path: path.to_owned(),
        errors,
    })
}

/// Reads the UTF-8 text of `path`, refusing a file of more than `limit`
/// bytes without reading more than one byte past it (a FIFO or a device such
/// as `/dev/zero` has no size to check beforehand).
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    let too_big = |size: Option<u64>| {
        let size = match size {
            Some(size) => format!("{size} bytes"),
            None => "larger".to_owned(),
        };
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is {size}, over the limit of {limit} bytes ({} KiB) for a config file",
                limit / 1024
            ),
        )
    };
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a directory",
        ));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(too_big(Some(meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        // It grew while we read, or it is not a regular file.
        return Err(too_big(meta.is_file().then_some(bytes.len() as u64)));
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The lines that report `errors` of the config file `path`: a heading, then
/// at most [`MAX_REPORTED_ERRORS`] errors (`key: message`, control
/// characters escaped so a crafted key cannot forge log lines or colour the
/// terminal), then how many more there are.
pub fn report_lines(path: &Path, errors: &[ConfigError]) -> Vec<String> {
    let mut lines = Vec::with_capacity(errors.len().min(MAX_REPORTED_ERRORS) + 2);
    lines.push(format!(
        "error: {} has {} error(s):",
        path.display(),
        errors.len()
    ));
    for error in errors.iter().take(MAX_REPORTED_ERRORS) {
        lines.push(format!("  {}", escape_controls(&error.to_string())));
    }
    if errors.len() > MAX_REPORTED_ERRORS {
        lines.push(format!(
            "  ... and {} more errors",
            errors.len() - MAX_REPORTED_ERRORS
        ));
    }
    lines
}

/// `text` with control characters (newlines, escape, ...) written as `\u{..}`.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use bridgepoint_testkit::TempDir as Dir;

    fn error(i: usize) -> ConfigError {
        ConfigError {
            key: format!("k{i}"),
            message: "unknown key".into(),
        }
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_its_size_and_the_limit() {
        let dir = Dir::new("big");
        let file = dir.path().join("big.toml");
        std::fs::write(&file, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "cannot read config file {}: the file is 262145 bytes, over the limit of 262144 bytes (256 KiB) for a config file",
                file.display()
            )
        );
    }

    #[test]
    fn a_file_at_the_limit_is_read() {
        let dir = Dir::new("limit");
        let file = dir.path().join("box.toml");
        std::fs::write(&file, vec![b'#'; MAX_CONFIG_BYTES as usize]).unwrap();
        // Read, then refused for what it says, not for its size.
        let e = load(&file).unwrap_err().to_string();
        assert!(e.starts_with("config file"), "{e}");
    }

    #[test]
    fn an_endless_device_is_refused_without_reading_it_all() {
        let e = read_bounded(Path::new("/dev/zero"), 1024)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the file is larger, over the limit of 1024 bytes (1 KiB) for a config file"
        );
    }

    #[test]
    fn a_directory_or_binary_file_is_refused_with_a_reason() {
        let dir = Dir::new("kinds");
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with(": it is a directory"), "{e}");
        let file = dir.path().join("bin.toml");
        std::fs::write(&file, b"device_id = \"\xff\"").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(
            e.ends_with("not UTF-8 text (first bad byte at offset 13)"),
            "{e}"
        );
    }

    #[test]
    fn at_most_fifty_errors_are_reported_then_a_count() {
        let errors: Vec<ConfigError> = (0..5000).map(error).collect();
        let lines = report_lines(Path::new("box.toml"), &errors);
        assert_eq!(lines.len(), 1 + MAX_REPORTED_ERRORS + 1);
        assert_eq!(lines[0], "error: box.toml has 5000 error(s):");
        assert_eq!(lines[1], "  k0: unknown key");
        assert_eq!(lines[50], "  k49: unknown key");
        assert_eq!(lines[51], "  ... and 4950 more errors");
        let few = report_lines(Path::new("box.toml"), &errors[..3]);
        assert_eq!(few.len(), 4, "{few:?}");
    }

    #[test]
    fn control_characters_in_an_error_are_escaped() {
        let errors = vec![ConfigError {
            key: "video.\u{1b}[31mred\nfake".into(),
            message: "unknown key".into(),
        }];
        let lines = report_lines(Path::new("box.toml"), &errors);
        assert_eq!(lines[1], "  video.\\u{1b}[31mred\\u{a}fake: unknown key");
    }
}
