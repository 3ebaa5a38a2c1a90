//! Where the hub's return media plays in the room: which speaker and which
//! display, from the config and what discovery found. Decided here, with
//! the reason, like the camera and microphone; no IO.

use crate::config::{DisplaySink, SpeakerSink};

/// An ALSA playback device discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerDevice {
    /// The card's id (`vc4hdmi0`, `Headphones`, a USB speakerphone's): stable.
    pub card_id: String,
    /// The card's long name.
    pub name: String,
    /// The card's driver (`USB-Audio`, ...).
    pub driver: String,
    /// The PCM device number on the card.
    pub device: u32,
}

impl SpeakerDevice {
    /// The stable ALSA name, through the plug layer.
    pub fn alsa_name(&self) -> String {
        format!("plughw:CARD={},DEV={}", self.card_id, self.device)
    }

    /// 0 for USB (a speakerphone next to the microphone), 1 for HDMI (the
    /// screen's speakers), 2 for anything else (the Pi's headphone jack).
    fn rank(&self) -> u8 {
        let n = format!("{} {}", self.card_id, self.name).to_lowercase();
        if self.driver == "USB-Audio" {
            0
        } else if n.contains("hdmi") {
            1
        } else {
            2
        }
    }
}

/// The speaker the box plays the hub's sound on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakerChoice {
    /// `alsasink` on this device.
    Alsa {
        /// The ALSA device name.
        device: String,
        /// Why.
        why: String,
    },
    /// Nothing to play on: a fake sink that plays in real time.
    Fake {
        /// Why.
        why: String,
    },
}

/// Chooses the speaker: the configured ALSA device, or for `auto` a USB
/// device first, then HDMI, then any; none found plays into a fake sink.
pub fn choose_speaker(sink: &SpeakerSink, found: &[SpeakerDevice]) -> SpeakerChoice {
    match sink {
        SpeakerSink::Fake => SpeakerChoice::Fake {
            why: "speaker.sink = \"fake\"".to_owned(),
        },
        SpeakerSink::Alsa(device) => SpeakerChoice::Alsa {
            device: device.clone(),
            why: format!("speaker.sink = \"alsa:{device}\""),
        },
        SpeakerSink::Auto => match found.iter().min_by_key(|s| s.rank()) {
            Some(s) => SpeakerChoice::Alsa {
                device: s.alsa_name(),
                why: format!(
                    "{} ({}): {}",
                    s.alsa_name(),
                    s.name,
                    [
                        "a USB device",
                        "an HDMI output",
                        "the only kind of output found"
                    ][usize::from(s.rank())]
                ),
            },
            None => SpeakerChoice::Fake {
                why: "no playback device found (speaker.sink = \"auto\")".to_owned(),
            },
        },
    }
}

/// The display the box shows the hub's picture on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayChoice {
    /// `kmssink`.
    Kms {
        /// Why.
        why: String,
    },
    /// Nothing to show on: a fake sink that shows in real time.
    Fake {
        /// Why.
        why: String,
    },
}

/// Chooses the display: KMS when configured, or for `auto` when a screen is
/// connected (`connected`: the connectors discovery found with a screen).
pub fn choose_display(sink: DisplaySink, connected: &[String]) -> DisplayChoice {
    match (sink, connected.first()) {
        (DisplaySink::Kms, _) => DisplayChoice::Kms {
            why: "display.sink = \"kms\"".to_owned(),
        },
        (DisplaySink::Fake, _) => DisplayChoice::Fake {
            why: "display.sink = \"fake\"".to_owned(),
        },
        (DisplaySink::Auto, Some(connector)) => DisplayChoice::Kms {
            why: format!("a screen is connected to {connector}"),
        },
        (DisplaySink::Auto, None) => DisplayChoice::Fake {
            why: "no screen connected (display.sink = \"auto\")".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(card_id: &str, name: &str, driver: &str) -> SpeakerDevice {
        SpeakerDevice {
            card_id: card_id.into(),
            name: name.into(),
            driver: driver.into(),
            device: 0,
        }
    }

    #[test]
    fn auto_prefers_usb_then_hdmi_then_anything() {
        let jack = device("Headphones", "bcm2835 Headphones", "bcm2835_headpho");
        let hdmi = device("vc4hdmi0", "vc4-hdmi-0", "vc4-hdmi");
        let usb = device("Jabra", "Jabra SPEAK 510 USB", "USB-Audio");
        let pick = |found: &[SpeakerDevice]| match choose_speaker(&SpeakerSink::Auto, found) {
            SpeakerChoice::Alsa { device, .. } => device,
            SpeakerChoice::Fake { why } => format!("fake: {why}"),
        };
        assert_eq!(
            pick(&[jack.clone(), hdmi.clone(), usb]),
            "plughw:CARD=Jabra,DEV=0"
        );
        assert_eq!(pick(&[jack.clone(), hdmi]), "plughw:CARD=vc4hdmi0,DEV=0");
        assert_eq!(pick(&[jack]), "plughw:CARD=Headphones,DEV=0");
        assert_eq!(
            pick(&[]),
            "fake: no playback device found (speaker.sink = \"auto\")"
        );
    }

    #[test]
    fn a_configured_speaker_is_taken_as_it_is() {
        assert_eq!(
            choose_speaker(&SpeakerSink::Alsa("hw:2,0".into()), &[]),
            SpeakerChoice::Alsa {
                device: "hw:2,0".into(),
                why: "speaker.sink = \"alsa:hw:2,0\"".into()
            }
        );
        assert!(matches!(
            choose_speaker(&SpeakerSink::Fake, &[device("a", "b", "USB-Audio")]),
            SpeakerChoice::Fake { .. }
        ));
    }

    #[test]
    fn auto_shows_on_kms_only_with_a_connected_screen() {
        assert!(matches!(
            choose_display(DisplaySink::Auto, &["card1-HDMI-A-1".into()]),
            DisplayChoice::Kms { .. }
        ));
        assert_eq!(
            choose_display(DisplaySink::Auto, &[]),
            DisplayChoice::Fake {
                why: "no screen connected (display.sink = \"auto\")".into()
            }
        );
        assert!(matches!(
            choose_display(DisplaySink::Kms, &[]),
            DisplayChoice::Kms { .. }
        ));
        assert!(matches!(
            choose_display(DisplaySink::Fake, &["x".into()]),
            DisplayChoice::Fake { .. }
        ));
    }
}
