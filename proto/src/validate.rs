//! Rules that the box and central IT's tool both check, written once.
//!
//! Each returns the problem without the name of the key or flag, so the box
//! can say `args.url: must name a .raucb bundle, ...` and bpctl `--url ...`.

use std::ops::RangeInclusive;

/// The largest integer every JSON reader keeps exactly (2^53 − 1): config
/// versions and command counters stay at or below it.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How long `identify` may blink, in seconds.
pub const IDENTIFY_SECONDS: RangeInclusive<u32> = 1..=600;

/// How long `identify` blinks when `args.seconds` is not given.
pub const DEFAULT_IDENTIFY_SECONDS: u32 = 10;

/// The longest command id.
pub const MAX_COMMAND_ID_CHARS: usize = 128;

/// A device id: 1 to 64 of `a-z 0-9 - _` (it is part of MQTT topics).
pub fn check_device_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 {
        return Err(format!("must be 1 to 64 characters, got {}", id.len()));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "may only hold lowercase letters, digits, '-' and '_', found {bad:?} in {id:?}"
        ));
    }
    Ok(())
}

/// A topic root: a topic prefix without wildcards, NUL or a leading or
/// trailing `/`.
pub fn check_topic_root(root: &str) -> Result<(), String> {
    let bad = root.is_empty()
        || root.starts_with('/')
        || root.ends_with('/')
        || root.contains(['+', '#', '\0']);
    if bad {
        Err(format!(
            "must be a topic prefix without wildcards or leading/trailing '/', got {root:?}"
        ))
    } else {
        Ok(())
    }
}

/// The URL of an update bundle: http(s), no white space, at most 2048
/// characters, a path ending in `.raucb`.
pub fn check_bundle_url(url: &str) -> Result<(), String> {
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
        return Err(format!("must be an http(s) URL of a bundle, got {url:?}"));
    }
    let path = url.split(['?', '#']).next().unwrap_or("");
    if !path.ends_with(".raucb") {
        return Err(format!("must name a .raucb bundle, got {url:?}"));
    }
    Ok(())
}

/// An `identify` duration.
pub fn check_identify_seconds(seconds: u64) -> Result<u32, String> {
    u32::try_from(seconds)
        .ok()
        .filter(|s| IDENTIFY_SECONDS.contains(s))
        .ok_or_else(|| {
            format!(
                "must be {} to {}, got {seconds}",
                IDENTIFY_SECONDS.start(),
                IDENTIFY_SECONDS.end()
            )
        })
}

/// A command id: 1 to 128 characters.
pub fn check_command_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if n == 0 || n > MAX_COMMAND_ID_CHARS {
        return Err(format!(
            "expected a string of 1 to {MAX_COMMAND_ID_CHARS} characters, got {n} characters"
        ));
    }
    Ok(())
}

/// A config version or command counter: 1 to [`MAX_SAFE_INTEGER`].
pub fn check_sequence_number(n: u64) -> Result<(), String> {
    if (1..=MAX_SAFE_INTEGER).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "must be an integer from 1 to {MAX_SAFE_INTEGER}, got {n}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_topic_safe() {
        assert!(check_device_id("lang-son-01").is_ok());
        assert!(check_device_id("a_b").is_ok());
        assert!(check_device_id("").unwrap_err().contains("1 to 64"));
        assert!(check_device_id(&"a".repeat(65))
            .unwrap_err()
            .contains("1 to 64"));
        assert!(check_device_id("Lang").unwrap_err().contains("'L'"));
        assert!(check_device_id("a/b").unwrap_err().contains("'/'"));
        assert!(check_device_id("+").is_err());
    }

    #[test]
    fn topic_roots_have_no_wildcards_or_outer_slashes() {
        assert!(check_topic_root("bridgepoint/v1").is_ok());
        for bad in ["", "/a", "a/", "a/+", "a/#", "a\0b"] {
            assert!(check_topic_root(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bundle_urls_are_http_and_name_a_bundle() {
        assert!(check_bundle_url("https://fw.example/bp-1.2.raucb?token=x").is_ok());
        assert!(check_bundle_url("http://10.0.0.1/x.raucb#frag").is_ok());
        assert!(check_bundle_url("file:///tmp/x.raucb")
            .unwrap_err()
            .starts_with("must be an http(s) URL"));
        assert!(check_bundle_url("https://x/a b.raucb").is_err());
        assert!(check_bundle_url("https://fw.example/x.tar")
            .unwrap_err()
            .starts_with("must name a .raucb"));
        assert!(check_bundle_url(&format!("https://x/{}.raucb", "a".repeat(2100))).is_err());
    }

    #[test]
    fn identify_seconds_sequence_numbers_and_ids_have_bounds() {
        assert_eq!(check_identify_seconds(600), Ok(600));
        assert!(check_identify_seconds(0).unwrap_err().contains("1 to 600"));
        assert!(check_identify_seconds(u64::MAX).is_err());
        assert!(check_sequence_number(1).is_ok());
        assert!(check_sequence_number(MAX_SAFE_INTEGER).is_ok());
        assert!(check_sequence_number(0).is_err());
        assert!(check_sequence_number(1 << 63)
            .unwrap_err()
            .contains("9007199254740991"));
        assert!(check_command_id("x").is_ok());
        assert!(check_command_id("").is_err());
        assert!(check_command_id(&"é".repeat(128)).is_ok());
        assert!(check_command_id(&"a".repeat(129)).is_err());
    }
}
