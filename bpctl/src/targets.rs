//! Which boxes a command or push is for: device ids as the box checks
//! them, and `push`'s `DEVICE... CONFIG.json` / `--all CONFIG.json`.

use std::collections::BTreeSet;

/// Checks a device id as the box does: 1–64 of `a-z 0-9 - _`.
pub fn check_device_id(id: &str) -> Result<(), String> {
    bridgepoint_proto::validate::check_device_id(id).map_err(|e| format!("device id {id:?} {e}"))
}

/// Splits `push`'s positional arguments into the target devices and the
/// config file: `DEVICE... CONFIG`, or only `CONFIG` with `--all`.
pub fn split_push_targets(all: bool, args: &[String]) -> Result<(Vec<String>, String), String> {
    let Some((config, devices)) = args.split_last() else {
        return Err("push needs a device id and a config file: bpctl push DEVICE CONFIG.json (or --all CONFIG.json)".into());
    };
    if all {
        if !devices.is_empty() {
            return Err(format!(
                "--all pushes to every box: give only the config file, not device ids ({})",
                devices.join(", ")
            ));
        }
        return Ok((Vec::new(), config.clone()));
    }
    if devices.is_empty() {
        return Err(format!(
            "push needs a device id before the config file {config:?}: bpctl push DEVICE CONFIG.json (or --all to push to every box)"
        ));
    }
    let mut seen = BTreeSet::new();
    for device in devices {
        check_device_id(device)?;
        if !seen.insert(device.as_str()) {
            return Err(format!("device {device:?} is named twice"));
        }
    }
    Ok((devices.to_vec(), config.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn device_ids_follow_the_box_rules_and_name_the_id() {
        assert!(check_device_id("lang-son-01").is_ok());
        assert!(check_device_id("Lang")
            .unwrap_err()
            .starts_with("device id \"Lang\" may only hold"));
    }

    #[test]
    fn push_targets_come_before_the_config_file() {
        assert_eq!(
            split_push_targets(false, &strings(&["a", "cfg.json"])).unwrap(),
            (strings(&["a"]), "cfg.json".into())
        );
        assert_eq!(
            split_push_targets(false, &strings(&["a", "b", "cfg.json"])).unwrap(),
            (strings(&["a", "b"]), "cfg.json".into())
        );
        assert_eq!(
            split_push_targets(true, &strings(&["cfg.json"])).unwrap(),
            (vec![], "cfg.json".into())
        );
        assert!(split_push_targets(false, &strings(&["cfg.json"]))
            .unwrap_err()
            .contains("needs a device id"));
        assert!(split_push_targets(true, &strings(&["a", "cfg.json"]))
            .unwrap_err()
            .contains("--all"));
        assert!(split_push_targets(false, &strings(&["Bad!", "cfg.json"]))
            .unwrap_err()
            .contains("device id"));
        assert!(split_push_targets(false, &strings(&["a", "a", "c"]))
            .unwrap_err()
            .contains("twice"));
        assert!(split_push_targets(false, &[]).is_err());
    }
}
