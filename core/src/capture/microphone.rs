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

/// Whether GStreamer's `alsasrc` can capture `n` channels: it offers 1 to 4,
/// 6 (5.1) and 8 (7.1) with channel positions, and 9 or more unpositioned;
/// never 5 or 7.
fn alsasrc_offers(n: u32) -> bool {
    n <= 4 || n == 6 || n >= 8
}

/// The fewest channels, at least `at_least`, that alsasrc can capture and
/// the device (its range when known) gives.
fn capture_count(at_least: u32, range: Option<(u32, u32)>) -> Option<u32> {
    let (min, max) = range.unwrap_or((1, u32::MAX));
    (at_least.max(min).max(1)..=max.min(64)).find(|n| alsasrc_offers(*n))
}

/// Where ALSA's channel `alsa_index` of a `channels`-channel capture lands
/// in alsasrc's buffers. alsasrc gives 6 and 8 channels the 5.1 and 7.1
/// positions and, for a device that reports no channel map of its own (the
/// kernel's loopback; a device reporting one is taken in its order), it
/// reorders ALSA's default order (FL FR RL RR FC LFE SL SR) into
/// GStreamer's (FL FR FC LFE RL RR SL SR): ALSA's channel 3 is GStreamer's 5.
pub fn alsasrc_channel(channels: u32, alsa_index: u32) -> u32 {
    const ALSA_TO_GSTREAMER: [u32; 8] = [0, 1, 4, 5, 2, 3, 6, 7];
    match channels {
        6 | 8 => ALSA_TO_GSTREAMER
            .get(alsa_index as usize)
            .copied()
            .unwrap_or(alsa_index),
        _ => alsa_index,
    }
}

impl MicrophoneChoice {
    /// audioconvert's mix-matrix row (one gain per captured channel, in
    /// alsasrc's order) making the mono signal; `None` when the channel
    /// count is the device's own (the plug layer's conversion mixes).
    pub fn mono_matrix_row(&self) -> Option<Vec<f32>> {
        let channels = self.channels?;
        let mut row = vec![0.0f32; channels as usize];
        match self.pick {
            ChannelPick::Only(n) => {
                let at = alsasrc_channel(channels, n) as usize;
                *row.get_mut(at)? = 1.0;
            }
            ChannelPick::Mix => row.fill(1.0 / channels as f32),
        }
        Some(row)
    }
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

/// Whether the ALSA name `name` opens `mic`: `hw:`/`plughw:` with
/// `CARD=<id>,DEV=<n>` or `<card>,<device>` (the device 0 when left out).
pub fn names_microphone(name: &str, mic: &Microphone) -> bool {
    let Some(args) = name
        .strip_prefix("plughw:")
        .or_else(|| name.strip_prefix("hw:"))
    else {
        return false;
    };
    let mut card = None;
    let mut device = 0u32;
    for (i, part) in args.split(',').enumerate() {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None if i == 0 => ("CARD", part.trim()),
            None if i == 1 => ("DEV", part.trim()),
            None => return false,
        };
        match key {
            "CARD" => card = Some(value),
            "DEV" => match value.parse() {
                Ok(d) => device = d,
                Err(_) => return false,
            },
            _ => {}
        }
    }
    let card_matches = card.is_some_and(|c| c == mic.card_id || c.parse() == Ok(mic.card));
    card_matches && device == mic.device
}

/// Chooses the microphone for `source` (None for a test tone) among
/// `microphones`, with the channel(s) `channel` asks for.
///
/// A configured ALSA name is used as it is; when discovery found the device
/// it names, its channel range decides the channel count as for `auto` (a
/// 6-channel array asked for channel 3 captures its 6 channels and keeps
/// the fourth, instead of letting the plug layer mix them down).
pub fn choose_microphone(
    microphones: &[Microphone],
    source: &AudioSource,
    channel: AudioChannel,
) -> Result<Option<MicrophoneChoice>, String> {
    match source {
        AudioSource::Test => Ok(None),
        AudioSource::Alsa(device) => {
            match microphones.iter().find(|m| names_microphone(device, m)) {
                Some(mic) => use_microphone(
                    mic,
                    device,
                    channel,
                    &format!("audio.source names {device} ({})", mic.name),
                )
                .map(Some),
                None => {
                    let pick = pick_for(channel, None);
                    let channels = match pick {
                        ChannelPick::Only(n) => capture_count(n + 1, None),
                        ChannelPick::Mix => None,
                    };
                    Ok(Some(MicrophoneChoice {
                        device: device.clone(),
                        channels,
                        pick,
                        why: format!(
                            "audio.source names {device} (not among the capture devices found; its channels not known)"
                        ),
                    }))
                }
            }
        }
        AudioSource::Auto => {
            let mut ranked: Vec<&Microphone> = microphones.iter().collect();
            ranked.sort_by_key(|m| (!m.is_usb(), m.is_output_card(), m.card, m.device));
            let Some(mic) = ranked.first() else {
                return Err("no microphone: no ALSA capture device found (is the USB microphone plugged in?)".into());
            };
            let kind = if mic.is_usb() {
                "a USB capture device"
            } else if mic.is_output_card() {
                "the only capture devices are on an output card"
            } else {
                "a capture device (no USB one found)"
            };
            let name = mic.alsa_name();
            use_microphone(
                mic,
                &name,
                channel,
                &format!("{name} ({}): {kind}", mic.name),
            )
            .map(Some)
        }
    }
}

/// `mic`, opened as `device`, with the channel(s) `channel` asks for within
/// its channel range.
fn use_microphone(
    mic: &Microphone,
    device: &str,
    channel: AudioChannel,
    reason: &str,
) -> Result<MicrophoneChoice, String> {
    let max = mic.channels.map(|(_, max)| max);
    let min = mic.channels.map_or(1, |(min, _)| min);
    let pick = pick_for(channel, mic.channels.map(|(min, _)| min));
    let channels = match pick {
        ChannelPick::Only(n) => {
            if let Some(max) = max.filter(|max| n >= *max) {
                return Err(format!(
                    "audio.channel: {n}, but {device} captures only {max} channel(s) (0 to {})",
                    max - 1
                ));
            }
            match capture_count(n + 1, mic.channels) {
                Some(count) => Some(count),
                None => {
                    return Err(format!(
                        "audio.channel: {n}, but {device} captures {} channel(s), a count GStreamer's alsasrc cannot take (it takes 1 to 4, 6, 8, or 9 and more)",
                        min
                    ))
                }
            }
        }
        ChannelPick::Mix => max.and_then(|max| capture_count(max.min(2).max(min), mic.channels)),
    };
    let what = match pick {
        ChannelPick::Only(n) => format!("channel {n} of {}", channels.unwrap_or(n + 1)),
        ChannelPick::Mix => match channels {
            Some(c) => format!("{c} channel(s) mixed"),
            None => "its channels mixed".to_owned(),
        },
    };
    Ok(MicrophoneChoice {
        device: device.to_owned(),
        channels,
        pick,
        why: format!("{reason}; {what}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The choice for `audio.source = "auto"` among `mics` (which must succeed).
    fn auto(mics: &[Microphone], channel: AudioChannel) -> MicrophoneChoice {
        choose_microphone(mics, &AudioSource::Auto, channel)
            .unwrap()
            .expect("a microphone")
    }

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
        let c = auto(&mics, AudioChannel::Auto);
        assert_eq!(c.device, "plughw:CARD=ArrayUAC10,DEV=0");
        assert_eq!(
            (c.channels, c.pick),
            (Some(6), ChannelPick::Only(0)),
            "an array: its processed channel"
        );
        let without_usb = &mics[..2];
        let c = auto(without_usb, AudioChannel::Auto);
        assert_eq!(c.device, "plughw:CARD=Loopback,DEV=0", "not the HDMI card");
        assert_eq!((c.channels, c.pick), (Some(2), ChannelPick::Mix));
    }

    #[test]
    fn audio_channel_picks_one_channel_and_refuses_one_the_device_lacks() {
        let mics = [mic(1, "Loopback", "Loopback", Some((1, 32)))];
        let c = auto(&mics, AudioChannel::Only(3));
        assert_eq!((c.channels, c.pick), (Some(4), ChannelPick::Only(3)));
        let array = [mic(2, "ArrayUAC10", "USB-Audio", Some((6, 6)))];
        let c = auto(&array, AudioChannel::Only(3));
        assert_eq!(c.channels, Some(6), "the device's minimum");
        let e = choose_microphone(&array, &AudioSource::Auto, AudioChannel::Only(6)).unwrap_err();
        assert!(
            e.starts_with("audio.channel: 6, but plughw:CARD=ArrayUAC10,DEV=0 captures only 6"),
            "{e}"
        );
        let c = auto(&array, AudioChannel::Mix);
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

    #[test]
    fn a_named_device_found_by_discovery_gets_its_channel_range() {
        let array = mic(3, "ArrayUAC10", "USB-Audio", Some((6, 6)));
        for name in [
            "plughw:CARD=ArrayUAC10,DEV=0",
            "hw:CARD=ArrayUAC10",
            "hw:3,0",
            "plughw:3",
        ] {
            assert!(names_microphone(name, &array), "{name}");
        }
        for name in [
            "hw:CARD=ArrayUAC10,DEV=1",
            "hw:2,0",
            "default",
            "plughw:CARD=Other",
        ] {
            assert!(!names_microphone(name, &array), "{name}");
        }
        let c = choose_microphone(
            std::slice::from_ref(&array),
            &AudioSource::Alsa("hw:3,0".into()),
            AudioChannel::Only(3),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.device, "hw:3,0", "the configured name, as it is");
        assert_eq!((c.channels, c.pick), (Some(6), ChannelPick::Only(3)));
        assert!(c.why.contains("channel 3 of 6"), "{}", c.why);
        let e = choose_microphone(
            &[array],
            &AudioSource::Alsa("plughw:CARD=ArrayUAC10,DEV=0".into()),
            AudioChannel::Only(7),
        )
        .unwrap_err();
        assert!(
            e.starts_with("audio.channel: 7, but plughw:CARD=ArrayUAC10,DEV=0 captures only 6"),
            "{e}"
        );
    }

    #[test]
    fn channel_counts_are_ones_alsasrc_takes_and_the_row_follows_its_order() {
        // A loopback that can give 1 to 32: channel 4 needs 5, alsasrc takes 6.
        let loopback = [mic(1, "Loopback", "Loopback", Some((1, 32)))];
        let c = auto(&loopback, AudioChannel::Only(4));
        assert_eq!(c.channels, Some(6));
        // ALSA's 6 channels FL FR RL RR FC LFE arrive as FL FR FC LFE RL RR.
        assert_eq!(
            c.mono_matrix_row().unwrap(),
            vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            "ALSA's channel 4 (FC) is alsasrc's 2"
        );
        let locked_at_six = [mic(1, "Loopback", "Loopback", Some((6, 6)))];
        let c = auto(&locked_at_six, AudioChannel::Only(3));
        assert_eq!(
            c.mono_matrix_row().unwrap(),
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        );
        let c = auto(&locked_at_six, AudioChannel::Only(0));
        assert_eq!(
            c.mono_matrix_row().unwrap(),
            vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        // 4 channels and fewer, and 9 and more, keep ALSA's order.
        let c = auto(&loopback, AudioChannel::Only(3));
        assert_eq!(c.mono_matrix_row().unwrap(), vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            (0..8).map(|i| alsasrc_channel(8, i)).collect::<Vec<_>>(),
            [0, 1, 4, 5, 2, 3, 6, 7]
        );
        assert_eq!(alsasrc_channel(12, 7), 7);
        // A device of exactly 5 channels: alsasrc cannot take it.
        let five = [mic(2, "Odd", "USB-Audio", Some((5, 5)))];
        let e = choose_microphone(&five, &AudioSource::Auto, AudioChannel::Only(1)).unwrap_err();
        assert!(e.contains("alsasrc cannot take"), "{e}");
        // Mixed: every channel at equal weight.
        let c = auto(&locked_at_six, AudioChannel::Mix);
        assert_eq!(c.mono_matrix_row().unwrap(), vec![1.0 / 6.0; 6]);
    }
}
