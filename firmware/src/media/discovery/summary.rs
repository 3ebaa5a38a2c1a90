//! Everything discovery found and what the box would use, as the protocol's
//! [`DeviceSummary`]: `bridgepointd probe` prints it, the daemon logs it and
//! sends it once in its first telemetry report.

use bridgepoint_core::capture::camera::{choose_camera, PixelFormat};
use bridgepoint_core::capture::microphone::choose_microphone;
use bridgepoint_core::config::{AudioConfig, VideoConfig, VideoSource};
use bridgepoint_proto::devices::{
    CameraInfo, Chosen, ChosenDevices, DeviceSummary, DisplayInfo, GpioChipInfo, MicrophoneInfo,
    ModeInfo, SkippedNodeInfo, SpeakerInfo,
};

use super::Devices;
use crate::media::plan::choose_encoder;

/// The summary of `devices` for this video and audio config.
pub fn summarize(devices: &Devices, video: &VideoConfig, audio: &AudioConfig) -> DeviceSummary {
    let camera = match &video.source {
        VideoSource::Test => Chosen {
            uses: Some("the test picture".into()),
            why: "video.source = test".into(),
        },
        source => {
            let wanted = match source {
                VideoSource::V4l2(dev) => Some(dev.display().to_string()),
                _ => None,
            };
            match choose_camera(&devices.video.cameras, wanted.as_deref(), video) {
                Ok(c) => Chosen {
                    uses: Some(format!(
                        "{} {} {}x{}@{}",
                        c.device, c.format, c.width, c.height, c.rate
                    )),
                    why: c.why,
                },
                Err(why) => Chosen { uses: None, why },
            }
        }
    };
    let microphone =
        match choose_microphone(&devices.sound.microphones, &audio.source, audio.channel) {
            Ok(Some(m)) => Chosen {
                uses: Some(m.device.clone()),
                why: m.why,
            },
            Ok(None) => Chosen {
                uses: Some("the test tone".into()),
                why: "audio.source = test".into(),
            },
            Err(why) => Chosen { uses: None, why },
        };
    let encoder = match choose_encoder(video.encoder) {
        Ok((plan, why)) => Chosen {
            uses: plan.factory().map(str::to_owned),
            why,
        },
        Err(e) => Chosen {
            uses: None,
            why: e.to_string(),
        },
    };
    DeviceSummary {
        cameras: devices
            .video
            .cameras
            .iter()
            .map(|c| CameraInfo {
                device: c.device.clone(),
                name: c.name.clone(),
                driver: c.driver.clone(),
                bus: c.bus.clone(),
                modes: c
                    .modes
                    .iter()
                    .map(|m| ModeInfo {
                        format: m.format.fourcc().to_owned(),
                        width: m.width,
                        height: m.height,
                        fps: m.rates.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
            })
            .collect(),
        skipped_video_nodes: devices
            .video
            .skipped
            .iter()
            .map(|s| SkippedNodeInfo {
                device: s.device.clone(),
                driver: s.driver.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        microphones: devices
            .sound
            .microphones
            .iter()
            .map(|m| MicrophoneInfo {
                device: m.alsa_name(),
                name: m.name.clone(),
                driver: m.driver.clone(),
                channels: m.channels.map(|(a, b)| [a, b]),
            })
            .collect(),
        speakers: devices
            .sound
            .speakers
            .iter()
            .map(|s| SpeakerInfo {
                device: format!("plughw:CARD={},DEV={}", s.card_id, s.device),
                name: s.name.clone(),
            })
            .collect(),
        displays: devices
            .displays
            .iter()
            .map(|d| DisplayInfo {
                connector: d.connector.clone(),
                connected: d.connected,
            })
            .collect(),
        gpio_chips: devices
            .gpio_chips
            .iter()
            .map(|g| GpioChipInfo {
                path: g.path.clone(),
                label: g.label.clone(),
                lines: g.lines,
            })
            .collect(),
        chosen: ChosenDevices {
            camera,
            microphone,
            encoder,
        },
    }
}

/// Whether the box captures this format (raw, MJPEG or H.264): the text
/// lists only these, a camera like vivid offers dozens of others.
fn usable_format(fourcc: &str) -> bool {
    let format = PixelFormat::from_fourcc(fourcc);
    format.is_raw() || matches!(format, PixelFormat::Mjpeg | PixelFormat::H264)
}

/// The summary as text for a person: what was found, then what is used.
pub fn render(s: &DeviceSummary) -> String {
    let mut out = String::new();
    let mut line = |t: String| {
        out.push_str(&t);
        out.push('\n');
    };
    line(format!("cameras ({}):", s.cameras.len()));
    for c in &s.cameras {
        line(format!(
            "  {}  {} ({}, {})",
            c.device, c.name, c.driver, c.bus
        ));
        let (usable, other): (Vec<_>, Vec<_>) =
            c.modes.iter().partition(|m| usable_format(&m.format));
        for m in usable {
            line(format!(
                "      {} {}x{} @ {} fps",
                m.format,
                m.width,
                m.height,
                m.fps.join(", ")
            ));
        }
        if !other.is_empty() {
            let mut formats: Vec<&str> = other.iter().map(|m| m.format.as_str()).collect();
            formats.dedup();
            let shown = formats
                .iter()
                .take(8)
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let more = if formats.len() > 8 { " ..." } else { "" };
            line(format!(
                "      and {} mode(s) in {} format(s) the box does not capture: {shown}{more} (all in --json)",
                other.len(),
                formats.len()
            ));
        }
    }
    for n in &s.skipped_video_nodes {
        line(format!(
            "  {}  not used ({}): {}",
            n.device, n.driver, n.reason
        ));
    }
    line(format!("microphones ({}):", s.microphones.len()));
    for m in &s.microphones {
        let channels = m.channels.map_or("channels unknown".to_owned(), |[a, b]| {
            if a == b {
                format!("{a} channel(s)")
            } else {
                format!("{a} to {b} channels")
            }
        });
        line(format!(
            "  {}  {} ({}, {channels})",
            m.device, m.name, m.driver
        ));
    }
    line(format!("speakers ({}):", s.speakers.len()));
    for sp in &s.speakers {
        line(format!("  {}  {}", sp.device, sp.name));
    }
    line(format!("displays ({}):", s.displays.len()));
    for d in &s.displays {
        line(format!(
            "  {}  {}",
            d.connector,
            if d.connected {
                "connected"
            } else {
                "nothing connected"
            }
        ));
    }
    line(format!("GPIO chips ({}):", s.gpio_chips.len()));
    for g in &s.gpio_chips {
        line(format!("  {}  {} ({} lines)", g.path, g.label, g.lines));
    }
    line("the box would use:".into());
    for (role, chosen) in [
        ("camera", &s.chosen.camera),
        ("microphone", &s.chosen.microphone),
        ("encoder", &s.chosen.encoder),
    ] {
        match &chosen.uses {
            Some(u) => line(format!("  {role}: {u}\n      why: {}", chosen.why)),
            None => line(format!("  {role}: NONE: {}", chosen.why)),
        }
    }
    out
}
