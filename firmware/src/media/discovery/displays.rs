//! Displays: the DRM connectors (`/sys/class/drm/card<N>-<connector>`) and
//! whether a screen is connected to each.

use std::path::Path;

/// A display connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Display {
    /// `card1-HDMI-A-1`.
    pub connector: String,
    /// Whether a screen is connected (`status` reads `connected`).
    pub connected: bool,
}

/// The connectors under `drm` (normally `/sys/class/drm`).
pub fn discover(drm: &Path) -> Vec<Display> {
    let mut out: Vec<Display> = std::fs::read_dir(drm)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let connector = e.file_name().into_string().ok()?;
                    let (card, _) = connector.split_once('-')?;
                    card.strip_prefix("card")?.parse::<u32>().ok()?;
                    let status = std::fs::read_to_string(e.path().join("status")).ok()?;
                    Some(Display {
                        connector,
                        connected: status.trim() == "connected",
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.connector.cmp(&b.connector));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_and_their_status_are_read() {
        let dir = bridgepoint_testkit::TempDir::new("drm");
        for (name, status) in [
            ("card1-HDMI-A-1", "connected\n"),
            ("card1-HDMI-A-2", "disconnected\n"),
        ] {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("status"), status).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("card1")).unwrap();
        let found = discover(dir.path());
        assert_eq!(
            found,
            [
                Display {
                    connector: "card1-HDMI-A-1".into(),
                    connected: true
                },
                Display {
                    connector: "card1-HDMI-A-2".into(),
                    connected: false
                },
            ]
        );
    }
}
