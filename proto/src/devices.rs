//! What a box found plugged in and what it uses: `bridgepointd probe
//! --json`, and the first telemetry report after the daemon starts.

use serde::{Deserialize, Serialize};

/// One mode of a camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeInfo {
    /// The V4L2 fourcc (`YUYV`, `MJPG`, `H264`, ...).
    pub format: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frame rates (`30`, `30000/1001`).
    pub fps: Vec<String>,
}

/// A camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraInfo {
    /// `/dev/videoN`.
    pub device: String,
    /// Its name.
    pub name: String,
    /// Its driver.
    pub driver: String,
    /// Its bus.
    pub bus: String,
    /// Its modes.
    pub modes: Vec<ModeInfo>,
}

/// A video node that is not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedNodeInfo {
    /// `/dev/videoN`.
    pub device: String,
    /// Its driver.
    pub driver: String,
    /// Why not.
    pub reason: String,
}

/// A microphone (ALSA capture device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrophoneInfo {
    /// The stable ALSA name (`plughw:CARD=<id>,DEV=<n>`).
    pub device: String,
    /// The card's name.
    pub name: String,
    /// The card's driver.
    pub driver: String,
    /// The channel counts it can capture (`[min, max]`), when known.
    pub channels: Option<[u32; 2]>,
}

/// A speaker (ALSA playback device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerInfo {
    /// The stable ALSA name.
    pub device: String,
    /// The card's name.
    pub name: String,
}

/// A display connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayInfo {
    /// `card1-HDMI-A-1`.
    pub connector: String,
    /// Whether a screen is connected.
    pub connected: bool,
}

/// A GPIO chip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpioChipInfo {
    /// `/dev/gpiochipN`.
    pub path: String,
    /// The kernel's label.
    pub label: String,
    /// Its number of lines.
    pub lines: u32,
}

/// What the box would use for one role, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    /// What it uses (`/dev/video0 MJPG 1280x720@30`); `null` when nothing.
    #[serde(rename = "use")]
    pub uses: Option<String>,
    /// Why (or why nothing).
    pub why: String,
}

/// What the box would use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenDevices {
    /// The camera and its mode.
    pub camera: Chosen,
    /// The microphone and its channels.
    pub microphone: Chosen,
    /// The H.264 encoder.
    pub encoder: Chosen,
}

/// Everything found and chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// Cameras.
    pub cameras: Vec<CameraInfo>,
    /// Video nodes that are not cameras the box can use.
    pub skipped_video_nodes: Vec<SkippedNodeInfo>,
    /// Microphones.
    pub microphones: Vec<MicrophoneInfo>,
    /// Speakers.
    pub speakers: Vec<SpeakerInfo>,
    /// Displays.
    pub displays: Vec<DisplayInfo>,
    /// GPIO chips.
    pub gpio_chips: Vec<GpioChipInfo>,
    /// What the box would use, and why.
    pub chosen: ChosenDevices,
}

lenient_payload!(DeviceSummary, "devices");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_round_trips_and_names_use() {
        let s = DeviceSummary {
            cameras: vec![CameraInfo {
                device: "/dev/video0".into(),
                name: "HD Webcam".into(),
                driver: "uvcvideo".into(),
                bus: "usb-1".into(),
                modes: vec![ModeInfo {
                    format: "MJPG".into(),
                    width: 1280,
                    height: 720,
                    fps: vec!["30".into()],
                }],
            }],
            skipped_video_nodes: vec![],
            microphones: vec![],
            speakers: vec![],
            displays: vec![],
            gpio_chips: vec![],
            chosen: ChosenDevices {
                camera: Chosen {
                    uses: Some("/dev/video0 MJPG 1280x720@30".into()),
                    why: "x".into(),
                },
                microphone: Chosen {
                    uses: None,
                    why: "no microphone".into(),
                },
                encoder: Chosen {
                    uses: Some("x264enc".into()),
                    why: "y".into(),
                },
            },
        };
        let text = s.to_json();
        assert!(
            text.contains(r#""use":"/dev/video0 MJPG 1280x720@30""#),
            "{text}"
        );
        assert_eq!(DeviceSummary::parse(text.as_bytes()).unwrap(), s);
    }
}
