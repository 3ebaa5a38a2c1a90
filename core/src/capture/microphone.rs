//! Which microphone the box records, and which of its channels make the
//! mono signal, decided from what discovery found (the ALSA capture
//! devices) and the config. Pure: the caller enumerates the devices.
//!
//! `audio.source = "auto"` prefers a USB capture device (the room's
//! microphone), then any other capture device that is not an HDMI or
//! headphone output, lowest card first; card numbers are not stable across
//! boots, so the device is named by the card's id (`plughw:CARD=<id>,DEV=<n>`).
//! `audio.channel = "auto"` mixes devices that can give one or two channels
//! and takes channel 0 of those that give more only: microphone arrays (a ReSpeaker: processed audio on
//! channel 0, raw microphones on 1–4, the playback reference on 5) would mix
//! the echo reference back in.

use crate::config::{AudioChannel, AudioSource};

/// An ALSA capture device discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Microphone {
    /// The card's number (not stable across boots).
    pub card: u32,
    /// The card's id (`Loopback`, `ArrayUAC10`): stable.
    pub card_id: String,
    /// The card's long name.
    pub name: String,
    /// The card's driver (`USB-Audio`, `Loopback`, ...).
    pub driver: String,
    /// The PCM device number on the card.
    pub device: u32,
    /// The channel counts it can capture, when known.
    pub channels: Option<(u32, u32)>,
}

impl Microphone {
    /// The stable ALSA name, through the plug layer (format and rate conversion).
    pub fn alsa_name(&self) -> String {
        format!("plughw:CARD={},DEV={}", self.card_id, self.device)
    }

    /// A USB audio device.
    pub fn is_usb(&self) -> bool {
        self.driver == "USB-Audio"
    }

    /// An output's capture side that is no microphone (HDMI, the Pi's
    /// headphone jack).
    pub fn is_output_card(&self) -> bool {
        let n = format!("{} {} {}", self.card_id, self.name, self.driver).to_lowercase();
        ["hdmi", "headphone", "bcm2835", "vc4"]
            .iter()
            .any(|w| n.contains(w))
    }
}

/// How the capture channels become the mono signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelPick {
    /// Every captured channel, mixed.
    Mix,
    /// Only this one (0-based).
    Only(u32),
}

/// The microphone, how many channels to capture, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicrophoneChoice {
    /// The ALSA device name.
    pub device: String,
    /// How many channels to capture (`None`: what the device gives).
    pub channels: Option<u32>,
    /// Which of them make the mono signal.
    pub pick: ChannelPick,
    /// What was asked and what was chosen.
    pub why: String,
}

/// `min`: the fewest channels the device captures. A device that cannot
/// capture fewer than three is a microphone array.
fn pick_for(channel: AudioChannel, min: Option<u32>) -> ChannelPick {
    match channel {
        AudioChannel::Only(n) => ChannelPick::Only(n),
        AudioChannel::Mix => ChannelPick::Mix,
        AudioChannel::Auto => match min {
            Some(m) if m > 2 => ChannelPick::Only(0),
            _ => ChannelPick::Mix,
        },
    }
}

/// Chooses the microphone for `source` (None for a test tone) among
/// `microphones`, with the channel(s) `channel` asks for.
pub fn choose_microphone(
    microphones: &[Microphone],
    source: &AudioSource,
    channel: AudioChannel,
) -> Result<Option<MicrophoneChoice>, String> {
    let named = |device: String, channels: Option<u32>, pick, why: String| MicrophoneChoice {
        device,
        channels,
        pick,
        why,
    };
    match source {
        AudioSource::Test => Ok(None),
        AudioSource::Alsa(device) => {
            let pick = pick_for(channel, None);
            let channels = match pick {
                ChannelPick::Only(n) => Some(n + 1),
                ChannelPick::Mix => None,
            };
            Ok(Some(named(
                device.clone(),
                channels,
                pick,
                format!("audio.source names {device}"),
            )))
        }
        AudioSource::Auto => {
            let mut ranked: Vec<&Microphone> = microphones.iter().collect();
            ranked.sort_by_key(|m| (!m.is_usb(), m.is_output_card(), m.card, m.device));
            let Some(mic) = ranked.first() else {
                return Err("no microphone: no ALSA capture device found (is the USB microphone plugged in?)".into());
            };
            let max = mic.channels.map(|(_, max)| max);
            let min = mic.channels.map_or(1, |(min, _)| min);
            let pick = pick_for(channel, mic.channels.map(|(min, _)| min));
            let channels = match pick {
                ChannelPick::Only(n) => {
                    if let Some(max) = max.filter(|max| n >= *max) {
                        return Err(format!(
                            "audio.channel: {n}, but {} captures only {max} channel(s) (0 to {})",
                            mic.alsa_name(),
                            max - 1
                        ));
                    }
                    Some((n + 1).max(min))
                }
                ChannelPick::Mix => max.map(|max| max.min(2).max(min)),
            };
            let kind = if mic.is_usb() {
                "a USB capture device"
            } else if mic.is_output_card() {
                "the only capture devices are on an output card"
            } else {
                "a capture device (no USB one found)"
            };
            let what = match pick {
                ChannelPick::Only(n) => format!("channel {n} of {}", channels.unwrap_or(n + 1)),
                ChannelPick::Mix => match channels {
                    Some(c) => format!("{c} channel(s) mixed"),
                    None => "its channels mixed".to_owned(),
                },
            };
            Ok(Some(named(
                mic.alsa_name(),
                channels,
                pick,
                format!("{} ({}): {kind}; {what}", mic.alsa_name(), mic.name),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(card: u32, id: &str, driver: &str, channels: Option<(u32, u32)>) -> Microphone {
        Microphone {
            card,
            card_id: id.into(),
            name: id.into(),
            driver: driver.into(),
            device: 0,
            channels,
        }
    }

    #[test]
    fn a_usb_microphone_beats_hdmi_and_other_cards_whatever_its_number() {
        let mics = [
            mic(0, "vc4hdmi0", "vc4-hdmi", Some((2, 2))),
            mic(1, "Loopback", "Loopback", Some((1, 32))),
            mic(3, "ArrayUAC10", "USB-Audio", Some((6, 6))),
        ];
        let c = choose_microphone(&mics, &AudioSource::Auto, AudioChannel::Auto)
            .unwrap()
            .unwrap();
        assert_eq!(c.device, "plughw:CARD=ArrayUAC10,DEV=0");
        assert_eq!(
            (c.channels, c.pick),
            (Some(6), ChannelPick::Only(0)),
            "an array: its processed channel"
        );
        let without_usb = &mics[..2];
        let c = choose_microphone(without_usb, &AudioSource::Auto, AudioChannel::Auto)
            .unwrap()
            .unwrap();
        assert_eq!(c.device, "plughw:CARD=Loopback,DEV=0", "not the HDMI card");
        assert_eq!((c.channels, c.pick), (Some(2), ChannelPick::Mix));
    }

    #[test]
    fn audio_channel_picks_one_channel_and_refuses_one_the_device_lacks() {
        let mics = [mic(1, "Loopback", "Loopback", Some((1, 32)))];
        let c = choose_microphone(&mics, &AudioSource::Auto, AudioChannel::Only(3))
            .unwrap()
            .unwrap();
        assert_eq!((c.channels, c.pick), (Some(4), ChannelPick::Only(3)));
        let array = [mic(2, "ArrayUAC10", "USB-Audio", Some((6, 6)))];
        let c = choose_microphone(&array, &AudioSource::Auto, AudioChannel::Only(3))
            .unwrap()
            .unwrap();
        assert_eq!(c.channels, Some(6), "the device's minimum");
        let e = choose_microphone(&array, &AudioSource::Auto, AudioChannel::Only(6)).unwrap_err();
        assert!(
            e.starts_with("audio.channel: 6, but plughw:CARD=ArrayUAC10,DEV=0 captures only 6"),
            "{e}"
        );
        let c = choose_microphone(&array, &AudioSource::Auto, AudioChannel::Mix)
            .unwrap()
            .unwrap();
        assert_eq!((c.channels, c.pick), (Some(6), ChannelPick::Mix));
    }

    #[test]
    fn no_microphone_a_named_one_and_the_test_tone() {
        assert!(
            choose_microphone(&[], &AudioSource::Auto, AudioChannel::Auto)
                .unwrap_err()
                .starts_with("no microphone")
        );
        let named = choose_microphone(
            &[],
            &AudioSource::Alsa("hw:2,0".into()),
            AudioChannel::Only(1),
        )
        .unwrap()
        .unwrap();
        assert_eq!((named.device.as_str(), named.channels), ("hw:2,0", Some(2)));
        assert_eq!(
            choose_microphone(&[], &AudioSource::Test, AudioChannel::Auto),
            Ok(None)
        );
    }
}
